"""API blueprints that describe themselves: each route registers its OpenAPI operation."""
from __future__ import annotations

import functools
import re

from flask import Blueprint, current_app, request
from flask_login import current_user
from pydantic import BaseModel

from .errors import ForbiddenError, UnauthorizedError, ValidationFailed
from .tenants.scoping import current_scope

API_PREFIX = "/api/v1"
# (openapi path, method) -> operation
OPERATIONS: dict[tuple[str, str], dict] = {}
COMPONENTS: dict[str, dict] = {}

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def openapi_path(rule: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule)


def _schema_ref(model: type[BaseModel]) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        COMPONENTS[name] = sub
    COMPONENTS[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


class ApiBlueprint(Blueprint):
    """A blueprint under /api/v1 whose routes authenticate, check a permission and parse input."""

    def __init__(self, name: str, import_name: str, tag: str):
        super().__init__(name, import_name, url_prefix=API_PREFIX)
        self.tag = tag

    def operation(self, rule: str, method: str = "GET", *, summary: str, perm: str | tuple[str, ...] | None = None,
                  body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
                  public: bool = False, example: dict | None = None, binary: str | None = None):
        """Declare a route. ``perm`` (or a tuple of permissions, any of which will do) is checked
        before any id is looked at (403); object lookups then answer 404 outside the scope.
        ``example`` feeds the isolation matrix."""
        perms = (perm,) if isinstance(perm, str) else tuple(perm or ())

        def decorator(fn):
            @functools.wraps(fn)
            def view(**kwargs):
                if not public and not current_user.is_authenticated:
                    raise UnauthorizedError()
                if perms and not any(current_scope().can(p) for p in perms):
                    raise ForbiddenError()
                if body is not None:
                    payload = request.get_json(silent=True)
                    if not isinstance(payload, dict):
                        raise ValidationFailed("body: a JSON object is required", field="body")
                    kwargs["body"] = body.model_validate(payload)
                if query is not None:
                    kwargs["query"] = query.model_validate(request.args.to_dict())
                return fn(**kwargs)

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
                "responses": _responses(binary),
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


def _responses(binary: str | None) -> dict:
    error = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    ok = {"description": "OK"}
    ok["content"] = {binary: {}} if binary else {"application/json": {"schema": {}}}
    return {"200": ok, "400": error, "401": error, "403": error, "404": error, "422": error}


def openapi_document() -> dict:
    paths: dict[str, dict] = {}
    for (path, method), op in sorted(OPERATIONS.items()):
        paths.setdefault(path, {})[method] = op
    components = dict(COMPONENTS)
    components["Error"] = {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                       "field": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}}},
    }
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
