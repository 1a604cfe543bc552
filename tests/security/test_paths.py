"""Path-scoped grants against dot segments and encodings, probed with raw request lines (issue 19.1).

The grant under test is `GET public/*` on a service whose provider records the raw path it received.
"""

from __future__ import annotations

import pytest

from tests.security.conftest import FILES, Stack, assert_problem
from tests.security.rawhttp import request

REFUSED = [
    "public/..%2fprivate/secret",  # encoded slash
    "public/..%2Fprivate/secret",
    "public/%2e%2e%2fprivate/secret",
    "public/..;/private/secret",  # Tomcat-style path parameter
    "public;x/secret",
    "public/..%5cprivate/secret",  # encoded backslash
    "public/..\\private/secret",  # raw backslash
    "public/%00secret",  # NUL
    "public/a%0d%0aX-Injected:%201",  # CR LF
    "public/%252e%252e/private/secret",  # double-encoded dots
    "../private/secret",  # above the service root
    "public/../../files/private",
    "%2e%2e/private",
    "public/%zz",  # malformed percent-encoding
]


@pytest.mark.parametrize("sub_path", REFUSED)
def test_ambiguous_paths_are_refused_before_the_provider(stack: Stack, sub_path: str) -> None:
    before = len(stack.recorder.raw_paths)
    response = request(stack.url, "GET", f"/services/{FILES}/{sub_path}", headers=stack.auth())
    if response.status == 400 and not response.headers.get("content-type", "").startswith("application/"):
        pytest.skip("the HTTP server itself refused the request line")  # never reached lgsp
    assert_problem(response.status, response.headers["content-type"], response.json(), 400, "invalid-path")
    assert len(stack.recorder.raw_paths) == before  # the provider never saw it


@pytest.mark.parametrize("sub_path", [
    "public/../private/secret",
    "public/%2e%2e/private/secret",
    "public/%2E%2E/private/secret",
    "public/.%2e/private/secret",
    "public/./../private/secret",
    "public/a/../../private/secret",
])
def test_dot_segments_leaving_the_granted_prefix_are_denied(stack: Stack, sub_path: str) -> None:
    before = len(stack.recorder.raw_paths)
    response = request(stack.url, "GET", f"/services/{FILES}/{sub_path}", headers=stack.auth())
    assert_problem(response.status, response.headers["content-type"], response.json(), 403, "forbidden")
    assert len(stack.recorder.raw_paths) == before


@pytest.mark.parametrize(("sub_path", "forwarded"), [
    ("public/./a/../b", "/root/public/b"),
    ("public/x/%2e/y", "/root/public/x/y"),
    ("%70ublic/%7Euser", "/root/public/~user"),  # unreserved characters are decoded ...
    ("public/%c4%91%20x", "/root/public/%C4%91%20x"),  # ... the rest stays encoded (upper-case hex)
    ("public//a//b/", "/root/public/a/b/"),
    ("public/a/b/..", "/root/public/a/"),
])
def test_the_provider_receives_exactly_the_normalised_path(stack: Stack, sub_path: str, forwarded: str) -> None:
    response = request(stack.url, "GET", f"/services/{FILES}/{sub_path}?q=%2e%2e", headers=stack.auth())
    assert response.status == 200, response.body
    assert response.json()["raw_path"] == forwarded
    assert stack.recorder.raw_paths[-1] == forwarded
