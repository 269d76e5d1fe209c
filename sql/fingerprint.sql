-- Statement fingerprints come from the parse tree: constants and IN-list
-- lengths do not change them; text that does not parse gives NULL.
SELECT q, steward.query_fingerprint(q) = steward.query_fingerprint('SELECT * FROM t WHERE id = 1') AS same_shape
FROM (VALUES ('SELECT * FROM t WHERE id = 42'),
             ('select *   from t where id = 7 -- a comment'),
             ('SELECT * FROM t WHERE name = ''x'''),
             ('SELEC garbage')) AS v(q);

SELECT steward.query_fingerprint('SELECT * FROM t WHERE id IN (1, 2)')
     = steward.query_fingerprint('SELECT * FROM t WHERE id IN (1, 2, 3)') AS in_lists_group_together;

SELECT steward.normalize_query('SELECT * FROM orders WHERE total > 100 AND status = ''paid''');
SELECT steward.normalize_query('not sql at all') IS NULL AS unparseable_is_null;
