"""The one guarded way to load pglast.

pglast bundles libpg_query, which exports the same C symbols as the server
(``palloc``, ``raw_parser``, ...). Loaded plainly inside a backend, its parser
binds to the server's symbols and crashes the whole server. Loading its
extension module with ``RTLD_DEEPBIND`` makes it resolve its own symbols first.
That only works if the module is loaded here, first: once it is in memory
with the wrong binding, no later import can repair it, so we refuse to use a
pglast that someone else imported in this server process.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

from pg_steward.errors import OBJECT_NOT_IN_PREREQUISITE_STATE, StewardError

_pglast: ModuleType | None = None


def _imported_elsewhere() -> bool:
    return any(name == "pglast" or name.startswith("pglast.") for name in sys.modules)


def load() -> ModuleType:
    """Return the ``pglast`` module, loading it safely on first use."""
    global _pglast
    if _pglast is not None:
        return _pglast
    if _imported_elsewhere() and "plpy" in sys.modules:
        raise StewardError(
            "pglast was loaded in this server session outside pg_steward's guarded loader",
            OBJECT_NOT_IN_PREREQUISITE_STATE,
            detail="Using it could crash the server, so pg_steward refuses to parse SQL here.",
            hint="Open a new session and do not import pglast from other PL/Python code.",
        )
    flags = sys.getdlopenflags()
    sys.setdlopenflags(os.RTLD_NOW | os.RTLD_DEEPBIND)
    try:
        import pglast
        import pglast.parser
    finally:
        sys.setdlopenflags(flags)
    _pglast = pglast
    return pglast
