"""``run share`` verbs, ``--share-token`` on read verbs and the CLI's help — real local platform."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from napari_aignostics.cli import build_parser, main
from napari_aignostics.server.embedded import LocalPlatform
from napari_aignostics.slides.checksum import crc32c_base64
from server_helpers import Api, slide_bytes

SERVER = {"builtin": True}


def cli(server: LocalPlatform, token: str, *args: str) -> int:
    return main(["--api-root", server.api_root, f"--token={token}", *args])  # a token may start with "-"


def test_share_grant_and_revoke(server: LocalPlatform, capsys: pytest.CaptureFixture[str]) -> None:
    other = server.add_user("auth0|other", email="other@example.org")
    stranger = server.add_user("auth0|stranger", "org_elsewhere")
    owner = Api(server.api_root, server.token)
    run_id = owner.submit([{"external_id": "a", "data": slide_bytes()}])
    owner.wait(run_id)
    assert cli(server, other, "run", "describe", run_id) == 1
    assert "404" in capsys.readouterr().err

    assert cli(server, server.token, "run", "share", "grant", run_id,
               "--email", "other@example.org") == 0
    grant_id = capsys.readouterr().out.strip()
    assert cli(server, other, "run", "describe", run_id) == 0
    assert json.loads(capsys.readouterr().out.split("\n  a:")[0])["run_id"] == run_id
    assert cli(server, stranger, "run", "describe", run_id) == 1
    capsys.readouterr()

    assert cli(server, server.token, "run", "share", "revoke", grant_id) == 0
    assert f"revoked grant {grant_id}" in capsys.readouterr().out
    assert cli(server, other, "run", "describe", run_id) == 1
    assert cli(server, server.token, "run", "share", "revoke", grant_id) == 1
    assert "409" in capsys.readouterr().err

    assert cli(server, server.token, "run", "share", "grant", run_id,
               "--organization", "org_elsewhere") == 0
    capsys.readouterr()
    assert cli(server, stranger, "run", "describe", run_id) == 0


def test_share_tokens(server: LocalPlatform, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    stranger = server.add_user("auth0|stranger", "org_elsewhere")
    owner = Api(server.api_root, server.token)
    run_id = owner.submit([{"external_id": "a", "data": slide_bytes()}])
    owner.wait(run_id)

    assert cli(server, server.token, "run", "share", "token", "create", run_id,
               "--expires-at", "2099-01-01T00:00:00+00:00") == 0
    created = capsys.readouterr()
    secret = created.out.strip()
    assert secret and "\n" not in secret and secret not in created.err
    assert cli(server, server.token, "run", "share", "token", "list", run_id) == 0
    listed = capsys.readouterr().out.strip().splitlines()
    assert len(listed) == 1 and "active" in listed[0] and "2099-01-01" in listed[0]
    assert secret not in listed[0]
    token_id = listed[0].split()[0]

    assert cli(server, stranger, "run", "describe", run_id, f"--share-token={secret}") == 0
    assert "a: TERMINATED SUCCEEDED" in capsys.readouterr().out
    out = tmp_path / "shared"
    assert cli(server, stranger, "run", "result", "download", run_id, str(out),
               f"--share-token={secret}") == 0
    capsys.readouterr()
    manifest = json.loads((out / run_id / "manifest.json").read_text())
    artifact = manifest["items"][0]["artifacts"][0]
    assert crc32c_base64(out / run_id / artifact["file"]) == artifact["checksum_base64_crc32c"]

    assert cli(server, server.token, "run", "share", "token", "revoke", token_id) == 0
    assert token_id in capsys.readouterr().out
    assert cli(server, stranger, "run", "describe", run_id, f"--share-token={secret}") == 1
    assert "404" in capsys.readouterr().err
    assert cli(server, server.token, "run", "share", "token", "list", run_id) == 0
    assert "revoked" in capsys.readouterr().out


def test_application_describe_shows_allowed_values(
    server: LocalPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(server, server.token, "application", "describe", "local-tme") == 0
    out = capsys.readouterr().out
    disease = next(line for line in out.splitlines() if "specimen.disease*" in line)
    assert "one of" in disease and "LUNG_CANCER" in disease and "BREAST_CANCER" in disease
    assert any("staining_method*: string; must be H&E" in line for line in out.splitlines())
    assert any("specimen.tissue:" in line and "default OTHER" in line for line in out.splitlines())


def _parsers(parser: argparse.ArgumentParser, name: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        yield name, action
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest for choice in action._choices_actions if choice.help}
            assert helped == set(action.choices), f"{name}: verbs without help"
            for verb, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {verb}")


def test_every_verb_and_argument_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    seen = 0
    for name, action in _parsers(build_parser(), "napari-aignostics"):
        if not isinstance(action, argparse._SubParsersAction):  # its verbs are checked
            assert action.help, f"{name}: {action.dest} has no help"
        seen += 1
    assert seen > 60
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"napari-aignostics {version('napari-aignostics')}"
    with pytest.raises(SystemExit):
        main(["run", "submit", "--help"])
    text = capsys.readouterr().out
    assert "--metadata staining_method=H&E --metadata disease=LUNG_CANCER" in " ".join(text.split())
