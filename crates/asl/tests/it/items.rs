//! A distributed Map over objects (ItemReader, ItemBatcher, ResultWriter) run by the
//! interpreter against an in-memory object store; the expected histories and outputs are the
//! ones AWS recorded (LocalStack's `test_base_scenarios` snapshots) where there is one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sluice_asl::driver::ObjectCall;
use sluice_asl::interpreter::{self, Host, Options, Outcome, Status};
use sluice_asl::step::TaskCall;
use sluice_asl::{Failure, items::resources};

use crate::common::{diagnostics, event_types, machine};

/// Objects by (bucket, key); listings answer two keys a page.
#[derive(Default)]
struct Store {
    objects: BTreeMap<(String, String), String>,
    calls: Vec<ObjectCall>,
}

impl Store {
    fn with(mut self, bucket: &str, key: &str, body: &str) -> Self {
        self.objects
            .insert((bucket.into(), key.into()), body.into());
        self
    }

    fn written(&self, key_suffix: &str) -> Value {
        let (_, body) = self
            .objects
            .iter()
            .find(|((_, k), _)| k.ends_with(key_suffix))
            .unwrap_or_else(|| panic!("nothing written at *{key_suffix}"));
        serde_json::from_str(body).unwrap()
    }
}

impl Host for Store {
    fn run_task(&mut self, state: &str, _: &TaskCall) -> Result<Value, Failure> {
        panic!("no task expected, {state} ran one")
    }

    fn now(&mut self) -> DateTime<Utc> {
        "2026-12-07T23:05:00Z".parse().unwrap()
    }

    fn sleep_until(&mut self, _: DateTime<Utc>) {}

    fn call_object(&mut self, call: &ObjectCall) -> Result<Value, Failure> {
        self.calls.push(call.clone());
        let p = &call.parameters;
        let text = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
        let no_bucket = || {
            Failure::new(
                "S3.NoSuchBucketException",
                "The specified bucket does not exist",
            )
        };
        let bucket = text("Bucket");
        if !self.objects.keys().any(|(b, _)| *b == bucket) && bucket != "result-bucket" {
            return Err(no_bucket());
        }
        match call.resource.as_str() {
            resources::GET_OBJECT => self
                .objects
                .get(&(bucket, text("Key")))
                .map(|body| json!({"Body": body, "ContentLength": body.len()}))
                .ok_or_else(|| {
                    Failure::new("S3.NoSuchKeyException", "The specified key does not exist.")
                }),
            resources::LIST_OBJECTS_V2 => {
                let prefix = text("Prefix");
                let after = text("ContinuationToken");
                let keys: Vec<(String, usize)> = self
                    .objects
                    .iter()
                    .filter(|((b, k), _)| *b == bucket && k.starts_with(&prefix) && *k > after)
                    .map(|((_, k), body)| (k.clone(), body.len()))
                    .collect();
                let page: Vec<Value> = keys
                    .iter()
                    .take(2)
                    .map(|(k, size)| {
                        json!({"Key": k, "Size": size, "ETag": format!("\"etag-{k}\""),
                               "LastModified": "2026-12-07T23:05:00.000Z", "StorageClass": "STANDARD"})
                    })
                    .collect();
                let mut out = json!({"Contents": page, "IsTruncated": keys.len() > 2, "KeyCount": page.len()});
                if keys.len() > 2 {
                    out["NextContinuationToken"] = json!(keys[1].0);
                }
                Ok(out)
            }
            resources::PUT_OBJECT => {
                self.objects.insert((bucket, text("Key")), text("Body"));
                Ok(json!({"ETag": "\"e\""}))
            }
            other => panic!("unexpected object call {other}"),
        }
    }
}

fn run(definition: Value, input: Value, store: &mut Store) -> Outcome {
    interpreter::run(&machine(definition), input, store, Options::default())
}

/// A distributed Map (MaxConcurrency 1, a Pass processor) with these extra fields.
fn map(fields: Value) -> Value {
    let mut state = json!({"Type": "Map", "MaxConcurrency": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "PassItem", "States": {"PassItem": {"Type": "Pass", "End": true}}},
        "End": true});
    for (k, v) in fields.as_object().unwrap() {
        state[k] = v.clone();
    }
    json!({"StartAt": "MapState", "States": {"MapState": state}})
}

fn csv_reader(config: Value) -> Value {
    json!({"ItemReader": {"ReaderConfig": config, "Resource": "arn:aws:states:::s3:getObject",
        "Parameters": {"Bucket.$": "$.Bucket", "Key.$": "$.Key"}}})
}

const RECORDED: [&str; 8] = [
    "ExecutionStarted",
    "MapStateEntered",
    "MapStateStarted",
    "MapRunStarted",
    "MapRunSucceeded",
    "MapStateSucceeded",
    "MapStateExited",
    "ExecutionSucceeded",
];

