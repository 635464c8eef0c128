"""The one place where wire keys meet Python names.

Each model field names its wire key in its metadata (``wire("SubscribeTime")``). From those names
and the fields' annotations, this module generates once per class a plain function that reads one
wire object: it checks the type of every value it keeps, takes a missing key or ``null`` as the
field's default, ignores unknown keys, and calls the class. A value of the wrong type raises
:class:`ShapeError`, which the ``parse_*`` functions turn into ``MalformedResponseError``.

Generated code instead of a general converter: structuring a 200-item page is the hot path of
every export, and a straight-line function per class is several times faster than a generic one
while still checking types. cattrs's own generated functions, set up as strictly
(``make_dict_structure_fn`` with rename overrides, strict ``str``/``int``/Optional hooks,
``detailed_validation=False``; ``bench/structure_cattrs.py``), were measured side by side with
this generator on one 200-item subscriber page: 1755 against 992 µs, and 1634 against 1031 µs,
on a loaded 2-core machine (load average 8; issue 18 measured 261 against 227 µs on an idle
one). Slower in every run, and without the field path in its errors, so the generator stays.
``to_wire`` and ``to_dict`` export models back to plain dicts.
"""

from __future__ import annotations

import enum
import functools
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from ._errors import MalformedResponseError

T = TypeVar("T")


class ShapeError(ValueError):
    """A wire object does not have the documented shape (wrong type, a required key missing)."""


def _wire_name(field: attrs.Attribute[Any]) -> str:
    return str(field.metadata.get("wire", field.name))


def shown(value: object, limit: int = 64) -> str:
    """A value from an answer, fit for an error message.

    Short strings and numbers appear as they are; a longer string only by its length, since a
    hostile answer could echo a UserSig or a signed URL into any field.
    """
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else f"<a str of {len(value)} chars>"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return f"<a {type(value).__name__}>"


