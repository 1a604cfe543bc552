"""Object-level access an adapter's API checks: who may post and read a dossier's events.

The rule (the first system to push a dossier owns it; a `dossiers` object grant on the owning agency
lets another system in) is the core's, so every adapter that touches dossiers applies the same one.
"""

from __future__ import annotations

from lgsp.access import may_post_dossier, may_read_dossier

__all__ = ["may_post_dossier", "may_read_dossier"]
