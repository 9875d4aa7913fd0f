//! Reads: a pool of threads, each with its own read-only connection, taking jobs from one
//! queue. In WAL mode readers never wait for the writer and see only committed data.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use sluice_types::Arn;

use super::codec;
use super::{from_i64, storage, storage_at, to_i64};
use crate::cursor;
use crate::{
    ActivityRecord, AliasRecord, DedupRecord, Delivery, Error, EventRecord, ExecutionFilter,
    ExecutionRecord, ExecutionStatus, MachineArn, MachineType, MapRunRecord, MessageRecord, Page,
    QueueRecord, ResourceRecord, ShardHead, StateMachineRecord, StreamRead, StreamRecord,
    TimerRecord,
};

pub(super) type Job = Box<dyn FnOnce(&Connection) + Send>;

pub(super) fn open(path: &Path, busy: Duration, cache_mib: u32) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| storage_at(path, e))?;
    conn.busy_timeout(busy).map_err(storage)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(storage)?;
    conn.pragma_update(None, "cache_size", -i64::from(cache_mib) * 1024)
        .map_err(storage)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Serves jobs until the queue's sender is gone.
pub(super) fn run(conn: Connection, jobs: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // Only the thread holding the lock waits on the queue; the others wait for the lock.
        let job = match jobs.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A panicking job drops its reply (the asker sees an error); the thread lives on.
        if catch_unwind(AssertUnwindSafe(|| job(&conn))).is_err() {
            tracing::error!("a store read panicked");
        }
    }
}

const MACHINE_COLUMNS: &str = "arn, name, machine_type, definition, role_arn, description, \
     created_ms, updated_ms, revision_id, tags, extra, version";

const EXECUTION_COLUMNS: &str = "arn, state_machine_arn, name, status, input, output, error, \
     cause, start_ms, stop_ms, redrive_count, snapshot, next_event_id, revision_id, alias_arn, \
     redrive_ms, CASE WHEN input = '' THEN first_events END, first_events_last";

const ALIAS_COLUMNS: &str = "arn, machine_arn, name, description, routing, created_ms, updated_ms";

/// The query's LIMIT for a page of `limit` items: one more, to learn whether a next page exists.
fn probe(limit: usize) -> (usize, i64) {
    let limit = limit.max(1);
    (
        limit,
        i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX),
    )
}

pub(super) fn state_machine(
    conn: &Connection,
    arn: &str,
) -> Result<Option<StateMachineRecord>, Error> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {MACHINE_COLUMNS} FROM state_machines WHERE arn = ?1"
        ))
        .map_err(storage)?;
    let mut rows = statement.query([arn]).map_err(storage)?;
    match rows.next().map_err(storage)? {
        Some(row) => machine(row).map(Some),
        None => Ok(None),
    }
}

pub(super) fn state_machines(
    conn: &Connection,
    prefix: &str,
    after: Option<(String, String)>,
    limit: usize,
) -> Result<Page<StateMachineRecord>, Error> {
    let (limit, probe) = probe(limit);
    // The first machine after the cursor; none: from the start.
    let (name, arn) = after.unwrap_or_default();
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {MACHINE_COLUMNS} FROM state_machines
             WHERE version IS NULL AND substr(arn, 1, length(?1)) = ?1
               AND (?2 IS NULL OR (name, arn) > (?2, ?3))
             ORDER BY name, arn LIMIT ?4"
        ))
        .map_err(storage)?;
    let first = name.is_empty() && arn.is_empty();
    let mut rows = statement
        .query(params![prefix, (!first).then_some(&name), &arn, probe])
        .map_err(storage)?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(storage)? {
        items.push(machine(row)?);
    }
    Ok(paginate(items, limit, cursor::machines_token))
}

pub(super) fn versions(
    conn: &Connection,
    machine_arn: &str,
) -> Result<Vec<StateMachineRecord>, Error> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {MACHINE_COLUMNS} FROM state_machines
             WHERE machine_arn = ?1 AND version IS NOT NULL ORDER BY version DESC"
        ))
        .map_err(storage)?;
    let mut rows = statement.query([machine_arn]).map_err(storage)?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(storage)? {
        items.push(machine(row)?);
    }
    Ok(items)
}

