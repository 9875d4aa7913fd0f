//! How large text columns are stored: JSON (history event bodies, execution inputs, outputs
//! and snapshots) over a few hundred bytes is LZ4-compressed into a BLOB, smaller text stays
//! TEXT. The WAL's write bandwidth bounds STANDARD throughput (every commit's pages are written
//! and fsynced), and security events compress 3–5×. Reads accept both forms, so files written
//! before compression (or with small values) need no migration.

use rusqlite::types::{Value, ValueRef};

use std::borrow::Cow;

use serde::Deserialize;

use super::storage;
use crate::{Error, EventRecord, ExecutionRecord, Write};

/// Text shorter than this is stored as is: LZ4's gain on it is small.
const COMPRESS_FROM: usize = 256;
/// No stored value is larger (payloads are limited far below): a blob that says otherwise is
/// corrupt.
const MAX_UNPACKED: usize = 1 << 30;

/// The column value for `text`.
pub(super) fn pack(text: &str) -> Value {
    if text.len() >= COMPRESS_FROM {
        let packed = lz4_flex::compress_prepend_size(text.as_bytes());
        if packed.len() < text.len() {
            return Value::Blob(packed);
        }
    }
    Value::Text(text.to_owned())
}

/// [`pack`] for an optional column.
pub(super) fn pack_opt(text: Option<&str>) -> Value {
    text.map_or(Value::Null, pack)
}

/// The commit that starts an execution: the execution and its first events (ids from 1 on,
/// without a gap). The writer stores them as one row
/// (`migrations/sqlite/0005_inline_first_events.sql`).
pub(super) fn starts_history(writes: &[Write]) -> Option<(&ExecutionRecord, &[EventRecord])> {
    let [
        Write::InsertExecution(execution),
        Write::AppendEvents(events),
    ] = writes
    else {
        return None;
    };
    let starts = events.first().is_some_and(|first| first.id == 1)
        && batches(events).count() == 1
        && events.iter().all(|e| e.execution_arn == execution.arn);
    starts.then_some((execution, events.as_slice()))
}

/// The input an `ExecutionStarted` event's body records, if it is one.
pub(super) fn started_input(body: &str) -> Option<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Event<'a> {
        #[serde(rename = "executionStartedEventDetails", borrow)]
        details: Option<Details<'a>>,
    }
    #[derive(Deserialize)]
    struct Details<'a> {
        #[serde(borrow)]
        input: Option<Cow<'a, str>>,
    }
    serde_json::from_str::<Event<'_>>(body).ok()?.details?.input
}

/// The `input` column of an execution whose input its `ExecutionStarted` event, stored in
/// the same row, already holds: empty (no input is empty JSON text), read back from the event.
pub(super) const INPUT_IN_FIRST_EVENT: &str = "";

/// The packed large columns of `writes`, in the order the writer consumes them with [`take`]:
/// per execution written, its input, output and snapshot; per event, its body.
pub(super) fn pack_writes(writes: &[Write]) -> Vec<Value> {
    if let Some((execution, events)) = starts_history(writes)
        && started_input(&events[0].body).is_some_and(|input| input == execution.input)
    {
        // The input is stored once, in the ExecutionStarted event beside it.
        return vec![
            Value::Text(INPUT_IN_FIRST_EVENT.to_owned()),
            pack_opt(execution.output.as_deref()),
            pack_opt(execution.snapshot.as_deref()),
            pack_batch(events),
        ];
    }
    let mut packed = Vec::new();
    for write in writes {
        match write {
            Write::InsertExecution(e) | Write::UpdateExecution(e) => {
                packed.push(pack(&e.input));
                packed.push(pack_opt(e.output.as_deref()));
                packed.push(pack_opt(e.snapshot.as_deref()));
            }
            Write::AppendEvents(events) => {
                packed.extend(batches(events).map(|batch| pack_batch(&events[batch])));
            }
            _ => {}
        }
    }
    packed
}

