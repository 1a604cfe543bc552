"""The public core API: everything an adapter package may import from lgsp.

An adapter (`adapters/<name>/`, or a separate distribution) imports `lgsp.sdk` and its submodules, the
two bottom modules every layer may use (`lgsp.safexml` for hardened XML parsing, `lgsp.agency_ids` for
agency identifiers), `signing` and nothing else of lgsp; an import-linter contract in CI
(`.importlinter`) keeps it so. It declares itself with one `AdapterInfo` in the `lgsp.adapters`
entry-point group; see `lgsp.adapters` for the parts it can plug in and `docs/architecture.md` for the
layers. Submodules are grouped by the part they serve, so a simulator does not import the delivery API:

- `lgsp.sdk.simulator`: run a simulator app as a real HTTP server that stops cleanly on SIGTERM;
- `lgsp.sdk.worker`: the `Job` a worker-jobs factory returns, and `LoopThread` for a job that needs its own
  event loop;
- `lgsp.sdk.delivery`: the outbox: accepting a message (`accept`, `NewMessage`) and the handler contract
  (`Delivery`, `Retryable`, `Permanent`);
- `lgsp.sdk.http`: what an API router uses (caller identity, `Problem`, contract and intake helpers);
- `lgsp.sdk.access`: object-level access rules (who may post and read a dossier's events);
- `lgsp.sdk.soap`: the SOAP mediation library (JSON <-> envelope from a WSDL, X-Road headers);
- `lgsp.sdk.demo`: the demo step contract (`DemoStep`, `Tour`);
- `lgsp.sdk.documents`: the document axis port (`DocumentAxis`, `PacketFacts`, the signature check) and
  the store functions a receiving axis uses (`keep_incoming`, `keep_rejected`, `replace_directory`, ...);
- `lgsp.sdk.lazy`: `lazy_exports`, for a package that re-exports heavy submodules' names cheaply;
- `lgsp.sdk.cli`: what an adapter's `lgsp` sub-command uses (`console`, `fail`, `engine_from_settings`).

Names re-exported here are a promise: they change only with a deprecation period.
"""

from __future__ import annotations

from lgsp.adapters import AdapterInfo

__all__ = ["AdapterInfo"]
