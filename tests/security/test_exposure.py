"""Exposure (issue 19.8): `/metrics` is not public, and upstream XML with a DTD is not passed on."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from lgsp.app import create_app
from lgsp.auth.clients import create_client
from lgsp.testing.servers import start_server
from tests.security.conftest import OPEN, SOAP_DTD, Stack, assert_problem, settings_for

ENVELOPE = (Path(__file__).parent.parent / "core" / "ngsp_request.xml").read_bytes()


def test_metrics_need_a_metrics_admin_or_auditor_token(stack: Stack) -> None:
    anonymous = stack.http.get("/metrics")
    assert_problem(anonymous.status_code, anonymous.headers["content-type"], anonymous.json(), 401,
                   "unauthenticated")
    gateway_only = stack.http.get("/metrics", headers=stack.auth())
    assert_problem(gateway_only.status_code, gateway_only.headers["content-type"], gateway_only.json(), 403,
                   "forbidden")
    scraper = create_client(stack.engine, None, ["metrics"])
    for cred in (scraper, stack.auditor, stack.admin):
        response = stack.http.get("/metrics", headers=stack.auth(cred))
        assert response.status_code == 200 and "lgsp_requests_total" in response.text


def test_metrics_public_is_an_explicit_setting(stack: Stack) -> None:
    app = create_app(settings_for(stack.engine.url.render_as_string(hide_password=False), metrics_public=True))
    server = start_server(app)
    try:
        assert httpx.get(server.url + "/metrics").status_code == 200
    finally:
        server.stop()
        app.runtime.engine.dispose()


def test_rest_xml_reply_with_a_doctype_is_refused(stack: Stack) -> None:
    response = stack.http.get(f"/services/{OPEN}/xml/doctype", headers=stack.auth())
    body = assert_problem(response.status_code, response.headers["content-type"], response.json(), 502,
                          "upstream-bad-response")
    assert "ENTITY" not in response.text and "passwd" not in response.text
    assert "DTD" in body["detail"]
    plain = stack.http.get(f"/services/{OPEN}/xml/plain", headers=stack.auth())
    assert plain.status_code == 200 and plain.content.endswith(b"<r>ok</r>")


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_compressed_xml_reply_with_a_doctype_is_refused(stack: Stack, coding: str) -> None:
    # Passed on as it came, a gzipped DOCTYPE went through unseen (the check read the compressed bytes).
    headers = stack.auth(**{"Accept-Encoding": coding})
    response = stack.http.get(f"/services/{OPEN}/xml/encoded/{coding}/doctype", headers=headers)
    body = assert_problem(response.status_code, response.headers["content-type"], response.json(), 502,
                          "upstream-bad-response")
    assert "DTD" in body["detail"]
    plain = stack.http.get(f"/services/{OPEN}/xml/encoded/{coding}/plain", headers=headers)
    assert plain.status_code == 200 and plain.headers["content-encoding"] == coding
    assert plain.content.endswith(b"<r>ok</r>")  # httpx decoded it: the reply went on compressed, unchanged


def test_an_xml_reply_in_an_encoding_lgsp_cannot_read_is_refused(stack: Stack) -> None:
    response = stack.http.get(f"/services/{OPEN}/xml/encoded/br/doctype", headers=stack.auth())
    body = assert_problem(response.status_code, response.headers["content-type"], response.json(), 502,
                          "upstream-bad-response")
    assert "'br'" in body["detail"]


def test_soap_passthrough_reply_with_a_doctype_is_refused(stack: Stack) -> None:
    response = stack.http.post(f"/services/{SOAP_DTD}/XacThucThongTinCongDan", content=ENVELOPE,
                               headers=stack.auth(**{"Content-Type": "text/xml; charset=utf-8"}))
    assert response.status_code == 502, response.text
    assert response.headers["content-type"].startswith("text/xml")  # a SOAP caller gets a Fault ...
    assert b"upstream-bad-response" in response.content  # ... carrying the same kind
    assert b"ENTITY" not in response.content and b"passwd" not in response.content


def test_a_doctype_is_found_behind_a_prolog_and_in_utf16() -> None:
    from lgsp.gateway.xmlreply import declares_dtd

    doctype = '<?xml version="1.0"?>\n<!-- c --><?pi x?>\n<!doctype r [<!ENTITY a "b">]><r/>'
    assert declares_dtd(doctype.encode())
    assert declares_dtd(doctype.encode("utf-16"))  # with a BOM
    assert declares_dtd(doctype.encode("utf-16-le"))  # without one
    assert declares_dtd(b"\xef\xbb\xbf" + doctype.encode())
    assert not declares_dtd(b'<?xml version="1.0"?><r><![CDATA[<!DOCTYPE x>]]></r>')
    assert not declares_dtd(b'{"json": "<!DOCTYPE x>"}')
