"""The exception tree, and the one table that classifies every known error code.

Every exception of ours derives from :class:`TimOAError`. Messages never contain a UserSig, a secret
key or a request URL (whose query string carries the UserSig).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ._codes import ErrorCode as C

if TYPE_CHECKING:
    from ._batch import BatchResult


class TimOAError(Exception):
    """Base class of every error raised by tim_oa.

    ``attempts`` is how many requests were made before the error was raised (1 without retries).
    """

    attempts: int = 1


class ValidationError(TimOAError, ValueError):
    """Bad input, caught before any request is sent.

    ``field`` names the offending argument (wire or Python name) and ``limit`` the rule it broke,
    when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None, limit: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.limit = limit


class TransportError(TimOAError):
    """The request did not produce a usable API answer.

    Raised for network failures, timeouts, HTTP statuses other than 200, and bodies that are not
    the JSON envelope. ``request_sent`` is False when the request certainly never reached the server
    (a failed connect), which makes it safe to retry any command.
    """

    def __init__(
        self,
        message: str,
        *,
        command: str | None = None,
        status_code: int | None = None,
        request_sent: bool = True,
        is_timeout: bool = False,
    ) -> None:
        super().__init__(message)
        self.command = command
        self.status_code = status_code
        self.request_sent = request_sent
        self.is_timeout = is_timeout


class ApiError(TimOAError):
    """The API answered with a non-zero ``ErrorCode``.

    ``code`` is the numeric code, ``info`` the server's ``ErrorInfo`` text, ``command`` the wire
    command and ``request_id`` the ``RequestId`` when the server sent one.
    """

    def __init__(
        self,
        code: int,
        info: str = "",
        *,
        command: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.code = code
        self.info = info
        self.command = command
        self.request_id = request_id
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.command}: " if self.command else ""
        text = f" {self.info}" if self.info else ""
        return f"{where}error {self.code}{text}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_api_error,
            (type(self), self.code, self.info, self.command, self.request_id),
        )


def _rebuild_api_error(
    cls: type[ApiError], code: int, info: str, command: str | None, request_id: str | None
) -> ApiError:
    return cls(code, info, command=command, request_id=request_id)


class InvalidRequestError(ApiError):
    """The request was malformed or a parameter was rejected (6017, 20001, 600xx parse errors)."""


class AuthError(ApiError):
    """The admin identity or UserSig was rejected (700xx, 60004-60006)."""


class UserSigExpiredError(AuthError):
    """The UserSig has expired (70001). The session renews it once and retries by itself."""


class PermissionDeniedError(ApiError):
    """The operation is not permitted (130002, 10007, 60010, 60021)."""


class AccountNotFoundError(ApiError):
    """The Official Account does not exist or was destroyed (130004, 10010)."""


class AccountIdInUseError(ApiError):
    """The custom Official Account id is already used (130008)."""


class SubscriberLimitError(ApiError):
    """The account has reached its ``MaxSubscriberNum`` (130006)."""


class SubscriptionLimitError(ApiError):
    """The user subscribes to as many accounts as allowed (130010)."""


class ServiceNotEnabledError(ApiError):
    """The app has not enabled the Official Account service, or its plan lapsed (131000, 60020)."""


class RateLimitedError(ApiError):
    """A server-side rate limit was hit (60007, 60011, 60018, 60019, 70050); retried."""


class ServerError(ApiError):
    """A transient server-side failure (10002, 10004, 20005, 60008). Retried with backoff."""


class PaginationError(TimOAError):
    """A page's cursor does not move forward; iteration stops instead of looping."""


class BatchError(TimOAError):
    """Raised by :meth:`BatchResult.raise_for_failures`; ``result`` holds every outcome."""

    def __init__(self, message: str, result: BatchResult) -> None:
        super().__init__(message)
        self.result = result


# --- The one table -------------------------------------------------------------------------------
# code -> (exception class, retryable). "Retryable" means the same request may succeed later;
# whether a retry is *safe* also depends on the command (see _commands.py).

