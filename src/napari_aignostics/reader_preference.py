"""Make this plugin napari's preferred reader for slides and results (no "Choose reader" dialog).

napari asks which plugin should read a file when several claim it (its built-in reader claims
``.tif``, ``.csv`` and folders too) unless ``settings.plugins.extension2reader`` names one for a
matching filename pattern. On activation (the first time napari runs any of this plugin's
contributions in a session) every pattern of our reader contributions that has no preference yet
is set to this plugin; a pattern the user already assigned to some reader is never changed.
"""

from __future__ import annotations

__all__ = ["FOLDER_PATTERN", "PLUGIN_NAME", "activate", "our_patterns", "prefer_our_readers"]

PLUGIN_NAME = "napari-aignostics"
FOLDER_PATTERN = "*/"
"""napari matches folders as ``<path>/``: this pattern makes us the preferred folder reader."""


def our_patterns() -> list[str]:
    """Filename patterns of this plugin's reader contributions (from its manifest)."""
    import npe2

    manifest = npe2.PluginManager.instance().get_manifest(PLUGIN_NAME)
    patterns: list[str] = []
    for reader in manifest.contributions.readers or []:
        patterns.extend(p for p in reader.filename_patterns if p not in patterns)
        if reader.accepts_directories and FOLDER_PATTERN not in patterns:
            patterns.append(FOLDER_PATTERN)
    return patterns


def prefer_our_readers() -> list[str]:
    """Set this plugin as preferred reader where no preference exists; the patterns it set."""
    from napari.settings import get_settings

    plugins = get_settings().plugins
    current = dict(plugins.extension2reader)
    added = [p for p in our_patterns() if p not in current]
    if added:
        plugins.extension2reader = {**current, **dict.fromkeys(added, PLUGIN_NAME)}
    return added


def activate(context: object) -> None:
    """npe2 ``on_activate`` hook: prefer our readers (never overriding a user's choice)."""
    del context
    prefer_our_readers()
