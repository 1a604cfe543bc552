"""The admin API's request bodies, made from the registry's own spec dataclasses.

A registry change is validated by the spec it is made from (registry.operations, registry.object_grants): its
fields, their defaults, and the rules a field declares in its metadata (``registry.inputs.NAME``, ``choices``).
The bodies here are derived from those classes instead of restating them, so the field list, the defaults
and every declared rule are written once: FastAPI checks a body against the same rule the registry checks on
``lgsp apply`` and in the CLI, and OpenAPI publishes it. Fields the URL path supplies are left out.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from registry.inputs import CHOICES, MAX_LENGTH, MIN_LENGTH
from registry.limits import LimitEntry
from registry.object_grants import ObjectGrantSpec
from registry.operations import AgencySpec, GrantSpec, ServiceSpec, SystemSpec

#: Admin bodies take each field only as its own JSON type: not ``true`` for a number (``"rate": true`` was a
#: limit of 1/s), not ``"3"`` for a count or ``7`` for a name, and no key the body does not have (a typo such
#: as ``"concurency"`` was dropped without a word, the operator believing the limit set). 422 names the field.
STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


def body_model(name: str, spec: type[Any], *, path_fields: Iterable[str] = ()) -> type[BaseModel]:
    """A pydantic model with the spec's fields (minus ``path_fields``), defaults and declared rules."""
    hints = typing.get_type_hints(spec)
    skip = set(path_fields)
    definitions: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        if f.name in skip:
            continue
        rules = f.metadata
        annotation: Any = hints[f.name]
        if rules.get(CHOICES) is not None:
            annotation = Literal[tuple(rules[CHOICES])]
        constraints = {key: rules[key] for key in (MIN_LENGTH, MAX_LENGTH) if key in rules}
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()  # pydantic copies a mutable default per instance
        else:
            default = ...
        definitions[f.name] = (annotation, Field(default, **constraints))
    return create_model(name, __config__=STRICT, **definitions)


if TYPE_CHECKING:  # to a type checker a body is a model; handlers read it with model_dump() into its spec
    AgencyIn = BaseModel
    SystemIn = BaseModel
    ServiceIn = BaseModel
    GrantIn = BaseModel
    ObjectGrantIn = BaseModel
    LimitIn = BaseModel
else:
    AgencyIn = body_model("AgencyIn", AgencySpec, path_fields=["code"])
    SystemIn = body_model("SystemIn", SystemSpec, path_fields=["agency", "code"])
    ServiceIn = body_model("ServiceIn", ServiceSpec, path_fields=["system", "code"])
    GrantIn = body_model("GrantIn", GrantSpec)
    ObjectGrantIn = body_model("ObjectGrantIn", ObjectGrantSpec)
    LimitIn = body_model("LimitIn", LimitEntry)
