"""One source of truth: every public member of Session has a typed twin on SyncSession.

The twins are typed from Session's own methods (a ParamSpec), so their parameters cannot drift;
what can happen is a member added to Session (by another change) without a typed line here. It
works at once (a generated twin), and ``test_every_public_member_has_a_typed_twin`` says which
line to add to ``tim_oa/_sync.py``.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import tim_oa
from tim_oa import _sync
from tim_oa.testing import Emulator

RENAMED = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}


def public_members(cls: type) -> list[str]:
    return [name for name in dir(cls) if not name.startswith("_")]


def instance_attributes() -> list[str]:
    session = Emulator().session()
    return [name for name in vars(session) if not name.startswith("_")]


def typed_line(name: str) -> str:
    member = inspect.getattr_static(tim_oa.Session, name, None)
    if isinstance(member, classmethod):
        helper = "_classmethod"
    elif inspect.iscoroutinefunction(member):
        helper = "_blocking"
    elif callable(member) and "AsyncPager" in str(inspect.signature(member).return_annotation):
        helper = "_iterating"
    else:
        helper = "_attribute"
    return f"    {name} = {helper}(_S.{name})"


@pytest.mark.parametrize("name", public_members(tim_oa.Session) + instance_attributes())
def test_every_public_member_has_a_typed_twin(name: str) -> None:
    twin_name = RENAMED.get(name, name)
    twin = inspect.getattr_static(tim_oa.SyncSession, twin_name, None)
    assert twin is not None, f"SyncSession has no {twin_name}"
    target = twin.fget if isinstance(twin, property) else getattr(twin, "__func__", twin)
    assert not getattr(target, "_tim_oa_generated", False), (
        f"Session.{name} has only a generated twin on SyncSession: add\n{typed_line(name)}\n"
        "to the class body of SyncSession in tim_oa/_sync.py, so type checkers see it"
    )


@pytest.mark.parametrize("name", public_members(tim_oa.Session))
def test_twins_take_the_same_parameters_and_do_not_return_coroutines(name: str) -> None:
    member = inspect.getattr_static(tim_oa.Session, name)
    twin = getattr(tim_oa.SyncSession, RENAMED.get(name, name))
    if isinstance(member, property):
        assert isinstance(inspect.getattr_static(tim_oa.SyncSession, name), property)
        return
    if name in RENAMED:  # written out: close() ends the loop thread too
        assert inspect.signature(twin) == inspect.signature(getattr(tim_oa.Session, name))
        return
    assert inspect.signature(twin) == inspect.signature(getattr(tim_oa.Session, name))
    assert not inspect.iscoroutinefunction(twin)
    assert twin.__doc__ == getattr(tim_oa.Session, name).__doc__


def test_the_constructor_takes_what_session_takes() -> None:
    assert inspect.signature(tim_oa.SyncSession) == inspect.signature(tim_oa.Session)


def test_lifecycle_twins() -> None:
    for name in ["__enter__", "__exit__", "close", "closed", "with_options"]:
        assert inspect.getattr_static(tim_oa.SyncSession, name).__doc__ or name.startswith("__")
    assert not inspect.iscoroutinefunction(tim_oa.SyncSession.close)


class _GrownSession(tim_oa.Session):
    """A Session with members the SyncSession was not written for (as another change adds)."""

    async def ping(self, text: str, *, times: int = 1) -> str:
        """Answer ``text`` ``times`` times."""
        return text * times

    def every_subscriber(self, account_id: str) -> tim_oa.AsyncPager[tim_oa.Subscriber]:
        """All subscribers of an account."""
        return self.subscribers(account_id, page_size=2)

    def label(self) -> str:
        """A plain sync method."""
        return f"app {self.sdkappid}"

    @property
    def doubled(self) -> int:
        """Twice the SDKAppID."""
        return self.sdkappid * 2

    @classmethod
    def for_emulator(cls, emulator: Emulator, **options: Any) -> _GrownSession:
        """A session bound to an emulator."""
        options.setdefault("transport", emulator.transport())
        return cls(
            emulator.sdkappid,
            emulator.admins[0],
            tim_oa.UserSigSigner(emulator.sdkappid, emulator.secret_key),
            base_url="http://tim-oa-emulator",
            **options,
        )

    @classmethod
    def describe(cls) -> str:
        """Not a factory: its value is returned as it is."""
        return cls.__name__


class _GrownSync(tim_oa.SyncSession):
    _session_class = _GrownSession


def test_new_session_members_get_generated_twins() -> None:
    # The twins are made when the class is created: mypy sees none of them.
    grown: Any = _GrownSync
    emulator = Emulator()
    with grown.for_emulator(emulator, max_retries=1) as oa:
        assert isinstance(oa, grown) and oa.max_retries == 1
        assert oa.ping("ab", times=2) == "abab"
        assert oa.label() == f"app {emulator.sdkappid}"
        assert oa.doubled == emulator.sdkappid * 2
        account_id = oa.create_account("107867", "News")
        oa.add_subscribers(account_id, ["u1", "u2", "u3"])
        pager = oa.every_subscriber(account_id)
        assert isinstance(pager, tim_oa.SyncPager)
        assert [len(p.items) for p in pager.pages()] == [2, 1]
    assert grown.describe() == "_GrownSession"
    assert grown.ping.__doc__ == "Answer ``text`` ``times`` times."
    assert inspect.signature(grown.ping) == inspect.signature(_GrownSession.ping)
    assert grown.ping._tim_oa_generated


def test_the_typed_lines_name_their_helper() -> None:
    assert typed_line("create_account") == "    create_account = _blocking(_S.create_account)"
    assert typed_line("subscribers") == "    subscribers = _iterating(_S.subscribers)"
    assert typed_line("closed") == "    closed = _attribute(_S.closed)"
    assert callable(_sync._classmethod)  # the helper a classmethod's line names
