-- The history an execution records when it starts (ExecutionStarted and every event up to its
-- first wait) is stored in its own row, in the form of an `event_batches` body, instead of a
-- row of `event_batches`: the commit that starts an execution then writes one row and its
-- index entries, not two rows. `first_events_last` is the id of its last event (the batch
-- holds ids 1..=first_events_last); both are NULL when the execution's history starts in
-- `event_batches` (executions written before this version). Later events go to
-- `event_batches`, whose ids never overlap these.
ALTER TABLE executions ADD COLUMN first_events BLOB;
ALTER TABLE executions ADD COLUMN first_events_last INTEGER;
