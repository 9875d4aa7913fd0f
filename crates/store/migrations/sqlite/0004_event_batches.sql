-- Schema version 4: history in batches. A STANDARD step appends several events at once (a Pass
-- state's entered and exited events, a task's result and the next state's entry); one row per
-- event cost one table and one index insert each, which was most of the writer's work per
-- commit. A batch holds the consecutive events one commit appended to one execution:
-- `first_id`..=`last_id`. One event: `body` is its JSON (TEXT, or LZ4 in a BLOB, as the other
-- large columns). Several: `body` is an LZ4 BLOB of length-prefixed event bodies.
-- Batches of an execution never overlap; the store checks that on append (the exactly-once
-- guard of a transition).

CREATE TABLE event_batches (
    seq       INTEGER PRIMARY KEY,
    execution INTEGER NOT NULL REFERENCES executions (seq),
    first_id  INTEGER NOT NULL,
    last_id   INTEGER NOT NULL,
    body      NOT NULL
);
CREATE UNIQUE INDEX event_batches_by_execution ON event_batches (execution, first_id);

INSERT INTO event_batches (seq, execution, first_id, last_id, body)
SELECT seq, execution, id, id, body FROM events;

DROP TABLE events;
