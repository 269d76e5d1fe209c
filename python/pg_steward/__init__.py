"""pg_steward: the Python package behind the pg_steward PostgreSQL extension.

The same code runs inside the server (PL/Python, through ``plpy``) and in the
``pg-steward`` command line (through psycopg); see ``db.py`` for the seam.
"""

__version__ = "0.2.0"
