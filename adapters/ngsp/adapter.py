"""Entry-point descriptor of the ngsp adapter (group `lgsp.adapters`); every part it names loads lazily."""

from __future__ import annotations

from lgsp.sdk import AdapterInfo


def _simulator_main(argv: list[str] | None) -> object:
    from adapters.ngsp.simulator import main

    main(argv)
    return None


ADAPTER = AdapterInfo(
    name="ngsp",
    title="NGSP national-database lookups (SOAP, X-Road v4 headers)",
    simulator_main=_simulator_main,
    demo_step="adapters.ngsp.demo:STEP",
    docs="docs/national-services.md",
)
