"""The ``pg-steward`` command line."""
