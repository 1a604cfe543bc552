"""Entry-point descriptor of the vdxp adapter (group `lgsp.adapters`); every part it names loads lazily."""

from __future__ import annotations

from lgsp.sdk import AdapterInfo


def _simulator_main(argv: list[str] | None) -> object:
    from adapters.vdxp.simulator import main

    main(argv)
    return None


ADAPTER = AdapterInfo(
    name="vdxp",
    title="National document exchange axis: edXML packets over the VXP REST API",
    simulator_main=_simulator_main,
    demo_step="adapters.vdxp.demo:STEP",
    docs="docs/protocols/edxml.md",
)
