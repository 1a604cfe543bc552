"""Properties of the attack classes of issue 19, checked over generated inputs (deterministic, bounded).

The HTTP-level probes for each class live next to it (test_paths, test_bodies, test_tokens, test_exposure,
test_admin_inputs); this module holds the properties that must hold for *every* input of a class.
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from lgsp.gateway.paths import normalise_fully, normalise_sub_path
from lgsp.problems import Problem
from registry.snapshot import compile_path_pattern

_PIECES = st.sampled_from([
    "public", "private", "a", "..", ".", "", "%2e", "%2E", "%2e%2e", ".%2e", "%2f", "%5c", "\\", ";", "..;",
    "%00", "%41", "%7e", "%25", "%252e", "%c4%91", "~", "x y", "%", "%g1", "\x00", "\t",
])
PATHS = st.lists(_PIECES, max_size=8).map("/".join)
PUBLIC = compile_path_pattern("public/*")


def _normalised(raw: str) -> str | None:
    try:
        return normalise_sub_path(raw)
    except Problem as problem:
        assert problem.status == 400 and problem.kind == "invalid-path"
        return None


def _as_a_provider_resolves(path: str) -> str:
    """What a lenient provider makes of a path: decode everything once, backslashes as slashes, resolve."""
    return posixpath.normpath("/" + unquote(path).replace("\\", "/"))


@settings(derandomize=True, max_examples=400, deadline=None)
@given(PATHS)
def test_a_normalised_path_has_no_dot_segment_and_stays_under_the_root(raw: str) -> None:
    path = _normalised(raw)
    if path is None:
        return
    segments = path.split("/")
    assert ".." not in segments and "." not in segments
    assert not path.startswith("/")
    assert normalise_sub_path(path) == path  # idempotent: the forwarded form is already normal
    assert not _as_a_provider_resolves(path).startswith("/..")


@settings(derandomize=True, max_examples=400, deadline=None)
@given(PATHS)
def test_a_public_grant_never_admits_a_path_outside_public(raw: str) -> None:
    path = _normalised(raw)
    if path is None or PUBLIC.fullmatch(path) is None:
        return
    assert path.startswith("public/")
    resolved = _as_a_provider_resolves(path)
    assert resolved == "/public" or resolved.startswith("/public/"), (raw, path, resolved)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b.json", ".", "..", "", "~x", "%41", "x=1", "@"]), max_size=6).map("/".join))
def test_the_fast_path_agrees_with_the_full_algorithm(raw: str) -> None:
    try:
        expected: str | None = normalise_fully(raw)
    except Problem:
        expected = None
    assert _normalised(raw) == expected
