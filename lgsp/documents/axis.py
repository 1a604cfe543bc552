"""Finding the document axis: the one installed adapter that declares ``AdapterInfo.document_axis``.

The core never imports the axis by name; it asks :func:`lgsp.adapters.parts` for the factory. With no
axis installed the façade still lists and serves what it holds, but cannot accept a packet (``POST
/documents`` answers ``503 not-configured``); with two it refuses to guess which one carries a packet.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from lgsp.documents.port import DocumentAxis


class NoDocumentAxis(LookupError):
    """No adapter (or more than one) provides the document axis; the message says which and how to fix it."""


def load_axis(engine: Engine, settings: Any) -> DocumentAxis:
    """The installed document axis, built by its factory ``(engine, settings)``."""
    from lgsp.adapters import discover, load

    declared = [info for info in discover().values() if info.document_axis]
    if not declared:
        raise NoDocumentAxis("no document axis adapter is installed (an AdapterInfo with document_axis, "
                             "e.g. the vdxp adapter): documents cannot be sent from this gateway")
    if len(declared) > 1:
        names = ", ".join(info.name for info in declared)
        raise NoDocumentAxis(f"more than one document axis is installed ({names}); install exactly one")
    reference = declared[0].document_axis
    assert reference is not None
    try:
        axis: DocumentAxis = load(reference)(engine, settings)
    except (ImportError, AttributeError, ValueError) as exc:  # a broken adapter: say so, do not crash
        raise NoDocumentAxis(f"the document axis of adapter {declared[0].name} ({reference}) "
                             f"failed to load: {exc}") from exc
    return axis
