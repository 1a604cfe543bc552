"""Entry-point descriptor of the vdxp adapter (group `lgsp.adapters`); every part is imported lazily.

Besides its simulator the adapter is the document axis of the official-document façade: it reads
edXML (`document_axis`), delivers accepted packets (`delivery_handlers`: `vdxp.send`), receives and
keeps the agency directory in sync (`worker_jobs`), and owns `lgsp documents` (`commands`).
"""

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
    document_axis="adapters.vdxp.axis:factory",
    delivery_handlers="adapters.vdxp.handler:delivery_handlers",
    worker_jobs="adapters.vdxp.jobs:document_jobs",
    commands={"documents": ("adapters.vdxp.cli:app",
                            "Official documents (edXML, national axis): directory, poll, rejected.")},
)
