"""Whole-slide images (Qt-free): open as lazy pyramids, physical scale, metadata and CRC32C for submission, the slide reference."""
