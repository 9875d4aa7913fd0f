//! `ResultWriter`: a distributed Map's child workflow results as AWS exports them — one file
//! per status under `<Prefix>/<Map Run id>/` (`SUCCEEDED_0.json`, `FAILED_0.json`) and a
//! `manifest.json` naming them — and the Map's output once they are written
//! (`{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`). `WriterConfig` shapes what the
//! files (or, without an export, the Map's output) hold.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Failure;

/// `WriterConfig.Transformation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transformation {
    /// Each child's output with its execution's metadata (the default of an export).
    None,
    /// Each child's output (the default without an export).
    Compact,
    /// Each child's output, arrays flattened into the list.
    Flatten,
}

impl Transformation {
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "NONE" => Self::None,
            "COMPACT" => Self::Compact,
            "FLATTEN" => Self::Flatten,
            _ => return None,
        })
    }
}

/// `WriterConfig.OutputType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OutputType {
    /// A JSON array.
    #[default]
    Json,
    /// JSON Lines.
    Jsonl,
}

impl OutputType {
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "JSON" => Self::Json,
            "JSONL" => Self::Jsonl,
            _ => return None,
        })
    }
}

/// A `ResultWriter`, evaluated when the Map state is entered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteRequest {
    /// Where to export: `(Bucket, Prefix)`; none: only `WriterConfig` (the Map's output).
    pub destination: Option<(String, String)>,
    pub transformation: Option<Transformation>,
    pub output_type: OutputType,
}

/// How one child workflow ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildOutcome {
    Succeeded(Value),
    Failed(Failure),
}

/// One child workflow execution of a Map Run, as the result files show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildRun {
    /// Its execution name.
    pub name: String,
    pub input: Value,
    pub outcome: ChildOutcome,
    pub start_ms: i64,
    pub stop_ms: i64,
}

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectWrite {
    pub bucket: String,
    pub key: String,
    pub body: String,
}

/// An export: the objects to write, the manifest last (so whoever sees it finds its files), and
/// the Map's result once they are written.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub writes: Vec<ObjectWrite>,
    pub result: Value,
}

