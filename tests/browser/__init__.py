"""Browser tests: the pages, the widget and the embed in a real Chromium, against docs/ui-contract.md."""
