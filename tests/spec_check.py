"""Validate real responses of the local platform against the published OpenAPI contract."""

from __future__ import annotations

import re
from typing import Any

import httpx
from jsonschema.validators import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


class SpecChecker:
    """Checks that a response's status is declared and its JSON body matches the schema."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.registry: Registry[Any] = Registry().with_resource(
            "urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012)
        )
        self.routes = []
        for template, methods in spec["paths"].items():
            pattern = re.sub(r"\{external_id\}", "(.+)", template)
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", pattern)
            self.routes.append((re.compile(f"^/api{pattern}$"), template, methods))
        self.checked = 0

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        """The spec template and operation of a concrete request path."""
        matches = [(t, ms) for rx, t, ms in self.routes if rx.match(path)]
        # the most specific template: fewest parameters
        matches.sort(key=lambda m: m[0].count("{"))
        for template, methods in matches:
            if method.lower() in methods:
                return template, methods[method.lower()]
        raise AssertionError(f"{method} {path} is not an operation of the spec")

    def check(self, response: httpx.Response) -> httpx.Response:
        """Assert the response conforms; return it for chaining."""
        request = response.request
        template, operation = self.operation(request.method, request.url.path)
        status = str(response.status_code)
        responses = operation["responses"]
        assert status in responses, (
            f"{request.method} {template} answered {status}, not declared "
            f"(declared: {sorted(responses)}): {response.text[:300]}"
        )
        content = responses[status].get("content", {}).get("application/json")
        if content and content.get("schema"):
            resolved = _with_base(content["schema"])
            Draft202012Validator(resolved, registry=self.registry).validate(response.json())
        self.checked += 1
        return response


def _with_base(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite local ``#/components`` refs to point into the registered spec."""
    if isinstance(schema, dict):
        return {
            k: ("urn:spec" + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _with_base(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_with_base(v) for v in schema]  # type: ignore[return-value]
    return schema
