-- SEATS (bench/oltp/seats.yaml) drawn after BenchBase's loader: 300 airports and 60 airlines;
-- 50,000 customers, each with a 16-character string id and a home airport; 1,500 flights a day (the
-- loader's flights per day at scale factor 1) over 15 days, numbered in order of departure, the
-- departure and arrival airports skewed towards hubs (the square of a uniform draw over 300), 150
-- seats each with 0-50 taken; one reservation per taken seat, by a random customer, loaded flight by
-- flight as the loader writes them. setseed makes both schemas get the same rows.
SELECT setseed(0.42);
INSERT INTO airport (ap_id, ap_code, ap_name, ap_city, ap_longitude, ap_latitude)
    SELECT a, upper(substr(md5(a::text), 1, 3)), 'Airport ' || a, 'City ' || a, random() * 360 - 180, random() * 180 - 90
    FROM generate_series(0, 299) AS a;
INSERT INTO airline (al_id, al_iata_code, al_name, al_iattr00, al_iattr01)
    SELECT l, upper(substr(md5(l::text), 4, 3)), 'Airline ' || l, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint
    FROM generate_series(0, 59) AS l;
INSERT INTO customer (c_id, c_id_str, c_base_ap_id, c_balance, c_sattr00, c_iattr00, c_iattr01, c_iattr02, c_iattr03, c_iattr04, c_iattr05, c_iattr06, c_iattr07, c_iattr08, c_iattr09, c_iattr10, c_iattr11, c_iattr12, c_iattr13, c_iattr14, c_iattr15, c_iattr16, c_iattr17, c_iattr18, c_iattr19)
    SELECT c, lpad(c::text, 16, '0'), floor(300 * power(random(), 2))::bigint, round((random() * 1000)::numeric, 2)::float,
           substr(md5(random()::text), 1, 24), floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint, floor(random() * 1000)::bigint
    FROM generate_series(0, 49999) AS c;
INSERT INTO flight (f_id, f_al_id, f_depart_ap_id, f_depart_time, f_arrive_ap_id, f_arrive_time, f_status,
                    f_base_price, f_seats_total, f_seats_left, f_iattr00, f_iattr01, f_iattr02, f_iattr03, f_iattr04, f_iattr05, f_iattr06, f_iattr07, f_iattr08, f_iattr09, f_iattr10, f_iattr11, f_iattr12, f_iattr13, f_iattr14, f_iattr15, f_iattr16, f_iattr17, f_iattr18, f_iattr19, f_iattr20, f_iattr21, f_iattr22, f_iattr23, f_iattr24, f_iattr25, f_iattr26, f_iattr27, f_iattr28, f_iattr29)
    SELECT f, al, dep, depart, CASE WHEN arr = dep THEN (arr + 1) % 300 ELSE arr END, depart + (1 + floor(random() * 10)) * interval '1 hour',
           0, round((100 + random() * 900)::numeric, 2)::float, 150, 150 - floor(random() * 51)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint
    FROM (SELECT f, floor(random() * 60)::bigint AS al, floor(300 * power(random(), 2))::bigint AS dep,
                 floor(300 * power(random(), 2))::bigint AS arr,
                 timestamp '2026-12-01' + f * interval '57.6 seconds' AS depart
          FROM generate_series(0, 22499) AS f) AS drawn;
INSERT INTO reservation (r_id, r_c_id, r_f_id, r_seat, r_price, r_iattr00, r_iattr01, r_iattr02, r_iattr03, r_iattr04, r_iattr05, r_iattr06, r_iattr07, r_iattr08)
    SELECT (row_number() OVER (ORDER BY f_id, s) - 1)::bigint, floor(random() * 50000)::bigint, f_id, (s * 7 + f_id) % 150,
           round((100 + random() * 900)::numeric, 2)::float, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint, (random() * 9.2e18)::bigint
    FROM flight, LATERAL generate_series(0, 149 - f_seats_left) AS s
    WHERE s < 150 - f_seats_left
    ORDER BY f_id, s;
