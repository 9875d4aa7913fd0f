-- Stream records move to a rowid table: a record of a kilobyte is appended at the end of the
-- table's b-tree, and the index that finds it by (stream, shard, seq) holds small keys, where
-- the WITHOUT ROWID table kept whole records in its key b-tree (three to a page, and every
-- search reading through them): about three times the insert rate for 1 KiB records.
CREATE TABLE stream_records_by_row (
    stream INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    arrival_ms INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL
);
INSERT INTO stream_records_by_row (stream, shard, seq, arrival_ms, partition_key, data)
    SELECT stream, shard, seq, arrival_ms, partition_key, data FROM stream_records
    ORDER BY stream, shard, seq;
DROP TABLE stream_records;
ALTER TABLE stream_records_by_row RENAME TO stream_records;
CREATE UNIQUE INDEX stream_records_place ON stream_records (stream, shard, seq);
