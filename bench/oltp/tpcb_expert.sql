-- The expert schema for pgbench's TPC-B-like workload: pgbench's own tables (`pgbench -i`,
-- PostgreSQL 15, default fillfactor 100, no foreign keys: `-I dtgvp`), under the model's table
-- names. The history table is append-only and has no key.
CREATE TABLE branch (bid INTEGER NOT NULL, bbalance INTEGER NOT NULL, filler CHAR(88));
CREATE TABLE teller (tid INTEGER NOT NULL, bid INTEGER NOT NULL, tbalance INTEGER NOT NULL, filler CHAR(84));
CREATE TABLE account (aid INTEGER NOT NULL, bid INTEGER NOT NULL, abalance INTEGER NOT NULL, filler CHAR(84))
    WITH (fillfactor = 100);
CREATE TABLE history (tid INTEGER, bid INTEGER, aid INTEGER, delta INTEGER, mtime TIMESTAMP, filler CHAR(22));
ALTER TABLE branch ADD PRIMARY KEY (bid);
ALTER TABLE teller ADD PRIMARY KEY (tid);
ALTER TABLE account ADD PRIMARY KEY (aid);
