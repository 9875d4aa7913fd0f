//! What Sluice's terminal commands draw from a running server's counters (`GET
//! /sluice/queues`, `/sluice/mappings`, `/sluice/pipes`): text tables of queues (depth, in
//! flight, delayed, oldest message's age, traffic, dead letters, inbound rate), topics and
//! their subscriptions, event-source mappings and pipes. Pure: JSON in, text out.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::Value;

/// Every table `sluice queues` draws, from the server's counters merged into one object
/// (`queues`, `topics`, `mappings`, `pipes`); `rates` are messages in per second per queue.
pub fn queues(body: &Value, rates: Option<&HashMap<String, f64>>) -> String {
    let mut out = render(body, rates);
    out.push_str(&render_mappings(body));
    out.push_str(&render_pipes(body));
    out
}

/// Messages in so far per queue, from which rates are drawn.
pub fn sent_by_queue(body: &Value) -> HashMap<String, u64> {
    body["queues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            (
                q["name"].as_str().unwrap_or_default().to_owned(),
                q["sent"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn age(ms: u64) -> String {
    match ms {
        0 => "-".into(),
        ms if ms < 1_000 => format!("{ms}ms"),
        ms if ms < 120_000 => format!("{:.1}s", ms as f64 / 1e3),
        ms if ms < 7_200_000 => format!("{:.0}m", ms as f64 / 60e3),
        ms => format!("{:.1}h", ms as f64 / 3.6e6),
    }
}

/// The tables: queues, then subscriptions by topic.
fn render(body: &Value, rates: Option<&HashMap<String, f64>>) -> String {
    let mut out = String::new();
    let n = |v: &Value, key: &str| v[key].as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "{:<32} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>7} {:>8}",
        "QUEUE",
        "VISIBLE",
        "INFLIGHT",
        "DELAYED",
        "OLDEST",
        "SENT",
        "RECEIVED",
        "DELETED",
        "DLQ'D",
        "IN/S"
    );
    for q in body["queues"].as_array().into_iter().flatten() {
        let name = q["name"].as_str().unwrap_or_default();
        let rate = rates
            .and_then(|r| r.get(name))
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.0}"));
        let _ = writeln!(
            out,
            "{:<32} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>7} {:>8}",
            name,
            n(q, "visible"),
            n(q, "inFlight"),
            n(q, "delayed"),
            age(n(q, "oldestAgeMs")),
            n(q, "sent"),
            n(q, "received"),
            n(q, "deleted"),
            n(q, "deadLettered"),
            rate
        );
    }
    let topics = body["topics"].as_array().cloned().unwrap_or_default();
    if !topics.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<32} {:<9} {:<44} {:>9} {:>7} {:>9}",
            "TOPIC / SUBSCRIPTION", "PROTOCOL", "ENDPOINT", "DELIVERED", "FAILED", "FILTERED"
        );
        for t in &topics {
            let arn = t["arn"].as_str().unwrap_or_default();
            let name = arn.rsplit(':').next().unwrap_or(arn);
            let _ = writeln!(out, "{:<32} published {}", name, n(t, "published"));
            for s in t["subscriptions"].as_array().into_iter().flatten() {
                let id = s["arn"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit(':')
                    .next()
                    .unwrap_or_default();
                let endpoint = s["endpoint"].as_str().unwrap_or_default();
                let pending = if s["confirmed"].as_bool() == Some(false) {
                    " (pending)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  {:<30} {:<9} {:<44} {:>9} {:>7} {:>9}",
                    format!("{}{pending}", &id[..id.len().min(8)]),
                    s["protocol"].as_str().unwrap_or_default(),
                    endpoint,
                    n(s, "delivered"),
                    n(s, "failed"),
                    n(s, "filtered")
                );
            }
        }
    }
    out
}

