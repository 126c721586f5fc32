"""Submit: application and version, a form from the version's input schema, slides, note, tags."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..slides.slide_ref import SlideRef, open_slides, slide_ref_of
from ..workflow.schema_form import FormField, build_metadata, form_fields, validation_errors
from ..workflow.session import Session
from .table_widget import make_table
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Layer

    from ..platform import models as m
    from ..slides.metadata import SlideMetadata

COLUMNS = ("Use", "Valid", "Slide", "Checksum", "mpp", "Size")
"""✔/✘ and the checksum first: visible at the dock's default width (reasons as text below)."""
VALID, SLIDE, CHECKSUM, MPP, SIZE = 1, 2, 3, 4, 5


class _Relay(QObject):
    """Carries progress from worker threads to the main thread."""

    progress = Signal(float, str)


class SubmitPanel(QWidget):
    """Everything needed to start a run."""

    submitted = Signal(str, object)
    """run id, {external id: SlideRef}"""

    def __init__(
        self,
        viewer: ViewerModel,
        session: Session, pool: WorkerPool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.session = session
        self.pool = pool
        self.version_details: m.VersionReadResponse | None = None
        self.schema: dict[str, Any] = {}
        self.fields: list[FormField] = []
        self.editors: dict[str, QWidget] = {}
        self.rows: list[dict[str, Any]] = []
        self.relay = _Relay()
        self.skipped_text = ""

        self.application = QComboBox()
        self.version = QComboBox()
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.about.setTextFormat(Qt.TextFormat.RichText)
        self.form = QFormLayout()
        self.table = make_table(COLUMNS, stretch=SIZE)
        header = self.table.horizontalHeader()
        if header is not None:
            metrics = self.table.fontMetrics()
            for column, sample in ((0, "Use"), (VALID, "Valid"), (SLIDE, "CMU-1-Small-Reg"),
                                   (CHECKSUM, "AAAAAA=="), (MPP, "0.000")):
                header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
                self.table.setColumnWidth(column, metrics.horizontalAdvance(sample) + 18)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.add_layer_button = QPushButton("Add selected slide")
        self.add_folder_button = QPushButton("Add folder…")
        self.clear_button = QPushButton("Clear")
        self.note = QLineEdit()
        self.note.setPlaceholderText("note (optional)")
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("tags, comma separated (optional)")
        self.submit_button = QPushButton("Submit")
        self.submit_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.status = QLabel()
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        top = QFormLayout()
        top.addRow("Application", self.application)
        top.addRow("Version", self.version)
        layout.addLayout(top)
        layout.addWidget(self.about)
        layout.addLayout(self.form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.problems)
        buttons = QHBoxLayout()
        for button in (self.add_layer_button, self.add_folder_button, self.clear_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        layout.addWidget(self.tags)
        layout.addWidget(self.submit_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)

        self.application.currentIndexChanged.connect(self._application_changed)
        self.version.currentIndexChanged.connect(self._version_changed)
        self.add_layer_button.clicked.connect(self.add_selected_layer)
        self.add_folder_button.clicked.connect(self._choose_folder)
        self.clear_button.clicked.connect(self.clear_slides)
        self.submit_button.clicked.connect(self.submit)
        self.relay.progress.connect(self._show_progress)

    # --- applications ------------------------------------------------------------------------

    def refresh_applications(self) -> None:
        """Load the applications available to the connected user."""
        self.pool.start(self.session.applications, on_done=self._set_applications)

    def _set_applications(self, applications: list[m.ApplicationReadShortResponse]) -> None:
        self.application.blockSignals(True)
        self.application.clear()
        for app in applications:
            self.application.addItem(app.name, app)
        self.application.blockSignals(False)
        preferred = self.session.settings.application_id
        index = next(
            (i for i, a in enumerate(applications) if a.application_id == preferred),
            next((i for i, a in enumerate(applications) if "tme" in a.application_id), 0),
        )
        self.application.setCurrentIndex(index)
        self._application_changed()

    def select_application(self, application_id: str) -> bool:
        """Select an application by id; False when it is not listed."""
        for index in range(self.application.count()):
            if self.application.itemData(index).application_id == application_id:
                self.application.setCurrentIndex(index)
                return True
        return False

    def _application_changed(self) -> None:
        app = self.application.currentData()
        if app is None:
            return
        self.session.settings.application_id = app.application_id
        self.version_details = None
        self.schema = {}
        self.pool.drop("version")  # details of the previous application's version
        self.pool.start(
            self.session.versions, app.application_id, on_done=self._set_versions, key="versions"
        )

    def _set_versions(self, versions: list[str]) -> None:
        self.version.blockSignals(True)
        self.version.clear()
        self.version.addItems(versions)
        self.version.blockSignals(False)
        self._version_changed()

    def _version_changed(self) -> None:
        app = self.application.currentData()
        version = self.version.currentText()
        if app is None or not version:
            return
        self.pool.start(
            self.session.version,
            app.application_id,
            version,
            on_done=self._set_version,
            key="version",
        )

    def _set_version(self, details: m.VersionReadResponse) -> None:
        app = self.application.currentData()
        if app is None:
            return
        self.version_details = details
        self.schema = details.input_artifacts[0].metadata_schema if details.input_artifacts else {}
        self.about.setText(
            f"<b>{app.name}</b> {details.version_number}<br>{app.description}"
            f"<br><i>Changes:</i> {details.changelog}"
        )
        self._build_form()
        self._revalidate()

    # --- form ----------------------------------------------------------------------------------

    def _build_form(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors.clear()
        self.fields = form_fields(self.schema)
        remembered = self.session.settings.form_values
        for f in self.fields:
            editor: QWidget
            if f.kind in ("enum", "const"):
                combo = QComboBox()
                combo.addItems([str(c) for c in f.choices])
                combo.setPlaceholderText("choose…" if f.required else "(none)")
                # no default in the schema: the user picks (a remembered or first choice could be
                # wrong clinical metadata)
                wanted = f.default if f.kind == "enum" else f.choices[0]
                if wanted is not None and str(wanted) in [str(c) for c in f.choices]:
                    combo.setCurrentText(str(wanted))
                else:
                    combo.setCurrentIndex(-1)
                combo.setEnabled(f.kind == "enum")
                combo.currentIndexChanged.connect(self._form_changed)
                editor = combo
            else:
                line = QLineEdit(str(remembered.get(f.key, f.default or "")))
                line.textChanged.connect(self._form_changed)
                editor = line
            self.editors[f.key] = editor
            self.form.addRow(f.title + (" *" if f.required else ""), editor)
        self._update_dependent_choices()

    def form_values(self) -> dict[str, Any]:
        """The user's values by dotted key."""
        values: dict[str, Any] = {}
        for key, editor in self.editors.items():
            values[key] = editor.currentText() if isinstance(editor, QComboBox) else editor.text()  # type: ignore[attr-defined]
        return values

    def set_form_value(self, key: str, value: str) -> None:
        """Set one field (used by the demo and tests)."""
        editor = self.editors[key]
        if isinstance(editor, QComboBox):
            editor.setCurrentText(value)
        elif isinstance(editor, QLineEdit):
            editor.setText(value)

    def _update_dependent_choices(self) -> None:
        values = self.form_values()
        for f in self.fields:
            editor = self.editors.get(f.key)
            if f.depends_on is None or not isinstance(editor, QComboBox):
                continue
            choices = [str(c) for c in f.choices_for(values)]
            current = editor.currentText()
            if [editor.itemText(i) for i in range(editor.count())] != choices:
                editor.blockSignals(True)
                editor.clear()
                editor.addItems(choices)
                if current in choices:
                    editor.setCurrentText(current)
                elif f.default is not None and str(f.default) in choices:
                    editor.setCurrentText(str(f.default))
                else:
                    editor.setCurrentIndex(-1)
                editor.blockSignals(False)

    def _form_changed(self) -> None:
        self._update_dependent_choices()
        self.session.settings.form_values.update(
            {k: str(v) for k, v in self.form_values().items() if v}
        )
        self._revalidate()

    # --- slides --------------------------------------------------------------------------------

    def add_selected_layer(self) -> None:
        """Add the selected (or the topmost) slide layer of the viewer."""
        refs = [ref for lay in self.viewer.layers.selection if (ref := slide_ref_of(lay))]
        refs = refs or open_slides(self.viewer.layers)[:1]
        if not refs:
            from napari.utils.notifications import show_warning

            show_warning("No slide is open: open a slide (File → Open) or add a folder of slides.")
            return
        for ref in refs:
            self.add_slide(ref.path, ref.layer)

    def add_selected_layer_quietly(self) -> None:
        """Add the open slide, if any, without warning when there is none."""
        if open_slides(self.viewer.layers):
            self.add_selected_layer()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of slides")
        if folder:
            self.add_folder(Path(folder))

    def add_folder(self, folder: Path) -> None:
        """Add every slide file of a folder (not recursive)."""
        from ..slides.reader import SUPPORTED_EXTENSIONS  # dask: not when the dock opens

        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in SUPPORTED_EXTENSIONS:
                self.add_slide(path)

    def add_slide(self, path: Path, layer: Layer | None = None) -> None:
        """Add a slide row (shown in ``layer``, if open) and compute its metadata in a worker."""
        if any(row["path"] == path for row in self.rows):
            return
        use = QCheckBox()
        use.setChecked(True)
        use.toggled.connect(self._revalidate)
        row: dict[str, Any] = {
            "path": path,
            "layer": layer,
            "metadata": None,
            "error": None,
            "use": use,
        }
        self.rows.append(row)
        index = self.table.rowCount()
        self.table.insertRow(index)
        self.table.setCellWidget(index, 0, use)
        self._set_cell(index, SLIDE, path.name, str(path))
        size = path.stat().st_size if path.exists() else 0
        self._set_cell(index, SIZE, f"{size / 1e6:.1f} MB")
        self._set_cell(index, CHECKSUM, "computing…")

        def done(meta: SlideMetadata) -> None:
            row["metadata"] = meta
            self._update_row(row)

        def failed(error: BaseException) -> None:
            row["error"] = str(error)
            self._update_row(row)

        self.pool.start(self.session.prepare_slide, path, on_done=done, on_error=failed)

    def clear_slides(self) -> None:
        """Remove all slide rows."""
        self.rows.clear()
        self.table.setRowCount(0)
        self._revalidate()

    def _set_cell(self, row: int, column: int, text: str, tooltip: str = "") -> None:
        item = QTableWidgetItem(text)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        if tooltip:
            item.setToolTip(tooltip)
        self.table.setItem(row, column, item)

    def _update_row(self, row: dict[str, Any]) -> None:
        index = self.rows.index(row)
        meta = row["metadata"]
        if meta is not None:
            self._set_cell(index, MPP, f"{meta.resolution_mpp:.3f}" if meta.resolution_mpp else "—")
            self._set_cell(index, CHECKSUM, meta.checksum_base64_crc32c)
        elif row["error"]:
            self._set_cell(index, CHECKSUM, "failed")
        self._revalidate()

    def slide_problems(self, row: dict[str, Any]) -> list[str]:
        """Why a slide cannot be submitted with the current form (empty when it can)."""
        if row["error"]:
            return [row["error"]]
        if row["metadata"] is None:
            return ["metadata still being computed"]
        if not self.schema:
            return ["choose an application"]
        problems: list[str] = row["metadata"].submission_problems()
        values = self.form_values()
        unchosen = [f"choose {f.title}" for f in self.fields
                    if f.required and f.kind == "enum" and not values.get(f.key)]
        if unchosen:
            return problems + unchosen
        metadata = build_metadata(self.schema, row["metadata"].as_artifact_metadata(), values)
        return problems + validation_errors(self.schema, metadata)

    def _revalidate(self) -> None:
        ready = 0
        reasons: list[str] = []
        for index, row in enumerate(self.rows):
            problems = self.slide_problems(row)
            if row["metadata"] is None and not row["error"]:
                self._set_cell(index, VALID, "…")
                continue
            self._set_cell(index, VALID, "✔" if not problems else "✘", "\n".join(problems) or "ready")
            cell = self.table.item(index, VALID)
            if cell is not None:
                cell.setForeground(Qt.GlobalColor.darkGreen if not problems else Qt.GlobalColor.red)
            if problems:
                reasons.append(f"✘ <b>{escape(row['path'].name)}</b>: {escape('; '.join(problems))}")
            if not problems and row["use"].isChecked():
                ready += 1
        self.problems.setText("<br>".join(reasons))
        self.problems.setVisible(bool(reasons))
        pending = any(r["metadata"] is None and not r["error"] for r in self.rows)
        self.submit_button.setEnabled(ready > 0 and not pending and self.session.client is not None)
        self.submit_button.setText(
            f"Submit {ready} slide{'s' if ready != 1 else ''}" if ready else "Submit"
        )
        skipped = sum(1 for r in self.rows if r["use"].isChecked() and self.slide_problems(r))
        if ready and skipped:
            self.submit_button.setText(f"{self.submit_button.text()} (skip {skipped} invalid)")

    def skipped_slides(self) -> list[str]:
        """``name: reasons`` of each included slide that cannot be submitted (skipped on submit)."""
        return [
            f"{row['path'].name}: {'; '.join(problems)}"
            for row in self.rows
            if row["use"].isChecked() and (problems := self.slide_problems(row))
        ]

    # --- submit --------------------------------------------------------------------------------

    def submit(self) -> None:
        """Upload the included, valid slides and submit one run."""
        app = self.application.currentData()
        version = self.version.currentText()
        slides: list[tuple[SlideRef, dict[str, Any]]] = []
        for row in self.rows:
            if row["use"].isChecked() and not self.slide_problems(row):
                meta = build_metadata(
                    self.schema, row["metadata"].as_artifact_metadata(), self.form_values()
                )
                slides.append((row["metadata"].ref(row["layer"]), meta))
        if not slides or app is None:
            return
        self.session.settings.save()
        tags = [t.strip() for t in self.tags.text().split(",") if t.strip()]
        self.submit_button.setEnabled(False)
        skipped = self.skipped_slides()
        self.skipped_text = (
            f"<br>Skipped {len(skipped)} invalid slide{'s' if len(skipped) != 1 else ''}: "
            + escape("; ".join(skipped))
            if skipped
            else ""
        )
        self.status.setText("Uploading…" + self.skipped_text)
        external = {ref.external_id: ref for ref, _ in slides}
        self.pool.start(
            self.session.submit,
            app.application_id,
            version,
            slides,
            self.note.text().strip(),
            tags,
            self.relay.progress.emit,
            on_done=lambda run_id: self._submitted(run_id, external),
            on_error=self._failed,
        )

    def _show_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(message)

    def _submitted(self, run_id: str, external: dict[str, SlideRef]) -> None:
        from napari.utils.notifications import show_info

        self.progress.setValue(1000)
        self.progress.setFormat("submitted")
        self.status.setText(f"Run <b>{run_id}</b> submitted." + self.skipped_text)
        show_info(f"Run {run_id} submitted with {len(external)} slide(s).")
        self._revalidate()
        self.submitted.emit(run_id, external)

    def _failed(self, error: BaseException) -> None:
        from napari.utils.notifications import show_error

        from .workers import error_message

        self.status.setText(
            f"<span style='color:#e55'>Submission failed</span>: {error_message(error)}"
        )
        show_error(f"Submission failed: {error_message(error)}")
        self._revalidate()
