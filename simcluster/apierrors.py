"""The errors of the simulated apiserver, shaped like the ``Status`` bodies a real one sends.

These are wire answers (404 NotFound, 409 Conflict, 422 Invalid...), raised by the store and the
handlers and turned into HTTP responses by the API; they are not the tools' own error hierarchy
(``core.errors``), which simcluster only uses for its command line.
"""

from __future__ import annotations

from simcluster.apiobject import Obj
from simcluster.kinds import Kind

__all__ = ["StoreError"]


class StoreError(Exception):
    """An apiserver error: ``code``/``reason`` and the message a real server would send."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> Obj:
        """The ``Status`` body the API sends with this error."""
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body

    # -- the errors every registry raises -------------------------------------------------------

    @staticmethod
    def _details(kind: Kind, name: str, *, by_kind: bool = False) -> Obj:
        d: Obj = {"name": name, "kind": kind.kind if by_kind else kind.plural}
        if kind.group:
            d["group"] = kind.group
        return d

    @classmethod
    def not_found(cls, kind: Kind, name: str) -> StoreError:
        return cls(
            404, "NotFound", f'{kind.group_resource} "{name}" not found', cls._details(kind, name)
        )

    @classmethod
    def already_exists(cls, kind: Kind, name: str) -> StoreError:
        return cls(
            409,
            "AlreadyExists",
            f'{kind.group_resource} "{name}" already exists',
            cls._details(kind, name),
        )

    @classmethod
    def conflict(cls, kind: Kind, name: str) -> StoreError:
        return cls(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {kind.group_resource} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            cls._details(kind, name),
        )

    @classmethod
    def invalid(cls, kind: Kind, name: str, causes: list[tuple[str, str]]) -> StoreError:
        """``causes`` are (field, message) pairs; the message joins them like the apiserver."""
        qualified = f"{kind.kind}.{kind.group}" if kind.group else kind.kind
        text = ", ".join(f"{f}: {m}" for f, m in causes)
        if len(causes) > 1:
            text = "[" + text + "]"
        details = cls._details(kind, name, by_kind=True)
        details["causes"] = [
            {"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes
        ]
        return cls(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details)

    @classmethod
    def bad_request(cls, message: str) -> StoreError:
        return cls(400, "BadRequest", message)

    @classmethod
    def expired(cls, message: str) -> StoreError:
        return cls(410, "Expired", message)
