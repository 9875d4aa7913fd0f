//! A distributed Map over objects performed by the durable engine: its reads and writes go
//! through the `aws-sdk:s3` integration of the `Integrations` registry (here a map of objects
//! with the SDK's shapes), as internal calls that leave no Task in the history; a read cut
//! short by a crash is made again after the restart.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sluice_asl::Failure;
use sluice_engine::{Clock, Engine, EngineOptions, Integration, Integrations, Task, TaskFuture};
use sluice_store::{ExecutionStatus, MachineType, SqliteOptions, SqliteStore, Store, Write};

use crate::common::{execution_arn, history, machine_record, wait_for_status};

/// Objects by (bucket, key), answering getObject, listObjectsV2 and putObject as the
/// `aws-sdk:s3` integration does. While `hold` is set, getObject never answers.
#[derive(Default)]
struct Bucket {
    objects: Mutex<BTreeMap<(String, String), String>>,
    hold: AtomicBool,
    gets: AtomicUsize,
}

impl Bucket {
    fn with(self, bucket: &str, key: &str, body: &str) -> Self {
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.into(), key.into()), body.into());
        self
    }

    fn body(&self, bucket: &str, key: &str) -> Option<String> {
        self.objects
            .lock()
            .unwrap()
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
    }
}

impl Integration for Bucket {
    fn run(&self, task: Task) -> TaskFuture<'_> {
        Box::pin(async move {
            let p = &task.call.input;
            let text = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
            let (bucket, key) = (text("Bucket"), text("Key"));
            match task.call.resource.rsplit(':').next().unwrap_or_default() {
                "getObject" => {
                    self.gets.fetch_add(1, Ordering::SeqCst);
                    if self.hold.load(Ordering::SeqCst) {
                        std::future::pending::<()>().await;
                    }
                    let body = self.body(&bucket, &key).ok_or_else(|| {
                        Failure::new("S3.NoSuchKeyException", "The specified key does not exist.")
                    })?;
                    Ok(json!({"Body": body, "ContentLength": body.len(), "ETag": "\"e\""}))
                }
                "putObject" => {
                    self.objects
                        .lock()
                        .unwrap()
                        .insert((bucket, key), text("Body"));
                    Ok(json!({"ETag": "\"e\""}))
                }
                other => Err(Failure::new("S3.Unsupported", other)),
            }
        })
    }
}

const DEFINITION: &str = r#"{"StartAt": "Rows", "States": {"Rows": {
    "Type": "Map", "Label": "Rows", "MaxConcurrency": 2,
    "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
        "Parameters": {"Bucket.$": "$.bucket", "Key": "rows.csv"}},
    "ItemBatcher": {"MaxItemsPerBatch": 2},
    "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "out", "Prefix": "runs"}},
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Count", "States": {"Count": {"Type": "Pass",
            "Parameters": {"n.$": "States.ArrayLength($.Items)"}, "End": true}}},
    "End": true}}}"#;

const ROWS: &str = "id,name\n1,a\n2,b\n3,c\n";

fn open(dir: &std::path::Path, bucket: Arc<Bucket>) -> Engine<SqliteStore, Integrations> {
    let store = SqliteStore::open(&dir.join("sluice.db"), SqliteOptions::default()).unwrap();
    let integrations = Integrations::new().register("aws-sdk:s3", bucket);
    Engine::new(
        store,
        integrations,
        Clock::system(),
        EngineOptions::default(),
    )
}

async fn map_run_arn(e: &Engine<SqliteStore, Integrations>, arn: &str) -> String {
    history(e, arn)
        .await
        .iter()
        .find_map(|ev| ev["mapRunStartedEventDetails"]["mapRunArn"].as_str())
        .expect("MapRunStarted")
        .to_owned()
}

