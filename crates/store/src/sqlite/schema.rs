//! Versioned schema migrations. `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`;
//! `PRAGMA user_version` records where a file stands. Scripts are append-only: never edit one
//! that has shipped, add the next.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{storage, storage_at};
use crate::Error;

/// The migration scripts in order: `MIGRATIONS[i]` takes a file from version `i` to `i + 1`
/// (tests build a file of an older version with the first ones).
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_aliases_revisions.sql"),
    include_str!("../../migrations/sqlite/0003_lean_execution_indexes.sql"),
    include_str!("../../migrations/sqlite/0004_event_batches.sql"),
    include_str!("../../migrations/sqlite/0005_inline_first_events.sql"),
    include_str!("../../migrations/sqlite/0006_map_runs.sql"),
    include_str!("../../migrations/sqlite/0007_activities.sql"),
    include_str!("../../migrations/sqlite/0008_retention.sql"),
    include_str!("../../migrations/sqlite/0009_queues.sql"),
    include_str!("../../migrations/sqlite/0010_fifo_dedup.sql"),
    include_str!("../../migrations/sqlite/0011_resources.sql"),
    include_str!("../../migrations/sqlite/0012_stream_records.sql"),
    include_str!("../../migrations/sqlite/0013_stream_records_rowid.sql"),
];

/// The schema version this build writes; a file at a higher version is refused.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the file at `path` to [`SCHEMA_VERSION`] in one transaction: all pending scripts or
/// none.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), Error> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| storage_at(path, e))?;
    let found: u32 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| storage_at(path, e))?;
    if found > SCHEMA_VERSION {
        return Err(Error::Storage(format!(
            "{}: schema version {found} is newer than this build of sluice supports \
             ({SCHEMA_VERSION}); run a newer sluice or use another data directory",
            path.display()
        )));
    }
    for (from, script) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(script).map_err(|e| {
            Error::Storage(format!(
                "{}: migrating the schema from version {from} to {}: {e}",
                path.display(),
                from + 1
            ))
        })?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(storage)?;
        tracing::info!(path = %path.display(), from = found, to = SCHEMA_VERSION, "store schema migrated");
    }
    tx.commit().map_err(storage)
}
