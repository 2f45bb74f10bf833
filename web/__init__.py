"""The web layer: Flask pages, Socket.IO namespaces and live pushes. See ``create_app``."""

from .app import create_app as create_app

__all__ = ["create_app"]
