"""The API's numeric error codes, named.

Facts from Tencent's error-code pages, and the one table that decides which exception class each
code raises and whether it is worth retrying (with the few codes one command gives its own
meaning, such as 10004 on recall). :meth:`tim_oa.RetryPolicy.next_delay` reads it.
"""

from __future__ import annotations

import enum
from typing import Any, Final, NamedTuple

from ._errors import (
    AccountIdInUseError,
    AccountNotFoundError,
    ApiError,
    AuthError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    RefusedByWebhookError,
    ServerError,
    ServiceNotEnabledError,
    SubscriberLimitError,
    SubscriptionLimitError,
    UserSigExpiredError,
)


class ErrorCode(enum.IntEnum):
    """Error codes the Official Account API is documented (or inferred) to return."""

    OK = 0
    """Success."""
    # Generic service codes seen on the Official Account pages.
    INVALID_PARAMETER = 6017
    """Invalid request parameter."""
    INTERNAL_ERROR = 10002
    """Internal server error; try again."""
    INVALID_COMMAND = 10003
    """Invalid command word."""
    INTERNAL_ERROR_OR_INVALID_PARAMETER = 10004
    """Documented both as "internal error" and as "invalid parameter" (on recall)."""
    NO_PERMISSION = 10007
    """Insufficient permission."""
    ACCOUNT_USER_NOT_FOUND = 10010
    """The Official Account does not exist or was destroyed (recall page)."""
    MESSAGE_REFUSED_BY_WEBHOOK = 10016
    """The message was refused by the app's before-send webhook."""
    MESSAGE_NOT_RECALLABLE = 10030  # per-item recall RetCode (INFERRED meaning)
    """A per-message recall ``RetCode`` of Tencent's sample; meaning INFERRED (unknown key, or too
    old to recall).
    """
    INVALID_REQUEST_PACKET = 20001
    """Invalid request packet."""
    SERVER_INTERNAL_ERROR = 20005
    """Internal server error; try again."""
    CREATE_REFUSED_BY_WEBHOOK = 20006
    """The creation was refused by the app's before-create webhook."""
    # REST gateway codes.
    HTTP_PARSE_ERROR = 60002
    """The HTTP request could not be parsed (check the URL)."""
    JSON_PARSE_ERROR = 60003
    """The request's JSON body could not be parsed."""
    ACCOUNT_OR_SIGNATURE_ERROR = 60004
    """Account or signature error in the URL or body."""
    ACCOUNT_OR_SIGNATURE_ERROR_2 = 60005
    """Account or signature error in the URL or body."""
    SDKAPPID_INVALID = 60006
    """The SDKAppID is invalid."""
    REST_RATE_LIMITED = 60007
    """The REST call rate of the command is over its limit."""
    SERVICE_TIMEOUT = 60008
    """Service timeout, or a malformed HTTP request."""
    BAD_RESOURCE = 60009
    """Request resource error (a bad URL path)."""
    ADMIN_REQUIRED = 60010
    """The request needs an App admin account as ``identifier``."""
    APP_RATE_LIMITED = 60011
    """The app's (SDKAppID's) request rate is over its limit."""
    SDKAPPID_MISSING = 60012
    """The URL has no SDKAppID."""
    RESPONSE_JSON_ERROR = 60013
    """The server could not build its JSON answer."""
    ACCOUNT_SWAP_TIMEOUT = 60014
    """Account swap timeout."""
    WRONG_ACCOUNT_TYPE = 60015
    """Wrong account type in the body (user ids must be strings)."""
    SDKAPPID_DISABLED = 60016
    """The SDKAppID is disabled."""
    REQUEST_DISABLED = 60017
    """The request is disabled."""
    TOO_MANY_REQUESTS = 60018
    """Too many requests; try again later (the send pacing of one account, INFERRED)."""
    TOO_MANY_REQUESTS_2 = 60019
    """Too many requests; try again later (on a send: the 2-broadcasts-per-hour cap, INFERRED)."""
    PLAN_EXPIRED = 60020
    """The paid plan expired or was disabled (it works again 5 minutes after renewal)."""
    IP_NOT_ALLOWED = 60021
    """The caller's IP address is not allowed."""
    # UserSig and account codes.
    USERSIG_EXPIRED = 70001
    """The UserSig expired: the session renews it once and resends."""
    USERSIG_EMPTY = 70002
    """The UserSig is empty."""
    USERSIG_MALFORMED = 70003
    """The UserSig could not be parsed (truncated?)."""
    USERSIG_MISMATCH = 70009
    """The UserSig does not verify: probably signed with another app's key."""
    USERSIG_IDENTIFIER_MISMATCH = 70013
    """The request's identifier is not the one the UserSig was made for."""
    USERSIG_SDKAPPID_MISMATCH = 70014
    """The request's SDKAppID is not the one in the UserSig."""
    KEY_NOT_FOUND = 70016
    """The app's key does not exist (a wrong region for this SDKAppID?)."""
    SDKAPPID_NOT_FOUND = 70020
    """The SDKAppID does not exist (a wrong region?)."""
    USERSIG_FAILED_RATE_LIMITED = 70050
    """The UserSig failed to verify too often: check it, and retry after one minute."""
    ACCOUNT_BLACKLISTED = 70051
    """The account is blacklisted."""
    ACCOUNT_NOT_IMPORTED = 70107
    """A user account in the request was not imported into the app."""
    # Official Account codes.
    OA_PERMISSION_DENIED = 130002
    """Insufficient operation permission (check the parameters as ``ErrorInfo`` says)."""
    OA_NOT_FOUND = 130004
    """The Official Account does not exist, or existed and was destroyed."""
    OA_SUBSCRIBER_LIMIT = 130006
    """The account is full: it has ``MaxSubscriberNum`` subscribers (code INFERRED)."""
    OA_ID_INVALID = 130007
    """The Official Account id is invalid."""
    OA_ID_IN_USE = 130008
    """The Official Account id is already used."""
    OA_SUBSCRIPTION_LIMIT = 130010
    """The user subscribes to as many accounts as allowed (code INFERRED)."""
    OA_SERVICE_NOT_ENABLED = 131000
    """The app has not enabled the Official Account service."""