pub(super) fn revision(
    conn: &Connection,
    machine_arn: &str,
    revision_id: &str,
) -> Result<Option<StateMachineRecord>, Error> {
    let mut statement = conn
        .prepare_cached(
            "SELECT r.machine_type, r.definition, r.role_arn, r.created_ms,
                 m.description, m.created_ms, m.tags, m.extra
             FROM machine_revisions r
             LEFT JOIN state_machines m ON m.arn = r.machine_arn
             WHERE r.machine_arn = ?1 AND r.revision_id = ?2",
        )
        .map_err(storage)?;
    let mut rows = statement
        .query(params![machine_arn, revision_id])
        .map_err(storage)?;
    let Some(row) = rows.next().map_err(storage)? else {
        return Ok(None);
    };
    let machine_type: String = row.get(0).map_err(storage)?;
    let recorded_ms: i64 = row.get(3).map_err(storage)?;
    let created_ms: Option<i64> = row.get(5).map_err(storage)?;
    let tags: Option<String> = row.get(6).map_err(storage)?;
    Ok(Some(StateMachineRecord {
        arn: machine_arn.to_owned(),
        name: Arn::parse(machine_arn)
            .map_or(machine_arn, |arn| arn.last_segment())
            .to_owned(),
        machine_type: parse_type(&machine_type)?,
        definition: row.get(1).map_err(storage)?,
        role_arn: row.get(2).map_err(storage)?,
        description: row.get(4).map_err(storage)?,
        created_ms: created_ms.unwrap_or(recorded_ms),
        updated_ms: recorded_ms,
        revision_id: revision_id.to_owned(),
        tags: match tags {
            Some(tags) => serde_json::from_str(&tags)
                .map_err(|e| Error::Storage(format!("state machine tags: {e}")))?,
            None => Vec::new(),
        },
        extra: row.get(7).map_err(storage)?,
        version: None,
    }))
}

pub(super) fn alias(conn: &Connection, arn: &str) -> Result<Option<AliasRecord>, Error> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {ALIAS_COLUMNS} FROM aliases WHERE arn = ?1"
        ))
        .map_err(storage)?;
    let mut rows = statement.query([arn]).map_err(storage)?;
    match rows.next().map_err(storage)? {
        Some(row) => alias_row(row).map(Some),
        None => Ok(None),
    }
}

pub(super) fn aliases(conn: &Connection, machine_arn: &str) -> Result<Vec<AliasRecord>, Error> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {ALIAS_COLUMNS} FROM aliases WHERE machine_arn = ?1 ORDER BY name, arn"
        ))
        .map_err(storage)?;
    let mut rows = statement.query([machine_arn]).map_err(storage)?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(storage)? {
        items.push(alias_row(row)?);
    }
    Ok(items)
}

fn activity_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(ActivityRecord, String)> {
    Ok((
        ActivityRecord {
            arn: row.get(0)?,
            name: row.get(1)?,
            created_ms: row.get(2)?,
            tags: Vec::new(),
        },
        row.get(3)?,
    ))
}

fn with_tags((mut activity, tags): (ActivityRecord, String)) -> Result<ActivityRecord, Error> {
    activity.tags = serde_json::from_str(&tags).map_err(|e| Error::Storage(e.to_string()))?;
    Ok(activity)
}

pub(super) fn activity(conn: &Connection, arn: &str) -> Result<Option<ActivityRecord>, Error> {
    let mut statement = conn
        .prepare_cached("SELECT arn, name, created_ms, tags FROM activities WHERE arn = ?1")
        .map_err(storage)?;
    statement
        .query_row([arn], activity_row)
        .optional()
        .map_err(storage)?
        .map(with_tags)
        .transpose()
}

pub(super) fn activities(conn: &Connection) -> Result<Vec<ActivityRecord>, Error> {
    let mut statement = conn
        .prepare_cached("SELECT arn, name, created_ms, tags FROM activities ORDER BY name, arn")
        .map_err(storage)?;
    let rows = statement.query_map([], activity_row).map_err(storage)?;
    rows.map(|row| with_tags(row.map_err(storage)?)).collect()
}

