"""The demo step contract: what an adapter's `AdapterInfo.demo_step` names and what it is handed.

`DemoStep(run, prepare=None, order=100)`: `prepare(tour)` runs before the demo registry is applied and
returns the registry template variables it fills (a simulator's URL); `run(tour)` is the adapter's part
of the tour. `Tour` gives the rich console, the gateway's base URL and store, the demo client's auth
headers, `start(app)` (a server stopped when the demo ends), `http(...)` and `deliver()` (run the outbox
until it is empty). See `lgsp.demo.tour`.
"""

from __future__ import annotations

from lgsp.demo.tour import DemoStep, Tour, http
from lgsp.testing.servers import RunningServer

__all__ = ["DemoStep", "RunningServer", "Tour", "http"]