WEBHOOK_CODES: Final = range(120001, 130001)
"""The codes an app's own "before" webhook may answer a refusal with (120001 to 130000): they
reach the caller as given and raise :class:`~tim_oa.RefusedByWebhookError`."""


# --- The one table -------------------------------------------------------------------------------


class Retry(enum.Enum):
    """Whether a request answered with a code may be sent again, and what that risks."""

    NEVER = "never"
    """Final: the same request fails the same way (invalid, forbidden, not found, a cap)."""
    TRANSIENT = "transient"
    """May succeed later, but the request may have been applied: repeated only when the
    command is safe to repeat (see ``_registry.py``)."""
    REFUSED = "refused"
    """Refused before any processing (rate limits): may be repeated for every command."""


class CodeRule(NamedTuple):
    """What one code means to the client: the exception class, the retry kind, the least wait."""

    error: type[ApiError]
    retry: Retry
    wait: float = 0.0
    """Seconds to wait at least before repeating (a documented "retry after")."""


NEVER, TRANSIENT, REFUSED = Retry.NEVER, Retry.TRANSIENT, Retry.REFUSED

# code -> (exception class, retry kind[, least wait]).
_CODE_TABLE: Final[dict[int, tuple[Any, ...]]] = {
    ErrorCode.INVALID_PARAMETER: (InvalidRequestError, NEVER),
    ErrorCode.INTERNAL_ERROR: (ServerError, TRANSIENT),
    ErrorCode.INVALID_COMMAND: (InvalidRequestError, NEVER),
    # Documented both as "internal error, retry" and "invalid parameter"; the destroy and delete
    # tables say retry, so it is treated as transient (recall: see its registry row).
    ErrorCode.INTERNAL_ERROR_OR_INVALID_PARAMETER: (ServerError, TRANSIENT),
    ErrorCode.NO_PERMISSION: (PermissionDeniedError, NEVER),
    ErrorCode.ACCOUNT_USER_NOT_FOUND: (AccountNotFoundError, NEVER),
    ErrorCode.MESSAGE_REFUSED_BY_WEBHOOK: (RefusedByWebhookError, NEVER),
    ErrorCode.INVALID_REQUEST_PACKET: (InvalidRequestError, NEVER),
    ErrorCode.SERVER_INTERNAL_ERROR: (ServerError, TRANSIENT),
    ErrorCode.CREATE_REFUSED_BY_WEBHOOK: (RefusedByWebhookError, NEVER),
    ErrorCode.HTTP_PARSE_ERROR: (InvalidRequestError, NEVER),
    ErrorCode.JSON_PARSE_ERROR: (InvalidRequestError, NEVER),
    ErrorCode.ACCOUNT_OR_SIGNATURE_ERROR: (AuthError, NEVER),
    ErrorCode.ACCOUNT_OR_SIGNATURE_ERROR_2: (AuthError, NEVER),
    ErrorCode.SDKAPPID_INVALID: (AuthError, NEVER),
    ErrorCode.REST_RATE_LIMITED: (RateLimitedError, REFUSED),
    ErrorCode.SERVICE_TIMEOUT: (ServerError, TRANSIENT),
    ErrorCode.BAD_RESOURCE: (InvalidRequestError, NEVER),
    ErrorCode.ADMIN_REQUIRED: (PermissionDeniedError, NEVER),
    ErrorCode.APP_RATE_LIMITED: (RateLimitedError, REFUSED),
    ErrorCode.SDKAPPID_MISSING: (InvalidRequestError, NEVER),
    ErrorCode.RESPONSE_JSON_ERROR: (ServerError, TRANSIENT),
    ErrorCode.ACCOUNT_SWAP_TIMEOUT: (ServerError, TRANSIENT),
    ErrorCode.WRONG_ACCOUNT_TYPE: (InvalidRequestError, NEVER),
    ErrorCode.SDKAPPID_DISABLED: (ServiceNotEnabledError, NEVER),
    ErrorCode.REQUEST_DISABLED: (InvalidRequestError, NEVER),
    ErrorCode.TOO_MANY_REQUESTS: (RateLimitedError, REFUSED),
    ErrorCode.TOO_MANY_REQUESTS_2: (RateLimitedError, REFUSED),
    ErrorCode.PLAN_EXPIRED: (ServiceNotEnabledError, NEVER),
    ErrorCode.IP_NOT_ALLOWED: (PermissionDeniedError, NEVER),
    # 70001: renewed once by the session, then resent; not "retried".
    ErrorCode.USERSIG_EXPIRED: (UserSigExpiredError, NEVER),
    ErrorCode.USERSIG_EMPTY: (AuthError, NEVER),
    ErrorCode.USERSIG_MALFORMED: (AuthError, NEVER),
    ErrorCode.USERSIG_MISMATCH: (AuthError, NEVER),
    ErrorCode.USERSIG_IDENTIFIER_MISMATCH: (AuthError, NEVER),
    ErrorCode.USERSIG_SDKAPPID_MISMATCH: (AuthError, NEVER),
    ErrorCode.KEY_NOT_FOUND: (AuthError, NEVER),
    ErrorCode.SDKAPPID_NOT_FOUND: (AuthError, NEVER),
    # "UserSig check failed and too many requests: check the UserSig, retry after one minute". A
    # UserSig error: repeated only a minute later, which the default 60 s deadline never allows.
    ErrorCode.USERSIG_FAILED_RATE_LIMITED: (AuthError, REFUSED, 60.0),
    ErrorCode.ACCOUNT_BLACKLISTED: (AuthError, NEVER),
    ErrorCode.ACCOUNT_NOT_IMPORTED: (InvalidRequestError, NEVER),
    ErrorCode.OA_PERMISSION_DENIED: (PermissionDeniedError, NEVER),
    ErrorCode.OA_NOT_FOUND: (AccountNotFoundError, NEVER),
    ErrorCode.OA_SUBSCRIBER_LIMIT: (SubscriberLimitError, NEVER),
    ErrorCode.OA_ID_INVALID: (InvalidRequestError, NEVER),
    ErrorCode.OA_ID_IN_USE: (AccountIdInUseError, NEVER),
    ErrorCode.OA_SUBSCRIPTION_LIMIT: (SubscriptionLimitError, NEVER),
    ErrorCode.OA_SERVICE_NOT_ENABLED: (ServiceNotEnabledError, NEVER),
}