pub(super) fn queues(conn: &Connection) -> Result<Vec<QueueRecord>, Error> {
    let mut statement = conn
        .prepare_cached(
            "SELECT arn, name, created_ms, modified_ms, attributes, tags FROM queues
             ORDER BY name, arn",
        )
        .map_err(storage)?;
    let mut rows = statement.query([]).map_err(storage)?;
    let mut queues = Vec::new();
    while let Some(row) = rows.next().map_err(storage)? {
        let tags: String = row.get(5).map_err(storage)?;
        queues.push(QueueRecord {
            arn: row.get(0).map_err(storage)?,
            name: row.get(1).map_err(storage)?,
            created_ms: row.get(2).map_err(storage)?,
            modified_ms: row.get(3).map_err(storage)?,
            attributes: row.get(4).map_err(storage)?,
            tags: serde_json::from_str(&tags).map_err(|e| Error::Storage(e.to_string()))?,
        });
    }
    Ok(queues)
}

pub(super) fn resources(conn: &Connection, kind: &str) -> Result<Vec<ResourceRecord>, Error> {
    let mut statement = conn
        .prepare_cached("SELECT key, body FROM resources WHERE kind = ?1 ORDER BY key")
        .map_err(storage)?;
    let mut rows = statement.query([kind]).map_err(storage)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(storage)? {
        out.push(ResourceRecord {
            kind: kind.to_owned(),
            key: row.get(0).map_err(storage)?,
            body: row.get(1).map_err(storage)?,
        });
    }
    Ok(out)
}

pub(super) fn resource(
    conn: &Connection,
    kind: &str,
    key: &str,
) -> Result<Option<ResourceRecord>, Error> {
    conn.prepare_cached("SELECT body FROM resources WHERE kind = ?1 AND key = ?2")
        .map_err(storage)?
        .query_row(params![kind, key], |row| row.get(0))
        .optional()
        .map_err(storage)
        .map(|body: Option<Vec<u8>>| {
            body.map(|body| ResourceRecord {
                kind: kind.to_owned(),
                key: key.to_owned(),
                body,
            })
        })
}

pub(super) fn dedup(
    conn: &Connection,
    queue: &str,
    now_ms: i64,
) -> Result<Vec<DedupRecord>, Error> {
    let mut statement = conn
        .prepare_cached(
            "SELECT key, message_id, sequence, expires_ms FROM dedup
             WHERE queue = ?1 AND expires_ms > ?2",
        )
        .map_err(storage)?;
    let mut rows = statement.query(params![queue, now_ms]).map_err(storage)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(storage)? {
        out.push(DedupRecord {
            queue: queue.to_owned(),
            key: row.get(0).map_err(storage)?,
            message_id: row.get(1).map_err(storage)?,
            sequence: from_i64(row.get(2).map_err(storage)?),
            expires_ms: row.get(3).map_err(storage)?,
        });
    }
    Ok(out)
}

pub(super) fn stream_records(
    conn: &Connection,
    read: StreamRead,
) -> Result<Vec<StreamRecord>, Error> {
    let mut statement = conn
        .prepare_cached(
            "SELECT seq, arrival_ms, partition_key, data FROM stream_records
             WHERE stream = ?1 AND shard = ?2 AND seq >= ?3 AND arrival_ms >= ?4
             ORDER BY seq LIMIT ?5",
        )
        .map_err(storage)?;
    let from = i64::try_from(read.from_seq).unwrap_or(i64::MAX);
    let limit = i64::try_from(read.limit).unwrap_or(i64::MAX);
    let mut rows = statement
        .query(params![
            read.stream,
            read.shard,
            from,
            read.min_arrival_ms,
            limit
        ])
        .map_err(storage)?;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = rows.next().map_err(storage)? {
        let data: Vec<u8> = row.get(3).map_err(storage)?;
        let partition_key: String = row.get(2).map_err(storage)?;
        bytes += data.len() + partition_key.len();
        if bytes > read.max_bytes && !out.is_empty() {
            break;
        }
        out.push(StreamRecord {
            stream: read.stream,
            shard: read.shard,
            seq: from_i64(row.get(0).map_err(storage)?),
            arrival_ms: row.get(1).map_err(storage)?,
            partition_key,
            data,
        });
    }
    Ok(out)
}