fn iso(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A child's entry with its execution's metadata (`Transformation: NONE`).
fn described(child: &ChildRun, map_run_arn: &str) -> Value {
    let machine = crate::map_run::child_state_machine_arn(map_run_arn);
    let execution = format!(
        "{}:{}",
        machine.replacen(":stateMachine:", ":execution:", 1),
        child.name
    );
    let mut entry = Map::new();
    entry.insert("ExecutionArn".into(), execution.into());
    entry.insert("Input".into(), crate::json_text(&child.input).into());
    entry.insert("InputDetails".into(), json!({"Included": true}));
    entry.insert("Name".into(), child.name.clone().into());
    let status = match &child.outcome {
        ChildOutcome::Succeeded(output) => {
            entry.insert("Output".into(), crate::json_text(output).into());
            entry.insert("OutputDetails".into(), json!({"Included": true}));
            entry.insert("RedriveCount".into(), 0.into());
            entry.insert("RedriveStatus".into(), "NOT_REDRIVABLE".into());
            entry.insert(
                "RedriveStatusReason".into(),
                "Execution is SUCCEEDED and cannot be redriven".into(),
            );
            "SUCCEEDED"
        }
        ChildOutcome::Failed(f) => {
            entry.insert("Error".into(), f.error.clone().into());
            entry.insert("Cause".into(), f.cause.clone().into());
            entry.insert("RedriveCount".into(), 0.into());
            entry.insert("RedriveStatus".into(), "REDRIVABLE_BY_MAP_RUN".into());
            "FAILED"
        }
    };
    entry.insert("StartDate".into(), iso(child.start_ms).into());
    entry.insert("StateMachineArn".into(), machine.into());
    entry.insert("Status".into(), status.into());
    entry.insert("StopDate".into(), iso(child.stop_ms).into());
    Value::Object(entry)
}

/// The entries `transformation` makes of `children` (a failed child's entry is always
/// described whole, as on AWS).
pub fn entries(
    children: &[ChildRun],
    transformation: Transformation,
    map_run_arn: &str,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(children.len());
    for child in children {
        match (&child.outcome, transformation) {
            (ChildOutcome::Succeeded(output), Transformation::Compact) => out.push(output.clone()),
            (ChildOutcome::Succeeded(Value::Array(items)), Transformation::Flatten) => {
                out.extend(items.iter().cloned())
            }
            (ChildOutcome::Succeeded(output), Transformation::Flatten) => out.push(output.clone()),
            _ => out.push(described(child, map_run_arn)),
        }
    }
    out
}

/// The text of a result file of `entries`.
pub fn render(entries: &[Value], output_type: OutputType) -> String {
    match output_type {
        OutputType::Json => crate::json_text(&Value::Array(entries.to_vec())),
        OutputType::Jsonl => {
            let mut text = String::new();
            for entry in entries {
                text.push_str(&crate::json_text(entry));
                text.push('\n');
            }
            text
        }
    }
}

/// The result files and manifest of Map Run `map_run_arn` under `prefix` in `bucket`.
pub fn export(
    bucket: &str,
    prefix: &str,
    map_run_arn: &str,
    children: &[ChildRun],
    transformation: Transformation,
    output_type: OutputType,
) -> Export {
    let run_id = map_run_arn.rsplit(':').next().unwrap_or_default();
    let mut dir = prefix.to_owned();
    if !dir.is_empty() && !dir.ends_with('/') {
        dir.push('/');
    }
    dir.push_str(run_id);
    dir.push('/');
    let extension = match output_type {
        OutputType::Json => "json",
        OutputType::Jsonl => "jsonl",
    };
    let mut writes = Vec::new();
    let mut files = Map::new();
    for status in ["FAILED", "PENDING", "SUCCEEDED"] {
        let of_status: Vec<ChildRun> = children
            .iter()
            .filter(|c| match &c.outcome {
                ChildOutcome::Succeeded(_) => status == "SUCCEEDED",
                ChildOutcome::Failed(_) => status == "FAILED",
            })
            .cloned()
            .collect();
        let mut listed = Vec::new();
        if !of_status.is_empty() {
            let body = render(
                &entries(&of_status, transformation, map_run_arn),
                output_type,
            );
            let key = format!("{dir}{status}_0.{extension}");
            listed.push(json!({"Key": key, "Size": body.len()}));
            writes.push(ObjectWrite {
                bucket: bucket.to_owned(),
                key,
                body,
            });
        }
        files.insert(status.into(), Value::Array(listed));
    }
    let manifest_key = format!("{dir}manifest.json");
    let manifest = json!({
        "DestinationBucket": bucket,
        "MapRunArn": map_run_arn,
        "ResultFiles": files,
    });
    writes.push(ObjectWrite {
        bucket: bucket.to_owned(),
        key: manifest_key.clone(),
        body: crate::json_text(&manifest),
    });
    Export {
        writes,
        result: json!({
            "MapRunArn": map_run_arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key},
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "arn:aws:states:us-east-1:123456789012:mapRun:m/TestMap:6dbfba93";

    fn child(name: &str, outcome: ChildOutcome) -> ChildRun {
        ChildRun {
            name: name.into(),
            input: json!("in"),
            outcome,
            start_ms: 0,
            stop_ms: 1_000,
        }
    }

    #[test]
    fn an_export_writes_one_file_per_status_then_the_manifest() {
        let children = [
            child("c0", ChildOutcome::Succeeded(json!({"ok": 1}))),
            child("c1", ChildOutcome::Failed(Failure::new("E", "why"))),
            child("c2", ChildOutcome::Succeeded(json!({"ok": 2}))),
        ];
        let export = export(
            "out",
            "mapJobs",
            RUN,
            &children,
            Transformation::None,
            OutputType::Json,
        );
        let keys: Vec<&str> = export.writes.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "mapJobs/6dbfba93/FAILED_0.json",
                "mapJobs/6dbfba93/SUCCEEDED_0.json",
                "mapJobs/6dbfba93/manifest.json"
            ]
        );
        assert_eq!(
            export.result,
            json!({"MapRunArn": RUN, "ResultWriterDetails":
                   {"Bucket": "out", "Key": "mapJobs/6dbfba93/manifest.json"}})
        );
        let manifest: Value = serde_json::from_str(&export.writes[2].body).unwrap();
        assert_eq!(manifest["DestinationBucket"], "out");
        assert_eq!(manifest["MapRunArn"], RUN);
        assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
        assert_eq!(
            manifest["ResultFiles"]["SUCCEEDED"],
            json!([{"Key": "mapJobs/6dbfba93/SUCCEEDED_0.json",
                    "Size": export.writes[1].body.len()}])
        );
        let succeeded: Value = serde_json::from_str(&export.writes[1].body).unwrap();
        let first = &succeeded[0];
        assert_eq!(
            first["ExecutionArn"],
            "arn:aws:states:us-east-1:123456789012:execution:m/TestMap:c0"
        );
        assert_eq!(
            first["StateMachineArn"],
            "arn:aws:states:us-east-1:123456789012:stateMachine:m/TestMap"
        );
        assert_eq!(first["Input"], "\"in\"");
        assert_eq!(first["Output"], "{\"ok\":1}");
        assert_eq!(first["Status"], "SUCCEEDED");
        assert_eq!(first["StartDate"], "1970-01-01T00:00:00.000Z");
        let failed: Value = serde_json::from_str(&export.writes[0].body).unwrap();
        assert_eq!(
            (
                &failed[0]["Error"],
                &failed[0]["Cause"],
                &failed[0]["Status"]
            ),
            (&json!("E"), &json!("why"), &json!("FAILED"))
        );
        assert!(failed[0].get("Output").is_none());
    }

    #[test]
    fn an_empty_prefix_puts_the_run_at_the_bucket_root_and_jsonl_writes_lines() {
        let children = [child("c0", ChildOutcome::Succeeded(json!([1, 2])))];
        let export = export(
            "b",
            "",
            RUN,
            &children,
            Transformation::Flatten,
            OutputType::Jsonl,
        );
        assert_eq!(export.writes[0].key, "6dbfba93/SUCCEEDED_0.jsonl");
        assert_eq!(export.writes[0].body, "1\n2\n");
    }

    #[test]
    fn compact_keeps_outputs_and_describes_failures_whole() {
        let children = [
            child("c0", ChildOutcome::Succeeded(json!({"a": 1}))),
            child("c1", ChildOutcome::Failed(Failure::new("E", "c"))),
        ];
        let out = entries(&children, Transformation::Compact, RUN);
        assert_eq!(out[0], json!({"a": 1}));
        assert_eq!(out[1]["Status"], "FAILED");
    }
}
