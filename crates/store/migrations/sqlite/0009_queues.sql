-- Queues (SQS) and their messages. A queue's `attributes` is the broker's JSON (its settings as
-- AWS names them) and `tags` a JSON array of [key, value] pairs; the store never looks inside.
CREATE TABLE queues (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL
) WITHOUT ROWID;

-- One row per message until it is deleted or expires. `seq` orders a queue's messages (send
-- order); `body` is the broker's encoding of the message (body, attributes, ids, checksums),
-- written once; a receive changes only `visible_ms`, `receive_count` and `receipt`.
CREATE TABLE messages (
    queue TEXT NOT NULL,
    seq INTEGER NOT NULL,
    visible_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    first_receive_ms INTEGER,
    receipt TEXT,
    body BLOB NOT NULL,
    PRIMARY KEY (queue, seq)
) WITHOUT ROWID;
