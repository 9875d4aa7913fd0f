-- Records of data streams (Kinesis), one row each until retention trims them. `stream` is the
-- stream's id (a stream created again under the same name gets a new one), `shard` its shard's
-- index, `seq` the record's place in the stream (increasing; a shard's records in `seq`
-- order), `arrival_ms` when it was committed (never decreasing within a stream).
CREATE TABLE stream_records (
    stream INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    arrival_ms INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (stream, shard, seq)
) WITHOUT ROWID;
