"""API blueprints that describe themselves: each route registers its OpenAPI operation."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_login import current_user
from pydantic import BaseModel, TypeAdapter

from .errors import UnauthorizedError, ValidationFailed
from .schemas import Error

# The permission check routes run (``tenants.access.require_any``), set by the app factory: the
# API machinery sits below the tenancy core that uses it, so it is handed the check, not importing it.
PERMISSION_CHECK: list = []

API_PREFIX = "/api/v1"
# (openapi path, method) -> operation
OPERATIONS: dict[tuple[str, str], dict] = {}
COMPONENTS: dict[str, dict] = {}

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def openapi_path(rule: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule)


def _register(name: str, schema: dict) -> None:
    if COMPONENTS.setdefault(name, schema) != schema:
        raise RuntimeError(f"two different schemas are both named {name!r} in the OpenAPI document")


def _schema_ref(model, mode: str = "validation") -> dict:
    """The JSON schema of ``model`` (a pydantic model, or a type such as ``list[Model]``), its
    models moved to components/schemas and referred to by ``$ref``."""
    schema = adapter(model).json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    for name, sub in schema.pop("$defs", {}).items():
        _register(name, sub)
    if isinstance(model, type) and issubclass(model, BaseModel):
        _register(model.__name__, schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}
    return schema


@functools.cache
def adapter(tp) -> TypeAdapter:
    """One TypeAdapter per response type, built when the route is declared (at import)."""
    return TypeAdapter(tp)


def dump(tp, value, context: dict | None = None):
    """``value`` (ORM objects, rows or dicts) as the JSON-ready data of the response type ``tp``."""
    ta = adapter(tp)
    return ta.dump_python(ta.validate_python(value, from_attributes=True, context=context), mode="json")


@dataclass(frozen=True)
class Reply:
    """What a typed view may return instead of its bare value: another status, or a context for
    the response model (e.g. which communes' camera addresses the caller may see; the route
    decides, the model only obeys)."""

    value: Any
    status: int = 200
    context: dict | None = None


class ApiBlueprint(Blueprint):
    """A blueprint under /api/v1 whose routes authenticate, check a permission and parse input."""

    def __init__(self, name: str, import_name: str, tag: str):
        super().__init__(name, import_name, url_prefix=API_PREFIX)
        self.tag = tag

    def operation(self, rule: str, method: str = "GET", *, summary: str, perm: str | tuple[str, ...] | None = None,
                  body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
                  public: bool = False, example: dict | None = None, binary: str | None = None,
                  response=None, status: int = 200):
        """Declare a route. ``perm`` (or a tuple of permissions, any of which will do) is checked
        before any id is looked at (403); object lookups then answer 404 outside the scope.
        ``response`` (a pydantic model, ``list[Model]`` ...) is what the view's return value is
        serialised through, and what the document says the ``status`` answer carries; the view
        returns the value, ``(value, status)`` or a ``Reply``. ``example`` feeds the isolation matrix."""
        perms = (perm,) if isinstance(perm, str) else tuple(perm or ())
        typed = adapter(response) if response is not None else None

        def decorator(fn):
            @functools.wraps(fn)
            def view(**kwargs):
                if not public and not current_user.is_authenticated:
                    raise UnauthorizedError()
                if perms:
                    PERMISSION_CHECK[0](*perms)
                if body is not None:
                    payload = request.get_json(silent=True)
                    if not isinstance(payload, dict):
                        raise ValidationFailed("body: a JSON object is required", field="body")
                    kwargs["body"] = body.model_validate(payload)
                if query is not None:
                    kwargs["query"] = query.model_validate(request.args.to_dict())
                rv = fn(**kwargs)
                if typed is None or isinstance(rv, Response):
                    return rv
                if isinstance(rv, tuple):
                    rv = Reply(*rv)
                elif not isinstance(rv, Reply):
                    rv = Reply(rv)
                data = typed.validate_python(rv.value, from_attributes=True, context=rv.context)
                return Response(typed.dump_json(data), rv.status, mimetype="application/json")

            self.add_url_rule(rule, fn.__name__, view, methods=[method])
            path = openapi_path(API_PREFIX + rule)
            params = [
                {"name": m.group(2), "in": "path", "required": True,
                 "schema": {"type": "integer" if m.group(1) == "int" else "string"}}
                for m in _PARAM.finditer(rule)
            ]
            if query is not None:
                for name, fld in query.model_fields.items():
                    params.append({"name": name, "in": "query", "required": fld.is_required(),
                                   "schema": _field_schema(query, name)})
            op = {
                "operationId": f"{self.name}.{fn.__name__}",
                "summary": summary,
                "tags": [self.tag],
                "parameters": params,
                "responses": _responses(binary, response, status),
                "x-permission": perms[0] if perms else None,
            }
            if len(perms) > 1:
                op["x-permission-any"] = list(perms)
            if public:
                op["security"] = []
            if body is not None:
                op["requestBody"] = {"required": True,
                                     "content": {"application/json": {"schema": _schema_ref(body)}}}
            if example is not None:
                op["x-example"] = example
            OPERATIONS[(path, method.lower())] = op
            return fn

        return decorator


def _field_schema(model, name) -> dict:
    props = model.model_json_schema().get("properties", {})
    schema = dict(props.get(name, {"type": "string"}))
    schema.pop("title", None)
    if "anyOf" in schema:  # Optional[X]: keep X for query parameters
        non_null = [s for s in schema["anyOf"] if s.get("type") != "null"]
        schema = non_null[0] if non_null else {"type": "string"}
    return schema


def _responses(binary: str | None, response, status: int) -> dict:
    error = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    ok: dict = {"description": "OK"}
    if binary:
        ok["content"] = {binary: {}}
    elif response is not None:
        ok["content"] = {"application/json": {"schema": _schema_ref(response, "serialization")}}
    elif status != 204:
        raise TypeError("a JSON operation names its response model (response=...)")
    return {str(status): ok, "400": error, "401": error, "403": error, "404": error, "422": error}


def openapi_document() -> dict:
    paths: dict[str, dict] = {}
    for (path, method), op in sorted(OPERATIONS.items()):
        paths.setdefault(path, {})[method] = op
    components = dict(COMPONENTS)
    return {
        "openapi": "3.1.0",
        "info": {"title": "camnet API", "version": "1.0.0",
                 "description": "Mạng camera an ninh cộng đồng / Community camera networks"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": current_app.config.get("SESSION_COOKIE_NAME", "session")},
            },
        },
        "paths": paths,
    }


_schema_ref(Error, "serialization")  # the body of every error answer, referred to by each operation
