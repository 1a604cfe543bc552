"""Registry files from someone hostile (or careless) with write access to the repository they live in.

Each case failed on the code before it: a traceback from `lgsp apply` (deep nesting, a 5,000-digit
integer, a number where a section's list belongs, a non-string key, a lone surrogate in a name), minutes
of CPU and gigabytes (an alias bomb in a dataset's table schema), a silent override (a key or a whole
section given twice, an entity listed twice), or a dry run that said "would change" for a file apply
refuses. Now each is one ``error:`` line naming the file and the place, exit status 2.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine
from typer.testing import CliRunner

from lgsp.cli.main import app as cli_app
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from registry import operations as ops
from registry.declarative import RegistryFileError, apply, parse_registry_file

CITY = "000.00.12.H10"
HEAD = f"agencies:\n  - {{code: {CITY}, name: UBND}}\n"
PROVIDER = (HEAD + f"systems:\n  - {{id: {CITY}/PROV, name: P, client: false, provider: true}}\n"
            f"services:\n  - {{id: {CITY}/PROV/x, name: X, base_url: 'http://127.0.0.1:9'}}\n")


def _chain(indent: str, levels: int = 9) -> str:
    """A "billion laughs": nine lists of nine references to the list before, ``levels`` deep."""
    lines = [f"{indent}- &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
    lines += [f"{indent}- &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, levels + 1)]
    return "".join(lines)


DATASET_BOMB = PROVIDER + f"""datasets:
  - slug: bomb-data
    title_vi: T
    owner_agency_id: {CITY}
    organization: org
    organization_title: Org
    source_service: {CITY}/PROV/x
    source_path: /x
    table_schema:
      fields:
        - name: a
          type: string
          laughs:
{_chain("            ")}"""

REFUSED = {
    "alias bomb in a table schema": (DATASET_BOMB, "alias"),
    "alias bomb in jwks": (HEAD + f"systems:\n  - id: {CITY}/S\n    name: S\n    jwks:\n      keys:\n"
                           + _chain("        "), "alias"),
    "alias bomb as agencies": ("agencies:\n" + _chain("  "), "alias"),
    "deep flow nesting": ("agencies: " + "[" * 5000 + "]" * 5000 + "\n", "file"),
    "deep block nesting": ("agencies:\n" + "".join(" " * i + "- \n" for i in range(1, 1500)), "file"),
    "nested beyond the bound": ("agencies: " + "[" * 80 + "]" * 80 + "\n", "nested"),
    "a recursive alias": ("agencies: &a [*a]\n", "nested"),
    "an integer of 5,000 digits": (PROVIDER.replace("name: X,", "name: X, timeout_seconds: " + "9" * 5000 + ","),
                                   "too many digits"),
    "a key twice in an entry": (f"agencies:\n  - {{code: {CITY}, name: A, name: B}}\n", "'name' appears twice"),
    "a section twice": (HEAD + "agencies:\n  - {code: 000.00.13.H10, name: B}\n", "'agencies' appears twice"),
    "an agency listed twice": (HEAD + f"  - {{code: {CITY}, name: B}}\n", "agencies[1]"),
    "a system listed twice": (PROVIDER.replace("services:", f"  - {{id: {CITY}/PROV, name: Q}}\nservices:"),
                              "systems[1]"),
    "a service listed twice": (PROVIDER + f"  - {{id: {CITY}/PROV/x, name: Y, base_url: 'http://127.0.0.1:9'}}\n",
                               "services[1]"),
    "a number as a section": ("agencies: 5\n", "agencies: must be a list"),
    "a string as a section": ("systems: hello\n", "systems: must be a list"),
    "a number as object_grants": ("object_grants: 7\n", "object_grants: must be a list"),
    "a number as a key": (f"agencies:\n  - {{1: 2, code: {CITY}, name: A}}\n", "keys must be strings"),
    "null as a key": (f"agencies:\n  - {{~: 2, code: {CITY}, name: A}}\n", "keys must be strings"),
    "numbers as sections": ("1: 2\n~: 3\n", "unknown sections"),
    "a number as a key in limits": ("limits:\n  - {1: 2, service: a/b/c}\n", "limits[0]: keys must be strings"),
    "a number as a key in datasets": ("datasets:\n  - {1: 2, slug: x}\n", "datasets[0]: keys must be strings"),
    "a lone surrogate in a name": (f'agencies:\n  - {{code: {CITY}, name: "A\\uD800"}}\n', "U+D800"),
    "a python tag": ("agencies: !!python/object/apply:os.system ['true']\n", "file"),
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('regfiles')) / 'r.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_hostile_file_is_refused_by_name(engine: Engine, name: str) -> None:
    text, said = REFUSED[name]
    with pytest.raises((RegistryFileError, ops.RegistryError)) as caught:
        apply(engine, parse_registry_file(text), dry_run=True)
    assert said in str(caught.value), caught.value


@pytest.mark.parametrize("name", ["U+FFFE", "U+FFFF", "U+FDD0", "U+10FFFF"])
def test_noncharacters_are_refused_in_names(engine: Engine, name: str) -> None:
    """U+FFFE/U+FFFF were accepted in agency, system, service and client names; no XML can carry them."""
    char = chr(int(name[2:], 16))
    with pytest.raises(ops.RegistryError) as caught:
        apply(engine, parse_registry_file(yaml.safe_dump({"agencies": [{"code": CITY, "name": f"A{char}"}]})))
    assert caught.value.field == "name" and name in str(caught.value)


def test_noncharacters_are_refused_in_client_descriptions(engine: Engine) -> None:
    from lgsp.auth.clients import ClientError, create_client

    for char in ("\ufffe", "\uffff"):
        with pytest.raises(ClientError) as caught:
            create_client(engine, None, ["auditor"], f"client{char}")
        assert caught.value.field == "description"


def test_merge_keys_and_plain_aliases_still_work(engine: Engine) -> None:
    text = (f"agencies:\n  - &city {{code: {CITY}, name: UBND}}\n  - {{<<: *city, code: 000.00.13.H10}}\n"
            f"systems:\n  - {{id: {CITY}/A, name: &n Shared}}\n  - {{id: {CITY}/B, name: *n}}\n")
    desired = parse_registry_file(text)
    assert [a.name for a in desired.agencies] == ["UBND", "UBND"]
    assert [s.name for s in desired.systems] == ["Shared", "Shared"]


def test_a_dry_run_refuses_what_apply_refuses(engine: Engine) -> None:
    """The dry run only planned, so it said "would change 3 item(s)" for a service of a system that is
    no provider, which apply then refused."""
    text = HEAD + f"systems:\n  - {{id: {CITY}/S, name: S}}\n" \
                  f"services:\n  - {{id: {CITY}/S/x, name: X, base_url: 'http://127.0.0.1:9'}}\n"
    with pytest.raises(ops.RegistryError, match="not registered as a provider"):
        apply(engine, parse_registry_file(text), dry_run=True)
    assert apply(engine, parse_registry_file(PROVIDER), dry_run=True)  # a good file still plans
    assert apply(engine, parse_registry_file(PROVIDER), dry_run=True)  # ... and the dry run left no trace


@pytest.mark.parametrize("name", ["alias bomb in a table schema", "deep flow nesting", "a number as a section",
                                  "a number as a key", "a section twice"])
def test_lgsp_apply_prints_one_error_line_and_exits_2(tmp_path: Path, name: str) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(REFUSED[name][0], encoding="utf-8")
    env = {**os.environ, "LGSP_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "300"}
    result = CliRunner().invoke(cli_app, ["apply", str(path), "--dry-run"], env=env)
    output = (result.stdout + result.stderr).strip()
    assert result.exit_code == 2, (result.exit_code, output, result.exception)
    assert "Traceback" not in output and output.count("\n") == 0, output
    assert output.startswith("error:") and str(path) in output, output


def test_lgsp_apply_refuses_a_file_over_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from registry import yaml_file

    monkeypatch.setattr(yaml_file, "MAX_FILE_BYTES", 1024, raising=False)
    path = tmp_path / "registry.yaml"
    path.write_text(HEAD + "#" * 2000 + "\n", encoding="utf-8")
    env = {**os.environ, "LGSP_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "300"}
    result = CliRunner().invoke(cli_app, ["apply", str(path), "--dry-run"], env=env)
    assert result.exit_code == 2 and "larger than" in result.stdout + result.stderr, result.stdout