const READER_FAILED: [&str; 7] = [
    "ExecutionStarted",
    "MapStateEntered",
    "MapStateStarted",
    "MapRunStarted",
    "MapRunFailed",
    "MapStateFailed",
    "ExecutionFailed",
];

fn failure(o: &Outcome) -> (String, String) {
    let f = o.failure.clone().expect("a failure");
    (f.error, f.cause)
}

#[test]
fn a_csv_object_with_its_header_row_maps_its_rows_as_recorded() {
    let csv = "Col1,Col2,Col3\nValue1,Value2,Value3\nValue4,Value5,Value6\n,,,\n\
               true,1,'HelloWorld'\nNull,None,\n   \n";
    let mut store = Store::default().with("b", "file.csv", csv);
    let def = map(csv_reader(
        json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}),
    ));
    let o = run(def, json!({"Bucket": "b", "Key": "file.csv"}), &mut store);
    assert_eq!(event_types(&o), RECORDED);
    let started = &o.history[2];
    assert_eq!(
        serde_json::to_value(started).unwrap()["mapStateStartedEventDetails"]["length"],
        0,
        "the items are read after MapStateStarted"
    );
    assert_eq!(
        o.output,
        Some(json!([
            {"Col1": "Value1", "Col2": "Value2", "Col3": "Value3"},
            {"Col1": "Value4", "Col2": "Value5", "Col3": "Value6"},
            {"Col1": "", "Col2": "", "Col3": ""},
            {"Col1": "true", "Col2": "1", "Col3": "'HelloWorld'"},
            {"Col1": "Null", "Col2": "None", "Col3": ""},
            {"Col1": "   ", "Col2": "", "Col3": ""},
        ]))
    );
}

#[test]
fn duplicate_given_headers_fail_the_map_run_with_aws_cause() {
    let mut store = Store::default().with("b", "k", "1,2,3\n");
    let def = map(csv_reader(
        json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN",
        "CSVHeaders": ["H1", "H1", "H3"]}),
    ));
    let o = run(def, json!({"Bucket": "b", "Key": "k"}), &mut store);
    assert_eq!(event_types(&o), READER_FAILED);
    assert_eq!(
        failure(&o),
        (
            "States.ItemReaderFailed".into(),
            "CSV headers cannot contain duplicates.".into()
        )
    );
}

#[test]
fn max_items_path_is_checked_as_recorded() {
    let csv = "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\nValue7,Value8\n";
    let def = || {
        map(csv_reader(
            json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW",
            "MaxItemsPath": "$.MaxItems"}),
        ))
    };
    let input = |n: Value| json!({"Bucket": "b", "Key": "k", "MaxItems": n});
    let mut store = Store::default().with("b", "k", csv);

    let two = run(def(), input(json!(2)), &mut store);
    assert_eq!(two.output.unwrap().as_array().unwrap().len(), 2);
    let all = run(def(), input(json!(0)), &mut store);
    assert_eq!(all.output.unwrap().as_array().unwrap().len(), 4);

    let negative = run(def(), input(json!(-1)), &mut store);
    assert_eq!(event_types(&negative), READER_FAILED);
    assert_eq!(
        failure(&negative),
        (
            "States.ItemReaderFailed".into(),
            "field MaxItems must be positive".into()
        )
    );

    let fraction = run(def(), input(json!(1.5)), &mut store);
    assert_eq!(
        event_types(&fraction),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "ExecutionFailed"
        ]
    );
    assert_eq!(
        failure(&fraction),
        (
            "States.Runtime".into(),
            "An error occurred while executing the state 'MapState' (entered at the event id \
             #2). The MaxItemsPath field refers to value \"1.5\" which is not a valid integer: \
             $.MaxItems"
                .into()
        )
    );
}

#[test]
fn a_json_object_must_hold_an_array_and_items_path_is_ignored() {
    let mut store = Store::default()
        .with("b", "list.json", r#"[["from-bucket-item-0"]]"#)
        .with("b", "object.json", r#"{"Hello": "world"}"#);
    let reader = |key: &str| {
        json!({"ItemsPath": "$.from_previous", "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": "b", "Key": key}}})
    };
    let input = json!({"from_previous": ["from-previous-item-0"]});
    let o = run(map(reader("list.json")), input.clone(), &mut store);
    assert_eq!(o.output, Some(json!([["from-bucket-item-0"]])));
    let o = run(map(reader("object.json")), input, &mut store);
    assert_eq!(event_types(&o), READER_FAILED);
    assert_eq!(failure(&o).1, "Attempting to map over non-iterable node.");
}

