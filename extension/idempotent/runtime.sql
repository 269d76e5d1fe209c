-- pg_steward: loading the Python package inside the server, and versions.
-- Reference: extension/runtime.md

CREATE OR REPLACE FUNCTION steward._load_python()
RETURNS void
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
import os
import sys

version = "@VERSION@"
# The package lives in the pkglibdir of the server running now: the directory it loaded plpython3.so from.
# That is the installation the script was built for (@PKGLIBDIR@), except after pg_upgrade moved the database
# to a newer installation: then the embedded path names the old one, which may be gone.
running = None
try:
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.rstrip("\n").split(None, 5)[-1]
            if path.endswith("/plpython3.so"):
                running = os.path.dirname(path)
                break
except OSError:  # not Linux: the installation the script was built for
    pass
candidates = [d + "/pg_steward/" + version for d in ([running] if running else []) + ["@PKGLIBDIR@"]]
package_dir = next((d for d in candidates if os.path.isfile(os.path.join(d, "pg_steward", "__init__.py"))),
                   candidates[0])
loaded = sys.modules.get("pg_steward")
if loaded is None:
    if not os.path.isfile(os.path.join(package_dir, "pg_steward", "__init__.py")):
        plpy.error(
            "pg_steward Python package %s is not installed on this server" % version,
            detail="It is expected in %s." % " or ".join(dict.fromkeys(candidates)),
            hint="Run \"make install\" (or \"pgxn install pg_steward\") for version %s." % version,
            sqlstate="58P01",
        )
    if package_dir not in sys.path:
        sys.path.insert(0, package_dir)
    import pg_steward as loaded
location = os.path.dirname(os.path.dirname(os.path.abspath(loaded.__file__)))
if loaded.__version__ != version or location != package_dir:
    plpy.error(
        "pg_steward version mismatch: the SQL objects are version %s, but this session loaded Python package %s"
        % (version, loaded.__version__),
        detail="The loaded package comes from %s; version %s belongs in %s." % (location, version, package_dir),
        hint="Open a new session. If the error persists, install version %s with \"make install\"." % version,
        sqlstate="55000",
    )
from pg_steward import runtime
runtime.attach(plpy)
GD["pg_steward"] = version
$python$;

COMMENT ON FUNCTION steward._load_python() IS
  'Internal: loads the pg_steward Python package of this SQL version into the session';

CREATE OR REPLACE FUNCTION steward.version(
    OUT sql_version text,
    OUT python_version text,
    OUT package_dir text,
    OUT pglast_version text,
    OUT interpreter text)
RETURNS record
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.runtime.versions()
$python$;

COMMENT ON FUNCTION steward.version() IS
  'Versions of the installed SQL objects, the loaded Python package, pglast and the server''s Python';
