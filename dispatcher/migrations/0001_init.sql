-- Schema of the store, the same for SQLite and PostgreSQL (sqlx Any driver:
-- portable types only). Times are microseconds since the Unix epoch; domain
-- objects are kept whole as JSON in `body`, with the columns that queries
-- filter or lock on beside them.

CREATE TABLE event_counter (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq BIGINT NOT NULL);
INSERT INTO event_counter (id, last_seq) VALUES (1, 0);

CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    at_us BIGINT NOT NULL,
    actor_role TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    incident_id TEXT,
    unit_id TEXT,
    body TEXT NOT NULL
);
CREATE INDEX events_by_incident ON events (incident_id, seq);

CREATE TABLE incident_numbers (year BIGINT PRIMARY KEY, last BIGINT NOT NULL);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    status TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    priority BIGINT NOT NULL,
    created_us BIGINT NOT NULL,
    updated_us BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX incidents_by_queue ON incidents (queue, active, created_us);
CREATE INDEX incidents_by_updated ON incidents (updated_us);

CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    received_us BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX reports_by_incident ON reports (incident_id, received_us);

CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    caller TEXT NOT NULL,
    status TEXT NOT NULL,
    offered_us BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX calls_by_caller ON calls (caller, offered_us);
CREATE INDEX calls_by_status ON calls (status);

CREATE TABLE call_events (
    call_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    PRIMARY KEY (call_id, kind, at_us)
);

CREATE TABLE units (
    id TEXT PRIMARY KEY,
    unit_type TEXT NOT NULL,
    status TEXT NOT NULL,
    incident_id TEXT,
    body TEXT NOT NULL
);

CREATE TABLE assignments (
    unit_id TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    dispatched_us BIGINT NOT NULL,
    ack_deadline_us BIGINT NOT NULL,
    acked_us BIGINT,
    overdue_us BIGINT,
    released_us BIGINT,
    PRIMARY KEY (unit_id, dispatched_us)
);
CREATE INDEX assignments_open ON assignments (released_us, acked_us, ack_deadline_us);

CREATE TABLE unit_positions (
    unit_id TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    accuracy_m DOUBLE PRECISION,
    heading_deg DOUBLE PRECISION,
    speed_mps DOUBLE PRECISION
);
CREATE INDEX unit_positions_by_unit ON unit_positions (unit_id, at_us);

CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    unit_id TEXT,
    created_us BIGINT NOT NULL
);

CREATE TABLE idempotency (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);
