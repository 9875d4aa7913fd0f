-- Step Functions activities: named task queues that workers poll (GetActivityTask). `tags` is
-- a JSON array of [key, value] pairs.
CREATE TABLE activities (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    tags TEXT NOT NULL
) WITHOUT ROWID;