/// The event-source mappings' table, empty when there are none.
fn render_mappings(body: &Value) -> String {
    let mut out = String::new();
    let mappings = body["mappings"].as_array().cloned().unwrap_or_default();
    if mappings.is_empty() {
        return out;
    }
    let n = |v: &Value, key: &str| v[key].as_u64().unwrap_or(0);
    let last = |arn: &str| arn.rsplit(':').next().unwrap_or(arn).to_owned();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<10} {:<24} {:<24} {:<9} {:>7} {:>8} {:>9} {:>9} {:>9} {:>8} {:>6}",
        "MAPPING",
        "QUEUE",
        "FUNCTION",
        "STATE",
        "POLLERS",
        "INVOKING",
        "BATCHES",
        "DELIVERED",
        "DELETED",
        "FILTERED",
        "FAILED"
    );
    for m in &mappings {
        let uuid = m["uuid"].as_str().unwrap_or_default();
        let function = m["functionArn"].as_str().unwrap_or_default();
        // `name` or `name:qualifier`.
        let function = function
            .split_once(":function:")
            .map_or(function, |(_, rest)| rest);
        let _ = writeln!(
            out,
            "{:<10} {:<24} {:<24} {:<9} {:>7} {:>8} {:>9} {:>9} {:>9} {:>8} {:>6}",
            &uuid[..uuid.len().min(8)],
            last(m["eventSourceArn"].as_str().unwrap_or_default()),
            function,
            m["state"].as_str().unwrap_or_default(),
            n(m, "pollers"),
            n(m, "invoking"),
            n(m, "batches"),
            n(m, "delivered"),
            n(m, "deleted"),
            n(m, "filtered"),
            n(m, "failedBatches"),
        );
    }
    out
}

/// The pipes' table, empty when there are none.
fn render_pipes(body: &Value) -> String {
    let mut out = String::new();
    let pipes = body["pipes"].as_array().cloned().unwrap_or_default();
    if pipes.is_empty() {
        return out;
    }
    let n = |v: &Value, key: &str| v[key].as_u64().unwrap_or(0);
    let last = |v: &Value, key: &str| {
        let arn = v[key].as_str().unwrap_or_default();
        arn.rsplit([':', '/']).next().unwrap_or(arn).to_owned()
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<24} {:<24} {:<24} {:<8} {:>9} {:>9} {:>8} {:>6}",
        "PIPE", "SOURCE", "TARGET", "STATE", "BATCHES", "DELIVERED", "FILTERED", "FAILED"
    );
    for p in &pipes {
        let state = if p["running"].as_bool() == Some(true) {
            "RUNNING"
        } else {
            "STOPPED"
        };
        let _ = writeln!(
            out,
            "{:<24} {:<24} {:<24} {:<8} {:>9} {:>9} {:>8} {:>6}",
            p["name"].as_str().unwrap_or_default(),
            last(p, "source"),
            last(p, "target"),
            state,
            n(p, "batches"),
            n(p, "delivered"),
            n(p, "filtered"),
            n(p, "failedBatches"),
        );
    }
    out
}

