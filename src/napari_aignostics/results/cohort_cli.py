"""``run result report`` and ``run result download --qupath-project``: a cohort from the command line."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["register_result_verbs"]


def register_result_verbs(
    result_sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    guard: Callable[[Any], Any],
) -> None:
    """Add ``report`` and the ``--qupath-project`` option of ``download``."""
    report = result_sub.add_parser(
        "report",
        help="an HTML report (and CSV table) of a run's slides",
        description="A self-contained HTML report of a run's slides: readouts, phenotype, figures, "
        "thumbnails with cells. RUN is a run id (its results are downloaded first) or a results folder.",
        epilog="example: napari-aignostics run result report results/RUN_ID --out report.html "
        "--csv table.csv",
    )
    report.add_argument("run", metavar="RUN|FOLDER", help="run id or downloaded results folder")
    report.add_argument("--out", type=Path, required=True, metavar="HTML", help="report file")
    report.add_argument(
        "--csv", type=Path, default=None, metavar="CSV", help="also the table as CSV"
    )
    report.add_argument(
        "--download-to",
        type=Path,
        default=None,
        metavar="DIR",
        help="for a run id: download here (default: a temporary folder)",
    )
    report.add_argument("--share-token", default=None, metavar="TOKEN", help=argparse.SUPPRESS)
    report.set_defaults(func=guard(result_report))
    download = result_sub.choices["download"]
    download.add_argument(
        "--qupath-project",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write a QuPath project of the run's slides with their regions and cells",
    )
    plain = download.get_default("func")
    download.set_defaults(func=guard(_download_then_project(plain)))


def _download_then_project(plain: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        code = int(plain(args) or 0)
        if code or args.qupath_project is None:
            return code
        from ..platform.results_layout import run_folder
        from .cohort import CohortTable
        from .qupath_project import write_qupath_project

        table = CohortTable.from_folder(run_folder(args.folder, args.run_id))
        images = write_qupath_project(table, args.qupath_project)
        cells = sum(image.cells for image in images)
        print(
            f"QuPath project {args.qupath_project / 'project.qpproj'}: {len(images)} images, "
            f"{cells} cells; import them with scripts/import_aignostics_objects.groovy"
        )
        return 0

    return run


def result_report(args: argparse.Namespace) -> int:
    from .cohort import CohortTable
    from .cohort_report import write_report

    source = Path(args.run)
    if source.is_dir():
        table = CohortTable.from_folder(source)
    else:
        from ..platform.commands import client_for
        from ..platform.download import download_run
        from ..platform.results_layout import run_folder

        folder = args.download_to or Path(tempfile.mkdtemp(prefix="napari-aignostics-report-"))
        with client_for(args) as client:
            download_run(client, args.run, folder, share_token=args.share_token)
        table = CohortTable.from_folder(run_folder(folder, args.run))
    write_report(table, args.out)
    print(f"report {args.out}: {len(table.rows)} slides")
    if args.csv is not None:
        table.write_csv(args.csv)
        print(f"table {args.csv}")
    return 0