_RULES: Final[dict[int, CodeRule]] = {code: CodeRule(*entry) for code, entry in _CODE_TABLE.items()}
_COMMAND_RULES: dict[tuple[str, int], CodeRule] = {}  # filled from the registry on first use
_UNKNOWN: Final = CodeRule(ApiError, NEVER)
_WEBHOOK_REFUSAL: Final = CodeRule(RefusedByWebhookError, NEVER)


def rule_for(code: int, command: str | None = None) -> CodeRule:
    """The rule for ``code`` as answered to ``command`` (unknown codes: ``ApiError``, final)."""
    if command is not None:
        if not _COMMAND_RULES:
            _load_command_rules()
        rule = _COMMAND_RULES.get((command, code))
        if rule is not None:
            return rule
    rule = _RULES.get(code)
    if rule is not None:
        return rule
    return _WEBHOOK_REFUSAL if code in WEBHOOK_CODES else _UNKNOWN


def command_rules() -> dict[tuple[str, int], CodeRule]:
    """Every ``(command, code)`` a command gives a meaning of its own, and its rule."""
    if not _COMMAND_RULES:
        _load_command_rules()
    return dict(_COMMAND_RULES)


def _load_command_rules() -> None:
    """The codes a command gives a meaning of its own (``Command.error_rules`` of the registry)."""
    from . import _errors
    from ._registry import COMMANDS

    for command in COMMANDS.values():
        for code, (error, retry) in command.error_rules.items():
            _COMMAND_RULES[command.name, code] = CodeRule(getattr(_errors, error), Retry[retry])


def error_class_for(code: int, command: str | None = None) -> type[ApiError]:
    """Return the exception class for an API error code (``ApiError`` for unknown codes)."""
    return rule_for(code, command).error


def api_error(
    code: int, info: str = "", *, command: str | None = None, request_id: str | None = None
) -> ApiError:
    """Build the right :class:`ApiError` subclass for ``code`` as answered to ``command``."""
    return error_class_for(code, command)(code, info, command=command, request_id=request_id)