#[test]
fn a_missing_object_or_bucket_fails_the_read_naming_it() {
    let mut store = Store::default().with("b", "other", "[]");
    let def = |bucket: &str| {
        map(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket": bucket, "Key": "missing.jsonl"}}}),
        )
    };
    let (error, cause) = failure(&run(def("b"), json!({}), &mut store));
    assert_eq!(error, "States.ItemReaderFailed");
    assert!(
        cause.contains("s3://b/missing.jsonl") && cause.contains("S3.NoSuchKeyException"),
        "{cause}"
    );
    let (_, cause) = failure(&run(def("nope"), json!({}), &mut store));
    assert!(cause.contains("S3.NoSuchBucketException"), "{cause}");
}

#[test]
fn a_listing_pages_through_its_continuation_tokens() {
    let mut store = Store::default()
        .with("b", "in/a.txt", "0HelloWorld!")
        .with("b", "in/b.txt", "1HelloWorld!")
        .with("b", "in/c.txt", "2HelloWorld!")
        .with("b", "out/d.txt", "x");
    let def = map(
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket.$": "$.Bucket", "Prefix": "in/"}}}),
    );
    let o = run(def, json!({"Bucket": "b"}), &mut store);
    assert_eq!(event_types(&o), RECORDED);
    let out = o.output.unwrap();
    let keys: Vec<&str> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["in/a.txt", "in/b.txt", "in/c.txt"]);
    assert_eq!(
        out[0],
        json!({"Etag": "\"etag-in/a.txt\"", "Key": "in/a.txt", "LastModified": 1_796_684_700,
               "Size": 12, "StorageClass": "STANDARD"})
    );
    let tokens: Vec<&Value> = store
        .calls
        .iter()
        .map(|c| &c.parameters["ContinuationToken"])
        .collect();
    assert_eq!(tokens, [&Value::Null, &json!("in/b.txt")]);
}

#[test]
fn a_jsonata_batcher_gives_each_child_its_batch_as_recorded() {
    let items = json!([
        {"verdict": "true", "statement_date": "6/11/2008", "statement_source": "speech"},
        {"verdict": "false", "statement_date": "6/7/2022", "statement_source": "television"},
        {"verdict": "mostly-true", "statement_date": "5/18/2016", "statement_source": "news"},
    ]);
    let mut store = Store::default().with("b", "file.json", &items.to_string());
    let def = json!({"StartAt": "BatchMapState", "QueryLanguage": "JSONata", "States": {
        "BatchMapState": {"Type": "Map",
            "ItemReader": {"ReaderConfig": {"InputType": "JSON", "MaxItems": 2},
                "Resource": "arn:aws:states:::s3:getObject",
                "Arguments": {"Bucket": "{% $states.input.Bucket %}",
                              "Key": "{% $states.input.Key %}"}},
            "ItemBatcher": {"MaxItemsPerBatch": "{% $states.input.MaxItemsPerBatch %}",
                "MaxInputBytesPerBatch": "{% $states.input.MaxInputBytesPerBatch %}",
                "BatchInput": {"BatchTimestamp": "{% $states.context.State.EnteredTime %}"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "ProcessBatch", "States": {"ProcessBatch": {"Type": "Pass", "End": true}}},
            "End": true}}});
    let input = json!({"Bucket": "b", "Key": "file.json", "MaxItemsPerBatch": 2,
                       "MaxInputBytesPerBatch": 150_000});
    let o = run(def, input, &mut store);
    assert_eq!(event_types(&o), RECORDED);
    assert_eq!(
        o.output,
        Some(
            json!([{"BatchInput": {"BatchTimestamp": "2026-12-07T23:05:00.000Z"},
                     "Items": [items[0], items[1]]}])
        )
    );
}

#[test]
fn batches_of_an_input_array_respect_max_items_per_batch() {
    let def = map(json!({"ItemBatcher": {"MaxItemsPerBatch": 2,
        "BatchInput": {"from.$": "$.source"}}, "ItemsPath": "$.items"}));
    let o = run(
        def,
        json!({"source": "s", "items": [1, 2, 3]}),
        &mut Store::default(),
    );
    assert_eq!(
        o.output,
        Some(json!([
            {"BatchInput": {"from": "s"}, "Items": [1, 2]},
            {"BatchInput": {"from": "s"}, "Items": [3]},
        ]))
    );
}

#[test]
fn a_result_writer_exports_the_results_and_the_map_outputs_where_as_recorded() {
    let def = map(json!({"Label": "TestMap", "ResultWriter": {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "result-bucket", "Prefix": "mapJobs"}}}));
    let mut store = Store::default();
    let o = run(def, json!(["Hello", "World"]), &mut store);
    assert_eq!(o.status, Status::Succeeded, "{:?}", o.failure);
    assert_eq!(event_types(&o), RECORDED);
    let out = o.output.unwrap();
    let arn = out["MapRunArn"].as_str().unwrap().to_owned();
    assert!(arn.contains(":mapRun:machine/TestMap:"), "{arn}");
    let run_id = arn.rsplit(':').next().unwrap();
    assert_eq!(
        out["ResultWriterDetails"],
        json!({"Bucket": "result-bucket", "Key": format!("mapJobs/{run_id}/manifest.json")})
    );
    let manifest = store.written(&format!("{run_id}/manifest.json"));
    assert_eq!(manifest["DestinationBucket"], "result-bucket");
    assert_eq!(manifest["MapRunArn"], arn.as_str());
    assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    assert_eq!(
        manifest["ResultFiles"]["SUCCEEDED"][0]["Key"],
        format!("mapJobs/{run_id}/SUCCEEDED_0.json")
    );
    let succeeded = store.written("SUCCEEDED_0.json");
    let outputs: Vec<&Value> = succeeded
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["Output"])
        .collect();
    assert_eq!(outputs, [&json!("\"Hello\""), &json!("\"World\"")]);
    // The manifest is written last, so whoever reads it finds its files.
    assert!(
        store.calls.last().unwrap().parameters["Key"]
            .as_str()
            .unwrap()
            .ends_with("manifest.json")
    );
}