pub(super) fn stream_seq_at(
    conn: &Connection,
    stream: i64,
    shard: u32,
    at_ms: i64,
) -> Result<Option<u64>, Error> {
    // Arrival times never decrease along `seq`, so the first match in `seq` order is the one.
    conn.prepare_cached(
        "SELECT seq FROM stream_records WHERE stream = ?1 AND shard = ?2 AND arrival_ms >= ?3
         ORDER BY seq LIMIT 1",
    )
    .and_then(|mut statement| {
        statement
            .query_row(params![stream, shard, at_ms], |row| row.get::<_, i64>(0))
            .optional()
    })
    .map(|seq| seq.map(from_i64))
    .map_err(storage)
}

pub(super) fn stream_heads(conn: &Connection, stream: i64) -> Result<Vec<ShardHead>, Error> {
    let mut statement = conn
        .prepare_cached(
            "SELECT shard, MAX(seq), MAX(arrival_ms) FROM stream_records WHERE stream = ?1
             GROUP BY shard ORDER BY shard",
        )
        .map_err(storage)?;
    let mut rows = statement.query([stream]).map_err(storage)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(storage)? {
        out.push(ShardHead {
            shard: row.get(0).map_err(storage)?,
            last_seq: from_i64(row.get(1).map_err(storage)?),
            last_arrival_ms: row.get(2).map_err(storage)?,
        });
    }
    Ok(out)
}

pub(super) fn messages(conn: &Connection, queue: &str) -> Result<Vec<MessageRecord>, Error> {
    let mut statement = conn
        .prepare_cached(
            "SELECT seq, visible_ms, receive_count, first_receive_ms, receipt, body
             FROM messages WHERE queue = ?1 ORDER BY seq",
        )
        .map_err(storage)?;
    let mut rows = statement.query([queue]).map_err(storage)?;
    let mut messages = Vec::new();
    while let Some(row) = rows.next().map_err(storage)? {
        messages.push(MessageRecord {
            queue: queue.to_owned(),
            seq: from_i64(row.get(0).map_err(storage)?),
            delivery: Delivery {
                visible_ms: row.get(1).map_err(storage)?,
                receive_count: row.get(2).map_err(storage)?,
                first_receive_ms: row.get(3).map_err(storage)?,
                receipt: row.get(4).map_err(storage)?,
            },
            body: row.get(5).map_err(storage)?,
        });
    }
    Ok(messages)
}

const MAP_RUN_COLUMNS: &str = "arn, execution_arn, start_ms, body";

fn map_run_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MapRunRecord> {
    Ok(MapRunRecord {
        arn: row.get(0)?,
        execution_arn: row.get(1)?,
        start_ms: row.get(2)?,
        body: row.get(3)?,
    })
}

pub(super) fn map_run(conn: &Connection, arn: &str) -> Result<Option<MapRunRecord>, Error> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {MAP_RUN_COLUMNS} FROM map_runs WHERE arn = ?1"
        ))
        .map_err(storage)?;
    statement
        .query_row([arn], map_run_row)
        .optional()
        .map_err(storage)
}

pub(super) fn map_runs(conn: &Connection, execution_arn: &str) -> Result<Vec<MapRunRecord>, Error> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {MAP_RUN_COLUMNS} FROM map_runs WHERE execution_arn = ?1
             ORDER BY start_ms DESC, arn DESC"
        ))
        .map_err(storage)?;
    let rows = statement
        .query_map([execution_arn], map_run_row)
        .map_err(storage)?;
    rows.collect::<Result<_, _>>().map_err(storage)
}

pub(super) fn execution(conn: &Connection, arn: &str) -> Result<Option<ExecutionRecord>, Error> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE arn = ?1"
        ))
        .map_err(storage)?;
    let mut rows = statement.query([arn]).map_err(storage)?;
    match rows.next().map_err(storage)? {
        Some(row) => execution_row(row).map(Some),
        None => Ok(None),
    }
}

