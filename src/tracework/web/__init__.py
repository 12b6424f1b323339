"""``tracework serve``: the web app (review queue, dataset browser, fieldnotes and log, a
private portal for each worker) over the same library functions as the command line."""

from __future__ import annotations

from tracework.web.app import create_app
from tracework.web.core import WebConfig
from tracework.web.get import get_page

__all__ = ["create_app", "WebConfig", "get_page"]
