"""Run by ``test_official_sdk.py`` with the official SDK's own interpreter (not ours).

Signs in through the SDK's device flow (its JWT verification against our JWKS included), then
walks a run through the SDK library: me, applications, submit, wait, download, custom metadata,
sharing, delete, a cancel; finally one CLI verb in-process. Prints one ``OK <step>`` line a step.
Arguments: ``<download_url> <crc32c> <folder>``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def step(name: str) -> None:
    print(f"OK {name}", flush=True)


def main(download_url: str, crc: str, folder: str) -> int:
    from aignostics import platform
    from aignostics.platform import InputArtifact, InputItem
    from aignostics.platform._authentication import get_token, verify_and_decode_token

    token = get_token(use_cache=True, use_device_flow=True)
    claims = verify_and_decode_token(token)
    assert claims["sub"] == "auth0|local-user", claims
    step("login")
    client = platform.Client()
    me = client.me()
    assert me.organization.id == "org_local"
    step("me")
    apps = [a.application_id for a in client.applications.list()]
    assert "lifecycle" in apps, apps
    version = client.application_version("lifecycle", "1.0.1")
    assert version.version_number == "1.0.1"
    step("applications")

    def item(external_id: str, behaviour: str = "ok") -> InputItem:
        return InputItem(
            external_id=external_id,
            input_artifacts=[
                InputArtifact(
                    name="whole_slide_image",
                    download_url=download_url,
                    metadata={"checksum_base64_crc32c": crc, "behaviour": behaviour},
                )
            ],
        )

    run = client.runs.submit(
        "lifecycle", [item("a"), item("b")], custom_metadata={"sdk": {"note": "local"}}
    )
    step("submit")
    Path(folder).mkdir(parents=True, exist_ok=True)
    run.download_to_folder(folder, sleep_interval=1, timeout_seconds=120, print_status=False)
    details = run.details(nocache=True)
    assert details.state.value == "TERMINATED", details
    files = sorted(p.name for p in Path(folder).rglob("*") if p.is_file())
    assert len(files) == 2, files
    step("download")
    run.update_custom_metadata({"project": "local"}, enrich_sdk_metadata=False)
    assert run.details(nocache=True).custom_metadata == {"project": "local"}
    step("custom-metadata")
    token_obj = client.share_tokens.create()
    assert token_obj.share_token_id
    step("share-token")
    run.delete()
    step("delete")
    slow = client.runs.submit("lifecycle", [item("c", "sleep:30"), item("d", "sleep:30")])
    time.sleep(1)
    slow.cancel()
    deadline = time.monotonic() + 60
    while slow.details(nocache=True).state.value != "TERMINATED":
        assert time.monotonic() < deadline, "the cancelled run did not terminate"
        time.sleep(0.5)
    skipped = [r for r in slow.results() if r.termination_reason.value == "SKIPPED"]
    assert skipped and all(r.error_message for r in skipped)
    step("cancel")
    listed = [r.run_id for r in client.runs.list()]
    assert run.run_id in listed and slow.run_id in listed
    step("list")

    from aignostics.cli import cli
    from typer.testing import CliRunner

    whoami = CliRunner().invoke(cli, ["user", "whoami"])
    assert whoami.exit_code == 0, whoami.output
    assert json.loads(whoami.output[whoami.output.index("{") :])["user"]["id"] == "auth0|local-user"
    step("cli whoami")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
