-- Installing pg_steward on a database where nothing was prepared.
CREATE EXTENSION pg_steward CASCADE;

SELECT sql_version = python_version AS versions_match,
       pglast_version IS NOT NULL AS pglast_installed
FROM steward.version();

-- Every function runs as its caller with a pinned search_path.
SELECT p.oid::regprocedure AS function,
       p.prosecdef AS security_definer,
       p.proconfig AS settings
FROM pg_proc p
WHERE p.pronamespace = 'steward'::regnamespace
ORDER BY 1::text;
