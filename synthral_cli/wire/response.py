"""What came back: ``Outcome`` (the contract's ``{"success", "status", "result"}``) and the error
for a credential the provider refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..basics.errors import AuthError


@dataclass
class Outcome:
    """What the provider answered: the contract's ``{"success", "status", "result"}`` and more."""

    success: bool
    status: int | None
    result: Any
    content: bytes = b""
    content_type: str = ""
    binary: bool = False
    pages: int = 1
    truncated: bool = False
    elapsed: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        result = self.result
        if self.binary:
            import base64

            result = {
                "content_type": self.content_type,
                "size": len(self.content),
                "base64": base64.b64encode(self.content).decode("ascii"),
            }
        return {"success": self.success, "status": self.status, "result": result}


class ProviderAuthError(AuthError):
    """The provider refused the credential (401, or Slack's ``invalid_auth``): exit 3."""

    def __init__(
        self, message: str, hint: str | None = None, *, status: int | None = None, result: object = None
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.result = result

