"""The napari dock widget: thin Qt views over the workflow session, running every slow step in thread workers."""
