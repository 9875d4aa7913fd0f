-- Control-plane records of the services that keep no table of their own (topics and their
-- subscriptions, pending deliveries, event-source mappings, pipes, ...): one row per record,
-- keyed by its kind and a key unique within the kind (usually an ARN); the body is the owning
-- crate's encoding, opaque to the store.
CREATE TABLE resources (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