#[tokio::test]
async fn a_csv_object_is_read_batched_and_its_results_exported() {
    let dir = crate::common::data_dir("engine", "objects");
    let bucket = Arc::new(Bucket::default().with("in", "rows.csv", ROWS));
    let e = open(&dir, Arc::clone(&bucket));
    let m = machine_record("m", DEFINITION, MachineType::Standard);
    e.store()
        .commit(vec![Write::PutStateMachine(m.clone())])
        .await
        .unwrap();
    let arn = execution_arn("m", "a");
    e.start(
        &m,
        arn.clone(),
        "a".into(),
        r#"{"bucket": "in"}"#.into(),
        None,
        None,
    )
    .await
    .unwrap();
    let done = wait_for_status(&e, &arn, ExecutionStatus::Succeeded).await;
    let output: Value = serde_json::from_str(done.output.as_deref().unwrap()).unwrap();
    let run_arn = map_run_arn(&e, &arn).await;
    let run_id = run_arn.rsplit(':').next().unwrap();
    let manifest_key = format!("runs/{run_id}/manifest.json");
    assert_eq!(
        output,
        json!({"MapRunArn": run_arn, "ResultWriterDetails": {"Bucket": "out", "Key": manifest_key}})
    );
    // No Task state ran the reads and writes.
    let types: Vec<String> = history(&e, &arn)
        .await
        .iter()
        .map(|ev| ev["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(!types.iter().any(|t| t.starts_with("Task")), "{types:?}");
    let manifest: Value =
        serde_json::from_str(&bucket.body("out", &manifest_key).unwrap()).unwrap();
    let file = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
        .as_str()
        .unwrap();
    let results: Value = serde_json::from_str(&bucket.body("out", file).unwrap()).unwrap();
    let outputs: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Output"].as_str().unwrap())
        .collect();
    assert_eq!(outputs, [r#"{"n":2}"#, r#"{"n":1}"#]);
    let first_input: Value = serde_json::from_str(results[0]["Input"].as_str().unwrap()).unwrap();
    assert_eq!(
        first_input,
        json!({"Items": [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]})
    );
    // Two child executions (batches) carried three items.
    let run = e.map_run(&run_arn).await.unwrap().unwrap().run;
    assert_eq!((run.counts.total, run.counts.succeeded), (2, 2));
    let items = run.item_counts.unwrap();
    assert_eq!((items.total, items.succeeded), (3, 3));
}

#[tokio::test]
async fn a_missing_object_fails_the_map_run_with_item_reader_failed() {
    let dir = crate::common::data_dir("engine", "objects-missing");
    let e = open(&dir, Arc::new(Bucket::default()));
    let m = machine_record("m", DEFINITION, MachineType::Standard);
    e.store()
        .commit(vec![Write::PutStateMachine(m.clone())])
        .await
        .unwrap();
    let arn = execution_arn("m", "a");
    e.start(
        &m,
        arn.clone(),
        "a".into(),
        r#"{"bucket": "in"}"#.into(),
        None,
        None,
    )
    .await
    .unwrap();
    let failed = wait_for_status(&e, &arn, ExecutionStatus::Failed).await;
    assert_eq!(failed.error.as_deref(), Some("States.ItemReaderFailed"));
    let cause = failed.cause.unwrap_or_default();
    assert!(
        cause.contains("s3://in/rows.csv") && cause.contains("S3.NoSuchKeyException"),
        "{cause}"
    );
}

#[test]
fn a_read_cut_short_by_a_crash_is_made_again_after_the_restart() {
    let dir = crate::common::data_dir("engine", "objects-crash");
    let m = machine_record("m", DEFINITION, MachineType::Standard);
    let arn = execution_arn("m", "c");
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let held = Arc::new(Bucket::default().with("in", "rows.csv", ROWS));
        held.hold.store(true, Ordering::SeqCst);
        rt.block_on(async {
            let e = open(&dir, Arc::clone(&held));
            e.store()
                .commit(vec![Write::PutStateMachine(m.clone())])
                .await
                .unwrap();
            e.start(
                &m,
                arn.clone(),
                "c".into(),
                r#"{"bucket": "in"}"#.into(),
                None,
                None,
            )
            .await
            .unwrap();
            for _ in 0..500 {
                if held.gets.load(Ordering::SeqCst) > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(held.gets.load(Ordering::SeqCst), 1, "the read started");
        });
        rt.shutdown_background(); // the read vanishes mid-flight, like kill -9
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let bucket = Arc::new(Bucket::default().with("in", "rows.csv", ROWS));
        let mut e = None;
        for _ in 0..200 {
            // The first process's store may still hold its file lock for a moment.
            match SqliteStore::open(&dir.join("sluice.db"), SqliteOptions::default()) {
                Ok(store) => {
                    let integrations =
                        Integrations::new().register("aws-sdk:s3", Arc::clone(&bucket) as _);
                    e = Some(Engine::new(
                        store,
                        integrations,
                        Clock::system(),
                        EngineOptions::default(),
                    ));
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let e = e.expect("store reopens");
        assert_eq!(e.recover().await.unwrap(), 1);
        wait_for_status(&e, &arn, ExecutionStatus::Succeeded).await;
        assert_eq!(bucket.gets.load(Ordering::SeqCst), 1, "read again once");
        let types: Vec<String> = history(&e, &arn)
            .await
            .iter()
            .map(|ev| ev["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types.iter().filter(|t| *t == "MapRunStarted").count(),
            1,
            "{types:?}"
        );
    });
}
