"""tim_oa: an asyncio client for the Tencent Cloud Chat (TIM) Official Account REST API.

Everything public is importable from here; ``tim_oa.testing`` holds the emulator. Names load on
first use (``import tim_oa`` itself costs almost nothing; ``tim_oa.Session`` brings in httpx).
"""

from __future__ import annotations

from ._version import __version__

if __import__("os").environ.get("TIM_OA_LOG"):  # logging without code (tim_oa._logenv)
    from ._logenv import configure_from_env

    configure_from_env()

TYPE_CHECKING = False  # not typing's: importing typing would cost more than the rest of this file
if TYPE_CHECKING:
    from typing import Any

    from ._batch import (
        BatchProgress,
        BatchResult,
        Outcome,
        Status,
    )
    from ._codes import (
        ErrorCode,
    )
    from ._converter import (
        to_dict,
        to_wire,
    )
    from ._elements import (
        CustomElem,
        Element,
        FaceElem,
        FileElem,
        ImageElem,
        ImageFormat,
        ImageInfo,
        ImageType,
        LocationElem,
        OfflinePush,
        SoundElem,
        TextElem,
        VideoElem,
        parse_msg_body,
        to_msg_body,
    )
    from ._errors import (
        AccountIdInUseError,
        AccountNotFoundError,
        ApiError,
        AuthError,
        BatchAbortedError,
        BatchError,
        EventLoopError,
        InvalidRequestError,
        LimiterUnavailableError,
        MalformedResponseError,
        MissingResultError,
        PaginationError,
        PermissionDeniedError,
        ProgressCallbackError,
        RateLimitedError,
        RefusedByWebhookError,
        ServerError,
        ServiceNotEnabledError,
        SessionClosedError,
        SubscriberLimitError,
        SubscriptionLimitError,
        SyncInAsyncError,
        TimOAError,
        TransportError,
        UserSigExpiredError,
        ValidationError,
    )
    from ._models import (
        AccountProfile,
        Message,
        MsgPriority,
        OfficialAccount,
        SelfInfo,
        SentMessage,
        SubscribedAccount,
        Subscriber,
    )
    from ._observer import (
        Observer,
    )
    from ._pagination import (
        AsyncPager,
        Page,
    )
    from ._regions import (
        Region,
    )
    from ._retry import (
        RetryPolicy,
    )
    from ._session import (
        Session,
    )
    from ._sync import (
        SyncSession,
    )
    from ._sync_pager import (
        SyncPager,
    )
    from ._usersig import (
        UserSigSigner,
        decode_usersig,
    )
    from ._validation import (
        check_account_id,
        check_user_id,
    )

_LAZY: dict[str, str] = {
    "BatchProgress": "._batch",
    "BatchResult": "._batch",
    "Outcome": "._batch",
    "Status": "._batch",
    "ErrorCode": "._codes",
    "to_dict": "._converter",
    "to_wire": "._converter",
    "CustomElem": "._elements",
    "Element": "._elements",
    "FaceElem": "._elements",
    "FileElem": "._elements",
    "ImageElem": "._elements",
    "ImageFormat": "._elements",
    "ImageInfo": "._elements",
    "ImageType": "._elements",
    "LocationElem": "._elements",
    "OfflinePush": "._elements",
    "SoundElem": "._elements",
    "TextElem": "._elements",
    "VideoElem": "._elements",
    "parse_msg_body": "._elements",
    "to_msg_body": "._elements",
    "AccountIdInUseError": "._errors",
    "AccountNotFoundError": "._errors",
    "ApiError": "._errors",
    "AuthError": "._errors",
    "BatchAbortedError": "._errors",
    "BatchError": "._errors",
    "EventLoopError": "._errors",
    "LimiterUnavailableError": "._errors",
    "InvalidRequestError": "._errors",
    "MalformedResponseError": "._errors",
    "MissingResultError": "._errors",
    "PaginationError": "._errors",
    "PermissionDeniedError": "._errors",
    "ProgressCallbackError": "._errors",
    "RateLimitedError": "._errors",
    "RefusedByWebhookError": "._errors",
    "ServerError": "._errors",
    "ServiceNotEnabledError": "._errors",
    "SessionClosedError": "._errors",
    "SubscriberLimitError": "._errors",
    "SubscriptionLimitError": "._errors",
    "SyncInAsyncError": "._errors",
    "TimOAError": "._errors",
    "TransportError": "._errors",
    "UserSigExpiredError": "._errors",
    "ValidationError": "._errors",
    "AccountProfile": "._models",
    "Message": "._models",
    "MsgPriority": "._models",
    "OfficialAccount": "._models",
    "SelfInfo": "._models",
    "SentMessage": "._models",
    "SubscribedAccount": "._models",
    "Subscriber": "._models",
    "Observer": "._observer",
    "AsyncPager": "._pagination",
    "Page": "._pagination",
    "Region": "._regions",
    "RetryPolicy": "._retry",
    "Session": "._session",
    "SyncSession": "._sync",
    "SyncPager": "._sync_pager",
    "UserSigSigner": "._usersig",
    "decode_usersig": "._usersig",
    "check_account_id": "._validation",
    "check_user_id": "._validation",
}


if not TYPE_CHECKING:  # hidden from type checkers, so a misspelt name is still reported

    def __getattr__(name: str) -> Any:
        """Load a public name on first use (PEP 562)."""
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'tim_oa' has no attribute {name!r}")
        value = getattr(__import__(__name__ + module, fromlist=[name]), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AccountIdInUseError",
    "AccountNotFoundError",
    "AccountProfile",
    "ApiError",
    "AsyncPager",
    "AuthError",
    "BatchAbortedError",
    "BatchError",
    "BatchProgress",
    "BatchResult",
    "CustomElem",
    "Element",
    "ErrorCode",
    "EventLoopError",
    "FaceElem",
    "FileElem",
    "ImageElem",
    "ImageFormat",
    "ImageInfo",
    "ImageType",
    "InvalidRequestError",
    "LimiterUnavailableError",
    "LocationElem",
    "MalformedResponseError",
    "Message",
    "MissingResultError",
    "MsgPriority",
    "Observer",
    "OfficialAccount",
    "OfflinePush",
    "Outcome",
    "Page",
    "PaginationError",
    "PermissionDeniedError",
    "ProgressCallbackError",
    "RateLimitedError",
    "RefusedByWebhookError",
    "Region",
    "RetryPolicy",
    "SelfInfo",
    "SentMessage",
    "ServerError",
    "ServiceNotEnabledError",
    "Session",
    "SessionClosedError",
    "SoundElem",
    "Status",
    "SubscribedAccount",
    "Subscriber",
    "SubscriberLimitError",
    "SubscriptionLimitError",
    "SyncInAsyncError",
    "SyncPager",
    "SyncSession",
    "TextElem",
    "TimOAError",
    "TransportError",
    "UserSigExpiredError",
    "UserSigSigner",
    "ValidationError",
    "VideoElem",
    "__version__",
    "check_account_id",
    "check_user_id",
    "decode_usersig",
    "parse_msg_body",
    "to_dict",
    "to_msg_body",
    "to_wire",
]
