-- Installing pg_steward on a database where nothing was prepared.
CREATE EXTENSION pg_steward CASCADE;

SELECT sql_version = python_version AS versions_match,
       pglast_version IS NOT NULL AS pglast_installed
FROM steward.version();

-- Every function runs as its caller with a pinned search_path (the
-- procedure, which COMMITs, cannot carry SET clauses).
SELECT p.proname AS name,
       p.prokind AS kind,
       p.prosecdef AS security_definer,
       'search_path=pg_catalog, pg_temp' = ANY (p.proconfig) AS search_path_pinned
FROM pg_proc p
WHERE p.pronamespace = 'steward'::regnamespace
ORDER BY 1;