pub(super) fn executions(
    conn: &Connection,
    filter: &ExecutionFilter,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Page<ExecutionRecord>, Error> {
    let (limit, probe) = probe(limit);
    let sql = executions_sql(filter, after.is_some());
    let mut statement = conn.prepare_cached(&sql).map_err(storage)?;
    let (start_ms, arn) = after.unzip();
    let mut rows = statement
        .query(params![
            filter.state_machine_arn,
            filter.status.map(ExecutionStatus::as_str),
            start_ms,
            arn,
            probe
        ])
        .map_err(storage)?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(storage)? {
        items.push(execution_row(row)?);
    }
    Ok(paginate(items, limit, |last| {
        cursor::executions_token(filter, last)
    }))
}

pub(super) fn events(
    conn: &Connection,
    execution_arn: &str,
    after: Option<u64>,
    limit: usize,
    reverse: bool,
) -> Result<Page<EventRecord>, Error> {
    let (limit, probe) = probe(limit);
    let probe = usize::try_from(probe).unwrap_or(usize::MAX);
    // The execution's batches: the first, if stored in its row (ids 1..=first_events_last),
    // then its rows of `event_batches`. Forward: from the batch holding the first id wanted;
    // backward: from the last batch that starts before the bound. Batches are expanded and
    // cut to the page here.
    const BATCHES: &str = "WITH execution AS (
             SELECT seq, first_events, first_events_last FROM executions WHERE arn = ?1),
         batches AS (
             SELECT 1 AS first_id, first_events_last AS last_id, first_events AS body
             FROM execution WHERE first_events_last IS NOT NULL
             UNION ALL
             SELECT first_id, last_id, body FROM event_batches
             WHERE execution = (SELECT seq FROM execution))";
    let sql = if reverse {
        format!(
            "{BATCHES} SELECT first_id, last_id, body FROM batches WHERE first_id < ?2
             ORDER BY first_id DESC"
        )
    } else {
        format!(
            "{BATCHES} SELECT first_id, last_id, body FROM batches
             WHERE first_id >= coalesce((SELECT max(first_id) FROM batches WHERE first_id <= ?2), 0)
             ORDER BY first_id"
        )
    };
    let mut statement = conn.prepare_cached(&sql).map_err(storage)?;
    // The first id wanted (forward) or the bound below which ids are wanted (backward); ids
    // are at most i64::MAX.
    let bound = match (reverse, after) {
        (false, None) => 0,
        (false, Some(id)) => to_i64(id, "event id").unwrap_or(i64::MAX).saturating_add(1),
        (true, None) => i64::MAX,
        (true, Some(id)) => to_i64(id, "event id").unwrap_or(i64::MAX),
    };
    let mut rows = statement
        .query(params![execution_arn, bound])
        .map_err(storage)?;
    let mut items = Vec::new();
    while items.len() < probe {
        let Some(row) = rows.next().map_err(storage)? else {
            break;
        };
        let first: i64 = row.get(0).map_err(storage)?;
        let last: i64 = row.get(1).map_err(storage)?;
        let count = usize::try_from(last - first + 1)
            .map_err(|_| Error::Storage(format!("a batch of events {first}..{last}")))?;
        let bodies = codec::unpack_batch(row.get_ref(2).map_err(storage)?, count)?;
        let batch: Vec<(i64, String)> = (first..=last).zip(bodies).collect();
        let wanted = |id: &i64| if reverse { *id < bound } else { *id >= bound };
        let mut take = |id: i64, body: String| {
            if items.len() < probe && wanted(&id) {
                items.push(EventRecord {
                    execution_arn: execution_arn.to_owned(),
                    id: from_i64(id),
                    body,
                });
            }
        };
        if reverse {
            batch
                .into_iter()
                .rev()
                .for_each(|(id, body)| take(id, body));
        } else {
            batch.into_iter().for_each(|(id, body)| take(id, body));
        }
    }
    Ok(paginate(items, limit, |last| {
        cursor::events_token(execution_arn, reverse, last.id)
    }))
}

pub(super) fn running(conn: &Connection) -> Result<Vec<ExecutionRecord>, Error> {
    let mut statement = conn.prepare_cached(&running_sql()).map_err(storage)?;
    let mut rows = statement.query([]).map_err(storage)?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(storage)? {
        items.push(execution_row(row)?);
    }
    Ok(items)
}

