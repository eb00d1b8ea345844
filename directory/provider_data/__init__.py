"""Providers' activities in: files (CSV, Excel, XML, JSON) and the web service, one layout.

- `layout` (+ `activity_layout.toml`): the one layout every way in and out is made from.
- `values`, `coerce`: raw values to the canonical payload, one field, then one activity.
- `files` (+ `reading`, `formats/`): a provider's file, or a parsed JSON body, to `Record`s.
- `batch`: checking and writing records, all or nothing.
- `published` (+ `examples.toml`, `provider-data.md.j2`, `column_help`): the templates,
  example files and layout page published for providers.
"""
