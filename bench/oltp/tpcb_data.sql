-- Scale 5, as `pgbench -i -s 5` fills its tables (fillers blank, balances 0).
INSERT INTO branch (bid, bbalance, filler) SELECT b, 0, repeat(' ', 88) FROM generate_series(1, 5) AS b;
INSERT INTO teller (tid, bid, tbalance, filler) SELECT t, (t - 1) / 10 + 1, 0, repeat(' ', 84) FROM generate_series(1, 50) AS t;
INSERT INTO account (aid, bid, abalance, filler)
    SELECT a, (a - 1) / 100000 + 1, 0, repeat(' ', 84) FROM generate_series(1, 500000) AS a;