def _describe(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _bad(where: str, expected: str, value: Any) -> ShapeError:
    return ShapeError(f"{where} must be {expected}, got {_describe(value)}")


# --- generating one structure function per class ---------------------------------------------

_STRUCTURERS: dict[type, Callable[[Any, str], Any]] = {}


def _strip_optional(tp: Any) -> Any:
    """``X | None`` -> ``X``; unions of several types other than None are kept as they are."""
    args = typing.get_args(tp)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
        return typing.Union[tuple(rest)]  # noqa: UP007 (built at run time)
    return tp


def _enum_in(tp: Any) -> type[enum.IntEnum] | None:
    """The IntEnum of an ``IntEnumClass | int`` annotation (or of the enum alone)."""
    for arg in (*typing.get_args(tp), tp):
        if isinstance(arg, type) and issubclass(arg, enum.IntEnum):
            return arg
    return None


class _Gen:
    """Collects the lines and the globals of one generated function."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = {"_bad": _bad, "ShapeError": ShapeError}

    def name(self, value: Any) -> str:
        key = f"_g{len(self.env)}"
        self.env[key] = value
        return key

    def check(self, var: str, tp: Any, where: str, lenient: str | None, indent: str) -> None:
        """Lines that check (and convert in place) ``var`` against the type ``tp``."""
        tp = _strip_optional(tp)
        enum_cls = _enum_in(tp)

        def fail(expected: str) -> str:
            if lenient is not None:
                return f"{var} = {lenient}"
            return f"raise _bad({where}, {expected!r}, {var})"

        out = self.lines
        if tp is Any or tp is object:
            return
        if enum_cls is not None:
            members = self.name({int(m): m for m in enum_cls})
            out.append(f"{indent}if type({var}) is not int: {fail('an int')}")
            out.append(f"{indent}else: {var} = {members}.get({var}, {var})")
        elif tp is str:
            out.append(f"{indent}if type({var}) is not str: {fail('a str')}")
        elif tp is int:
            out.append(f"{indent}if type({var}) is not int: {fail('an int')}")
        elif tp is float:
            out.append(
                f"{indent}if type({var}) is not float and type({var}) is not int: "
                f"{fail('a number')}"
            )
        elif tp is bool:
            out.append(f"{indent}if type({var}) is not bool: {fail('a bool')}")
        elif attrs.has(tp):
            fn = self.name(structurer(tp))
            out.append(f"{indent}{var} = {fn}({var}, {where})")
        elif typing.get_origin(tp) is dict:
            out.append(f"{indent}if type({var}) is not dict: {fail('an object')}")
        elif typing.get_origin(tp) is tuple:
            (item_tp, *_) = typing.get_args(tp)
            out.append(f"{indent}if type({var}) is not list: {fail('a list')}")
            out.append(f"{indent}else:")
            inner = indent + "    "
            item_tp = _strip_optional(item_tp)
            out.append(f"{inner}_w = {where}")
            if attrs.has(item_tp):
                fn = self.name(structurer(item_tp))
                out.append(
                    f"{inner}{var} = tuple([{fn}(_i, f'{{_w}}[{{_n}}]') "
                    f"for _n, _i in enumerate({var})])"
                )
            elif typing.get_origin(item_tp) is dict:
                out.append(f"{inner}for _n, _i in enumerate({var}):")
                raise_bad = "raise _bad(f'{_w}[{_n}]', 'an object', _i)"
                out.append(f"{inner}    if type(_i) is not dict: {raise_bad}")
                out.append(f"{inner}{var} = tuple({var})")
            else:
                raise TypeError(f"no structure rule for items of {tp!r}")
        else:
            raise TypeError(f"no structure rule for {tp!r}")


def structurer(cls: type[T]) -> Callable[[Any, str], T]:
    """The generated function ``(wire_object, where) -> cls`` (built on first use, then cached).

    Field metadata read here: ``wire`` (the key), ``required`` (a missing or null value is a
    :class:`ShapeError` rather than the default; a class may also name inherited fields it
    requires in a ``wire_required`` class attribute) and ``lenient`` (a value of the wrong type
    becomes the default instead of failing: for fields whose type Tencent does not document).
    """
    fn = _STRUCTURERS.get(cls)
    if fn is not None:
        return fn
    klass: Any = cls
    attrs.resolve_types(klass)
    gen = _Gen()
    cls_name = gen.name(cls)
    lines = gen.lines
    lines.append("def structure(d, where):")
    lines.append("    if type(d) is not dict: raise _bad(where, 'an object', d)")
    args: list[str] = []
    own_required: frozenset[str] = getattr(klass, "wire_required", frozenset())
    for index, field in enumerate(attrs.fields(klass)):
        if not field.init:
            continue
        key = _wire_name(field)
        var = f"v{index}"
        where = f"f'{{where}}.{key}'"
        default = field.default
        has_default = default is not attrs.NOTHING
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type,unused-ignore]
            default_expr = f"{gen.name(default.factory)}()"
        elif has_default:
            default_expr = gen.name(default)
        else:
            default_expr = None
        lines.append(f"    {var} = d.get({key!r})")
        if field.metadata.get("required") or field.name in own_required or default_expr is None:
            lines.append(f"    if {var} is None: raise ShapeError(f'{{where}}.{key} is missing')")
            gen.check(var, field.type, where, None, "    ")
        else:
            lenient = default_expr if field.metadata.get("lenient") else None
            lines.append(f"    if {var} is None: {var} = {default_expr}")
            lines.append("    else:")
            before = len(lines)
            gen.check(var, field.type, where, lenient, "        ")
            if len(lines) == before:
                lines.append("        pass")
        args.append(var)
    lines.append(f"    return {cls_name}({', '.join(args)})")
    namespace: dict[str, Any] = dict(gen.env)
    exec("\n".join(lines), namespace)  # code generated from our own field table
    fn = namespace["structure"]
    fn.__qualname__ = f"structure_{cls.__name__}"
    _STRUCTURERS[cls] = fn
    return fn  # type: ignore[no-any-return]


def structure(data: Any, cls: type[T], where: str = "") -> T:
    """Convert one wire object into ``cls``, checking types; raises :class:`ShapeError`."""
    fn = _STRUCTURERS.get(cls) or structurer(cls)
    return fn(data, where or cls.__name__)  # type: ignore[no-any-return]


# --- checking answers ----------------------------------------------------------------------------


def malformed(command: str, text: str, *, effect: bool) -> MalformedResponseError:
    """The error for an answer that is not in the documented shape.

    ``effect`` says whether the command may have been applied anyway (writes the server accepted)
    or not (reads).
    """
    return MalformedResponseError(
        f"{command}: malformed answer: {text}", command=command, may_have_taken_effect=effect
    )


def answer_list(data: Mapping[str, Any], key: str, command: str, *, effect: bool) -> list[Any]:
    """``data[key]`` as a list; a missing or null key is an empty list, anything else malformed."""
    items = data.get(key)
    if items is None:
        return []
    if type(items) is not list:
        raise malformed(command, f"{key} must be a list, got {_describe(items)}", effect=effect)
    return items


def answer_field(
    data: Mapping[str, Any], key: str, kind: type, command: str, *, effect: bool
) -> Any:
    """``data[key]`` when it is of ``kind`` (``int`` excludes bool), ``None`` when missing/null."""
    value = data.get(key)
    if value is not None and type(value) is not kind:
        raise malformed(
            command,
            f"{key} must be {'an' if kind is int else 'a'} {kind.__name__}, got {_describe(value)}",
            effect=effect,
        )
    return value


def structure_list(
    raw: list[Any], cls: type[T], key: str, command: str, *, effect: bool = False
) -> tuple[T, ...]:
    """Every item of an answer's list as ``cls``; a malformed item raises for the whole answer."""
    fn = _STRUCTURERS.get(cls) or structurer(cls)
    try:
        return tuple([fn(item, key) for item in raw])
    except ShapeError:
        for position, item in enumerate(raw):  # name the culprit (rare path)
            try:
                fn(item, f"{key}[{position}]")
            except ShapeError as exc:
                raise malformed(command, str(exc), effect=effect) from None
        raise  # pragma: no cover (the loop above finds the item)


# --- exporting -----------------------------------------------------------------------------------


def wire_fields(obj: Any) -> dict[str, Any]:
    """The wire dict of a model instance: wire keys, ``None`` fields left out, nested converted."""
    out: dict[str, Any] = {}
    for field in attrs.fields(type(obj)):
        if "wire" not in field.metadata:
            continue
        value = getattr(obj, field.name)
        if value is not None:
            out[field.metadata["wire"]] = _wire_value(value)
    return out


def _wire_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if attrs.has(type(value)):
        return to_wire(value)
    if isinstance(value, (list, tuple)):
        return [_wire_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _wire_value(v) for k, v in value.items()}
    return value


def to_wire(obj: Any) -> dict[str, Any]:
    """A model or element as the API writes it: wire keys, unset (``None``) fields left out.

    Works on every model (:class:`Subscriber`, :class:`Message`, :class:`OfficialAccount`, …),
    on message elements (``{"MsgType": ..., "MsgContent": {...}}``) and on :class:`OfflinePush`.
    The result holds only JSON types (enums become their ints), so ``json.dumps`` takes it.
    """
    own = getattr(type(obj), "to_wire", None)
    if own is not None and not isinstance(obj, type):
        result: dict[str, Any] = own(obj)
        return result
    if not attrs.has(type(obj)) or not any("wire" in f.metadata for f in attrs.fields(type(obj))):
        raise TypeError(f"to_wire() takes a tim_oa model or element, not {type(obj).__name__}")
    return wire_fields(obj)


def to_dict(obj: Any) -> dict[str, Any]:
    """A model (or any tim_oa value class) as a plain dict with its snake_case field names.

    Nested models become dicts, tuples become lists and enums their values; every field is kept,
    ``None`` included. For the wire spelling use :func:`to_wire`. cattrs does the unstructuring
    (imported on first use, so ``import tim_oa`` does not pay for it).
    """
    if not attrs.has(type(obj)):
        raise TypeError(f"to_dict() takes a tim_oa model, not {type(obj).__name__}")
    result: dict[str, Any] = _plain_converter().unstructure(obj)
    return result


@functools.cache
def _plain_converter() -> Any:
    import cattrs

    return cattrs.Converter(unstruct_collection_overrides={tuple: list})
