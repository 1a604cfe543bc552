"""Demo step: a national SOAP service (the NGSP simulator) called through the gateway as REST/JSON.

`prepare` starts the simulator before the demo registry is applied, because the registry's NGSP service
points at it (``${NGSP_URL}`` in lgsp/demo/registry.yaml); `run` makes the mediated call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from lgsp.sdk.demo import DemoStep, Tour

from .simulator import create_simulator_app

SERVICE = "/services/000.00.00.G22/NGSP/csdl-quoc-gia"


def prepare(tour: Tour) -> Mapping[str, str]:
    ngsp = tour.start(create_simulator_app())
    tour.console.print(f"NGSP national-database simulator (SOAP) on {ngsp.url}")
    return {"NGSP_URL": ngsp.url}


def run(tour: Tour) -> None:
    tour.console.rule("4. a national SOAP service called as REST/JSON (mediation from its WSDL)")
    path = f"{SERVICE}/XacThucThongTinCongDan"
    question = {"SoDinhDanh": "092090000101", "HoVaTen": "Nguyễn Văn An", "NgaySinh": "1990-01-15"}
    status, hdrs, body = tour.http("POST", tour.base_url + path,
                                   headers={**tour.auth, "Content-Type": "application/json"},
                                   data=json.dumps(question, ensure_ascii=False).encode())
    tour.console.print(f"POST {path}\n      {json.dumps(question, ensure_ascii=False)}")
    tour.console.print(f"[green]{status}[/] audit #{hdrs.get('x-lgsp-audit-index')}  "
                       f"{json.dumps(body, ensure_ascii=False)}", highlight=False)
    tour.console.print(f"      input/output JSON Schema: GET {tour.base_url}{SERVICE}/XacThucThongTinCongDan/schema",
                       highlight=False)


#: First of the adapters' steps: it is numbered 4 in the tour, right after the gateway calls.
STEP = DemoStep(run=run, prepare=prepare, order=10)
