-- intersect schema v1 (PostgreSQL). Every table keeps the event's full JSON
-- in body (jsonb, so analysts can query it); the other columns exist to
-- filter, group and index. IDs compare bytewise (COLLATE "C") so keyset
-- pagination matches the index order.

-- near_misses is partitioned by month of ts. Partitions are created by the
-- store before it writes a batch that needs them; the DEFAULT partition only
-- catches what slips past that. The primary key must include the partition
-- key; a retried event carries the identical body, so (id, ts) still dedupes.
CREATE TABLE near_misses (
    id             TEXT COLLATE "C" NOT NULL,
    site           TEXT NOT NULL,
    camera         TEXT NOT NULL,
    ts             TIMESTAMPTZ NOT NULL,
    type           TEXT NOT NULL,
    severity       TEXT NOT NULL,
    weight         DOUBLE PRECISION NOT NULL,
    class_a        TEXT NOT NULL,
    class_b        TEXT NOT NULL,
    min_ttc_s      DOUBLE PRECISION,
    pet_s          DOUBLE PRECISION,
    max_drac_mps2  DOUBLE PRECISION,
    min_distance_m DOUBLE PRECISION NOT NULL,
    weather        TEXT NOT NULL DEFAULT '',
    zone           TEXT NOT NULL DEFAULT '',
    approach       TEXT NOT NULL DEFAULT '',
    movement       TEXT NOT NULL DEFAULT '',
    lat            DOUBLE PRECISION NOT NULL,
    lng            DOUBLE PRECISION NOT NULL,
    cell           BIGINT NOT NULL, -- leaf S2 cell, top bit flipped (store.CellKey)
    body           JSONB NOT NULL,
    PRIMARY KEY (id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE near_misses_default PARTITION OF near_misses DEFAULT;
-- The site index covers the columns heatmaps and stats aggregate, so those
-- run as index-only scans instead of reading the wide rows (body).
CREATE INDEX near_misses_site_ts ON near_misses (site, ts DESC, id DESC)
    INCLUDE (cell, weight, severity, type, approach, weather);
CREATE INDEX near_misses_camera_ts ON near_misses (camera, ts DESC, id DESC);
CREATE INDEX near_misses_ts ON near_misses (ts DESC, id DESC);
CREATE INDEX near_misses_cell ON near_misses (cell);

CREATE TABLE track_summaries (
    id        TEXT COLLATE "C" PRIMARY KEY,
    site      TEXT NOT NULL,
    camera    TEXT NOT NULL,
    ts        TIMESTAMPTZ NOT NULL,
    class     TEXT NOT NULL,
    approach  TEXT NOT NULL DEFAULT '',
    movement  TEXT NOT NULL DEFAULT '',
    crosswalk TEXT NOT NULL DEFAULT '',
    body      JSONB NOT NULL
);
CREATE INDEX track_summaries_site_ts ON track_summaries (site, ts);
CREATE INDEX track_summaries_camera_ts ON track_summaries (camera, ts);

CREATE TABLE camera_health (
    id     TEXT COLLATE "C" PRIMARY KEY,
    site   TEXT NOT NULL,
    camera TEXT NOT NULL,
    ts     TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL,
    body   JSONB NOT NULL
);
CREATE INDEX camera_health_camera_ts ON camera_health (site, camera, ts, id);

CREATE TABLE weather (
    id        TEXT COLLATE "C" PRIMARY KEY,
    site      TEXT NOT NULL,
    ts        TIMESTAMPTZ NOT NULL,
    condition TEXT NOT NULL,
    body      JSONB NOT NULL
);
CREATE INDEX weather_site_ts ON weather (site, ts, id);

CREATE TABLE recommendations (
    id         TEXT COLLATE "C" PRIMARY KEY,
    site       TEXT NOT NULL,
    controller TEXT NOT NULL,
    ts         TIMESTAMPTZ NOT NULL,
    rule       TEXT NOT NULL,
    state      TEXT NOT NULL,
    body       JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX recommendations_site_ts ON recommendations (site, ts);

CREATE TABLE recommendation_transitions (
    seq               BIGSERIAL PRIMARY KEY,
    recommendation_id TEXT COLLATE "C" NOT NULL REFERENCES recommendations (id),
    from_state        TEXT NOT NULL,
    to_state          TEXT NOT NULL,
    by_whom           TEXT NOT NULL,
    why               TEXT NOT NULL,
    at                TIMESTAMPTZ NOT NULL
);
CREATE INDEX recommendation_transitions_rec ON recommendation_transitions (recommendation_id, seq);

CREATE TABLE acks (
    id                TEXT COLLATE "C" PRIMARY KEY,
    site              TEXT NOT NULL,
    controller        TEXT NOT NULL,
    recommendation_id TEXT NOT NULL,
    ts                TIMESTAMPTZ NOT NULL,
    result            TEXT NOT NULL,
    reason            TEXT NOT NULL DEFAULT '',
    body              JSONB NOT NULL
);
CREATE INDEX acks_rec ON acks (recommendation_id);

CREATE TABLE dead_letters (
    seq     BIGSERIAL PRIMARY KEY,
    key     TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    data    BYTEA NOT NULL,
    reason  TEXT NOT NULL,
    at      TIMESTAMPTZ NOT NULL
);

-- cameras is maintained by Write so that Sites never scans the events.
CREATE TABLE cameras (
    site        TEXT NOT NULL,
    camera      TEXT NOT NULL,
    near_misses BIGINT NOT NULL DEFAULT 0,
    tracks      BIGINT NOT NULL DEFAULT 0,
    last_seen   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (site, camera)
);
