"""The web layer: app factory, request context, blueprints, presenters. Nothing imports it."""

from directory.web.app import create_app

__all__ = ["create_app"]
