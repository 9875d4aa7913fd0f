//! Events of any depth match on a small stack: evaluation recurses only as deep as the
//! pattern, whose depth JSON parsing bounds.

use serde_json::{Map, Value, json};
use sluice_patterns::{Dialect, Pattern, drop_deep};

const DEPTH: usize = 200_000;
/// Enough for the deepest pattern in a debug build.
const STACK: usize = 512 * 1024;

fn deep_object(leaf: Value) -> Value {
    let mut v = leaf;
    for _ in 0..DEPTH {
        let mut m = Map::new();
        m.insert("a".into(), v);
        v = Value::Object(m);
    }
    v
}

fn deep_array(leaf: Value) -> Value {
    let mut v = leaf;
    for _ in 0..DEPTH {
        v = Value::Array(vec![v]);
    }
    v
}

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow")
}

#[test]
fn deep_events_do_not_overflow_the_stack() {
    let results = on_small_stack(|| {
        let exists =
            Pattern::parse(r#"{"a": {"a": [{"exists": true}]}}"#, Dialect::EventBridge).unwrap();
        let absent = Pattern::parse(r#"{"b": [{"exists": false}]}"#, Dialect::EventBridge).unwrap();
        let leaf = Pattern::parse(r#"{"x": {"y": ["deep"]}}"#, Dialect::EventBridge).unwrap();
        let but =
            Pattern::parse(r#"{"x": [{"anything-but": "z"}]}"#, Dialect::EventBridge).unwrap();

        let objects = deep_object(json!(1));
        let mut event = Map::new();
        // Not `json!`: it serializes interpolated values, recursively.
        let mut x = Map::new();
        x.insert("y".into(), deep_array(json!("deep")));
        event.insert("x".into(), Value::Object(x));
        let arrays = Value::Object(event);
        let mut shallow = Map::new();
        shallow.insert("x".into(), deep_array(json!({"y": "deep"})));
        let objects_in_arrays = Value::Object(shallow);

        let results = vec![
            exists.matches(&objects),
            absent.matches(&objects),
            leaf.matches(&arrays),
            but.matches(&arrays),
            leaf.matches(&objects_in_arrays),
        ];
        drop_deep(objects);
        drop_deep(arrays);
        drop_deep(objects_in_arrays);
        results
    });
    // `a.a` is an object, not a leaf.
    assert_eq!(results, vec![false, true, true, false, true]);
}

#[test]
fn the_deepest_accepted_pattern_matches_on_a_small_stack() {
    // serde_json refuses more than 128 levels; the deepest accepted pattern evaluates fine.
    let depth = 126;
    let pattern = format!("{}[\"v\"]{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let matched = on_small_stack(move || {
        let pattern = Pattern::parse(&pattern, Dialect::EventBridge).expect("within the limit");
        let mut event = json!("v");
        for _ in 0..depth {
            event = json!({"a": event});
        }
        pattern.matches(&event)
    });
    assert!(matched);
}