pub(super) fn timers(conn: &Connection) -> Result<Vec<TimerRecord>, Error> {
    let mut statement = conn
        .prepare_cached(
            "SELECT execution_arn, timer_key, due_ms, payload FROM timers
             ORDER BY due_ms, execution_arn, timer_key",
        )
        .map_err(storage)?;
    let mut rows = statement.query([]).map_err(storage)?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(storage)? {
        items.push(TimerRecord {
            execution_arn: row.get(0).map_err(storage)?,
            key: row.get(1).map_err(storage)?,
            due_ms: row.get(2).map_err(storage)?,
            payload: row.get(3).map_err(storage)?,
        });
    }
    Ok(items)
}

/// Cuts the probe row off and, if there was one, makes the token from the last item kept.
/// The listing query for `filter` (after a cursor or from the start). Each condition has a
/// fixed parameter number and `LIMIT ?5` is always there, so every shape of the query takes
/// the same five parameters (those not referenced are ignored).
fn executions_sql(filter: &ExecutionFilter, after: bool) -> String {
    let mut conditions = Vec::new();
    match filter.state_machine_arn.as_deref().map(MachineArn::parse) {
        None => {}
        Some(MachineArn::Machine(_)) => conditions.push("machine_arn = ?1"),
        // The second term is always true for a version (its ARN is not the machine's); it is
        // spelled out so that SQLite may use the partial index `executions_by_version`.
        Some(MachineArn::Version { .. }) => {
            conditions.push("state_machine_arn = ?1 AND state_machine_arn <> machine_arn");
        }
        Some(MachineArn::Alias { .. }) => conditions.push("alias_arn = ?1"),
    }
    if filter.status.is_some() {
        conditions.push("status = ?2");
    }
    match filter.redriven {
        None => {}
        Some(true) => conditions.push("redrive_count > 0"),
        Some(false) => conditions.push("redrive_count = 0"),
    }
    if after {
        conditions.push("(start_ms, arn) < (?3, ?4)");
    }
    let mut sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY start_ms DESC, arn DESC LIMIT ?5");
    sql
}

/// Every RUNNING execution, oldest first (the partial index `executions_running`).
fn running_sql() -> String {
    format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions WHERE status = 'RUNNING'
         ORDER BY start_ms, arn"
    )
}

fn paginate<T>(mut items: Vec<T>, limit: usize, token: impl FnOnce(&T) -> String) -> Page<T> {
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(token)
    } else {
        None
    };
    Page { items, next }
}

fn parse_type(machine_type: &str) -> Result<MachineType, Error> {
    MachineType::parse(machine_type)
        .ok_or_else(|| Error::Storage(format!("unknown state machine type {machine_type:?}")))
}

fn machine(row: &Row<'_>) -> Result<StateMachineRecord, Error> {
    let machine_type: String = row.get(2).map_err(storage)?;
    let tags: String = row.get(9).map_err(storage)?;
    let version: Option<i64> = row.get(11).map_err(storage)?;
    Ok(StateMachineRecord {
        arn: row.get(0).map_err(storage)?,
        name: row.get(1).map_err(storage)?,
        machine_type: parse_type(&machine_type)?,
        definition: row.get(3).map_err(storage)?,
        role_arn: row.get(4).map_err(storage)?,
        description: row.get(5).map_err(storage)?,
        created_ms: row.get(6).map_err(storage)?,
        updated_ms: row.get(7).map_err(storage)?,
        revision_id: row.get(8).map_err(storage)?,
        tags: serde_json::from_str(&tags)
            .map_err(|e| Error::Storage(format!("state machine tags: {e}")))?,
        extra: row.get(10).map_err(storage)?,
        version: version.map(from_i64),
    })
}

fn execution_row(row: &Row<'_>) -> Result<ExecutionRecord, Error> {
    Ok(ExecutionRecord {
        arn: row.get(0).map_err(storage)?,
        state_machine_arn: row.get(1).map_err(storage)?,
        name: row.get(2).map_err(storage)?,
        status: row
            .get::<_, String>(3)
            .map_err(storage)?
            .parse()
            .map_err(|e: sluice_types::UnknownStatus| Error::Storage(e.to_string()))?,
        input: execution_input(row)?,
        output: codec::column_opt(row, 5)?,
        error: row.get(6).map_err(storage)?,
        cause: row.get(7).map_err(storage)?,
        start_ms: row.get(8).map_err(storage)?,
        stop_ms: row.get(9).map_err(storage)?,
        redrive_count: row.get(10).map_err(storage)?,
        snapshot: codec::column_opt(row, 11)?,
        next_event_id: from_i64(row.get(12).map_err(storage)?),
        revision_id: row
            .get::<_, Option<String>>(13)
            .map_err(storage)?
            .unwrap_or_default(),
        alias_arn: row.get(14).map_err(storage)?,
        redrive_ms: row.get(15).map_err(storage)?,
    })
}

