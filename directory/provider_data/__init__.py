"""Providers' activities in: files (CSV, Excel, XML, JSON) and the web service, one layout."""
