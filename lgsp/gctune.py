"""Garbage-collector tuning for a serving process: freeze what start-up built, collect the young less often.

Measured under wrk on `lgsp serve` (issue 14): CPython's cyclic collector ran ~75 times a second and
every few seconds a full (generation 2) collection walked the ~170,000 long-lived objects start-up leaves
behind (modules, the FastAPI app, SQLAlchemy metadata, lxml/zeep, pydantic models): 230-390 ms each on
the 2-core bench machine, with the event loop stopped: the longest loop stalls and much of the p99. Almost nothing the
gateway allocates per call is cyclic garbage (reference counting frees it), so those walks find nothing.

After start-up :func:`tune_after_startup` collects once and then ``gc.freeze()`` moves every surviving
object to the permanent generation, which no collection walks; a full collection then only sees what was
allocated since. A larger generation-0 threshold lets the objects of calls in flight die by reference
count before a collection promotes them (promotions are what trigger full collections). Cyclic garbage
is still collected; only start-up's objects are never re-examined (they live as long as the process).
"""

from __future__ import annotations

import gc


def tune_after_startup(gen0_threshold: int) -> None:
    """Collect once, freeze the survivors, and set the generation-0 threshold (0 keeps CPython's)."""
    gc.collect()
    gc.freeze()
    if gen0_threshold > 0:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)