/// The batches `events` are stored in: runs of consecutive ids of one execution, in order.
pub(super) fn batches(events: &[EventRecord]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = 0;
    (1..=events.len()).filter_map(move |end| {
        let breaks = end == events.len()
            || events[end].execution_arn != events[end - 1].execution_arn
            || events[end].id != events[end - 1].id.wrapping_add(1);
        breaks.then(|| {
            let batch = start..end;
            start = end;
            batch
        })
    })
}

/// One batch's `body` column (see `migrations/sqlite/0004_event_batches.sql`).
pub(super) fn pack_batch(events: &[EventRecord]) -> Value {
    if let [one] = events {
        return pack(&one.body);
    }
    let mut framed = Vec::with_capacity(events.iter().map(|e| e.body.len() + 4).sum());
    for event in events {
        let len = u32::try_from(event.body.len()).unwrap_or(u32::MAX);
        framed.extend_from_slice(&len.to_le_bytes());
        framed.extend_from_slice(event.body.as_bytes());
    }
    Value::Blob(lz4_flex::compress_prepend_size(&framed))
}

/// The event bodies of a batch of `count` events stored by [`pack_batch`].
pub(super) fn unpack_batch(value: ValueRef<'_>, count: usize) -> Result<Vec<String>, Error> {
    if count == 1 {
        return unpack(value).map(|one| vec![one]);
    }
    let ValueRef::Blob(packed) = value else {
        return Err(Error::Storage("a batch of events is not a BLOB".into()));
    };
    let framed = decompress(packed)?;
    let corrupt = || Error::Storage("a batch of events is cut short".into());
    let mut bodies = Vec::with_capacity(count);
    let mut rest = framed.as_slice();
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(corrupt)?;
        let len = u32::from_le_bytes(*len) as usize;
        let body = tail.get(..len).ok_or_else(corrupt)?;
        bodies.push(
            String::from_utf8(body.to_vec())
                .map_err(|e| Error::Storage(format!("stored text is not UTF-8: {e}")))?,
        );
        rest = &tail[len..];
    }
    if bodies.len() != count {
        return Err(Error::Storage(format!(
            "a batch of {count} events holds {}",
            bodies.len()
        )));
    }
    Ok(bodies)
}

/// The next `N` values [`pack_writes`] prepared.
pub(super) fn take<'v, const N: usize>(
    packed: &mut std::slice::Iter<'v, Value>,
) -> Result<[&'v Value; N], Error> {
    let missing = || Error::Storage("a commit's packed columns ran out".into());
    let mut taken = Vec::with_capacity(N);
    for _ in 0..N {
        taken.push(packed.next().ok_or_else(missing)?);
    }
    taken.try_into().map_err(|_| missing())
}

/// The text a column holds, whichever way it was stored.
pub(super) fn unpack(value: ValueRef<'_>) -> Result<String, Error> {
    match value {
        ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec())
            .map_err(|e| Error::Storage(format!("stored text is not UTF-8: {e}"))),
        ValueRef::Blob(packed) => String::from_utf8(decompress(packed)?)
            .map_err(|e| Error::Storage(format!("stored text is not UTF-8: {e}"))),
        other => Err(Error::Storage(format!(
            "expected text, found a {:?} column",
            other.data_type()
        ))),
    }
}

/// LZ4 with its size prepended, refusing sizes no stored value can have.
fn decompress(packed: &[u8]) -> Result<Vec<u8>, Error> {
    let corrupt = |e: &dyn std::fmt::Display| {
        Error::Storage(format!("stored value does not decompress: {e}"))
    };
    let (size, body) = lz4_flex::block::uncompressed_size(packed).map_err(|e| corrupt(&e))?;
    // A corrupt length must not make us allocate gigabytes.
    if size > MAX_UNPACKED {
        return Err(corrupt(&format!("claims {size} bytes")));
    }
    lz4_flex::block::decompress(body, size).map_err(|e| corrupt(&e))
}

