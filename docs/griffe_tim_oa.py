"""A griffe extension for the API reference: docstrings written for ``help()`` read well here.

tim_oa's docstrings use Sphinx roles (``:class:`Session```, ``:meth:`aclose```) and reST literal
blocks (a paragraph ending in ``::``), which Markdown shows as written, and its value classes are
attrs classes, whose ``__init__`` griffe cannot see in the source. This extension, run when the
reference is built, leaves the source alone and:

- turns a role into an optional cross-reference to the public name it means (``Session`` ->
  ``tim_oa.Session``; a bare method name -> that method of the public class that owns the
  docstring; a private module's name -> its public export). A name that is not in the reference
  (a private helper, another library) renders as plain code, without a warning;
- turns a ``::`` literal block into a fenced Python code block;
- gives each attrs class the ``__init__`` attrs generates (its fields, in order, with their
  defaults and keyword-only marks), so the signature shows how to build one.
"""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap
from typing import Any

import attrs
import griffe

PUBLIC_MODULES = ("tim_oa", "tim_oa.limiters", "tim_oa.webhooks", "tim_oa.testing")
ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|exc|mod|obj):`(?P<target>[^`]+)`")
LITERAL = re.compile(r"(?P<lead>\S)::\n\n(?P<block>(?:(?: {4}.*)?\n)*(?: {4}.*))", re.MULTILINE)


class _Names:
    """Public paths: by short name, and by the canonical (defining) path of each object."""

    def __init__(self) -> None:
        self.short: dict[str, list[str]] = {}
        self.canonical: dict[str, str] = {}
        for module_name in PUBLIC_MODULES:
            module = importlib.import_module(module_name)
            for name in module.__all__:
                public = f"{module_name}.{name}"
                self.short.setdefault(name, []).append(public)
                value = getattr(module, name)
                if inspect.isclass(value) or inspect.isfunction(value):
                    self.canonical.setdefault(f"{value.__module__}.{value.__qualname__}", public)
        # A private base class documents its methods on the public class built on it
        # (AccountsMixin.create_account is tim_oa.Session.create_account).
        for public_paths in self.short.values():
            for public in public_paths:
                module_name, _, name = public.rpartition(".")
                value = getattr(importlib.import_module(module_name), name)
                if inspect.isclass(value):
                    for base in value.__mro__[1:]:
                        if base.__module__.startswith("tim_oa."):
                            key = f"{base.__module__}.{base.__qualname__}"
                            self.canonical.setdefault(key, public)

    def public(self, path: str) -> str | None:
        """The public path of a dotted path that starts with a canonical or public object."""
        parts = path.split(".")
        for end in range(len(parts), 0, -1):
            head, rest = ".".join(parts[:end]), parts[end:]
            found = self.canonical.get(head)
            if found is None and any(head in paths for paths in self.short.values()):
                found = head
            if found is not None:
                return ".".join([found, *rest])
        return None

    def by_short_name(self, target: str, near: str) -> str | None:
        """The public path of ``Name`` or ``Name.member``, preferring the module ``near``."""
        head, _, rest = target.partition(".")
        paths = self.short.get(head)
        if not paths:
            return None
        best = max(paths, key=lambda path: near.startswith(path.rpartition(".")[0] + "."))
        return f"{best}.{rest}" if rest else best


class TimOADocs(griffe.Extension):
    """Rewrite Sphinx roles and reST literal blocks; give attrs classes their ``__init__``."""

    def __init__(self) -> None:
        self._names: _Names | None = None

    @property
    def names(self) -> _Names:
        """The public names, read on first use (after mkdocs has set up the import path)."""
        if self._names is None:
            self._names = _Names()
        return self._names

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Add the generated ``__init__`` to every attrs class of the package."""
        _add_attrs_inits(pkg)

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring of each object as it is loaded."""
        if obj.docstring is None:
            return
        text = LITERAL.sub(_fence, obj.docstring.value)
        obj.docstring.value = ROLE.sub(lambda match: self._reference(match, obj), text)

    def _reference(self, match: re.Match[str], obj: griffe.Object) -> str:
        target = match["target"].strip()
        short = target.startswith("~")
        target = target.lstrip("~!.")
        shown = target.rpartition(".")[2] if short else target
        identifier = self._resolve(target, obj)
        code = f"<code>{shown}</code>"
        if identifier is None:
            return code
        return f'<autoref identifier="{identifier}" optional>{code}</autoref>'

    def _resolve(self, target: str, obj: griffe.Object) -> str | None:
        if target.startswith("tim_oa."):
            return self.names.public(target)
        found = self.names.by_short_name(target, self.names.public(obj.path) or obj.path)
        if found is not None:
            return found
        if "." in target:
            return None  # another library's name (anyio.sleep, httpx.Timeout)
        owner = obj if obj.is_class else obj.parent
        if owner is not None and owner.is_class:
            public_owner = self.names.public(owner.path)
            if public_owner is not None:
                return f"{public_owner}.{target}"
        return None


def _fence(match: re.Match[str]) -> str:
    code = textwrap.dedent(match["block"])
    return f"{match['lead']}:\n\n```python\n{code}\n```"


def _add_attrs_inits(scope: griffe.Module | griffe.Class) -> None:
    for member in list(scope.members.values()):
        if member.is_alias:
            continue
        if isinstance(member, griffe.Class):
            if "__init__" not in member.members:
                _add_attrs_init(member)
            _add_attrs_inits(member)
        elif isinstance(member, griffe.Module):
            _add_attrs_inits(member)


def _add_attrs_init(cls: griffe.Class) -> None:
    try:
        value: Any = importlib.import_module(cls.module.path)
        for name in cls.path[len(cls.module.path) + 1 :].split("."):
            value = getattr(value, name)
    except (ImportError, AttributeError):
        return
    if not attrs.has(value):
        return
    parameters = [griffe.Parameter("self", kind=griffe.ParameterKind.positional_or_keyword)]
    for field in attrs.fields(value):
        if not field.init:
            continue
        try:  # the field's annotation in the source, inherited ones included
            annotation = cls.all_members[field.name].annotation
        except (KeyError, AttributeError, griffe.AliasResolutionError):
            annotation = None
        if field.default is attrs.NOTHING:
            default = None
        elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            default = f"{getattr(field.default.factory, '__name__', 'factory')}()"
        else:
            default = repr(field.default)
        parameters.append(
            griffe.Parameter(
                field.alias or field.name,
                annotation=annotation,
                kind=griffe.ParameterKind.keyword_only
                if field.kw_only
                else griffe.ParameterKind.positional_or_keyword,
                default=default,
            )
        )
    init = griffe.Function(
        "__init__",
        lineno=0,
        endlineno=0,
        parent=cls,
        parameters=griffe.Parameters(*parameters),
        returns="None",
    )
    cls.set_member("__init__", init)
