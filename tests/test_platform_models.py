"""The pydantic models match the published contract: every schema exists, examples parse."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from napari_aignostics.platform import models


def _schema_for_ref(spec: dict[str, Any], ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def test_every_component_schema_has_a_model(openapi_spec: dict[str, Any]) -> None:
    schemas = openapi_spec["components"]["schemas"]
    assert len(schemas) == 45
    for name, schema in schemas.items():
        cls = getattr(models, name)
        if "enum" in schema:
            assert issubclass(cls, StrEnum), name
            assert [m.value for m in cls] == schema["enum"], name
        else:
            assert issubclass(cls, BaseModel), name
            assert set(cls.model_fields) == set(schema.get("properties", {})), name
            required = {n for n, f in cls.model_fields.items() if f.is_required()}
            assert required <= set(schema.get("required", [])), name


def _response_examples(spec: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    found = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for code, response in op.get("responses", {}).items():
                for content in response.get("content", {}).values():
                    schema = content.get("schema", {})
                    examples = []
                    if "example" in content:
                        examples.append(content["example"])
                    examples += [e.get("value") for e in content.get("examples", {}).values()]
                    for example in examples:
                        found.append((f"{method} {path} {code}", schema, example))
    return found


def test_response_examples_parse(openapi_spec: dict[str, Any]) -> None:
    examples = _response_examples(openapi_spec)
    assert examples, "the spec should carry response examples"
    for where, schema, example in examples:
        if schema.get("type") == "array":
            cls = getattr(models, _schema_for_ref(openapi_spec, schema["items"]["$ref"]))
            parsed = [cls.model_validate(entry) for entry in example]
            assert len(parsed) == len(example), where
        else:
            cls = getattr(models, _schema_for_ref(openapi_spec, schema["$ref"]))
            cls.model_validate(example)


def test_property_examples_parse(openapi_spec: dict[str, Any]) -> None:
    """Each property-level example validates against the model field it documents."""
    from pydantic import TypeAdapter

    checked = 0
    for name, schema in openapi_spec["components"]["schemas"].items():
        cls = getattr(models, name)
        for prop, prop_schema in schema.get("properties", {}).items():
            for example in prop_schema.get("examples", []):
                annotation = cls.model_fields[prop].annotation
                metadata = cls.model_fields[prop].metadata
                from typing import Annotated

                adapter: TypeAdapter[Any] = TypeAdapter(
                    Annotated[(annotation, *metadata)] if metadata else annotation
                )
                try:
                    adapter.validate_python(example)
                except PydanticValidationError as exc:
                    # a request date must lie ahead; the spec's example dates have passed
                    assert "must be in the future" in str(exc), (name, prop, exc)
                checked += 1
    assert checked > 30


def test_unknown_fields_are_accepted_and_request_dates_lie_ahead() -> None:
    version = models.ApplicationVersion.model_validate(
        {"number": "1.0.0", "released_at": "2025-01-01T00:00:00Z", "future_field": 1}
    )
    assert version.model_extra == {"future_field": 1}
    request = models.SchedulingRequest.model_validate({"due_date": None, "typo": 1})
    assert "typo" not in request.model_dump()
    for stamp, needle in ((1_700_000_000, "ISO 8601"), ("2001-01-01T00:00:00Z", "future")):
        with pytest.raises(PydanticValidationError, match=needle):
            models.ShareTokenCreateRequest.model_validate({"expires_at": stamp})
    ahead = models.SchedulingRequest.model_validate({"deadline": "2099-01-01T00:00:00"})
    assert ahead.deadline is not None and ahead.deadline.tzinfo is not None


def test_run_creation_request_constraints() -> None:
    item = {
        "external_id": "slide_1",
        "input_artifacts": [
            {"name": "whole_slide_image", "download_url": "https://b/x?s=1", "metadata": {}}
        ],
    }
    request = models.RunCreationRequest.model_validate({"application_id": "a", "items": [item]})
    url = request.items[0].input_artifacts[0].download_url
    assert url == "https://b/x?s=1"  # never normalised: signatures stay valid
    with pytest.raises(PydanticValidationError):
        models.RunCreationRequest.model_validate({"application_id": "a", "items": []})
    with pytest.raises(PydanticValidationError, match="callback_context"):
        models.RunCreationRequest.model_validate(
            {"application_id": "a", "items": [item], "callback_context": {"x": "y" * 2000}}
        )
    with pytest.raises(PydanticValidationError):
        models.ItemCreationRequest.model_validate({**item, "external_id": "x" * 256})
    bad_url = {**item, "input_artifacts": [{**item["input_artifacts"][0], "download_url": "x"}]}
    with pytest.raises(PydanticValidationError, match="URI"):
        models.ItemCreationRequest.model_validate(bad_url)


def test_secrets_not_in_repr() -> None:
    org = models.OrganizationReadResponse(
        id="org",
        aignostics_bucket_hmac_access_key_id="AKID",
        aignostics_bucket_hmac_secret_access_key="SECRET-VALUE",
        aignostics_bucket_name="bucket",
        aignostics_bucket_protocol="gs",
        aignostics_logfire_token="LOGFIRE",
        aignostics_sentry_dsn="DSN",
    )
    assert "SECRET-VALUE" not in repr(org)
    assert "LOGFIRE" not in repr(org)
