"""The API's numeric error codes, named.

Facts from Tencent's error-code pages, and the one table that decides which exception class each
code raises and whether it is worth retrying.
"""

from __future__ import annotations

import enum
from typing import Final

from ._errors import (
    AccountIdInUseError,
    AccountNotFoundError,
    ApiError,
    AuthError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceNotEnabledError,
    SubscriberLimitError,
    SubscriptionLimitError,
    UserSigExpiredError,
)


class ErrorCode(enum.IntEnum):
    """Error codes the Official Account API is documented (or inferred) to return."""

    OK = 0
    # Generic service codes seen on the Official Account pages.
    INVALID_PARAMETER = 6017
    INTERNAL_ERROR = 10002
    INVALID_COMMAND = 10003
    INTERNAL_ERROR_OR_INVALID_PARAMETER = 10004
    NO_PERMISSION = 10007
    ACCOUNT_USER_NOT_FOUND = 10010
    MESSAGE_REFUSED_BY_WEBHOOK = 10016
    MESSAGE_NOT_RECALLABLE = 10030  # per-item recall RetCode (INFERRED meaning)
    INVALID_REQUEST_PACKET = 20001
    SERVER_INTERNAL_ERROR = 20005
    CREATE_REFUSED_BY_WEBHOOK = 20006
    # REST gateway codes.
    HTTP_PARSE_ERROR = 60002
    JSON_PARSE_ERROR = 60003
    ACCOUNT_OR_SIGNATURE_ERROR = 60004
    ACCOUNT_OR_SIGNATURE_ERROR_2 = 60005
    SDKAPPID_INVALID = 60006
    REST_RATE_LIMITED = 60007
    SERVICE_TIMEOUT = 60008
    BAD_RESOURCE = 60009
    ADMIN_REQUIRED = 60010
    APP_RATE_LIMITED = 60011
    SDKAPPID_MISSING = 60012
    RESPONSE_JSON_ERROR = 60013
    ACCOUNT_SWAP_TIMEOUT = 60014
    WRONG_ACCOUNT_TYPE = 60015
    SDKAPPID_DISABLED = 60016
    REQUEST_DISABLED = 60017
    TOO_MANY_REQUESTS = 60018
    TOO_MANY_REQUESTS_2 = 60019
    PLAN_EXPIRED = 60020
    IP_NOT_ALLOWED = 60021
    # UserSig and account codes.
    USERSIG_EXPIRED = 70001
    USERSIG_EMPTY = 70002
    USERSIG_MALFORMED = 70003
    USERSIG_MISMATCH = 70009
    USERSIG_IDENTIFIER_MISMATCH = 70013
    USERSIG_SDKAPPID_MISMATCH = 70014
    KEY_NOT_FOUND = 70016
    SDKAPPID_NOT_FOUND = 70020
    USERSIG_FAILED_RATE_LIMITED = 70050
    ACCOUNT_BLACKLISTED = 70051
    ACCOUNT_NOT_IMPORTED = 70107
    # Official Account codes.
    OA_PERMISSION_DENIED = 130002
    OA_NOT_FOUND = 130004
    OA_SUBSCRIBER_LIMIT = 130006
    OA_ID_INVALID = 130007
    OA_ID_IN_USE = 130008
    OA_SUBSCRIPTION_LIMIT = 130010
    OA_SERVICE_NOT_ENABLED = 131000


# --- The one table -------------------------------------------------------------------------------
# code -> (exception class, retryable). "Retryable" means the same request may succeed later;
# whether a retry is *safe* also depends on the command (see _commands.py).

