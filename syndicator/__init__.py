"""Syndicator: scrape or ingest news sites, store items, publish and push feeds."""

__version__ = "0.1.0"
