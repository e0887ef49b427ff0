"""What can go wrong when the verifier asks the cluster, as types (all exit 3, "could not verify").

Every class sits under :class:`core.errors.ClusterUnreachable`, so one ``except`` catches "the
cluster did not give us an answer we can judge", and callers branch on the class, never on an
HTTP status or an exit code:

* :class:`ApiError` and its subclasses: the API server answered with an error status
  (:class:`NotFound`, :class:`AccessDenied`, :class:`Conflict`, :class:`Gone`,
  :class:`Throttled`, :class:`ServerError`);
* :class:`Timeout` and :class:`ConnectionFailed`: no answer at all;
* :class:`BadResponse`: an answer we cannot read;
* :class:`ExecFailed`: a command in a pod could not be run to a known end.

:class:`Transient` marks the ones worth retrying (the cluster may answer next time);
:func:`from_status` maps an HTTP status to its class. Pure: no I/O, no third-party types.
"""

from __future__ import annotations

from core.errors import ClusterUnreachable

__all__ = [
    "AccessDenied",
    "ApiError",
    "BadResponse",
    "Conflict",
    "ConnectionFailed",
    "ExecFailed",
    "Gone",
    "NotFound",
    "ServerError",
    "Throttled",
    "Timeout",
    "Transient",
    "from_status",
]


class Transient(ClusterUnreachable):
    """Worth retrying: the same request may succeed in a moment (within the retry budget)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # the server's Retry-After in seconds, if it sent one


class ApiError(ClusterUnreachable):
    """The API server answered with an error status; `status` is the HTTP code."""

    status: int = 0

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.retry_after = retry_after


class NotFound(ApiError):
    """The object (or its kind) does not exist: a fact checks may expect, exit 3 if unhandled."""

    status = 404


class AccessDenied(ApiError):
    """RBAC said no (401/403): waiting will not help, so the runner stops at once."""

    status = 403


class Conflict(ApiError):
    """The object changed under us (409); the verifier only reads, so this is unexpected."""

    status = 409


class Gone(ApiError):
    """The resource version or continue token expired (410): a paged list starts over."""

    status = 410


class Throttled(ApiError, Transient):
    """Too many requests (429); honour the server's Retry-After before asking again."""

    status = 429


class ServerError(ApiError, Transient):
    """The API server failed (5xx), or the client gave up before a status (0): ask again."""

    status = 500


class Timeout(Transient):
    """No answer in time (connect or read timeout)."""


class ConnectionFailed(Transient):
    """The connection could not be made or was lost (refused, reset, TLS failure)."""


class BadResponse(Transient):
    """The server answered 2xx with a body that is not a JSON object."""


class ExecFailed(ClusterUnreachable):
    """A command in a pod could not be run to a known end: refused, dropped, or no exit status."""


_BY_STATUS: dict[int, type[ApiError]] = {
    404: NotFound,
    401: AccessDenied,
    403: AccessDenied,
    409: Conflict,
    410: Gone,
}


def from_status(status: int, message: str, retry_after: float | None = None) -> ApiError:
    """The error for an HTTP error status (0: the client gave up before one), carrying `message`."""
    if status == 429:
        cls: type[ApiError] = Throttled
    elif status == 0 or status >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status, ApiError)
    return cls(message, status, retry_after)
