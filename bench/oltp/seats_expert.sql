-- The expert schema for SEATS: the tables of BenchBase's PostgreSQL DDL
-- (benchmarks/seats/ddl-postgres.sql) that the modelled procedures use, with their keys, unique
-- rules, foreign keys between them and their two secondary indexes (customer's c_id_str unique
-- rule, flight's f_depart_time_idx). Left out, as in bench/oltp/seats.yaml: country (and the
-- references to it), airport_distance, frequent_flyer, config_profile, config_histograms, and
-- the filler columns of airport, airline and customer that no modelled procedure touches.
CREATE TABLE airport (
    ap_id          bigint       NOT NULL,
    ap_code        varchar(3)   NOT NULL,
    ap_name        varchar(128) NOT NULL,
    ap_city        varchar(64)  NOT NULL,
    ap_longitude   float,
    ap_latitude    float,
    PRIMARY KEY (ap_id)
);
CREATE TABLE airline (
    al_id        bigint       NOT NULL,
    al_iata_code varchar(3),
    al_name      varchar(128) NOT NULL,
    al_iattr00   bigint,
    al_iattr01   bigint,
    PRIMARY KEY (al_id)
);
CREATE TABLE customer (
    c_id         bigint             NOT NULL,
    c_id_str     varchar(64) UNIQUE NOT NULL,
    c_base_ap_id bigint REFERENCES airport (ap_id),
    c_balance    float              NOT NULL,
    c_sattr00    varchar(32),
    c_iattr00 bigint,
    c_iattr01 bigint,
    c_iattr02 bigint,
    c_iattr03 bigint,
    c_iattr04 bigint,
    c_iattr05 bigint,
    c_iattr06 bigint,
    c_iattr07 bigint,
    c_iattr08 bigint,
    c_iattr09 bigint,
    c_iattr10 bigint,
    c_iattr11 bigint,
    c_iattr12 bigint,
    c_iattr13 bigint,
    c_iattr14 bigint,
    c_iattr15 bigint,
    c_iattr16 bigint,
    c_iattr17 bigint,
    c_iattr18 bigint,
    c_iattr19 bigint,
    PRIMARY KEY (c_id)
);
CREATE TABLE flight (
    f_id           bigint    NOT NULL,
    f_al_id        bigint    NOT NULL REFERENCES airline (al_id),
    f_depart_ap_id bigint    NOT NULL REFERENCES airport (ap_id),
    f_depart_time  timestamp NOT NULL,
    f_arrive_ap_id bigint    NOT NULL REFERENCES airport (ap_id),
    f_arrive_time  timestamp NOT NULL,
    f_status       bigint    NOT NULL,
    f_base_price   float     NOT NULL,
    f_seats_total  bigint    NOT NULL,
    f_seats_left   bigint    NOT NULL,
    f_iattr00 bigint,
    f_iattr01 bigint,
    f_iattr02 bigint,
    f_iattr03 bigint,
    f_iattr04 bigint,
    f_iattr05 bigint,
    f_iattr06 bigint,
    f_iattr07 bigint,
    f_iattr08 bigint,
    f_iattr09 bigint,
    f_iattr10 bigint,
    f_iattr11 bigint,
    f_iattr12 bigint,
    f_iattr13 bigint,
    f_iattr14 bigint,
    f_iattr15 bigint,
    f_iattr16 bigint,
    f_iattr17 bigint,
    f_iattr18 bigint,
    f_iattr19 bigint,
    f_iattr20 bigint,
    f_iattr21 bigint,
    f_iattr22 bigint,
    f_iattr23 bigint,
    f_iattr24 bigint,
    f_iattr25 bigint,
    f_iattr26 bigint,
    f_iattr27 bigint,
    f_iattr28 bigint,
    f_iattr29 bigint,
    PRIMARY KEY (f_id)
);
CREATE INDEX f_depart_time_idx ON flight (f_depart_time);
CREATE TABLE reservation (
    r_id      bigint NOT NULL,
    r_c_id    bigint NOT NULL REFERENCES customer (c_id),
    r_f_id    bigint NOT NULL REFERENCES flight (f_id),
    r_seat    bigint NOT NULL,
    r_price   float  NOT NULL,
    r_iattr00 bigint,
    r_iattr01 bigint,
    r_iattr02 bigint,
    r_iattr03 bigint,
    r_iattr04 bigint,
    r_iattr05 bigint,
    r_iattr06 bigint,
    r_iattr07 bigint,
    r_iattr08 bigint,
    UNIQUE (r_f_id, r_seat),
    PRIMARY KEY (r_id, r_c_id, r_f_id)
);
