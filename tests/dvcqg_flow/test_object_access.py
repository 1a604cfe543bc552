"""Object-level access on dossier events (issue 19.4, issue 17.1): only the system that pushed a dossier,
or a system granted for its agency's dossiers, may add events to it; everyone else gets the 404 an
unknown dossier gets, so another agency cannot even learn that the dossier exists."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from lgsp.auth.clients import IssuedCredential, create_client
from lgsp.delivery.models import OutboxMessage
from registry.declarative import apply, parse_registry_file
from tests.dvcqg_flow.conftest import CITY, MOTCUA, Flow, dossier_code, event

OTHER_AGENCY = "000.00.02.H10"
PROBLEM = "https://lgsp.dev/problems/"


def _clients(flow: Flow) -> dict[str, IssuedCredential]:
    """Systems of another agency (one granted for CITY's dossiers) and a second system of CITY."""
    cached: dict[str, IssuedCredential] | None = getattr(flow, "_access_clients", None)
    if cached is not None:
        return cached
    apply(flow.engine, parse_registry_file(f"""
agencies:
  - {{code: {CITY}, name: UBND thành phố Cần Thơ}}
  - {{code: {OTHER_AGENCY}, name: Sở Nội vụ}}
systems:
  - {{id: {MOTCUA}, name: Một cửa điện tử}}
  - {{id: {CITY}/QLVB, name: Văn bản}}
  - {{id: {OTHER_AGENCY}/MOTCUA, name: Một cửa SNV}}
  - {{id: {OTHER_AGENCY}/TONGHOP, name: Tổng hợp}}
object_grants:
  - {{client: {OTHER_AGENCY}/TONGHOP, objects: dossiers, agency: {CITY}}}
"""))
    engine = flow.engine
    clients = {"other": create_client(engine, f"{OTHER_AGENCY}/MOTCUA", ["gateway"]),
               "same-agency": create_client(engine, f"{CITY}/QLVB", ["gateway"]),
               "granted": create_client(engine, f"{OTHER_AGENCY}/TONGHOP", ["gateway"]),
               "owner-2": create_client(engine, MOTCUA, ["gateway"])}  # a second client of the owning system
    flow.app.runtime.registry_changed()
    flow._access_clients = clients  # type: ignore[attr-defined]
    return clients


def _auth(flow: Flow, cred: IssuedCredential) -> dict[str, str]:
    reply = flow.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(cred.client_id, cred.client_secret))
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def _post(flow: Flow, cred: IssuedCredential, body: dict[str, object]) -> httpx.Response:
    return flow.http.post("/dossiers/events", json=body, headers=_auth(flow, cred))


def _queued(flow: Flow, code: str) -> int:
    with flow.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.ordering_key == code)) or 0)


def test_only_the_owner_or_a_granted_system_posts_events(flow: Flow) -> None:
    clients = _clients(flow)
    code = dossier_code()
    first = flow.post_event(event(code))
    assert first.status_code == 202, first.text
    for who in ("other", "same-agency"):
        refused = _post(flow, clients[who], event(code, "processing"))
        assert refused.status_code == 404, (who, refused.text)
        assert refused.json()["type"] == PROBLEM + "not-found"
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert _queued(flow, code) == 1  # nothing of theirs reached the outbox, so nothing reaches DVCQG
    assert _post(flow, clients["granted"], event(code, "processing")).status_code == 202
    assert _post(flow, clients["owner-2"], event(code, "processing")).status_code == 202
    assert _queued(flow, code) == 3


def test_a_dossier_first_pushed_elsewhere_is_not_found_for_the_city(flow: Flow) -> None:
    clients = _clients(flow)
    code = dossier_code()
    assert _post(flow, clients["other"], event(code)).status_code == 202
    assert flow.post_event(event(code, "processing")).status_code == 404


def test_event_status_is_visible_to_owner_and_granted_only(flow: Flow) -> None:
    clients = _clients(flow)
    code = dossier_code()
    message_id = flow.post_event(event(code)).json()["message_id"]
    path = f"/dossiers/events/{message_id}"
    assert flow.http.get(path, headers=_auth(flow, clients["other"])).status_code == 404
    assert flow.http.get(path, headers=_auth(flow, clients["same-agency"])).status_code == 404
    assert flow.http.get(path, headers=_auth(flow, clients["granted"])).json()["dossier"] == code
    assert flow.http.get(path, headers=_auth(flow, clients["owner-2"])).status_code == 200
    unknown = flow.http.get("/dossiers/events/00000000-0000-0000-0000-000000000000",
                            headers=_auth(flow, clients["other"]))
    assert unknown.status_code == 404 and unknown.json()["title"] == flow.http.get(
        path, headers=_auth(flow, clients["other"])).json()["title"]
