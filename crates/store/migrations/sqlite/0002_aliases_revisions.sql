-- Schema version 2: how executions are tied to machines, versions and aliases.
--
-- * executions learn the unqualified machine they belong to (`machine_arn`, so that listing a
--   machine's executions includes those of its versions and aliases), the revision they run,
--   the alias they were started through and when they were last redriven;
-- * `machine_revisions` keeps every revision (definition, role) a machine or version was put
--   with, so an execution can go on with its own definition after the machine changes or is
--   deleted;
-- * `aliases`.

ALTER TABLE executions ADD COLUMN machine_arn TEXT;
-- the machine revision the execution runs; NULL when unknown (recorded before version 2)
ALTER TABLE executions ADD COLUMN revision_id TEXT;
ALTER TABLE executions ADD COLUMN alias_arn TEXT;
ALTER TABLE executions ADD COLUMN redrive_ms INTEGER;

-- A version ARN `arn:<p>:states:<r>:<a>:stateMachine:<name>:<n>` has 7 colons: its machine is
-- the ARN up to the last colon. `rtrim(s, replace(s, ':', ''))` strips every trailing
-- character that is not a colon, leaving `...:<name>:`.
UPDATE executions SET machine_arn = CASE
    WHEN length(state_machine_arn) - length(replace(state_machine_arn, ':', '')) = 7
        THEN substr(
            rtrim(state_machine_arn, replace(state_machine_arn, ':', '')),
            1,
            length(rtrim(state_machine_arn, replace(state_machine_arn, ':', ''))) - 1)
    ELSE state_machine_arn
END;

CREATE INDEX executions_by_unqualified_machine ON executions (machine_arn, start_ms, arn);
CREATE INDEX executions_by_alias ON executions (alias_arn, start_ms, arn)
    WHERE alias_arn IS NOT NULL;

CREATE TABLE machine_revisions (
    -- the unqualified machine
    machine_arn  TEXT    NOT NULL,
    revision_id  TEXT    NOT NULL,
    machine_type TEXT    NOT NULL,
    definition   TEXT    NOT NULL,
    role_arn     TEXT    NOT NULL,
    -- when the revision was first recorded
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (machine_arn, revision_id)
) WITHOUT ROWID;

-- Machines first, so a revision a machine and a version share takes the machine's time.
INSERT OR IGNORE INTO machine_revisions
    (machine_arn, revision_id, machine_type, definition, role_arn, created_ms)
SELECT machine_arn, revision_id, machine_type, definition, role_arn, updated_ms
FROM state_machines ORDER BY version IS NOT NULL, version;

CREATE TABLE aliases (
    arn         TEXT    NOT NULL PRIMARY KEY,
    -- the unqualified machine
    machine_arn TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT,
    -- JSON array of [version arn, weight] pairs
    routing     TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX aliases_by_machine ON aliases (machine_arn, name);
