//! Pools with real workers: Python handlers through `awslambdaric` (from the project's venv,
//! `$SLUICE_VENV` or `~/.cache/sluice-venv`, as `.ci/run` creates it) and a `provided` runtime
//! whose `bootstrap` is a shell script speaking the Runtime API with curl.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};

use crate::archive::tests::zip_of;
use crate::{Functions, InvokeOptions, Options, Scope, Settings};

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("SLUICE_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sluice-venv")))
        .expect("neither SLUICE_VENV nor HOME is set");
    let python = venv.join("bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", "import awslambdaric"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "no Python with awslambdaric at {}: run .ci/run, or `{} -m pip install awslambdaric`",
        python.display(),
        python.display()
    );
    python
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-functions-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn service(name: &str, options: Options) -> Functions {
    let options = Options {
        python: venv_python(),
        ..options
    };
    Functions::open(
        &scratch(name),
        options,
        Scope::new("us-east-1", "000000000000"),
    )
    .unwrap()
}

const HANDLER: &str = r#"
import os, sys, time

def handler(event, context):
    action = event.get("action")
    if action == "fail":
        class CustomError(Exception):
            pass
        CustomError.__name__ = "CustomError"
        raise CustomError("it failed")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "exit":
        os._exit(3)
    if action == "kill":
        os.kill(os.getpid(), 9)
    print("handled", event.get("n"))
    return {
        "echo": event,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": {k: os.environ.get(k) for k in ["GREETING", "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "TZ", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]},
        "pid": os.getpid(),
    }
"#;

fn python_function(functions: &Functions, name: &str, timeout: i64) {
    let zip = zip_of(&[("handler.py", HANDLER.as_bytes(), 0o644)]);
    let settings = Settings {
        runtime: Some("python3.12".into()),
        handler: Some("handler.handler".into()),
        role: Some("arn:aws:iam::000000000000:role/r".into()),
        timeout: Some(timeout),
        environment: Some([("GREETING".to_string(), "hello".to_string())].into()),
        ..Settings::default()
    };
    functions.create(name, &settings, &zip).unwrap();
}