/// An execution's input: its column, or, where that is empty, its `ExecutionStarted` event's
/// (stored in the same row, see `codec::pack_writes`).
fn execution_input(row: &Row<'_>) -> Result<String, Error> {
    let input: String = codec::column(row, 4)?;
    if input != codec::INPUT_IN_FIRST_EVENT {
        return Ok(input);
    }
    let first_events = row.get_ref(16).map_err(storage)?;
    let last: Option<i64> = row.get(17).map_err(storage)?;
    let missing =
        || Error::Storage("an execution's input is in its first events, which are missing".into());
    let last = last.ok_or_else(missing)?;
    if first_events == rusqlite::types::ValueRef::Null {
        return Err(missing());
    }
    let count = usize::try_from(last)
        .map_err(|_| Error::Storage(format!("a first batch of events 1..{last}")))?;
    let bodies = codec::unpack_batch(first_events, count)?;
    bodies
        .first()
        .and_then(|body| codec::started_input(body).map(|input| input.into_owned()))
        .ok_or_else(|| Error::Storage("an execution's ExecutionStarted event has no input".into()))
}

fn alias_row(row: &Row<'_>) -> Result<AliasRecord, Error> {
    let routing: String = row.get(4).map_err(storage)?;
    Ok(AliasRecord {
        arn: row.get(0).map_err(storage)?,
        machine_arn: row.get(1).map_err(storage)?,
        name: row.get(2).map_err(storage)?,
        description: row.get(3).map_err(storage)?,
        routing: serde_json::from_str(&routing)
            .map_err(|e| Error::Storage(format!("alias routing: {e}")))?,
        created_ms: row.get(5).map_err(storage)?,
        updated_ms: row.get(6).map_err(storage)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What SQLite plans for `sql`, one line per step.
    fn plan(sql: &str) -> String {
        let dir = std::env::temp_dir().join(format!("sluice-plan-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{}.db", sql.len()));
        let _ = std::fs::remove_file(&path);
        let mut conn = Connection::open(&path).unwrap();
        super::super::schema::migrate(&mut conn, &path).unwrap();
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Null; statement.parameter_count()];
        let lines: Vec<String> = statement
            .query_map(rusqlite::params_from_iter(nulls), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let _ = std::fs::remove_file(&path);
        lines.join("\n")
    }

    fn listing(arn: &str) -> ExecutionFilter {
        ExecutionFilter {
            state_machine_arn: Some(arn.into()),
            ..ExecutionFilter::default()
        }
    }

    const MACHINE: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:m";

    #[test]
    fn every_listing_walks_its_own_index_in_order() {
        let cases = [
            (listing(MACHINE), "executions_by_unqualified_machine"),
            (listing(&format!("{MACHINE}:3")), "executions_by_version"),
            (listing(&format!("{MACHINE}:live")), "executions_by_alias"),
        ];
        for (filter, index) in cases {
            for after in [false, true] {
                let sql = executions_sql(&filter, after);
                let plan = plan(&sql);
                assert!(plan.contains(index), "{sql}\n=> {plan}");
                assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
            }
        }
        let plan = plan(&running_sql());
        assert!(plan.contains("executions_running"), "{plan}");
    }

    #[test]
    fn the_purge_finds_expired_executions_and_revision_users_through_indexes() {
        let expired = plan(super::super::writer::EXPIRED_SQL);
        assert!(
            expired.contains("USING INDEX executions_closed (stop_ms<?)"),
            "{expired}"
        );
        assert!(!expired.contains("TEMP B-TREE"), "no sort: {expired}");
        let revision = plan(super::super::writer::DROP_REVISION_SQL);
        assert!(
            revision.contains("USING INDEX executions_by_revision (revision_id=?)"),
            "{revision}"
        );
        assert!(revision.contains("state_machines_by_parent"), "{revision}");
        assert!(!revision.contains("SCAN"), "{revision}");
    }
}
