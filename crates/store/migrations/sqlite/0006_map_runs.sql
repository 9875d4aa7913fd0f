-- A distributed Map's Map Run, as DescribeMapRun and ListMapRuns show it. `body` is the
-- engine's JSON (status, limits, item counts); the store never looks inside it. An execution
-- has few: listed by execution, newest first.
CREATE TABLE map_runs (
    arn TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX map_runs_by_execution ON map_runs (execution_arn, start_ms);
