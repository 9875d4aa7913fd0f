//! Parsing never panics on any text or JSON; matching never panics on any event.

use proptest::prelude::*;
use serde_json::Value;
use sluice_patterns::{Dialect, Pattern};

const DIALECTS: [Dialect; 4] = [
    Dialect::EventBridge,
    Dialect::SnsAttributes,
    Dialect::SnsBody,
    Dialect::EventSourceMapping,
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("a.b".to_string()),
        Just("$or".to_string()),
        Just("prefix".to_string()),
        Just("suffix".to_string()),
        Just("anything-but".to_string()),
        Just("numeric".to_string()),
        Just("exists".to_string()),
        Just("cidr".to_string()),
        Just("wildcard".to_string()),
        Just("equals-ignore-case".to_string()),
        "[a-z.*]{0,4}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("<".to_string()),
            Just(">=".to_string()),
            Just("=".to_string()),
            Just("10.0.0.0/8".to_string()),
            Just("::1/128".to_string()),
            "[a-z*\\\\/.:0-9]{0,8}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsing_any_text_never_panics(text in "\\PC{0,64}") {
        for dialect in DIALECTS {
            let _ = Pattern::parse(&text, dialect);
        }
    }

    #[test]
    fn parsing_and_matching_any_json_never_panics(pattern in json(), events in prop::collection::vec(json(), 1..4)) {
        for dialect in DIALECTS {
            if let Ok(compiled) = Pattern::from_value(&pattern, dialect) {
                for event in &events {
                    let _ = compiled.matches(event);
                }
                // A pattern matches an event shaped like itself without panicking either.
                let _ = compiled.matches(&pattern);
            }
        }
    }

    #[test]
    fn wildcards_agree_with_a_reference_glob(pieces in prop::collection::vec("[ab]{0,2}", 1..4), star_at_start in any::<bool>(), star_at_end in any::<bool>(), s in "[ab]{0,8}") {
        let mut glob = String::new();
        if star_at_start { glob.push('*'); }
        glob.push_str(&pieces.join("*"));
        if star_at_end && !glob.ends_with('*') { glob.push('*'); }
        if glob.contains("**") || glob.matches('*').count() > 5 { return Ok(()); }
        let pattern = Pattern::from_value(&serde_json::json!({"k": [{"wildcard": glob}]}), Dialect::EventBridge).unwrap();
        let event = serde_json::json!({"k": s});
        prop_assert_eq!(pattern.matches(&event), reference_glob(glob.as_bytes(), s.as_bytes()), "{} ~ {}", glob, s);
    }
}

fn reference_glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| reference_glob(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && reference_glob(rest, &s[1..]),
    }
}
