"""napari-aignostics."""
