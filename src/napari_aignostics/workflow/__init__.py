"""Qt-free state and steps behind the dock widget: run labels, input forms, connection, submission."""
