"""The /docs page's content: the API reference read from the app's own OpenAPI document.

Rendered on the server (templates/api_docs.html) instead of a Swagger viewer, which would come from a
CDN (the pages allow scripts from this app only) or as ~1.5 MB of vendored code. Each operation shows its
method, path, summary, parameters with their constraints, request body fields and answers (with the
response model's name, web_service/schemas.py); the raw
document is GET /openapi.json. Both are behind login like every page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Param:
    name: str
    where: str  # query, path, header, body
    required: bool
    type: str
    description: str = ""


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    fields: list[Param]
    body: str  # name of the request body's schema ('' = none)
    responses: list[tuple[str, str, str]]  # (status, description, response model or type; '' = none)
    anchor: str


@dataclass
class Group:
    tag: str
    operations: list[Operation] = field(default_factory=list)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_text(schema: dict[str, Any]) -> str:
    """A short reading of a JSON schema: type, enum, pattern, bounds; `a | b` for unions (null dropped)."""
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    for union in ("anyOf", "oneOf"):
        if union in schema:
            parts = [type_text(s) for s in schema[union] if s.get("type") != "null"]
            return " | ".join(p for p in parts if p) or "null"
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    text = schema.get("type", "any")
    if text == "array":
        text = f"array of {type_text(schema.get('items', {}))}"
    if "format" in schema:
        text += f" ({schema['format']})"
    low = schema.get("minimum", schema.get("ge", schema.get("exclusiveMinimum")))
    high = schema.get("maximum", schema.get("le", schema.get("exclusiveMaximum")))
    if low is not None or high is not None:
        text += f" {'' if low is None else low}..{'' if high is None else high}"
    if "maxLength" in schema:
        text += f", at most {schema['maxLength']} chars"
    if "pattern" in schema:
        text += f", pattern {schema['pattern']}"
    return text


def _parameters(op: dict[str, Any]) -> list[Param]:
    out = []
    for p in op.get("parameters", []):
        schema = p.get("schema", {})
        description = p.get("description") or schema.get("description", "")
        out.append(Param(p["name"], p.get("in", ""), bool(p.get("required")), type_text(schema), description))
    return out


def _body(op: dict[str, Any], schemas: dict[str, Any]) -> tuple[str, list[Param]]:
    content = op.get("requestBody", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema", {})
    if not schema:
        return "", []
    name = _ref_name(schema["$ref"]) if "$ref" in schema else "body"
    resolved = schemas.get(name, schema)
    required = set(resolved.get("required", []))
    fields = [Param(key, "body", key in required, type_text(prop), prop.get("description", ""))
              for key, prop in resolved.get("properties", {}).items()]
    return name, fields


def _response_type(response: dict[str, Any]) -> str:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return type_text(schema) if schema else ""


def _operation(path: str, method: str, op: dict[str, Any], schemas: dict[str, Any]) -> Operation:
    body, body_fields = _body(op, schemas)
    responses = [(code, r.get("description", ""), _response_type(r)) for code, r in op.get("responses", {}).items()]
    anchor = f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "").replace(".", "-")
    return Operation(method.upper(), path, op.get("summary", ""), op.get("description", ""),
                     _parameters(op) + body_fields, body, responses, anchor)


def reference(openapi: dict[str, Any]) -> list[Group]:
    """The operations of the document grouped by their first tag, in the document's order."""
    schemas = openapi.get("components", {}).get("schemas", {})
    groups: dict[str, Group] = {}
    for path, item in openapi.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                op = item[method]
                tag = (op.get("tags") or ["other"])[0]
                groups.setdefault(tag, Group(tag)).operations.append(_operation(path, method, op, schemas))
    return list(groups.values())
