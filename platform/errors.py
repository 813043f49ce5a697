"""Domain errors raised by services, and the one place that maps them to HTTP."""
from __future__ import annotations

from flask import jsonify, render_template, request
from pydantic import ValidationError as PydanticValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter


class IdConverter(IntegerConverter):
    """``<int:...>`` in routes: at most a signed 64-bit integer, so the database is never asked."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, errors: list | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or []

    def to_dict(self) -> dict:
        body = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
        return body


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"


class NotFoundError(DomainError):
    """Also the answer for another tenant's ids: existence is never confirmed."""

    status = 404
    code = "not_found"

    def __init__(self, message: str = "Không tìm thấy / Not found", field: str | None = None):
        super().__init__(message, field)


class ForbiddenError(DomainError):
    status = 403
    code = "forbidden"

    def __init__(self, message: str = "Không có quyền / Forbidden", field: str | None = None):
        super().__init__(message, field)


class UnauthorizedError(DomainError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str = "Cần đăng nhập / Sign-in required"):
        super().__init__(message)


class ConflictError(DomainError):
    status = 409
    code = "conflict"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"


class RequestTooLarge(DomainError):
    status = 413
    code = "request_too_large"


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def pydantic_errors(exc: PydanticValidationError) -> ValidationFailed:
    errors = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__") or None
        errors.append({"field": field, "message": err.get("msg", "invalid")})
    first = errors[0] if errors else {"field": None, "message": "invalid"}
    return ValidationFailed(
        f"{first['field']}: {first['message']}" if first["field"] else first["message"],
        field=first["field"],
        errors=errors,
    )


def register_error_handlers(app) -> None:
    from .extensions import db

    def render(err: DomainError):
        db.session.rollback()  # nothing is half written
        if _wants_json():
            return jsonify(err.to_dict()), err.status
        return render_template("error.html", error=err), err.status

    app.register_error_handler(DomainError, render)
    app.register_error_handler(PydanticValidationError, lambda e: render(pydantic_errors(e)))

    def http_error(exc: HTTPException):
        if _wants_json():
            return jsonify({"error": exc.name.lower().replace(" ", "_"), "message": exc.description}), exc.code
        return exc

    app.register_error_handler(HTTPException, http_error)

    def too_large(exc):
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        length = request.content_length
        if limit and length is not None and length <= limit:  # one form field beyond MAX_FORM_MEMORY_SIZE
            field_limit = _megabytes(app.config.get("MAX_FORM_MEMORY_SIZE") or 500_000)
            return render(RequestTooLarge(f"form: một trường của biểu mẫu lớn hơn {field_limit} / a form field "
                                          f"is larger than {field_limit}", field="form"))
        size = f" {_megabytes(limit)}" if limit else ""
        return render(RequestTooLarge(f"body: yêu cầu lớn hơn giới hạn{size} / request body larger than the "
                                      f"limit{size} (MAX_REQUEST_BYTES)", field="body"))

    app.register_error_handler(413, too_large)

    from sqlalchemy.exc import DataError

    # A value the column cannot hold (e.g. beyond int4 on PostgreSQL) is bad input, not a crash.
    app.register_error_handler(DataError, lambda e: render(ValidationFailed("value out of range")))
    # SQLite's driver raises OverflowError itself for integers beyond 64 bits
    app.register_error_handler(OverflowError, lambda e: render(ValidationFailed("value out of range")))
