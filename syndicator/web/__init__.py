"""The HTTP server: published feeds from memory, query views, human pages, status, metrics.

    create_web_app(WebContext(config, store, cache, status, metrics)) ──▶ Starlette (ASGI)
"""

from syndicator.web.app import create_web_app
from syndicator.web.cache import CachedFile, FeedCache
from syndicator.web.context import StatusProvider, WebContext

__all__ = ["CachedFile", "FeedCache", "StatusProvider", "WebContext", "create_web_app"]
