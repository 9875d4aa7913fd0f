-- FIFO queues' deduplication: a deduplication id seen in a queue (or in one of its message
-- groups: `key` is the broker's) answers with the first message's id and sequence number until
-- `expires_ms` (five minutes after it was first sent), even after that message was deleted.
CREATE TABLE dedup (
    queue TEXT NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, key)
) WITHOUT ROWID;
CREATE INDEX dedup_expiry ON dedup (queue, expires_ms);