#[test]
fn a_failed_export_fails_the_map_with_result_writer_failed() {
    let def = map(
        json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "nowhere", "Prefix": "p"}}}),
    );
    let o = run(def, json!([1]), &mut Store::default());
    let (error, cause) = failure(&o);
    assert_eq!(error, "States.ResultWriterFailed");
    assert!(
        cause.contains("s3://nowhere/p") && cause.contains("NoSuchBucket"),
        "{cause}"
    );
}

#[test]
fn a_writer_config_alone_shapes_the_maps_output() {
    let def = map(
        json!({"ResultWriter": {"WriterConfig": {"Transformation": "FLATTEN",
        "OutputType": "JSON"}}}),
    );
    let o = run(def, json!([[1, 2], [3]]), &mut Store::default());
    assert_eq!(o.output, Some(json!([1, 2, 3])));
}

#[test]
fn the_synchronous_runner_without_a_store_fails_the_read_clearly() {
    let def = map(
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"}, "Parameters": {"Bucket": "b", "Key": "k"}}}),
    );
    let o = crate::common::run(def, json!({}));
    let (error, cause) = failure(&o);
    assert_eq!(error, "States.ItemReaderFailed");
    assert!(
        cause.contains("s3://b/k") && cause.contains("no object store"),
        "{cause}"
    );
}

#[test]
fn malformed_readers_batchers_and_writers_are_refused_with_their_field() {
    let cases = [
        (
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                "Parameters": {"Bucket": "b", "Key": "k"}}}),
            "/States/MapState/ItemReader/ReaderConfig",
        ),
        (
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"},
                "Parameters": {"Bucket": "b", "Key": "k"}}}),
            "/States/MapState/ItemReader/ReaderConfig/CSVHeaders",
        ),
        (
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW",
                    "CSVDelimiter": "COLON"},
                "Parameters": {"Bucket": "b", "Key": "k"}}}),
            "/States/MapState/ItemReader/ReaderConfig/CSVDelimiter",
        ),
        (
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:deleteObject",
                "Parameters": {"Bucket": "b"}}}),
            "/States/MapState/ItemReader/Resource",
        ),
        (
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                "ReaderConfig": {"MaxItems": 100_000_001}, "Parameters": {"Bucket": "b"}}}),
            "/States/MapState/ItemReader/ReaderConfig/MaxItems",
        ),
        (
            json!({"ItemBatcher": {"BatchInput": {}}}),
            "/States/MapState/ItemBatcher",
        ),
        (
            json!({"ItemBatcher": {"MaxInputBytesPerBatch": 262_145}}),
            "/States/MapState/ItemBatcher/MaxInputBytesPerBatch",
        ),
        (
            json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:getObject",
                "Parameters": {"Bucket": "b"}}}),
            "/States/MapState/ResultWriter/Resource",
        ),
        (
            json!({"ResultWriter": {"WriterConfig": {"Transformation": "SQUASH"}}}),
            "/States/MapState/ResultWriter/WriterConfig/Transformation",
        ),
    ];
    for (fields, pointer) in cases {
        let d = diagnostics(map(fields.clone()));
        let at: Vec<String> = d.iter().map(|d| d.location.to_string()).collect();
        assert!(at.iter().any(|p| p == pointer), "{fields}: {at:?}");
    }
}
