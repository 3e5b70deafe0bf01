"""The evalstore server: REST API over a store it owns. ``evalstore serve`` runs it."""

from evalstore.server.app import create_app, serve

__all__ = ["create_app", "serve"]
