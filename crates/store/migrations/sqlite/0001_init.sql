-- Schema version 1: state machines (and their published versions), executions, history events
-- and timers. Applied once, inside the open transaction; `PRAGMA user_version` records it.
-- SQLite dialect; a PostgreSQL backend keeps its own scripts beside this folder.

CREATE TABLE state_machines (
    arn          TEXT    NOT NULL PRIMARY KEY,
    -- the machine this row belongs to: itself for a machine, the parent for a version
    machine_arn  TEXT    NOT NULL,
    -- NULL for the machine itself, n for the published version `<machine arn>:<n>`
    version      INTEGER,
    name         TEXT    NOT NULL,
    machine_type TEXT    NOT NULL,
    definition   TEXT    NOT NULL,
    role_arn     TEXT    NOT NULL,
    description  TEXT,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    revision_id  TEXT    NOT NULL,
    -- JSON array of [key, value] pairs
    tags         TEXT    NOT NULL,
    extra        TEXT
);
CREATE INDEX state_machines_by_name ON state_machines (name, arn) WHERE version IS NULL;
CREATE INDEX state_machines_by_parent ON state_machines (machine_arn, version);

-- `seq` is the row's key inside this file, handed out in insertion order: history rows refer
-- to it instead of repeating the ARN, so their index stays small and grows at its end.
CREATE TABLE executions (
    seq               INTEGER PRIMARY KEY,
    arn               TEXT    NOT NULL UNIQUE,
    state_machine_arn TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    input             TEXT    NOT NULL,
    output            TEXT,
    error             TEXT,
    cause             TEXT,
    start_ms          INTEGER NOT NULL,
    stop_ms           INTEGER,
    redrive_count     INTEGER NOT NULL,
    snapshot          TEXT,
    next_event_id     INTEGER NOT NULL
);
CREATE INDEX executions_by_start ON executions (start_ms, arn);
CREATE INDEX executions_by_machine ON executions (state_machine_arn, start_ms, arn);
CREATE INDEX executions_by_status ON executions (status, start_ms, arn);

-- History is appended in commit order: rows are keyed by a sequence so that a group's new
-- events fill the last pages of the table together, instead of one page (and its splits) per
-- execution; the unique index on (execution, id) is the exactly-once guard and the read path.
CREATE TABLE events (
    seq       INTEGER PRIMARY KEY,
    execution INTEGER NOT NULL REFERENCES executions (seq),
    id        INTEGER NOT NULL,
    body      TEXT    NOT NULL
);
CREATE UNIQUE INDEX events_by_execution ON events (execution, id);

CREATE TABLE timers (
    execution_arn TEXT    NOT NULL,
    timer_key     TEXT    NOT NULL,
    due_ms        INTEGER NOT NULL,
    payload       TEXT    NOT NULL,
    PRIMARY KEY (execution_arn, timer_key)
) WITHOUT ROWID;
CREATE INDEX timers_by_due ON timers (due_ms);
