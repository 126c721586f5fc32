"""JSON answers: of models the routes already built (serialized once, in the route's thread) or
of bodies built straight from rows.

A plain route that returns a model has FastAPI validate it again against ``response_model`` in a
second worker-thread hop; a :class:`~fastapi.Response` is sent as it is. The routes keep
``response_model`` for the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeAlias

import orjson
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter

__all__ = ["JsonBody", "json_response", "model_response", "models_response"]

JsonBody: TypeAlias = dict[str, Any]
"""A response body built straight from rows, in the fields of its response model."""


def json_response(value: JsonBody | list[JsonBody]) -> Response:
    """``value`` as JSON (orjson: no model is built or validated)."""
    return Response(orjson.dumps(value), media_type="application/json")


def model_response(value: BaseModel) -> Response:
    """``value`` as FastAPI would send it (JSON, field aliases)."""
    return Response(value.model_dump_json(by_alias=True), media_type="application/json")


@cache
def _list_of(model: type[BaseModel]) -> TypeAdapter[list[BaseModel]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def models_response(values: Sequence[BaseModel], model: type[BaseModel]) -> Response:
    """A JSON array of ``values`` (instances of ``model``)."""
    body = _list_of(model).dump_json(list(values), by_alias=True)
    return Response(body, media_type="application/json")
