-- intersect schema v1 (SQLite). Times are Unix nanoseconds (INTEGER) so
-- that range filters and keyset pagination compare integers. Every table
-- keeps the event's full JSON in body; the other columns exist to filter,
-- group and index.

CREATE TABLE near_misses (
    id             TEXT PRIMARY KEY,
    site           TEXT NOT NULL,
    camera         TEXT NOT NULL,
    ts             INTEGER NOT NULL,
    type           TEXT NOT NULL,
    severity       TEXT NOT NULL,
    weight         REAL NOT NULL,
    class_a        TEXT NOT NULL,
    class_b        TEXT NOT NULL,
    min_ttc_s      REAL,
    pet_s          REAL,
    max_drac_mps2  REAL,
    min_distance_m REAL NOT NULL,
    weather        TEXT NOT NULL DEFAULT '',
    zone           TEXT NOT NULL DEFAULT '',
    approach       TEXT NOT NULL DEFAULT '',
    movement       TEXT NOT NULL DEFAULT '',
    lat            REAL NOT NULL,
    lng            REAL NOT NULL,
    cell           INTEGER NOT NULL, -- leaf S2 cell, top bit flipped (store.CellKey)
    body           TEXT NOT NULL
);
-- The site index carries the columns heatmaps and stats aggregate, so
-- SQLite answers those from the index without reading the wide rows.
CREATE INDEX near_misses_site_ts ON near_misses (site, ts DESC, id DESC, cell, weight, severity, type, approach, weather);
CREATE INDEX near_misses_camera_ts ON near_misses (camera, ts DESC, id DESC);
CREATE INDEX near_misses_ts ON near_misses (ts DESC, id DESC);
CREATE INDEX near_misses_cell ON near_misses (cell);

CREATE TABLE track_summaries (
    id        TEXT PRIMARY KEY,
    site      TEXT NOT NULL,
    camera    TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    class     TEXT NOT NULL,
    approach  TEXT NOT NULL DEFAULT '',
    movement  TEXT NOT NULL DEFAULT '',
    crosswalk TEXT NOT NULL DEFAULT '',
    body      TEXT NOT NULL
);
CREATE INDEX track_summaries_site_ts ON track_summaries (site, ts);
CREATE INDEX track_summaries_camera_ts ON track_summaries (camera, ts);

CREATE TABLE camera_health (
    id     TEXT PRIMARY KEY,
    site   TEXT NOT NULL,
    camera TEXT NOT NULL,
    ts     INTEGER NOT NULL,
    status TEXT NOT NULL,
    body   TEXT NOT NULL
);
CREATE INDEX camera_health_camera_ts ON camera_health (site, camera, ts, id);

CREATE TABLE weather (
    id        TEXT PRIMARY KEY,
    site      TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    condition TEXT NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX weather_site_ts ON weather (site, ts, id);

CREATE TABLE recommendations (
    id         TEXT PRIMARY KEY,
    site       TEXT NOT NULL,
    controller TEXT NOT NULL,
    ts         INTEGER NOT NULL,
    rule       TEXT NOT NULL,
    state      TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX recommendations_site_ts ON recommendations (site, ts);

CREATE TABLE recommendation_transitions (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    recommendation_id TEXT NOT NULL REFERENCES recommendations (id),
    from_state        TEXT NOT NULL,
    to_state          TEXT NOT NULL,
    by_whom           TEXT NOT NULL,
    why               TEXT NOT NULL,
    at                INTEGER NOT NULL
);
CREATE INDEX recommendation_transitions_rec ON recommendation_transitions (recommendation_id, seq);

CREATE TABLE acks (
    id                TEXT PRIMARY KEY,
    site              TEXT NOT NULL,
    controller        TEXT NOT NULL,
    recommendation_id TEXT NOT NULL,
    ts                INTEGER NOT NULL,
    result            TEXT NOT NULL,
    reason            TEXT NOT NULL DEFAULT '',
    body              TEXT NOT NULL
);
CREATE INDEX acks_rec ON acks (recommendation_id);

CREATE TABLE dead_letters (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    key     TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    data    BLOB NOT NULL,
    reason  TEXT NOT NULL,
    at      INTEGER NOT NULL
);

-- cameras is maintained by Write so that Sites never scans the events.
CREATE TABLE cameras (
    site        TEXT NOT NULL,
    camera      TEXT NOT NULL,
    near_misses INTEGER NOT NULL DEFAULT 0,
    tracks      INTEGER NOT NULL DEFAULT 0,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (site, camera)
);
