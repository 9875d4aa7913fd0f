//! A realistic security-event rule (EDR detections of credential access on finance
//! workstations) against the seed's 1 KiB event: parsing once, matching per event. The
//! `matches` counter reads as matches per second.
//!
//! `cargo bench -p sluice-patterns --bench matching`

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use serde_json::Value;
use sluice_patterns::{Dialect, Pattern};

const EVENT: &str = include_str!("../../../examples/seed/event.json");

const RULE: &str = r#"{
  "vendor": ["crowdstrike", "sentinelone", "defender"],
  "event_type": [{"prefix": "Detection"}],
  "severity": [{"numeric": [">=", 3]}],
  "tactic": [{"equals-ignore-case": "credential access"}],
  "device": {
    "ou": ["Finance"],
    "local_ip": [{"cidr": "10.0.0.0/8"}],
    "hostname": [{"wildcard": "WKS-*-*"}]
  },
  "process": {
    "image": [{"suffix": {"equals-ignore-case": "rundll32.exe"}}],
    "cmdline": [{"wildcard": "*comsvcs.dll*MiniDump*"}]
  },
  "user": {"domain": [{"anything-but": ["NT AUTHORITY", "WORKGROUP"]}]},
  "$or": [{"tags": ["lsass"]}, {"technique_id": [{"prefix": "T1003"}]}]
}"#;

/// The same rule, failing on the last field it checks.
fn near_miss() -> Value {
    let mut event: Value = serde_json::from_str(EVENT).expect("seed event is JSON");
    event["user"]["domain"] = Value::from("WORKGROUP");
    event
}

fn main() {
    divan::main();
}

#[divan::bench]
fn parse(bencher: Bencher) {
    bencher.bench(|| Pattern::parse(black_box(RULE), Dialect::EventBridge).expect("valid"));
}

#[divan::bench(args = ["match", "near-miss"])]
fn matches(bencher: Bencher, case: &str) {
    let pattern = Pattern::parse(RULE, Dialect::EventBridge).expect("valid");
    let event = match case {
        "match" => serde_json::from_str(EVENT).expect("seed event is JSON"),
        _ => near_miss(),
    };
    assert_eq!(pattern.matches(&event), case == "match");
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| pattern.matches(black_box(&event)));
}
