-- Epinions at scale factor 10, drawn as BenchBase's loader draws it (users 2,000 and items 1,000
-- per scale factor; each item's number of reviews from a Zipfian over 500 per scale factor with
-- exponent 1.8, at least one; distinct reviewers per item, skewed towards heavy reviewers; each
-- user's number of trust statements from a Zipfian over 200 per scale factor with exponent 1.95,
-- distinct targets). The Zipfian draws are the continuous inverse (a Pareto bounded at the
-- maximum), not BenchBase's generator. setseed makes both schemas get the same rows.
SELECT setseed(0.27);
INSERT INTO useracct (u_id, name) SELECT u, substr(md5(random()::text), 1, 24) FROM generate_series(0, 19999) AS u;
INSERT INTO item (i_id, title) SELECT i, substr(md5(random()::text), 1, 20) FROM generate_series(0, 9999) AS i;
INSERT INTO review (a_id, u_id, i_id, rating, rank)
    SELECT (row_number() OVER (ORDER BY i_id, u_id) - 1)::int, u_id, i_id, floor(random() * 5)::int, NULL
    FROM (SELECT DISTINCT i_id, u_id FROM (
        SELECT counts.i_id, floor(20000 * power(random(), 3))::int AS u_id
        FROM (SELECT i_id, greatest(1, floor(power(1 - random() * (1 - power(5001, -0.8)), -1 / 0.8))::int - 1) AS n
              FROM item ORDER BY i_id) AS counts,
             LATERAL generate_series(1, counts.n) AS draw) AS draws) AS pairs;
INSERT INTO trust (source_u_id, target_u_id, trust, creation_date)
    SELECT DISTINCT ON (source_u_id, target_u_id) source_u_id, target_u_id, floor(random() * 2)::int,
           timestamp '2026-01-01' + source_u_id * interval '1 minute'
    FROM (SELECT counts.u_id AS source_u_id, floor(random() * 20000)::int AS target_u_id
          FROM (SELECT u_id, floor(power(1 - random() * (1 - power(2001, -0.95)), -1 / 0.95))::int - 1 AS n
                FROM useracct ORDER BY u_id) AS counts,
               LATERAL generate_series(1, counts.n) AS draw) AS draws
    ORDER BY source_u_id, target_u_id;
