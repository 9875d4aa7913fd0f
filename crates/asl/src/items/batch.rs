//! `ItemBatcher`: a distributed Map's items grouped into batches, each one child workflow's
//! input `{"BatchInput": …, "Items": […]}` (no `BatchInput` key without one), as AWS gives it.

use serde_json::{Map, Value};

use crate::{Failure, json_len};

/// AWS's ceiling for `MaxInputBytesPerBatch`: 256 KiB.
pub const MAX_BATCH_BYTES: u64 = 256 * 1024;

/// An `ItemBatcher`'s fields, evaluated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batching {
    /// `MaxItemsPerBatch`; none: no count limit.
    pub max_items: Option<u64>,
    /// `MaxInputBytesPerBatch` (at most [`MAX_BATCH_BYTES`]); none: [`MAX_BATCH_BYTES`].
    pub max_bytes: Option<u64>,
    /// `BatchInput`, added to every batch.
    pub batch_input: Option<Value>,
}

/// Why items cannot be batched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error(
        "Item {index} alone makes a batch input of {size} bytes, more than the {max} bytes \
         MaxInputBytesPerBatch allows"
    )]
    ItemTooLarge { index: usize, size: u64, max: u64 },
}

impl From<BatchError> for Failure {
    fn from(e: BatchError) -> Self {
        Failure::data_limit(e.to_string())
    }
}

/// Groups `items` in order into batches as large as both limits allow.
pub fn batch(items: Vec<Value>, b: &Batching) -> Result<Vec<Value>, BatchError> {
    let max_items = b.max_items.filter(|&n| n > 0).unwrap_or(u64::MAX);
    let max_bytes = b
        .max_bytes
        .filter(|&n| n > 0)
        .map_or(MAX_BATCH_BYTES, |n| n.min(MAX_BATCH_BYTES));
    // `{"BatchInput":…,"Items":[…]}` without its items, then each item and its comma.
    let envelope = match &b.batch_input {
        Some(input) => (r#"{"BatchInput":,"Items":[]}"#.len() + json_len(input)) as u64,
        None => r#"{"Items":[]}"#.len() as u64,
    };
    let mut batches = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut size = envelope;
    for (index, item) in items.into_iter().enumerate() {
        let item_size = json_len(&item) as u64;
        let comma = u64::from(!current.is_empty());
        let full = current.len() as u64 >= max_items || size + comma + item_size > max_bytes;
        if full && !current.is_empty() {
            batches.push(envelope_of(std::mem::take(&mut current), &b.batch_input));
            size = envelope;
        }
        let comma = u64::from(!current.is_empty());
        if size + comma + item_size > max_bytes {
            return Err(BatchError::ItemTooLarge {
                index,
                size: envelope + item_size,
                max: max_bytes,
            });
        }
        size += comma + item_size;
        current.push(item);
    }
    if !current.is_empty() {
        batches.push(envelope_of(current, &b.batch_input));
    }
    Ok(batches)
}

fn envelope_of(items: Vec<Value>, batch_input: &Option<Value>) -> Value {
    let mut batch = Map::new();
    if let Some(input) = batch_input {
        batch.insert("BatchInput".into(), input.clone());
    }
    batch.insert("Items".into(), Value::Array(items));
    Value::Object(batch)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn batches_hold_max_items_per_batch_and_the_batch_input() {
        let items = vec![json!(1), json!(2), json!(3)];
        let b = Batching {
            max_items: Some(2),
            batch_input: Some(json!({"at": "t"})),
            ..Batching::default()
        };
        assert_eq!(
            batch(items, &b).unwrap(),
            vec![
                json!({"BatchInput": {"at": "t"}, "Items": [1, 2]}),
                json!({"BatchInput": {"at": "t"}, "Items": [3]}),
            ]
        );
        assert_eq!(
            batch(vec![json!("a")], &Batching::default()).unwrap(),
            vec![json!({"Items": ["a"]})]
        );
        assert!(batch(Vec::new(), &Batching::default()).unwrap().is_empty());
    }

    #[test]
    fn max_input_bytes_per_batch_bounds_the_whole_child_input() {
        // `{"Items":["aaaa"]}` is 18 bytes; two items make 25.
        let items = vec![json!("aaaa"), json!("bbbb"), json!("cccc")];
        let b = Batching {
            max_bytes: Some(25),
            ..Batching::default()
        };
        let batches = batch(items.clone(), &b).unwrap();
        assert_eq!(
            batches,
            vec![
                json!({"Items": ["aaaa", "bbbb"]}),
                json!({"Items": ["cccc"]})
            ]
        );
        let tight = Batching {
            max_bytes: Some(17),
            ..Batching::default()
        };
        assert_eq!(
            batch(items, &tight),
            Err(BatchError::ItemTooLarge {
                index: 0,
                size: 18,
                max: 17
            })
        );
    }

    proptest! {
        /// Batching keeps every item once, in order, and no batch breaks a limit.
        #[test]
        fn batches_partition_the_items_within_the_limits(
            items in proptest::collection::vec("[a-z]{0,20}", 0..40),
            max_items in proptest::option::of(1u64..6),
            max_bytes in 40u64..120,
        ) {
            let items: Vec<Value> = items.into_iter().map(Value::from).collect();
            let b = Batching { max_items, max_bytes: Some(max_bytes), batch_input: None };
            let batches = batch(items.clone(), &b).unwrap();
            let mut flat = Vec::new();
            for batch in &batches {
                prop_assert!(json_len(batch) as u64 <= max_bytes);
                let inner = batch["Items"].as_array().unwrap();
                prop_assert!(!inner.is_empty());
                prop_assert!(max_items.is_none_or(|n| inner.len() as u64 <= n));
                flat.extend(inner.iter().cloned());
            }
            prop_assert_eq!(flat, items);
        }
    }
}
