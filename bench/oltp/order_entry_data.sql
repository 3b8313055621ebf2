-- 4 warehouses x 10 districts x 3,000 customers and 3,000 orders per district, as TPC-C's
-- population (clause 4.3.3.1) but smaller: customers 1-1000 of each district take the 1,000
-- last names in turn (so every name exists in every district), the rest a random one; an
-- order's customer is a permutation of the district's customers; the newest 900 orders of a
-- district are undelivered. setseed makes both schemas get the same rows.
SELECT setseed(0.14);
INSERT INTO warehouse (w_id, w_name, w_ytd) SELECT w, 'W' || w, 300000 FROM generate_series(1, 4) AS w;
INSERT INTO district (d_w_id, d_id, d_name, d_ytd, d_next_o_id)
    SELECT w, d, 'D' || d, 30000, 3001 FROM generate_series(1, 4) AS w, generate_series(1, 10) AS d;
INSERT INTO customer (c_w_id, c_d_id, c_id, c_first, c_last, c_balance, c_payment_cnt, c_data)
    SELECT w, d, c, substr(md5(random()::text), 1, 8 + (c % 8)),
           'LAST' || lpad((CASE WHEN c <= 1000 THEN c - 1 ELSE floor(random() * 1000)::int END)::text, 3, '0'),
           -10, 1, substr(repeat(md5(random()::text), 16), 1, 300 + (c % 200))
    FROM generate_series(1, 4) AS w, generate_series(1, 10) AS d, generate_series(1, 3000) AS c;
INSERT INTO orders (o_w_id, o_d_id, o_id, o_c_id, o_entry_d, o_carrier_id, o_ol_cnt)
    SELECT w, d, o, (o * 7) % 3000 + 1, timestamp '2026-01-01' + o * interval '1 second',
           CASE WHEN o <= 2100 THEN 1 + (o % 10) END, 5 + (o % 11)
    FROM generate_series(1, 4) AS w, generate_series(1, 10) AS d, generate_series(1, 3000) AS o;
