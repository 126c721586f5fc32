"""An input form from a version's input-artifact metadata JSON schema, and per-slide validation.

The technical keys (checksum, size, mpp, media type) come from the slide; every other property of the
schema becomes a field for the user: ``const`` values are fixed, ``enum`` values a choice, nested objects
(``specimen``) dotted fields, and ``anyOf`` variants (one per disease) are merged so that the choices of
a field can depend on another field's value (``specimen.tissue`` on ``specimen.disease``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsonschema

TECHNICAL_KEYS = frozenset(
    {"checksum_base64_crc32c", "width_px", "height_px", "resolution_mpp", "media_type"}
)


@dataclass
class FormField:
    """One user-facing input."""

    path: tuple[str, ...]
    title: str
    kind: str
    """``const``, ``enum``, ``string``, ``number``, ``integer`` or ``boolean``."""
    choices: list[Any] = field(default_factory=list)
    default: Any = None
    required: bool = False
    depends_on: tuple[str, ...] | None = None
    choices_by: dict[Any, list[Any]] = field(default_factory=dict)
    """When ``depends_on`` is set: choices for each value of that field."""

    @property
    def key(self) -> str:
        return ".".join(self.path)

    def choices_for(self, values: dict[str, Any]) -> list[Any]:
        """The choices given the other fields' current values."""
        if self.depends_on is None:
            return self.choices
        return self.choices_by.get(values.get(".".join(self.depends_on)), self.choices)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return _resolve(target, root)
    return node


def _title(name: str, node: dict[str, Any]) -> str:
    return str(node.get("title") or name.replace("_", " ").capitalize())


def _leaf(path: tuple[str, ...], node: dict[str, Any], required: bool) -> FormField:
    title = _title(path[-1], node)
    if "const" in node:
        return FormField(path, title, "const", [node["const"]], node["const"], required)
    if "enum" in node:
        choices = [c for c in node["enum"] if c is not None]
        return FormField(path, title, "enum", choices, node.get("default"), required)
    kind = node.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return FormField(path, title, str(kind), [], node.get("default"), required)


def _object_fields(
    node: dict[str, Any], root: dict[str, Any], prefix: tuple[str, ...], skip_technical: bool
) -> list[FormField]:
    node = _resolve(node, root)
    variants = node.get("anyOf") or node.get("oneOf")
    if variants:
        return _merge_variants([_resolve(v, root) for v in variants], root, prefix)
    required = set(node.get("required", []))
    fields: list[FormField] = []
    for name, child in (node.get("properties") or {}).items():
        if skip_technical and not prefix and name in TECHNICAL_KEYS:
            continue
        child = _resolve(child, root)
        if child.get("type") == "object" or "properties" in child or "anyOf" in child:
            fields.extend(_object_fields(child, root, (*prefix, name), False))
        else:
            fields.append(_leaf((*prefix, name), child, name in required))
    return fields


def _merge_variants(
    variants: list[dict[str, Any]], root: dict[str, Any], prefix: tuple[str, ...]
) -> list[FormField]:
    """Merge ``anyOf`` object variants: a ``const`` discriminator drives the other fields' choices."""
    per_variant = [
        _object_fields(v, root, prefix, False) for v in variants if v.get("type") != "null"
    ]
    per_variant = [fields for fields in per_variant if fields]
    if not per_variant:
        return []
    discriminator: tuple[str, ...] | None = None
    for candidate in per_variant[0]:
        if candidate.kind == "const" and all(
            any(f.path == candidate.path and f.kind == "const" for f in fields)
            for fields in per_variant
        ):
            discriminator = candidate.path
            break
    merged: dict[tuple[str, ...], FormField] = {}
    for fields in per_variant:
        key_value = next((f.default for f in fields if f.path == discriminator), None)
        for f in fields:
            if f.path == discriminator:
                target = merged.setdefault(
                    f.path, FormField(f.path, f.title, "enum", [], None, f.required)
                )
                if f.default not in target.choices:
                    target.choices.append(f.default)
                continue
            target = merged.setdefault(
                f.path, FormField(f.path, f.title, f.kind, [], f.default, f.required, discriminator)
            )
            options = f.choices if f.kind in ("enum", "const") else []
            target.choices_by[key_value] = options
            target.choices.extend(c for c in options if c not in target.choices)
            if target.kind == "const" and len(target.choices) > 1:
                target.kind = "enum"
    return list(merged.values())


def form_fields(schema: dict[str, Any]) -> list[FormField]:
    """User-facing fields of an input-artifact metadata schema (technical keys excluded)."""
    return _object_fields(schema, schema, (), True)


def build_metadata(
    schema: dict[str, Any], technical: dict[str, Any], values: dict[str, Any]
) -> dict[str, Any]:
    """The metadata for one slide: the schema's technical keys plus the user's values (dotted keys)."""
    properties = schema.get("properties") or {}
    metadata = {k: v for k, v in technical.items() if k in properties and v is not None}
    for f in form_fields(schema):
        value = values.get(f.key, f.default if f.kind != "const" else f.choices[0])
        if value is None or value == "":
            continue
        target = metadata
        for part in f.path[:-1]:
            target = target.setdefault(part, {})
        target[f.path[-1]] = value
    return metadata


def validation_errors(schema: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """Human-readable problems of ``metadata`` against ``schema`` (empty when valid)."""
    validator = jsonschema.Draft7Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(metadata), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in error.path) or "metadata"
        problems.append(f"{where}: {error.message}")
    return problems
