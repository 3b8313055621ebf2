-- The expert schema for Epinions: the tables BenchBase's PostgreSQL DDL creates for the workload
-- (benchmarks/epinions/ddl-postgres.sql; its review_rating table, which no procedure reads or
-- writes, is left out): primary keys on users and items only, one single-column index per
-- column the procedures filter reviews and trust statements by, foreign keys.
CREATE TABLE useracct (u_id INTEGER NOT NULL, name VARCHAR(128) DEFAULT NULL, PRIMARY KEY (u_id));
CREATE TABLE item (i_id INTEGER NOT NULL, title VARCHAR(20) DEFAULT NULL, PRIMARY KEY (i_id));
CREATE TABLE review (
    a_id INTEGER NOT NULL, u_id INTEGER NOT NULL, i_id INTEGER NOT NULL,
    rating INTEGER DEFAULT NULL, rank INTEGER DEFAULT NULL,
    FOREIGN KEY (u_id) REFERENCES useracct (u_id) ON DELETE CASCADE,
    FOREIGN KEY (i_id) REFERENCES item (i_id) ON DELETE CASCADE);
CREATE INDEX idx_rating_uid ON review (u_id);
CREATE INDEX idx_rating_aid ON review (a_id);
CREATE INDEX idx_rating_iid ON review (i_id);
CREATE TABLE trust (
    source_u_id INTEGER NOT NULL, target_u_id INTEGER NOT NULL, trust INTEGER NOT NULL,
    creation_date TIMESTAMP DEFAULT NULL,
    FOREIGN KEY (source_u_id) REFERENCES useracct (u_id) ON DELETE CASCADE,
    FOREIGN KEY (target_u_id) REFERENCES useracct (u_id) ON DELETE CASCADE);
CREATE INDEX idx_trust_sid ON trust (source_u_id);
CREATE INDEX idx_trust_tid ON trust (target_u_id);
