"""The CME directory: registry, rules, and the web application."""

from directory.app import create_app

__all__ = ["create_app"]
