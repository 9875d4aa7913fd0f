-- Schema version 3: fewer execution indexes. Every index an execution row is in is one more
-- B-tree page dirtied (and written to the WAL, then checkpointed) per commit; measured on the
-- STANDARD bench, index pages were about half of what a commit wrote.
--   * executions_by_start: only an unfiltered listing used it; the API always filters.
--   * executions_by_status: recovery only needs the RUNNING ones; a status filter is applied
--     on top of the machine's index.
--   * executions_by_machine: only executions of versions (or through aliases) need the
--     qualified ARN indexed; the unqualified machine has its own index.

DROP INDEX executions_by_start;
DROP INDEX executions_by_status;
DROP INDEX executions_by_machine;

CREATE INDEX executions_running ON executions (start_ms, arn) WHERE status = 'RUNNING';
CREATE INDEX executions_by_version ON executions (state_machine_arn, start_ms, arn)
    WHERE state_machine_arn <> machine_arn;
