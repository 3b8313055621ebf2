-- The expert schema for the order-entry subset of TPC-C, as the open implementations write it
-- (BenchmarkSQL's tableCreates.sql, indexCreates.sql and foreignKeys.sql; HammerDB's PostgreSQL
-- schema builds the same two secondary indexes): composite primary keys, the customer-by-name
-- index (c_w_id, c_d_id, c_last, c_first) and the orders-by-customer index
-- (o_w_id, o_d_id, o_c_id, o_id), foreign keys through the child's own columns.
CREATE TABLE warehouse (
    w_id INTEGER NOT NULL, w_name VARCHAR(10) NOT NULL, w_ytd NUMERIC(12, 2) NOT NULL,
    PRIMARY KEY (w_id));
CREATE TABLE district (
    d_w_id INTEGER NOT NULL, d_id INTEGER NOT NULL, d_name VARCHAR(10) NOT NULL,
    d_ytd NUMERIC(12, 2) NOT NULL, d_next_o_id INTEGER NOT NULL,
    PRIMARY KEY (d_w_id, d_id),
    FOREIGN KEY (d_w_id) REFERENCES warehouse (w_id));
CREATE TABLE customer (
    c_w_id INTEGER NOT NULL, c_d_id INTEGER NOT NULL, c_id INTEGER NOT NULL,
    c_first VARCHAR(16) NOT NULL, c_last VARCHAR(16) NOT NULL, c_balance NUMERIC(12, 2) NOT NULL,
    c_payment_cnt INTEGER NOT NULL, c_data VARCHAR(500) NOT NULL,
    PRIMARY KEY (c_w_id, c_d_id, c_id),
    FOREIGN KEY (c_w_id, c_d_id) REFERENCES district (d_w_id, d_id));
CREATE INDEX customer_name ON customer (c_w_id, c_d_id, c_last, c_first);
CREATE TABLE orders (
    o_w_id INTEGER NOT NULL, o_d_id INTEGER NOT NULL, o_id INTEGER NOT NULL, o_c_id INTEGER NOT NULL,
    o_entry_d TIMESTAMP NOT NULL, o_carrier_id INTEGER, o_ol_cnt INTEGER NOT NULL,
    PRIMARY KEY (o_w_id, o_d_id, o_id),
    FOREIGN KEY (o_w_id, o_d_id, o_c_id) REFERENCES customer (c_w_id, c_d_id, c_id));
CREATE UNIQUE INDEX orders_customer ON orders (o_w_id, o_d_id, o_c_id, o_id);