/// `sluice schedules`: each schedule with its next fire time (and how far off it is on the
/// server's clock) and what its fires did, from `GET /sluice/schedules`.
pub fn schedules(body: &Value) -> String {
    let mut out = String::new();
    let now = body["nowMs"].as_i64().unwrap_or(0);
    let n = |v: &Value, key: &str| v[key].as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "{:<16} {:<24} {:<28} {:<8} {:<26} {:>10} {:>6} {:>9} {:>8} {:>4}",
        "GROUP",
        "SCHEDULE",
        "EXPRESSION",
        "STATE",
        "NEXT FIRE",
        "IN",
        "FIRED",
        "DELIVERED",
        "FAILURES",
        "DLQ"
    );
    for s in body["schedules"].as_array().into_iter().flatten() {
        let state = if s["enabled"].as_bool() == Some(true) {
            "ENABLED"
        } else {
            "DISABLED"
        };
        let next = s["nextFire"].as_str().unwrap_or("-");
        let until = s["nextFireMs"]
            .as_i64()
            .map_or_else(|| "-".to_owned(), |at| age((at - now).max(0) as u64));
        let _ = writeln!(
            out,
            "{:<16} {:<24} {:<28} {:<8} {:<26} {:>10} {:>6} {:>9} {:>8} {:>4}",
            s["group"].as_str().unwrap_or_default(),
            s["name"].as_str().unwrap_or_default(),
            s["expression"].as_str().unwrap_or_default(),
            state,
            next,
            until,
            n(s, "fired"),
            n(s, "delivered"),
            n(s, "failedAttempts"),
            n(s, "deadLettered"),
        );
    }
    let pending = n(body, "pendingDeliveries");
    if pending > 0 {
        let _ = writeln!(out, "\n{pending} deliveries in flight or retrying");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schedules_table_shows_the_next_fire() {
        let body = serde_json::json!({"nowMs": 1_000, "pendingDeliveries": 0, "schedules": [{
            "name": "tick", "group": "default", "expression": "rate(1 minute)", "enabled": true,
            "nextFireMs": 61_000, "nextFire": "1970-01-01T00:01:01Z", "fired": 2, "delivered": 2,
            "failedAttempts": 0, "deadLettered": 0}]});
        let table = super::schedules(&body);
        let row: Vec<&str> = table.lines().last().unwrap().split_whitespace().collect();
        assert_eq!(
            row[..5],
            ["default", "tick", "rate(1", "minute)", "ENABLED"]
        );
        assert_eq!(row[5], "1970-01-01T00:01:01Z");
    }

    #[test]
    fn the_pipes_table_shows_state_and_counts() {
        let body = serde_json::json!({"pipes": [{
            "name": "batches", "source": "arn:aws:sqs:us-east-1:000000000000:events",
            "target": "arn:aws:states:us-east-1:000000000000:stateMachine:per-batch",
            "running": true, "batches": 3, "delivered": 25, "filtered": 2, "failedBatches": 1}]});
        let table = super::render_pipes(&body);
        let row: Vec<&str> = table.lines().last().unwrap().split_whitespace().collect();
        assert_eq!(
            row,
            [
                "batches",
                "events",
                "per-batch",
                "RUNNING",
                "3",
                "25",
                "2",
                "1"
            ]
        );
        assert_eq!(super::render_pipes(&serde_json::json!({})), "");
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn the_mappings_table_shows_state_pollers_and_counts() {
        let body = json!({"mappings": [{
            "uuid": "d7b332f0-5f06-478c-8a3d-be3696e71941",
            "eventSourceArn": "arn:aws:sqs:us-east-1:000000000000:orders",
            "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:work:live",
            "state": "Enabled", "pollers": 2, "invoking": 1, "batches": 40,
            "delivered": 400, "deleted": 398, "filtered": 3, "failedBatches": 1
        }]});
        let table = render_mappings(&body);
        let row: Vec<&str> = table.lines().last().unwrap().split_whitespace().collect();
        assert_eq!(
            row,
            [
                "d7b332f0",
                "orders",
                "work:live",
                "Enabled",
                "2",
                "1",
                "40",
                "400",
                "398",
                "3",
                "1"
            ]
        );
        assert_eq!(render_mappings(&json!({"mappings": []})), "");
        assert_eq!(render_mappings(&json!({})), "");
    }

    #[test]
    fn the_tables_show_depth_age_traffic_and_deliveries() {
        let body = json!({
            "queues": [{"name": "orders", "visible": 3, "inFlight": 1, "delayed": 0,
                        "oldestAgeMs": 2500, "sent": 10, "received": 7, "deleted": 6, "deadLettered": 1}],
            "topics": [{"arn": "arn:aws:sns:us-east-1:000000000000:alerts", "published": 5,
                        "subscriptions": [{"arn": "arn:aws:sns:us-east-1:000000000000:alerts:0123456789", "protocol": "sqs",
                                           "endpoint": "arn:aws:sqs:us-east-1:000000000000:orders", "confirmed": true,
                                           "delivered": 4, "failed": 0, "filtered": 1}]}]
        });
        let rates = HashMap::from([("orders".to_owned(), 2.0)]);
        let table = render(&body, Some(&rates));
        let row = table.lines().nth(1).unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells,
            ["orders", "3", "1", "0", "2.5s", "10", "7", "6", "1", "2"]
        );
        assert!(table.contains("alerts"), "{table}");
        assert!(table.contains("published 5"), "{table}");
        let sub: Vec<&str> = table.lines().last().unwrap().split_whitespace().collect();
        assert_eq!(
            sub,
            [
                "01234567",
                "sqs",
                "arn:aws:sqs:us-east-1:000000000000:orders",
                "4",
                "0",
                "1"
            ]
        );
    }
}