/// [`unpack`] for an optional column (NULL is `None`).
pub(super) fn unpack_opt(value: ValueRef<'_>) -> Result<Option<String>, Error> {
    match value {
        ValueRef::Null => Ok(None),
        other => unpack(other).map(Some),
    }
}

/// Column `index` of `row`, unpacked.
pub(super) fn column(row: &rusqlite::Row<'_>, index: usize) -> Result<String, Error> {
    unpack(row.get_ref(index).map_err(storage)?)
}

/// Optional column `index` of `row`, unpacked.
pub(super) fn column_opt(row: &rusqlite::Row<'_>, index: usize) -> Result<Option<String>, Error> {
    unpack_opt(row.get_ref(index).map_err(storage)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_text_is_compressed_and_everything_round_trips() {
        let event = format!(
            r#"{{"type":"PassStateEntered","input":"{}"}}"#,
            r#"{\"vendor\":\"crowdstrike\",\"severity\":\"high\"}"#.repeat(20)
        );
        for text in ["", "short", event.as_str()] {
            let packed = pack(text);
            if text.len() >= COMPRESS_FROM {
                assert!(matches!(&packed, Value::Blob(b) if b.len() < text.len() / 2));
            } else {
                assert_eq!(packed, Value::Text(text.to_owned()));
            }
            let back = match &packed {
                Value::Text(t) => unpack(ValueRef::Text(t.as_bytes())),
                Value::Blob(b) => unpack(ValueRef::Blob(b)),
                _ => unreachable!(),
            };
            assert_eq!(back.unwrap(), text);
        }
        assert_eq!(unpack_opt(ValueRef::Null).unwrap(), None);
    }

    fn event(arn: &str, id: u64, body: &str) -> EventRecord {
        EventRecord {
            execution_arn: arn.into(),
            id,
            body: body.into(),
        }
    }

    #[test]
    fn events_batch_by_execution_and_consecutive_ids() {
        let events = [
            event("a", 1, "{}"),
            event("a", 2, "{}"),
            event("b", 3, "{}"),
            event("b", 5, "{}"),
            event("b", 6, "{}"),
            event("b", 6, "{}"),
        ];
        let got: Vec<_> = batches(&events).collect();
        assert_eq!(got, [0..2, 2..3, 3..5, 5..6]);
        assert_eq!(batches(&[]).count(), 0);
    }

    #[test]
    fn a_batch_round_trips_and_a_cut_one_is_an_error() {
        let long = format!(r#"{{"pad":"{}"}}"#, "x".repeat(500));
        let events = [event("a", 1, "{}"), event("a", 2, &long), event("a", 3, "")];
        let Value::Blob(packed) = pack_batch(&events) else {
            panic!("a batch of several events is a BLOB");
        };
        let bodies = unpack_batch(ValueRef::Blob(&packed), 3).unwrap();
        assert_eq!(bodies, ["{}", long.as_str(), ""]);
        assert!(
            unpack_batch(ValueRef::Blob(&packed), 2).is_err(),
            "count must match"
        );
        let cut = lz4_flex::compress_prepend_size(&[9, 0, 0, 0, b'{']);
        assert!(unpack_batch(ValueRef::Blob(&cut), 2).is_err());
        // One event is stored as any large column.
        let one = pack_batch(&events[1..2]);
        let Value::Blob(one) = one else {
            panic!("compressed")
        };
        assert_eq!(unpack_batch(ValueRef::Blob(&one), 1).unwrap(), [long]);
    }

    #[test]
    fn a_corrupt_blob_is_an_error_not_a_panic() {
        for junk in [
            &[][..],
            &[9, 0, 0, 0, 0x10][..],
            &[255, 255, 255, 255, 0][..],
        ] {
            assert!(unpack(ValueRef::Blob(junk)).is_err(), "{junk:?}");
        }
    }
}
