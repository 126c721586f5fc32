"""Qt-free client of the Aignostics Platform API v1: models, auth, runs, uploads, downloads, the results-folder layout, CLI verbs."""
