"""The one place where wire keys meet Python names.

A cattrs converter whose hooks are built from each model field's ``wire`` metadata: answers are
structured tolerating unknown and missing keys; requests are unstructured omitting unset (``None``)
fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

T = TypeVar("T")

converter = cattrs.Converter()


def _wire_name(field: attrs.Attribute[Any]) -> str:
    return str(field.metadata.get("wire", field.name))


def _has_wire_fields(cls: type) -> bool:
    return attrs.has(cls) and any("wire" in f.metadata for f in attrs.fields(cls))


def _structure_factory(cls: Any) -> Any:
    overrides = {f.name: override(rename=_wire_name(f)) for f in attrs.fields(cls)}
    return make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]


converter.register_structure_hook_factory(_has_wire_fields, _structure_factory)


def structure(data: Mapping[str, Any], cls: type[T]) -> T:
    """Convert one wire object into ``cls``."""
    return converter.structure(data, cls)


def to_wire(obj: Any) -> dict[str, Any]:
    """Convert a model instance into its wire dict, leaving out fields that are ``None``.

    Nested models, and lists or tuples of them, are converted too.
    """
    out: dict[str, Any] = {}
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        if value is not None:
            out[_wire_name(field)] = _wire_value(value)
    return out


def _wire_value(value: Any) -> Any:
    if attrs.has(type(value)):
        return to_wire(value)
    if isinstance(value, (list, tuple)):
        return [_wire_value(v) for v in value]
    return value
