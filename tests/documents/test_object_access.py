"""Reading documents is a grant like any other (issue 19.4, issue 17.1): a system of the recipient agency
without a ``documents`` object grant sees none of its agency's documents, another agency's system gets
the 404 an unknown id gets on every endpoint that names a document, and a system granted for an agency
reads, acknowledges and sends for it. On SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from adapters.vdxp.edxml import write_document
from lgsp.auth.clients import IssuedCredential, create_client
from registry.declarative import apply, parse_registry_file
from tests.documents.conftest import OTHER, PEER, SENDER, Stack, document

PROBLEM = "https://lgsp.dev/problems/"


def _clients(docs: Stack) -> dict[str, IssuedCredential]:
    cached: dict[str, IssuedCredential] | None = getattr(docs, "_access_clients", None)
    if cached is not None:
        return cached
    apply(docs.engine, parse_registry_file(f"""
agencies:
  - {{code: {SENDER}, name: STTTT}}
  - {{code: {OTHER}, name: SNV}}
systems:
  - {{id: {SENDER}/KETOAN, name: Kế toán STTTT}}
  - {{id: {OTHER}/TONGHOP, name: Tổng hợp SNV}}
object_grants:
  - {{client: {OTHER}/TONGHOP, objects: documents, agency: {SENDER}}}
"""))
    clients = {"same-agency": create_client(docs.engine, f"{SENDER}/KETOAN", ["gateway"]),
               "granted": create_client(docs.engine, f"{OTHER}/TONGHOP", ["gateway"])}
    docs.app.runtime.registry_changed()
    docs._access_clients = clients  # type: ignore[attr-defined]
    return clients


def _incoming(docs: Stack) -> str:
    """A document from the national peer to SENDER, received by the poller; its id."""
    packet = write_document(document(sender=PEER, recipients=(SENDER,)))
    docs.peer_send(packet)
    assert docs.poll().stored == 1
    items = docs.http.get("/documents", params={"direction": "in"}, headers=docs.auth()).json()["items"]
    return str(items[0]["id"])


def _not_found(reply: httpx.Response) -> None:
    assert reply.status_code == 404, reply.text
    assert reply.json()["type"] == PROBLEM + "not-found"


def test_every_document_endpoint_answers_404_without_a_grant(docs: Stack) -> None:
    clients = _clients(docs)
    doc_id = _incoming(docs)
    for who in (clients["same-agency"], docs.other):
        auth = docs.auth(who)
        _not_found(docs.http.get(f"/documents/{doc_id}", headers=auth))
        _not_found(docs.http.get(f"/documents/{doc_id}/packet", headers=auth))
        _not_found(docs.http.put(f"/documents/{doc_id}/status", json={"status": "PROCESSING"}, headers=auth))
        _not_found(docs.http.get("/documents", params={"agency": SENDER}, headers=auth))
    _not_found(docs.http.get("/documents", headers=docs.auth(clients["same-agency"])))  # its own agency
    unknown = docs.http.get("/documents/no-such-id", headers=docs.auth(docs.other))
    assert unknown.json()["detail"] == docs.http.get(f"/documents/{doc_id}", headers=docs.auth(docs.other)).json()[
        "detail"].replace(doc_id, "no-such-id")  # the same words: nothing tells the ids apart


def test_a_granted_system_reads_acknowledges_and_sends_for_the_agency(docs: Stack) -> None:
    granted = docs.auth(_clients(docs)["granted"])
    doc_id = _incoming(docs)
    listed = docs.http.get("/documents", params={"agency": SENDER}, headers=granted)
    assert listed.status_code == 200 and doc_id in [i["id"] for i in listed.json()["items"]]
    assert docs.http.get(f"/documents/{doc_id}/packet", headers=granted).status_code == 200
    assert docs.http.put(f"/documents/{doc_id}/status", json={"status": "PROCESSING"},
                         headers=granted).status_code == 200
    sent = docs.post_xml(write_document(document(sender=SENDER)), cred=_clients(docs)["granted"])
    assert sent.status_code == 202, sent.text
    docs.deliver_all()


def test_sending_for_an_agency_needs_its_grant(docs: Stack) -> None:
    refused = docs.post_xml(write_document(document(sender=SENDER)), cred=_clients(docs)["same-agency"])
    assert refused.status_code == 403 and refused.json()["type"] == PROBLEM + "forbidden", refused.text


def test_lgsp_receives_for_the_agencies_the_registry_grants(docs: Stack) -> None:
    """Issue 17.1: the receiving agencies come from the registry, not from LGSP_VDXP_AGENCIES."""
    from lgsp.access import receiving_agencies

    apply(docs.engine, parse_registry_file("agencies:\n  - {code: 000.00.03.H10, name: Sở Xây dựng}\n"
                                           "systems:\n  - {id: 000.00.03.H10/QLVB, name: QLVB SXD}\n"))
    assert receiving_agencies(docs.engine) == tuple(sorted((SENDER, OTHER)))  # SXD: nobody may read its mail


def test_an_operator_grants_and_withdraws_documents_access(docs: Stack) -> None:
    clients = _clients(docs)
    admin = docs.auth(create_client(docs.engine, None, ["admin"]))
    grant = {"client": f"{SENDER}/KETOAN", "objects": "documents", "agency": SENDER}
    reader = docs.auth(clients["same-agency"])
    _not_found(docs.http.get("/documents", headers=reader))
    assert docs.http.post("/admin/object-grants", json=grant, headers=admin).status_code == 201
    assert grant in docs.http.get("/admin/object-grants", headers=admin).json()
    assert docs.http.get("/documents", headers=reader).status_code == 200
    assert docs.http.request("DELETE", "/admin/object-grants", json=grant, headers=admin).status_code == 204
    _not_found(docs.http.get("/documents", headers=reader))
    bad = docs.http.post("/admin/object-grants", json={**grant, "objects": "services"}, headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert docs.http.post("/admin/object-grants", json=grant, headers=reader).status_code == 403