async fn call(functions: &Functions, name: &str, event: Value) -> (Value, Option<String>) {
    let invoked = functions
        .invoke(
            name,
            Bytes::from(event.to_string()),
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    (
        serde_json::from_slice(&invoked.payload).unwrap(),
        invoked.function_error,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_handlers_run_with_lambdas_environment_and_logs() {
    let functions = service("python", Options::default());
    python_function(&functions, "echo", 5);
    let (out, error) = call(&functions, "echo", json!({"n": 1})).await;
    assert_eq!(error, None, "{out}");
    assert_eq!(out["echo"], json!({"n": 1}));
    assert_eq!(
        out["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:echo"
    );
    assert_eq!(out["env"]["GREETING"], "hello");
    assert_eq!(out["env"]["AWS_LAMBDA_FUNCTION_NAME"], "echo");
    assert_eq!(out["env"]["AWS_REGION"], "us-east-1");
    assert_eq!(out["env"]["TZ"], ":UTC");
    assert_eq!(out["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    let remaining = out["remaining_ms"].as_i64().unwrap();
    assert!((3000..=5000).contains(&remaining), "{remaining}");
    // The same worker serves the next invocation.
    let (again, _) = call(&functions, "echo", json!({"n": 2})).await;
    assert_eq!(again["pid"], out["pid"]);
    assert_eq!(functions.stats("echo").workers, 1);
    let request_id = again["request_id"].as_str().unwrap();
    // Output is read from the pipe asynchronously: give it a moment.
    let mut logs = String::new();
    for _ in 0..50 {
        logs = functions.logs("echo", request_id);
        if logs.contains("handled 2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        logs.contains(&format!("START RequestId: {request_id}")),
        "{logs}"
    );
    assert!(logs.contains("handled 2"), "{logs}");
    assert!(
        logs.contains(&format!("REPORT RequestId: {request_id}")),
        "{logs}"
    );
    assert!(!logs.contains("handled 1"), "{logs}");

    // A handler exception is the invocation's result, with its type.
    let (out, error) = call(&functions, "echo", json!({"action": "fail"})).await;
    assert_eq!(error.as_deref(), Some("CustomError"));
    assert_eq!(out["errorType"], "CustomError");
    assert_eq!(out["errorMessage"], "it failed");
    assert!(out["stackTrace"].is_array(), "{out}");
    functions.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_crashes_kill_the_worker_and_fail_the_invocation() {
    let functions = service("crash", Options::default());
    python_function(&functions, "f", 1);
    let (first, _) = call(&functions, "f", json!({})).await;

    let started = std::time::Instant::now();
    let (out, error) = call(&functions, "f", json!({"action": "sleep", "seconds": 30})).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(error.as_deref(), Some("Sandbox.Timedout"));
    let message = out["errorMessage"].as_str().unwrap();
    assert!(
        message.ends_with("Error: Task timed out after 1.00 seconds"),
        "{message}"
    );
    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["errorType", "errorMessage"]);

    // A new worker replaces the killed one.
    let (after, error) = call(&functions, "f", json!({})).await;
    assert_eq!(error, None);
    assert_ne!(after["pid"], first["pid"]);

    let (out, error) = call(&functions, "f", json!({"action": "exit"})).await;
    assert_eq!(error.as_deref(), Some("Runtime.ExitError"));
    assert!(
        out["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Error: Runtime exited with error: exit status 3"),
        "{out}"
    );
    let (out, error) = call(&functions, "f", json!({"action": "kill"})).await;
    assert_eq!(error.as_deref(), Some("Runtime.ExitError"));
    assert!(
        out["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Error: Runtime exited with error: signal: killed"),
        "{out}"
    );
    let (_, error) = call(&functions, "f", json!({})).await;
    assert_eq!(error, None);
    functions.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_scale_up_on_backlog_to_the_limit_and_down_to_zero() {
    let functions = service(
        "scale",
        Options {
            idle_timeout_seconds: 1.0,
            max_backlog: 0,
            ..Options::default()
        },
    );
    python_function(&functions, "f", 10);
    functions.set_reserved_concurrency("f", Some(3)).unwrap();
    let sleep = json!({"action": "sleep", "seconds": 1.5}).to_string();
    let mut calls = Vec::new();
    for _ in 0..3 {
        let functions = functions.clone();
        let sleep = sleep.clone();
        calls.push(tokio::spawn(async move {
            functions
                .invoke("f", Bytes::from(sleep), InvokeOptions::default())
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(functions.stats("f").workers, 3);
    // At the limit with no backlog allowed: AWS's throttle.
    let error = functions
        .invoke("f", Bytes::from(sleep), InvokeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), "TooManyRequestsException");
    assert_eq!(error.to_string(), "Rate Exceeded.");
    let mut pids = Vec::new();
    for call in calls {
        let invoked = call.await.unwrap().unwrap();
        assert_eq!(invoked.function_error, None);
        let out: Value = serde_json::from_slice(&invoked.payload).unwrap();
        pids.push(out["pid"].clone());
    }
    pids.sort_by_key(|p| p.as_i64());
    pids.dedup();
    assert_eq!(pids.len(), 3, "three workers ran concurrently");

    // Idle workers stop: the pool goes down to zero, and comes back.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while functions.stats("f").workers > 0 {
        assert!(std::time::Instant::now() < deadline, "workers did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, error) = call(&functions, "f", json!({})).await;
    assert_eq!(error, None);
    assert_eq!(functions.stats("f").workers, 1);

    // Reserved concurrency 0 throttles every invocation, as on AWS.
    functions.set_reserved_concurrency("f", Some(0)).unwrap();
    let error = functions
        .invoke("f", Bytes::from_static(b"{}"), InvokeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), "TooManyRequestsException");
    functions.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backlog_waits_for_a_worker_within_its_bound() {
    let functions = service(
        "backlog",
        Options {
            max_backlog: 5,
            ..Options::default()
        },
    );
    python_function(&functions, "f", 10);
    functions.set_reserved_concurrency("f", Some(1)).unwrap();
    let mut calls = Vec::new();
    for n in 0..4 {
        let functions = functions.clone();
        calls.push(tokio::spawn(async move {
            functions
                .invoke(
                    "f",
                    Bytes::from(json!({"n": n}).to_string()),
                    InvokeOptions::default(),
                )
                .await
        }));
    }
    for call in calls {
        let invoked = call.await.unwrap().unwrap();
        assert_eq!(invoked.function_error, None);
    }
    assert_eq!(functions.stats("f").workers, 1);
    functions.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_errors_fail_the_invocation_with_the_runtimes_error() {
    let functions = service("init", Options::default());
    let zip = zip_of(&[("handler.py", b"def handler(e, c):\n    return 1\n", 0o644)]);
    let settings = Settings {
        runtime: Some("python3.12".into()),
        handler: Some("missing.handler".into()),
        role: Some("r".into()),
        ..Settings::default()
    };
    functions.create("bad", &settings, &zip).unwrap();
    let (out, error) = call(&functions, "bad", json!({})).await;
    assert_eq!(error.as_deref(), Some("Runtime.ImportModuleError"), "{out}");
    assert!(
        out["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Unable to import module 'missing'"),
        "{out}"
    );
    // Fixing the configuration fixes the function.
    functions
        .update_configuration(
            "bad",
            &Settings {
                handler: Some("handler.handler".into()),
                ..Settings::default()
            },
        )
        .unwrap();
    let (out, error) = call(&functions, "bad", json!({})).await;
    assert_eq!((out, error), (json!(1), None));
    functions.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provided_runtimes_run_their_bootstrap() {
    let functions = service("provided", Options::default());
    let bootstrap = br#"#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -D "$HEADERS" "$API/invocation/next")"
  ID="$(grep -i '^lambda-runtime-aws-request-id:' "$HEADERS" | tr -d '\r' | cut -d' ' -f2)"
  rm -f "$HEADERS"
  echo "got $EVENT"
  curl -sS -o /dev/null -X POST -d "{\"handler\":\"$_HANDLER\",\"event\":$EVENT}" "$API/invocation/$ID/response"
done
"#;
    let zip = zip_of(&[("bootstrap", bootstrap, 0o755)]);
    let settings = Settings {
        runtime: Some("provided.al2023".into()),
        handler: Some("my.handler".into()),
        role: Some("r".into()),
        ..Settings::default()
    };
    functions.create("sh", &settings, &zip).unwrap();
    let (out, error) = call(&functions, "sh", json!({"x": 1})).await;
    assert_eq!(error, None);
    assert_eq!(out, json!({"handler": "my.handler", "event": {"x": 1}}));
    let (out, _) = call(&functions, "sh", json!({"x": 2})).await;
    assert_eq!(out["event"]["x"], 2);

    // No bootstrap in the package: AWS's error.
    let zip = zip_of(&[("readme.txt", b"no bootstrap", 0o644)]);
    functions.create("empty", &settings, &zip).unwrap();
    let (out, error) = call(&functions, "empty", json!({})).await;
    assert_eq!(error.as_deref(), Some("Runtime.InvalidEntrypoint"), "{out}");
    functions.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_functions_and_qualifiers_are_not_found() {
    let functions = service("missing", Options::default());
    let error = functions
        .invoke("nope", Bytes::new(), InvokeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:$LATEST"
    );
    python_function(&functions, "f", 3);
    let error = functions
        .invoke(
            "f",
            Bytes::new(),
            InvokeOptions {
                qualifier: Some("7".into()),
                ..InvokeOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "ResourceNotFoundException");
    let error = functions
        .invoke(
            "f",
            Bytes::from(vec![b' '; 6_291_457]),
            InvokeOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "RequestTooLargeException");
    functions.delete("f").unwrap();
    assert!(functions.get("f").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_region_has_its_own_functions_run_in_that_region() {
    let home = service("regions", Options::default());
    let west = home.in_region("us-west-2");
    let china = home.in_region("cn-northwest-1");
    python_function(&home, "f", 5);
    python_function(&west, "f", 5);
    // Not in China (yet): another region does not see the namesakes.
    let error = china
        .invoke("f", Bytes::new(), InvokeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Function not found: arn:aws-cn:lambda:cn-northwest-1:000000000000:function:f:$LATEST"
    );
    assert!(china.list().is_empty());
    python_function(&china, "f", 5);
    for (functions, region, partition) in [
        (&home, "us-east-1", "aws"),
        (&west, "us-west-2", "aws"),
        (&china, "cn-northwest-1", "aws-cn"),
    ] {
        let (out, error) = call(functions, "f", json!({"n": 1})).await;
        assert_eq!(error, None, "{out}");
        assert_eq!(out["env"]["AWS_REGION"], region);
        assert_eq!(
            out["arn"],
            format!("arn:{partition}:lambda:{region}:000000000000:function:f")
        );
        let listed: Vec<String> = functions.list().into_iter().map(|f| f.name).collect();
        assert_eq!(listed, ["f"]);
        assert_eq!(functions.stats("f").workers, 1, "{region}");
    }
    // Changing or deleting one region's function leaves the others'.
    west.set_reserved_concurrency("f", Some(3)).unwrap();
    assert_eq!(home.get("f").unwrap().reserved_concurrency, None);
    west.delete("f").unwrap();
    assert!(west.get("f").is_err() && home.get("f").is_ok() && china.get("f").is_ok());
    let (out, _) = call(&home, "f", json!({})).await;
    assert_eq!(out["env"]["AWS_REGION"], "us-east-1");
    // A region is a folder of the data dir: a create in anything else is refused.
    let settings = Settings {
        runtime: Some("python3.12".into()),
        handler: Some("handler.handler".into()),
        ..Settings::default()
    };
    let zip = zip_of(&[("handler.py", b"", 0o644)]);
    let error = home
        .in_region("..")
        .create("g", &settings, &zip)
        .unwrap_err();
    assert_eq!(error.code(), "InvalidParameterValueException");
    home.shutdown(Duration::from_secs(5)).await;
}

/// A handler that says which code it is, the version Lambda says it runs, and the ARN it was
/// invoked by.
fn versioned(marker: &str) -> Vec<u8> {
    let code = format!(
        "import os\n\
         def handler(event, context):\n    \
         return {{'code': '{marker}', 'version': os.environ['AWS_LAMBDA_FUNCTION_VERSION'], \
         'arn': context.invoked_function_arn, 'pid': os.getpid()}}\n"
    );
    zip_of(&[("handler.py", code.as_bytes(), 0o644)])
}

async fn call_qualified(functions: &Functions, name: &str, qualifier: &str) -> (Value, String) {
    let invoked = functions
        .invoke(
            name,
            Bytes::from_static(b"{}"),
            InvokeOptions {
                qualifier: Some(qualifier.into()),
                ..InvokeOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(invoked.function_error, None);
    (
        serde_json::from_slice(&invoked.payload).unwrap(),
        invoked.executed_version,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_run_their_own_code_and_aliases_route_by_weight() {
    let functions = service("versions", Options::default());
    let settings = Settings {
        runtime: Some("python3.12".into()),
        handler: Some("handler.handler".into()),
        role: Some("arn:aws:iam::000000000000:role/r".into()),
        ..Settings::default()
    };
    functions.create("v", &settings, &versioned("one")).unwrap();
    let v1 = functions.publish_version("v", None, None, None).unwrap();
    functions.update_code("v", &versioned("two")).unwrap();
    let v2 = functions
        .publish_version("v", Some("second"), None, None)
        .unwrap();
    assert_eq!((v1.version.as_str(), v2.version.as_str()), ("1", "2"));
    functions.update_code("v", &versioned("three")).unwrap();

    let arn = "arn:aws:lambda:us-east-1:000000000000:function:v";
    let (out, executed) = call_qualified(&functions, "v", "1").await;
    assert_eq!(
        (out["code"].as_str(), executed.as_str()),
        (Some("one"), "1")
    );
    assert_eq!(out["version"], "1");
    assert_eq!(out["arn"], format!("{arn}:1"));
    let (out, executed) = call_qualified(&functions, "v", "2").await;
    assert_eq!(
        (out["code"].as_str(), executed.as_str()),
        (Some("two"), "2")
    );
    let (out, executed) = call_qualified(&functions, "v", "$LATEST").await;
    assert_eq!(
        (out["code"].as_str(), executed.as_str()),
        (Some("three"), "$LATEST")
    );
    assert_eq!(out["version"], "$LATEST");
    // One pool per version.
    assert_eq!(functions.stats("v").workers, 3);

    // An alias runs its version; the invoked ARN is the alias's.
    functions
        .create_alias("v", "live", "1", None, None)
        .unwrap();
    let (out, executed) = call_qualified(&functions, "v", "live").await;
    assert_eq!(
        (out["code"].as_str(), executed.as_str()),
        (Some("one"), "1")
    );
    assert_eq!(out["arn"], format!("{arn}:live"));
    // Half of the invocations go to version 2.
    let weights = [("2".to_string(), 0.5)].into();
    functions
        .update_alias(
            "v",
            "live",
            &crate::AliasUpdate {
                routing: Some(weights),
                ..crate::AliasUpdate::default()
            },
        )
        .unwrap();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..100 {
        let (out, executed) = call_qualified(&functions, "v", "live").await;
        assert_eq!(out["version"], executed);
        *seen.entry(executed).or_default() += 1;
    }
    assert!(seen["1"] > 15 && seen["2"] > 15, "{seen:?}");

    // A deleted version's workers stop; an alias's version cannot be deleted.
    let e = functions.delete_version("v", "1").unwrap_err();
    assert_eq!(e.code(), "ResourceConflictException");
    functions.delete_alias("v", "live").unwrap();
    functions.delete_version("v", "1").unwrap();
    let e = functions
        .invoke(
            "v",
            Bytes::new(),
            InvokeOptions {
                qualifier: Some("1".into()),
                ..InvokeOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), format!("Function not found: {arn}:1"));
    for _ in 0..100 {
        if functions.stats("v").workers == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(functions.stats("v").workers, 2);
    functions.shutdown(Duration::from_secs(5)).await;
}
