"""The contract of library.md: fixed names and signatures, and docstrings on everything public."""

from __future__ import annotations

import inspect

import pytest

import tim_oa
import tim_oa.testing

CONTRACT_NAMES = [
    "Session", "UserSigSigner", "Region", "AsyncPager", "BatchResult",
    "TimOAError", "ValidationError", "TransportError", "ApiError", "InvalidRequestError",
    "AuthError", "UserSigExpiredError", "PermissionDeniedError", "AccountNotFoundError",
    "AccountIdInUseError", "SubscriberLimitError", "SubscriptionLimitError",
    "ServiceNotEnabledError", "RateLimitedError", "ServerError", "PaginationError", "BatchError",
    "RefusedByWebhookError",
]  # fmt: skip

# method -> (positional parameters, keyword-only parameters) as the contract names them
METHODS = {
    "create_account": (["owner", "name"], ["account_id", "introduction", "face_url",
                       "organization", "custom_string", "max_subscribers"]),
    "destroy_account": (["account_id"], []),
    "modify_account": (["account_id"], ["name", "introduction", "face_url", "organization",
                       "custom_string", "max_subscribers"]),
    "get_accounts": (["account_ids"], ["fields"]),
    "subscribed_accounts": (["user_id"], ["page_size", "account_fields", "self_fields", "offset"]),
    "subscribers": (["account_id"], ["page_size", "cursor"]),
    "add_subscribers": (["account_id", "user_ids"], ["concurrency", "on_progress"]),
    "remove_subscribers": (["account_id", "user_ids"], ["concurrency", "on_progress"]),
    "modify_subscriber": (["account_id", "user_id", "custom_string"], []),
    "send_message": (["account_id", "body"], ["random", "cloud_custom_data", "offline_push",
                     "online_only", "no_last_msg"]),
    "messages": (["account_id"], ["page_size", "with_recalled", "last_msg_key"]),
    "recall_messages": (["account_id", "msg_keys"], ["reason"]),
    "call": (["command", "body"], []),
    "import_accounts": (["user_ids"], ["concurrency", "on_progress", "invalid"]),
    "import_account": (["user_id"], ["nick", "face_url"]),
    "check_accounts": (["user_ids"], []),
    "delete_accounts": (["user_ids"], ["concurrency", "on_progress", "invalid"]),
    "get_callback_ips": ([], ["receiver_in_china"]),
}  # fmt: skip

SESSION_OPTIONS = ["http_client", "timeout", "max_retries", "rate_limit", "max_concurrency"]


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_contract_names_are_exported(name: str) -> None:
    assert name in tim_oa.__all__
    assert getattr(tim_oa, name).__module__.startswith("tim_oa")


def test_error_tree() -> None:
    for name in CONTRACT_NAMES:
        obj = getattr(tim_oa, name)
        if isinstance(obj, type) and name.endswith("Error"):
            assert issubclass(obj, tim_oa.TimOAError)
    assert issubclass(tim_oa.ValidationError, ValueError)
    assert issubclass(tim_oa.UserSigExpiredError, tim_oa.AuthError)


@pytest.mark.parametrize("method", list(METHODS))
def test_session_method_signatures(method: str) -> None:
    positional, keyword = METHODS[method]
    params = inspect.signature(getattr(tim_oa.Session, method)).parameters
    names = [p for p in params if p != "self"]
    assert names[: len(positional)] == positional
    for name in keyword:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    assert inspect.iscoroutinefunction(getattr(tim_oa.Session, method)) != (
        method in {"subscribed_accounts", "subscribers", "messages"}
    )


def test_session_options_and_lifecycle() -> None:
    params = inspect.signature(tim_oa.Session).parameters
    for name in ["sdkappid", "identifier", "usersig", "region", "base_url", *SESSION_OPTIONS]:
        assert name in params
    for name in ["__aenter__", "__aexit__", "aclose", "with_options"]:
        assert callable(getattr(tim_oa.Session, name))
    for name in ["pages", "collect", "__aiter__"]:
        assert callable(getattr(tim_oa.AsyncPager, name))
    for name in ["succeeded", "unchanged", "failed", "outcomes", "ok", "raise_for_failures"]:
        assert hasattr(tim_oa.BatchResult, name)


def test_emulator_fixed_names() -> None:
    emulator = tim_oa.testing.Emulator(sdkappid=1400000000, secret_key="k", admins=("admin",))
    assert callable(emulator.app)
    assert isinstance(emulator.session(), tim_oa.Session)


def _public_members(obj: type) -> list[tuple[str, object]]:
    members: list[tuple[str, object]] = []
    for name, value in vars(obj).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            value = value.fget
        if inspect.isfunction(value):
            members.append((name, value))
    return members


@pytest.mark.parametrize("module", [tim_oa, tim_oa.testing], ids=["tim_oa", "tim_oa.testing"])
def test_every_public_name_has_a_docstring(module: object) -> None:
    missing = []
    for name in module.__all__:  # type: ignore[attr-defined]
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj):
            for klass in obj.__mro__:
                if klass.__module__.startswith("tim_oa"):
                    missing += [
                        f"{name}.{m}" for m, f in _public_members(klass) if not inspect.getdoc(f)
                    ]
    assert missing == []


def test_the_session_docstring_documents_exactly_its_signature() -> None:
    """The signature lives in ``_base.py``, the docstring in ``_session.py``: they must agree."""
    import re

    doc = inspect.getdoc(tim_oa.Session) or ""
    args = doc.split("Args:", 1)[1].split("\n\n", 1)[0]
    documented = re.findall(r"^    (\w+):", args, re.MULTILINE)
    params = [p for p in inspect.signature(tim_oa.Session).parameters if p != "self"]
    assert documented == params
    assert "aiohttp" in args.split("backend:", 1)[1]
