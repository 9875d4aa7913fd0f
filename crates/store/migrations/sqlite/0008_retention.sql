-- Schema version 8: closed executions expire (`Store::purge_closed`).
--
-- * `executions_closed` finds the executions that stopped before a cutoff, oldest first, without
--   reading the open ones. Partial: a RUNNING execution's transitions (which set `stop_ms`) touch
--   no entry of it; an execution enters it once, when its status leaves RUNNING. The condition
--   is spelled as comparisons (not IN, which SQLite evaluates through a temporary table on every
--   UPDATE); a query uses the index only if its WHERE repeats this condition.
-- * `executions_by_revision` answers "does any execution still run this revision?" when a purge
--   considers dropping a revision its executions ran. Entries are appended at the end of their
--   revision's range: one hot page, not a random one, per commit group.

CREATE INDEX executions_closed ON executions (stop_ms)
    WHERE status = 'SUCCEEDED' OR status = 'FAILED' OR status = 'TIMED_OUT' OR status = 'ABORTED';
CREATE INDEX executions_by_revision ON executions (revision_id);
