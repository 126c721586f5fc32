"""Platform verbs of ``napari-aignostics``: applications, runs, results, login."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..slides.metadata import SlideMetadata
    from .client import PlatformClient

__all__ = ["register"]

DEFAULT_API_ROOT = "https://platform.aignostics.com"
SLIDE_SUFFIXES = {".svs", ".tif", ".tiff", ".ndpi", ".scn", ".bif", ".dcm"}
SPECIMEN_KEYS = {"disease", "tissue"}
RUN_ID_HELP = "run id (see 'run list')"


def api_root(args: argparse.Namespace) -> str:
    """``--api-root``, env ``NAPARI_AIGNOSTICS_API_ROOT`` or the cloud platform."""
    return str(args.api_root or os.environ.get("NAPARI_AIGNOSTICS_API_ROOT") or DEFAULT_API_ROOT)


def client_for(args: argparse.Namespace) -> PlatformClient:
    """A client for ``--api-root`` with ``--token``, the environment or the cached login."""
    from .auth import resolve_token_provider
    from .client import PlatformClient

    root = api_root(args)
    return PlatformClient(root, resolve_token_provider(root, args.token))


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


ResultVerbs = Callable[[argparse._SubParsersAction, Callable[[Any], Any]], None]  # type: ignore[type-arg]
"""Adds verbs under ``run result`` (given the subparsers and the error guard)."""


def register(
    subparsers: argparse._SubParsersAction,  # type: ignore[type-arg]
    result_verbs: ResultVerbs | None = None,
) -> None:
    """Add ``application``, ``run``, ``login``, ``logout`` and ``whoami``.

    ``result_verbs`` adds more ``run result`` verbs from a package above this one (reports).
    """
    from .share_commands import register_share

    app = subparsers.add_parser(
        "application",
        help="applications and versions",
        description="Applications available to you and what their versions take and return.",
    )
    app_sub = app.add_subparsers(dest="app_command", required=True, metavar="VERB")
    listing = app_sub.add_parser(
        "list", help="applications available to you", description="Applications available to you."
    )
    listing.set_defaults(func=_guard(application_list))
    describe = app_sub.add_parser(
        "describe",
        help="versions, inputs and outputs of an application",
        description="Versions, input metadata (with allowed values) and outputs of an application.",
    )
    describe.add_argument("application", help="application id, e.g. he-tme")
    describe.add_argument(
        "--version", default=None, metavar="VERSION", help="version to describe (default: latest)"
    )
    describe.set_defaults(func=_guard(application_describe))

    run = subparsers.add_parser(
        "run",
        help="submit, list, follow, cancel, share runs; download results",
        description="Runs of applications: submit slides, follow, share, download results.",
    )
    run_sub = run.add_subparsers(dest="run_command", required=True, metavar="VERB")
    submit = run_sub.add_parser(
        "submit",
        help="upload slides and submit a run",
        description="Upload slides and submit one run with an item per slide.",
        epilog="example: napari-aignostics run submit he-tme slides/ "
        "--metadata staining_method=H&E --metadata disease=LUNG_CANCER",
    )
    submit.add_argument("application", help="APPLICATION or APPLICATION:VERSION")
    submit.add_argument("paths", nargs="+", type=Path, help="slide files or folders of slides")
    submit.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one input metadata pair per flag, repeat the flag for more, e.g. "
        "--metadata staining_method=H&E --metadata disease=LUNG_CANCER; "
        "see 'application describe' for keys and allowed values",
    )
    submit.add_argument("--note", default=None, help="a note stored with the run")
    submit.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="a tag for the run (repeatable)"
    )
    submit.add_argument(
        "--skip-invalid",
        action="store_true",
        help="submit the valid slides and list the ones skipped and why (without it, one "
        "invalid slide stops the whole submission before anything is uploaded)",
    )
    submit.add_argument("--wait", action="store_true", help="follow the run until it ends")
    submit.add_argument(
        "--download",
        type=Path,
        default=None,
        metavar="DIR",
        help="download results as items finish (implies --wait)",
    )
    _follow_options(submit)
    submit.set_defaults(func=_guard(run_submit))
    follow = run_sub.add_parser(
        "follow",
        help="re-attach to a run: report progress until it ends, optionally download",
        description="Report a run's progress until it ends, optionally downloading results.",
    )
    follow.add_argument("run_id", help=RUN_ID_HELP)
    follow.add_argument(
        "--download",
        type=Path,
        default=None,
        metavar="DIR",
        help="download results as items finish",
    )
    _follow_options(follow)
    follow.set_defaults(func=_guard(run_follow))
    runs = run_sub.add_parser(
        "list", help="your runs, newest first", description="Your runs, newest first."
    )
    runs.add_argument("--application", default=None, help="only runs of this application id")
    runs.add_argument(
        "--limit", type=int, default=20, metavar="N", help="show at most N runs (default 20)"
    )
    runs.set_defaults(func=_guard(run_list))
    for verb, func, text in (
        ("describe", run_describe, "a run and its items"),
        ("cancel", run_cancel, "cancel a run"),
        ("delete", run_delete, "delete a finished run's results on the platform"),
    ):
        parser = run_sub.add_parser(verb, help=text, description=text[0].upper() + text[1:] + ".")
        parser.add_argument("run_id", help=RUN_ID_HELP)
        if func is run_describe:
            share_token_option(parser)
        parser.set_defaults(func=_guard(func))
    result = run_sub.add_parser("result", help="results of a run", description="Results of a run.")
    result_sub = result.add_subparsers(dest="result_command", required=True, metavar="VERB")
    download = result_sub.add_parser(
        "download",
        help="download (verified) results",
        description="Download every available result of a run, each verified by its checksum.",
    )
    download.add_argument("run_id", help=RUN_ID_HELP)
    download.add_argument("folder", type=Path, help="folder to download into (made if missing)")
    share_token_option(download)
    download.set_defaults(func=_guard(result_download))
    if result_verbs is not None:
        result_verbs(result_sub, _guard)
    register_share(run_sub, _guard)

    login_parser = subparsers.add_parser(
        "login",
        help="log in (device code flow; --browser: authorization code + PKCE)",
        description="Log in (device code flow; --browser: authorization code + PKCE).",
    )
    login_parser.add_argument(
        "--browser", action="store_true", help="approve in this computer's web browser"
    )
    login_parser.set_defaults(func=_guard(login))
    for verb, func, text in (
        ("logout", logout, "forget the cached login"),
        ("whoami", whoami, "who you are on the platform"),
    ):
        subparsers.add_parser(
            verb, help=text, description=text[0].upper() + text[1:] + "."
        ).set_defaults(func=_guard(func))


def share_token_option(parser: argparse.ArgumentParser) -> None:
    """``--share-token``: read a run someone shared with a share token."""
    parser.add_argument(
        "--share-token",
        default=None,
        metavar="TOKEN",
        help="read a run shared with you through this share token",
    )


def _follow_options(parser: argparse.ArgumentParser) -> None:
    from .follow import PATIENCE_S

    parser.add_argument(
        "--patience",
        type=float,
        default=PATIENCE_S,
        metavar="SECONDS",
        help=f"keep reconnecting this long when the platform does not answer (default {PATIENCE_S:.0f})",
    )
    parser.add_argument("--interval", type=float, default=5.0, help=argparse.SUPPRESS)


def _guard(func: Any) -> Any:
    """Platform and input errors become one line on stderr and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        from ..slides.slide_errors import SlideError
        from .errors import PlatformError

        try:
            return int(func(args) or 0)
        except PlatformError as exc:
            print(f"error: {exc.one_line()}", file=sys.stderr)
        except SlideError as exc:
            print(f"error: {exc}", file=sys.stderr)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
        return 1

    return run


