"""The error statuses each operation documents, as in the published contract (plus 401)."""

from __future__ import annotations

from typing import Any

__all__ = ["document_errors"]

DESCRIPTIONS = {
    "307": "Temporary Redirect to a short-lived signed URL",
    "400": "Bad Request - the submission is invalid",
    "401": "Unauthorized - no or an invalid bearer token",
    "402": "Payment Required - a quota does not allow this",
    "403": "Forbidden - you may not do this",
    "404": "Not Found",
    "409": "Conflict - the resource's state forbids this",
    "410": "Gone - the artifacts were deleted",
    "412": "Precondition Failed - custom metadata changed since you read it",
}
READ = ["401", "403", "404"]
ERRORS: dict[tuple[str, str], list[str]] = {
    ("get", "/api/v1/applications"): ["401"],
    ("get", "/api/v1/applications/{application_id}"): READ,
    ("get", "/api/v1/applications/{application_id}/versions/{version}"): READ,
    ("get", "/api/v1/applications/{application_id}/versions/{version}/documents"): READ,
    ("get", "/api/v1/applications/{application_id}/versions/{version}/documents/{name}"): READ,
    ("get", "/api/v1/applications/{application_id}/versions/{version}/documents/{name}/file"): [
        "307",
        *READ,
    ],
    ("get", "/api/v1/applications/{application_id}/versions/{version}/documents/{name}/content"): [
        "307",
        *READ,
    ],
    ("get", "/api/v1/runs"): READ,
    ("post", "/api/v1/runs"): ["400", "402", *READ],
    ("get", "/api/v1/runs/{run_id}"): READ,
    ("post", "/api/v1/runs/{run_id}/cancel"): [*READ, "409"],
    ("get", "/api/v1/runs/{run_id}/items"): READ,
    ("get", "/api/v1/runs/{run_id}/items/{external_id}"): READ,
    ("get", "/api/v1/runs/{run_id}/artifacts/{artifact_id}/file"): ["307", *READ, "410"],
    ("delete", "/api/v1/runs/{run_id}/artifacts"): [*READ, "409", "410"],
    ("put", "/api/v1/runs/{run_id}/custom-metadata"): [*READ, "412"],
    ("put", "/api/v1/runs/{run_id}/items/{external_id}/custom-metadata"): [*READ, "412"],
    ("get", "/api/v1/me"): ["401"],
    ("post", "/api/v1/access/grants"): READ,
    ("get", "/api/v1/access/grants"): ["401"],
    ("get", "/api/v1/access/grants/{grant_id}"): READ,
    ("delete", "/api/v1/access/grants/{grant_id}"): [*READ, "409"],
    ("post", "/api/v1/access/share-tokens"): ["401"],
    ("get", "/api/v1/access/share-tokens"): ["401"],
    ("get", "/api/v1/access/share-tokens/{share_token_id}"): READ,
    ("delete", "/api/v1/access/share-tokens/{share_token_id}"): [*READ, "409"],
}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the error responses to the generated OpenAPI document (in place); return it."""
    for path, methods in schema.get("paths", {}).items():
        clean = path.replace("{external_id:path}", "{external_id}")
        for method, operation in methods.items():
            for status in ERRORS.get((method, clean), []):
                operation.setdefault("responses", {}).setdefault(
                    status, {"description": DESCRIPTIONS[status]}
                )
    return schema
