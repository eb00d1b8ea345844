"""Presenters: plain data and documents made from registry rows and search hits (cards, the
detail view, JSON-LD, calendar files, feeds, the OpenAPI document). They import no blueprint."""
