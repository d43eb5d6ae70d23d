"""Tools for development and tests: stand-ins for upstream services."""