def application_list(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        for app in client.list_applications():
            latest = app.latest_version.number if app.latest_version else "-"
            print(f"{app.application_id:24} {latest:12} {app.name}")
    return 0


def application_describe(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        app = client.application(args.application)
        version = client.application_version(args.application, args.version)
        print(f"{app.name} ({app.application_id}): {app.description}")
        print("versions: " + ", ".join(v.number for v in app.versions))
        print(f"\nversion {version.version_number}: {version.changelog}")
        for given in version.input_artifacts:
            print(f"  input  {given.name} ({given.mime_type}); metadata (* required):")
            for line in schema_lines(given.metadata_schema):
                print(f"    {line}")
        for made in version.output_artifacts:
            print(f"  output {made.name} ({made.mime_type})")
    return 0


def schema_lines(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """One line per metadata key of a JSON schema: type, allowed values, default, bounds."""
    lines: list[str] = []
    required = set(schema.get("required", []))
    for key, prop in schema.get("properties", {}).items():
        name = f"{prefix}{key}{'*' if key in required else ''}"
        if prop.get("type") == "object" and "properties" in prop:
            lines.append(f"{name}: object")
            lines.extend(schema_lines(prop, prefix=f"{prefix}{key}."))
            continue
        parts = [str(prop.get("type", "any"))]
        if "const" in prop:
            parts.append(f"must be {prop['const']}")
        if "enum" in prop:
            parts.append("one of " + ", ".join(str(v) for v in prop["enum"]))
        if "default" in prop:
            parts.append(f"default {prop['default']}")
        bounds = [
            f"{op} {prop[k]}" for k, op in (("minimum", ">="), ("maximum", "<=")) if k in prop
        ]
        parts.extend(bounds)
        lines.append(f"{name}: " + "; ".join(parts))
    return lines


def _slides(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.iterdir())
                if p.is_file() and p.suffix.lower() in SLIDE_SUFFIXES
            )
        elif path.is_file():
            found.append(path)
        else:
            raise ValueError(f"{path}: no such file or folder")
    if not found:
        raise ValueError("no slide files (.svs .tif .tiff .ndpi .scn .bif .dcm) found")
    return found


def _input_metadata(
    slide: SlideMetadata, pairs: list[str], schema: dict[str, Any]
) -> dict[str, Any]:
    known = set(schema.get("properties", {}))
    metadata = {
        k: v
        for k, v in slide.as_artifact_metadata().items()
        if k in known and v is not None
    }
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--metadata {pair!r} must look like KEY=VALUE")
        if key in SPECIMEN_KEYS and "specimen" in known:
            metadata.setdefault("specimen", {})[key] = value
        elif key in known:
            metadata[key] = value
        else:
            raise ValueError(f"--metadata {key!r}: this version accepts {sorted(known)}")
    return metadata


def run_submit(args: argparse.Namespace) -> int:
    from ..slides.metadata import slide_metadata
    from ..slides.slide_errors import SlideError
    from .submit import item_problems, submit_slides

    application, _, version = args.application.partition(":")
    slides = _slides(args.paths)
    with client_for(args) as client:
        spec = client.application_version(application, version or None)
        schema = spec.input_artifacts[0].metadata_schema
        pairs: list[tuple[Path, dict[str, Any]]] = []
        invalid: list[str] = []
        for path in slides:
            try:
                slide = slide_metadata(path)
                metadata = _input_metadata(slide, args.metadata, schema)
                problems = slide.submission_problems() + item_problems(spec, path, metadata)
            except SlideError as exc:
                problems = [f"{exc.problem} {exc.hint}".strip()]
            if problems:
                invalid.append(f"  {path}: {'; '.join(problems)}")
            else:
                pairs.append((path, metadata))
        if invalid and not args.skip_invalid:
            raise ValueError(
                f"{len(invalid)} of {len(slides)} slide(s) cannot be submitted, nothing was "
                "uploaded:\n" + "\n".join(invalid)
                + "\nfix them, or pass --skip-invalid to submit the others"
            )
        if invalid:
            print(f"skipped {len(invalid)} invalid slide(s):", file=sys.stderr)
            print("\n".join(invalid), file=sys.stderr)
        if not pairs:
            raise ValueError("no valid slide left to submit")

        def progress(fraction: float, message: str) -> None:
            print(
                f"\r{fraction * 100:5.1f}% {message[:60]:60}", end="", file=sys.stderr, flush=True
            )

        run_id = submit_slides(
            client,
            application,
            spec.version_number,
            pairs,
            note=args.note,
            tags=args.tag,
            progress=progress,
            spec=spec,
        )
        print(file=sys.stderr)
        print(run_id)
        if args.wait or args.download:
            return _follow(client, run_id, args)
    return 0


def run_follow(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        return _follow(client, args.run_id, args)


def _follow(client: Any, run_id: str, args: argparse.Namespace) -> int:
    from .follow import (
        ArtifactDownloaded,
        ItemFailed,
        ItemFinished,
        Reconnecting,
        RunFinished,
        RunUpdated,
        follow_run,
    )
    from .run_labels import run_label

    events = follow_run(
        client, run_id, args.download, interval=args.interval, patience=args.patience
    )
    for event in events:
        if isinstance(event, Reconnecting):
            print(
                f"reconnecting to {client.api_root} in {event.delay:.0f} s "
                f"(no answer for {event.waited:.0f} of {event.patience:.0f} s: {event.error})",
                file=sys.stderr,
            )
        elif isinstance(event, RunUpdated):
            print(f"run: {run_label(event.run)}", file=sys.stderr)
        elif isinstance(event, ArtifactDownloaded):
            print(f"  downloaded {event.path} ({event.size} bytes)", file=sys.stderr)
        elif isinstance(event, ItemFinished):
            print(f"item done: {event.item.external_id}", file=sys.stderr)
        elif isinstance(event, ItemFailed):
            item = event.item
            print(
                f"item {item.termination_reason}: {item.external_id}: {item.error_message or ''}",
                file=sys.stderr,
            )
        elif isinstance(event, RunFinished):
            print(
                f"finished: {event.run.termination_reason}, output {event.run.output}",
                file=sys.stderr,
            )
            if event.manifest:
                print(f"results: {event.manifest.parent}", file=sys.stderr)
            return 0 if event.run.output != "NONE" else 2
    return 0


def run_list(args: argparse.Namespace) -> int:
    from .run_labels import run_label

    with client_for(args) as client:
        for run in client.list_runs(
            application_id=args.application, sort=["-submitted_at"], limit=args.limit
        ):
            note = ((run.custom_metadata or {}).get("sdk") or {}).get("note") or ""
            print(
                f"{run.run_id}  {run.application_id}:{run.version_number}  "
                f"{run.submitted_at:%Y-%m-%d %H:%M}  {run_label(run)}  {note}"
            )
    return 0


def run_describe(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        run = client.run(args.run_id, share_token=args.share_token)
        _print(run.model_dump(mode="json"))
        for item in client.list_items(args.run_id, share_token=args.share_token):
            reason = f" {item.termination_reason}" if item.termination_reason else ""
            error = f": {item.error_message}" if item.error_message else ""
            print(f"  {item.external_id}: {item.state}{reason}{error}")
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        client.cancel_run(args.run_id)
    print(f"cancelled {args.run_id}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        client.delete_artifacts(args.run_id)
    print(f"deleted the results of {args.run_id} on the platform")
    return 0


def result_download(args: argparse.Namespace) -> int:
    from .download import download_run
    from .run_labels import why_no_results

    with client_for(args) as client:
        done = download_run(client, args.run_id, args.folder, share_token=args.share_token)
        if not done:
            run = client.run(args.run_id, share_token=args.share_token)
            items = list(client.list_items(args.run_id, share_token=args.share_token))
            print(f"error: {why_no_results(run, items)}", file=sys.stderr)
            return 1
    for got in done:
        print(f"{'kept' if got.skipped else 'downloaded'} {got.path} ({got.size} bytes)")
    return 0


def login(args: argparse.Namespace) -> int:
    from .auth import AuthSettings, TokenCache, browser_login, device_login

    root = api_root(args)
    settings = AuthSettings.for_api_root(root)
    if getattr(args, "browser", False):
        print("Opening the login page in your browser...")
        tokens = browser_login(settings)
    else:
        tokens = device_login(settings, show=print)
    TokenCache().save(root, tokens)
    print(f"logged in to {root}")
    return 0


def logout(args: argparse.Namespace) -> int:
    from .auth import TokenCache

    root = api_root(args)
    removed = TokenCache().delete(root)
    print(f"logged out of {root}" if removed else f"was not logged in to {root}")
    return 0


def whoami(args: argparse.Namespace) -> int:
    from .auth import mask_secret

    with client_for(args) as client:
        me = client.me()
    org = me.organization
    print(f"user:         {me.user.id} {me.user.email or ''}")
    print(f"organization: {org.id} {org.name or ''}")
    print(
        f"bucket:       {org.aignostics_bucket_protocol}://{org.aignostics_bucket_name} "
        f"(key {mask_secret(org.aignostics_bucket_hmac_access_key_id)}, "
        f"secret {mask_secret(org.aignostics_bucket_hmac_secret_access_key)})"
    )
    return 0
