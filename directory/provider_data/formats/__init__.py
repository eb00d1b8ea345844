"""One module per file format, each holding both halves of it: reading a provider's file into
activities, and writing the published templates and example files.

Read and write sit together so that a change to how a format is read is made where it is
written, and the example files keep reading back as the payloads they were made from:

- `csv_format`: CSV text (encoding sniffing, delimiters, rows).
- `xlsx_format`: Excel workbooks (zip checks, cells, the Help sheet).
- `xml_format`: XML (no DTDs, elements to the raw shape, and back).
- `json_format`: JSON (the document's shape, and back).
- `rows`: what CSV and Excel share, one activity per row under the layout's column headers.

The modules are named for the format with a `_format` suffix so that none is mistaken for the
standard library's `csv`, `xml` or `json`, which they import. Picking a format by the file's
name, and the limits on a file, are `directory.provider_data.files`'.
"""
