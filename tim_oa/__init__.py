"""tim_oa: an asyncio client for the Tencent Cloud Chat (TIM) Official Account REST API.

Everything public is importable from here; ``tim_oa.testing`` holds the emulator.
"""

from ._batch import (
    BatchAbortedError,
    BatchProgress,
    BatchResult,
    MissingResultError,
    Outcome,
    Status,
)
from ._codes import ErrorCode
from ._elements import (
    CustomElem,
    Element,
    FaceElem,
    FileElem,
    ImageElem,
    ImageInfo,
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
    BatchError,
    InvalidRequestError,
    PaginationError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceNotEnabledError,
    SubscriberLimitError,
    SubscriptionLimitError,
    TimOAError,
    TransportError,
    UserSigExpiredError,
    ValidationError,
)
from ._models import (
    AccountProfile,
    Message,
    OfficialAccount,
    SelfInfo,
    SentMessage,
    SubscribedAccount,
    Subscriber,
)
from ._pagination import AsyncPager, Page
from ._regions import Region
from ._retry import RetryPolicy
from ._session import Session
from ._usersig import UserSigSigner, decode_usersig
from ._version import __version__

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
    "FaceElem",
    "FileElem",
    "ImageElem",
    "ImageInfo",
    "InvalidRequestError",
    "LocationElem",
    "Message",
    "MissingResultError",
    "OfficialAccount",
    "OfflinePush",
    "Outcome",
    "Page",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitedError",
    "Region",
    "RetryPolicy",
    "SelfInfo",
    "SentMessage",
    "ServerError",
    "ServiceNotEnabledError",
    "Session",
    "SoundElem",
    "Status",
    "SubscribedAccount",
    "Subscriber",
    "SubscriberLimitError",
    "SubscriptionLimitError",
    "TextElem",
    "TimOAError",
    "TransportError",
    "UserSigExpiredError",
    "UserSigSigner",
    "ValidationError",
    "VideoElem",
    "__version__",
    "decode_usersig",
    "parse_msg_body",
    "to_msg_body",
]
