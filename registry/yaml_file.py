"""Reading a registry file's YAML: bounded, without silent overrides, every refusal naming the place.

Why: a registry file may come from a repository many people can write to, so it is read as hostile:

- ``yaml.safe_load`` keeps the *last* of two equal keys, so a second ``agencies:`` section (or a second
  ``name:`` in one entry) silently replaced the first; duplicate keys are an error with their line;
- aliases are shared, not copied, when loading, so a "billion laughs" file loads in microseconds, but a
  field that keeps any JSON (a dataset's ``table_schema``, a system's ``jwks``) was then serialised for
  the store with every alias expanded: minutes of CPU and gigabytes, then a traceback. The loaded
  document is walked once with aliases expanded, and refused past a budget no alias-free file of that
  size can reach (each value takes at least one character of text);
- nesting deeper than :data:`MAX_DEPTH` and integers over Python's digit limit raised ``RecursionError``
  and ``ValueError`` (tracebacks); both are errors naming the file or the line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

from registry.file_entries import RegistryFileError

#: The largest registry file ``lgsp apply`` reads (the console's editor takes 2 MiB); PyYAML needs
#: seconds per MiB, and a city's registry is well under one.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Deepest nesting of lists and mappings a registry file may have (real files need fewer than ten).
MAX_DEPTH = 64
#: Values (aliases expanded) a file may hold beyond one per character of its text.
_EXPANSION_SLACK = 100_000
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys and oversized integers.

    Not libyaml's ``CSafeLoader``, though four times faster: it refuses some escapes (a lone surrogate)
    as bad YAML where the registry checks name the field, and a registry file is small."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE or not isinstance(key_node, ScalarNode):
                    continue  # `<<` merges may be overridden; an unhashable key is refused by PyYAML
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise ConstructorError("while reading a mapping", node.start_mark,
                                           f"key {str(key)[:60]!r} appears twice (lines {seen[key]} and {line})",
                                           key_node.start_mark)
                seen[key] = line
        return dict(super().construct_mapping(node, deep=deep))

    def construct_yaml_int(self, node: ScalarNode) -> int:
        try:
            return int(super().construct_yaml_int(node))
        except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
            raise ConstructorError(None, None, "an integer with too many digits", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def load_registry_yaml(text: str) -> Any:
    """The document in ``text``, or :class:`RegistryFileError` saying why and (where known) where not."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader (SafeLoader subclass)
    except yaml.YAMLError as exc:  # malformed YAML, a tag safe_load refuses (!!python/object), the above
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RegistryFileError("file", f"not valid YAML{at}: {problem}") from None
    except RecursionError:  # the pure-Python parser, on nesting deeper than the interpreter's stack
        raise RegistryFileError("file", f"nested more than {MAX_DEPTH} levels deep") from None
    _check_shape(data, len(text) + _EXPANSION_SLACK)
    return data


def _check_shape(data: Any, budget: int) -> None:
    """Walk ``data`` as the store will serialise it (aliases expanded), without recursion."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    visited = 0
    while stack:
        value, depth = stack.pop()
        visited += 1
        if visited > budget:
            raise RegistryFileError("file", "aliases expand to far more values than the file holds "
                                            "(an alias bomb?); write the values out")
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise RegistryFileError("file", f"nested more than {MAX_DEPTH} levels deep")
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
