"""Qt-free results: artifact files of a run item become tables, rasters and napari layer data; review state; QuPath export."""