_CODE_TABLE: Final[dict[int, tuple[type[ApiError], bool]]] = {
    C.INVALID_PARAMETER: (InvalidRequestError, False),
    C.INTERNAL_ERROR: (ServerError, True),
    C.INVALID_COMMAND: (InvalidRequestError, False),
    # Documented both as "internal error, retry" and "invalid parameter"; the destroy/delete/recall
    # tables say retry, so it is treated as transient.
    C.INTERNAL_ERROR_OR_INVALID_PARAMETER: (ServerError, True),
    C.NO_PERMISSION: (PermissionDeniedError, False),
    C.ACCOUNT_USER_NOT_FOUND: (AccountNotFoundError, False),
    C.INVALID_REQUEST_PACKET: (InvalidRequestError, False),
    C.SERVER_INTERNAL_ERROR: (ServerError, True),
    C.HTTP_PARSE_ERROR: (InvalidRequestError, False),
    C.JSON_PARSE_ERROR: (InvalidRequestError, False),
    C.ACCOUNT_OR_SIGNATURE_ERROR: (AuthError, False),
    C.ACCOUNT_OR_SIGNATURE_ERROR_2: (AuthError, False),
    C.SDKAPPID_INVALID: (AuthError, False),
    C.REST_RATE_LIMITED: (RateLimitedError, True),
    C.SERVICE_TIMEOUT: (ServerError, True),
    C.BAD_RESOURCE: (InvalidRequestError, False),
    C.ADMIN_REQUIRED: (PermissionDeniedError, False),
    C.APP_RATE_LIMITED: (RateLimitedError, True),
    C.SDKAPPID_MISSING: (InvalidRequestError, False),
    C.RESPONSE_JSON_ERROR: (ServerError, True),
    C.ACCOUNT_SWAP_TIMEOUT: (ServerError, True),
    C.WRONG_ACCOUNT_TYPE: (InvalidRequestError, False),
    C.SDKAPPID_DISABLED: (ServiceNotEnabledError, False),
    C.REQUEST_DISABLED: (InvalidRequestError, False),
    C.TOO_MANY_REQUESTS: (RateLimitedError, True),
    C.TOO_MANY_REQUESTS_2: (RateLimitedError, True),
    C.PLAN_EXPIRED: (ServiceNotEnabledError, False),
    C.IP_NOT_ALLOWED: (PermissionDeniedError, False),
    C.USERSIG_EXPIRED: (UserSigExpiredError, False),  # renewed once by the session, not "retried"
    C.USERSIG_EMPTY: (AuthError, False),
    C.USERSIG_MALFORMED: (AuthError, False),
    C.USERSIG_MISMATCH: (AuthError, False),
    C.USERSIG_IDENTIFIER_MISMATCH: (AuthError, False),
    C.USERSIG_SDKAPPID_MISMATCH: (AuthError, False),
    C.KEY_NOT_FOUND: (AuthError, False),
    C.SDKAPPID_NOT_FOUND: (AuthError, False),
    C.USERSIG_FAILED_RATE_LIMITED: (RateLimitedError, True),
    C.ACCOUNT_BLACKLISTED: (AuthError, False),
    C.ACCOUNT_NOT_IMPORTED: (InvalidRequestError, False),
    C.OA_PERMISSION_DENIED: (PermissionDeniedError, False),
    C.OA_NOT_FOUND: (AccountNotFoundError, False),
    C.OA_SUBSCRIBER_LIMIT: (SubscriberLimitError, False),
    C.OA_ID_INVALID: (InvalidRequestError, False),
    C.OA_ID_IN_USE: (AccountIdInUseError, False),
    C.OA_SUBSCRIPTION_LIMIT: (SubscriptionLimitError, False),
    C.OA_SERVICE_NOT_ENABLED: (ServiceNotEnabledError, False),
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


# Errors that every later chunk of the same bulk job would hit too (the account is gone, the app or
# admin is refused, the account is full): a batch stops sending on the first. An invalid-request
# error may belong to one chunk's ids only, so it does not stop a job.
_JOB_STOPPING: Final = (
    AccountNotFoundError,
    AuthError,
    PermissionDeniedError,
    ServiceNotEnabledError,
    SubscriberLimitError,
)


def stops_batch(error: BaseException) -> bool:
    """Whether ``error`` on one chunk means the remaining chunks of the job should not be sent."""
    return isinstance(error, _JOB_STOPPING)
