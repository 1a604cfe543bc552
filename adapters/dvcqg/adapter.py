"""Entry-point descriptor of the dvcqg adapter (group `lgsp.adapters`); every part it names loads lazily."""

from __future__ import annotations

from lgsp.sdk import AdapterInfo


def _simulator_main(argv: list[str] | None) -> object:
    from adapters.dvcqg.simulator import main

    main(argv)
    return None


ADAPTER = AdapterInfo(
    name="dvcqg",
    title="DVCQG National Public Service Portal: dossier and progress synchronisation",
    simulator_main=_simulator_main,
    docs="docs/dvcqg.md",
    routers=("adapters.dvcqg.api:router",),
    demo_step="adapters.dvcqg.demo:STEP",
    delivery_handlers="adapters.dvcqg.delivery:delivery_handlers",
)
