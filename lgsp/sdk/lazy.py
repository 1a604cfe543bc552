"""Lazy re-exports for an adapter package's public names (see `lgsp.lazy`)."""

from __future__ import annotations

from lgsp.lazy import lazy_exports

__all__ = ["lazy_exports"]