_CODE_TABLE: Final[dict[int, tuple[type[ApiError], bool]]] = {
    ErrorCode.INVALID_PARAMETER: (InvalidRequestError, False),
    ErrorCode.INTERNAL_ERROR: (ServerError, True),
    ErrorCode.INVALID_COMMAND: (InvalidRequestError, False),
    # Documented both as "internal error, retry" and "invalid parameter"; the destroy/delete/recall
    # tables say retry, so it is treated as transient.
    ErrorCode.INTERNAL_ERROR_OR_INVALID_PARAMETER: (ServerError, True),
    ErrorCode.NO_PERMISSION: (PermissionDeniedError, False),
    ErrorCode.ACCOUNT_USER_NOT_FOUND: (AccountNotFoundError, False),
    ErrorCode.INVALID_REQUEST_PACKET: (InvalidRequestError, False),
    ErrorCode.SERVER_INTERNAL_ERROR: (ServerError, True),
    ErrorCode.HTTP_PARSE_ERROR: (InvalidRequestError, False),
    ErrorCode.JSON_PARSE_ERROR: (InvalidRequestError, False),
    ErrorCode.ACCOUNT_OR_SIGNATURE_ERROR: (AuthError, False),
    ErrorCode.ACCOUNT_OR_SIGNATURE_ERROR_2: (AuthError, False),
    ErrorCode.SDKAPPID_INVALID: (AuthError, False),
    ErrorCode.REST_RATE_LIMITED: (RateLimitedError, True),
    ErrorCode.SERVICE_TIMEOUT: (ServerError, True),
    ErrorCode.BAD_RESOURCE: (InvalidRequestError, False),
    ErrorCode.ADMIN_REQUIRED: (PermissionDeniedError, False),
    ErrorCode.APP_RATE_LIMITED: (RateLimitedError, True),
    ErrorCode.SDKAPPID_MISSING: (InvalidRequestError, False),
    ErrorCode.RESPONSE_JSON_ERROR: (ServerError, True),
    ErrorCode.ACCOUNT_SWAP_TIMEOUT: (ServerError, True),
    ErrorCode.WRONG_ACCOUNT_TYPE: (InvalidRequestError, False),
    ErrorCode.SDKAPPID_DISABLED: (ServiceNotEnabledError, False),
    ErrorCode.REQUEST_DISABLED: (InvalidRequestError, False),
    ErrorCode.TOO_MANY_REQUESTS: (RateLimitedError, True),
    ErrorCode.TOO_MANY_REQUESTS_2: (RateLimitedError, True),
    ErrorCode.PLAN_EXPIRED: (ServiceNotEnabledError, False),
    ErrorCode.IP_NOT_ALLOWED: (PermissionDeniedError, False),
    ErrorCode.USERSIG_EXPIRED: (
        UserSigExpiredError,
        False,
    ),  # renewed once by the session, not "retried"
    ErrorCode.USERSIG_EMPTY: (AuthError, False),
    ErrorCode.USERSIG_MALFORMED: (AuthError, False),
    ErrorCode.USERSIG_MISMATCH: (AuthError, False),
    ErrorCode.USERSIG_IDENTIFIER_MISMATCH: (AuthError, False),
    ErrorCode.USERSIG_SDKAPPID_MISMATCH: (AuthError, False),
    ErrorCode.KEY_NOT_FOUND: (AuthError, False),
    ErrorCode.SDKAPPID_NOT_FOUND: (AuthError, False),
    ErrorCode.USERSIG_FAILED_RATE_LIMITED: (RateLimitedError, True),
    ErrorCode.ACCOUNT_BLACKLISTED: (AuthError, False),
    ErrorCode.ACCOUNT_NOT_IMPORTED: (InvalidRequestError, False),
    ErrorCode.OA_PERMISSION_DENIED: (PermissionDeniedError, False),
    ErrorCode.OA_NOT_FOUND: (AccountNotFoundError, False),
    ErrorCode.OA_SUBSCRIBER_LIMIT: (SubscriberLimitError, False),
    ErrorCode.OA_ID_INVALID: (InvalidRequestError, False),
    ErrorCode.OA_ID_IN_USE: (AccountIdInUseError, False),
    ErrorCode.OA_SUBSCRIPTION_LIMIT: (SubscriptionLimitError, False),
    ErrorCode.OA_SERVICE_NOT_ENABLED: (ServiceNotEnabledError, False),
}


def error_class_for(code: int) -> type[ApiError]:
    """Return the exception class for an API error code (``ApiError`` for unknown codes)."""
    entry = _CODE_TABLE.get(code)
    return entry[0] if entry else ApiError


def is_retryable_code(code: int) -> bool:
    """Whether a request that failed with ``code`` may succeed when sent again later."""
    entry = _CODE_TABLE.get(code)
    return entry[1] if entry else False


def api_error(
    code: int, info: str = "", *, command: str | None = None, request_id: str | None = None
) -> ApiError:
    """Build the right :class:`ApiError` subclass for ``code``."""
    return error_class_for(code)(code, info, command=command, request_id=request_id)
