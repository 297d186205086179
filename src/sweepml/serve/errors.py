"""The one error type a request can end in, and how each HTTP status reads as MLflow's
``error_code`` (MLflow's scoring server answers ``{"error_code", "message"}`` the same way, so its
clients read our errors unchanged)."""

from __future__ import annotations

__all__ = ["ERROR_CODES", "RequestError"]

ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "ENDPOINT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
    504: "PREDICTION_TIMEOUT",
}


class RequestError(Exception):
    """A request the server answers with ``status`` and a message in the client's terms."""

    def __init__(self, status: int, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code or ERROR_CODES.get(status, "BAD_REQUEST")

    def body(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}
