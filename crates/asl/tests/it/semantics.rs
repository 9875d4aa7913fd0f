//! Execution semantics of JSONPath-mode state machines, each test written from a rule of the
//! AWS Step Functions developer guide (quoted or named in the test).

use crate::common::{ScriptedHost, err, event_types, ok, run, run_with};
use serde_json::json;
use sluice_asl::interpreter::Status;

fn output(o: &sluice_asl::interpreter::Outcome) -> serde_json::Value {
    assert_eq!(o.status, Status::Succeeded, "failure: {:?}", o.failure);
    o.output.clone().unwrap()
}

fn failure(o: &sluice_asl::interpreter::Outcome) -> (String, String) {
    assert_ne!(
        o.status,
        Status::Succeeded,
        "unexpected success: {:?}",
        o.output
    );
    let f = o.failure.clone().unwrap();
    (f.error, f.cause)
}

#[test]
fn pass_result_replaces_input_by_default() {
    // "ResultPath ... If you don't specify a ResultPath, the default is $": the result replaces.
    let o = run(
        json!({"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"x":1},"End":true}}}),
        json!({"in":true}),
    );
    assert_eq!(output(&o), json!({"x":1}));
}

#[test]
fn result_path_merges_result_into_the_raw_input() {
    let o = run(
        json!({"StartAt":"P","States":{"P":{"Type":"Pass","Result":"r","ResultPath":"$.a.b","End":true}}}),
        json!({"keep":1}),
    );
    assert_eq!(output(&o), json!({"keep":1,"a":{"b":"r"}}));
}

#[test]
fn result_path_null_discards_the_result_and_passes_the_input_through() {
    // "ResultPath: null ... the state's original input is passed to its output".
    let o = run(
        json!({"StartAt":"P","States":{"P":{"Type":"Pass","Result":"r","ResultPath":null,"End":true}}}),
        json!({"keep":1}),
    );
    assert_eq!(output(&o), json!({"keep":1}));
}

#[test]
fn result_path_merges_into_raw_input_even_when_input_path_selected_part() {
    // ResultPath applies to the state's raw input, not to the InputPath selection.
    let o = run(
        json!({"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.inner","ResultPath":"$.copy","End":true}}}),
        json!({"inner":{"v":1},"other":2}),
    );
    assert_eq!(
        output(&o),
        json!({"inner":{"v":1},"other":2,"copy":{"v":1}})
    );
}

#[test]
fn input_path_and_output_path_select_and_null_means_empty_object() {
    // "If InputPath is null ... the state receives {}"; same for OutputPath.
    let o = run(
        json!({"StartAt":"A","States":{
            "A":{"Type":"Pass","InputPath":"$.a","Next":"B"},
            "B":{"Type":"Pass","OutputPath":"$.b","Next":"C"},
            "C":{"Type":"Pass","InputPath":null,"End":true}}}),
        json!({"a":{"b":{"c":1}}}),
    );
    assert_eq!(output(&o), json!({}));
    let o = run(
        json!({"StartAt":"A","States":{
            "A":{"Type":"Pass","InputPath":"$.a","Next":"B"},
            "B":{"Type":"Pass","OutputPath":"$.b","End":true}}}),
        json!({"a":{"b":{"c":1}}}),
    );
    assert_eq!(output(&o), json!({"c":1}));
}

#[test]
fn missing_input_path_fails_with_states_runtime_and_aws_cause() {
    let o = run(
        json!({"StartAt":"pass","States":{"pass":{"Type":"Pass","InputPath":"$.NoSuchInputPath","End":true}}}),
        json!({}),
    );
    let (error, cause) = failure(&o);
    assert_eq!(error, "States.Runtime");
    assert_eq!(
        cause,
        "An error occurred while executing the state 'pass' (entered at the event id #2). \
         Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']"
    );
}

#[test]
fn parameters_resolve_paths_context_object_and_intrinsics() {
    let o = run(
        json!({"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{
            "static":"s",
            "fromInput.$":"$.user.name",
            "stateName.$":"$$.State.Name",
            "execInput.$":"$$.Execution.Input.user",
            "greeting.$":"States.Format('hello {}', $.user.name)",
            "nested":{"n.$":"$.n"},
            "list":[{"x.$":"$.n"}]
        },"End":true}}}),
        json!({"user":{"name":"j.doe"},"n":7}),
    );
    assert_eq!(
        output(&o),
        json!({"static":"s","fromInput":"j.doe","stateName":"P","execInput":{"name":"j.doe"},
               "greeting":"hello j.doe","nested":{"n":7},"list":[{"x":7}]})
    );
}

#[test]
fn parameter_path_that_does_not_resolve_fails_with_aws_cause() {
    let o = run(
        json!({"StartAt":"pass","States":{"pass":{"Type":"Pass","Parameters":{"value.$":"$.no_such_jsonpath"},"End":true}}}),
        json!({"a":1}),
    );
    let (error, cause) = failure(&o);
    assert_eq!(error, "States.Runtime");
    assert_eq!(
        cause,
        "An error occurred while executing the state 'pass' (entered at the event id #2). The \
         JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in \
         the input '{\"a\":1}'"
    );
}

#[test]
fn task_result_goes_through_result_selector_then_result_path_then_output_path() {
    let def = json!({"StartAt":"T","States":{"T":{"Type":"Task",
        "Resource":"arn:aws:states:::lambda:invoke",
        "Parameters":{"FunctionName":"f","Payload.$":"$.event"},
        "ResultSelector":{"body.$":"$.Payload.body"},
        "ResultPath":"$.result",
        "OutputPath":"$.result",
        "End":true}}});
    let mut host = ScriptedHost::new().task(
        "T",
        vec![ok(json!({"StatusCode":200,"Payload":{"body":"hi"}}))],
    );
    let o = run_with(def, json!({"event":{"id":1}}), &mut host);
    assert_eq!(output(&o), json!({"body":"hi"}));
    assert_eq!(
        host.calls[0].1.input,
        json!({"FunctionName":"f","Payload":{"id":1}})
    );
}

#[test]
fn retry_backs_off_interval_times_backoff_rate_per_attempt() {
    // "IntervalSeconds ... BackoffRate: the multiplier by which the retry interval increases".
    let def = json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
        "Retry":[{"ErrorEquals":["Lambda.ServiceException"],"IntervalSeconds":2,"MaxAttempts":3,"BackoffRate":3}],
        "End":true}}});
    let mut host = ScriptedHost::new().task(
        "T",
        vec![
            err("Lambda.ServiceException", "1"),
            err("Lambda.ServiceException", "2"),
            err("Lambda.ServiceException", "3"),
            ok(json!("done")),
        ],
    );
    let o = run_with(def, json!({}), &mut host);
    assert_eq!(output(&o), json!("done"));
    assert_eq!(host.sleeps, vec![2.0, 6.0, 18.0]);
}

#[test]
fn retry_gives_up_after_max_attempts_and_the_error_fails_the_execution() {
    let def = json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
        "Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":1,"MaxAttempts":2}],
        "End":true}}});
    let mut host = ScriptedHost::new().task("T", vec![err("Boom", "bad")]);
    let o = run_with(def, json!({}), &mut host);
    assert_eq!(failure(&o), ("Boom".into(), "bad".into()));
    assert_eq!(host.calls.len(), 3, "one try and two retries");
    assert_eq!(host.sleeps, vec![1.0, 2.0]);
}

#[test]
fn max_attempts_zero_never_retries() {
    // "A value of 0 ... the error is never retried."
    let def = json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
        "Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":0}],"End":true}}});
    let mut host = ScriptedHost::new().task("T", vec![err("Boom", "bad")]);
    let o = run_with(def, json!({}), &mut host);
    assert_eq!(failure(&o).0, "Boom");
    assert_eq!(host.calls.len(), 1);
}

#[test]
fn max_delay_seconds_caps_the_backoff() {
    let def = json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
        "Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":10,"BackoffRate":10,"MaxAttempts":3,"MaxDelaySeconds":50}],
        "End":true}}});
    let mut host = ScriptedHost::new().task(
        "T",
        vec![err("E", ""), err("E", ""), err("E", ""), ok(json!(1))],
    );
    let o = run_with(def, json!({}), &mut host);
    assert_eq!(output(&o), json!(1));
    assert_eq!(host.sleeps, vec![10.0, 50.0, 50.0]);
}

#[test]
fn full_jitter_draws_delays_between_zero_and_the_backoff() {
    let def = json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
        "Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":4,"MaxAttempts":5,"JitterStrategy":"FULL"}],
        "End":true}}});
    let mut host = ScriptedHost::new().task(
        "T",
        vec![
            err("E", ""),
            err("E", ""),
            err("E", ""),
            err("E", ""),
            ok(json!(1)),
        ],
    );
    let o = run_with(def, json!({}), &mut host);
    assert_eq!(output(&o), json!(1));
    for (i, s) in host.sleeps.iter().enumerate() {
        let cap = 4.0 * 2f64.powi(i as i32);
        assert!(
            (0.0..=cap).contains(s),
            "retry {i}: delay {s} not within [0, {cap}]"
        );
    }
    assert!(
        host.sleeps.iter().any(|s| *s != 4.0 * 2f64.powi(0)),
        "jitter changes delays"
    );
}

#[test]
fn first_matching_retrier_decides_and_exhausted_errors_go_to_catch() {
    let def = json!({"StartAt":"T","States":{
        "T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
            "Retry":[{"ErrorEquals":["Custom"],"MaxAttempts":1},{"ErrorEquals":["States.ALL"],"MaxAttempts":5}],
            "Catch":[{"ErrorEquals":["Custom"],"ResultPath":"$.error","Next":"Caught"}],
            "End":true},
        "Caught":{"Type":"Pass","End":true}}});
    let mut host = ScriptedHost::new().task("T", vec![err("Custom", "why")]);
    let o = run_with(def, json!({"in":1}), &mut host);
    assert_eq!(
        host.calls.len(),
        2,
        "the Custom retrier allows one retry; States.ALL is not used"
    );
    assert_eq!(
        output(&o),
        json!({"in":1,"error":{"Error":"Custom","Cause":"why"}})
    );
}

#[test]
fn catch_without_result_path_replaces_input_with_error_output() {
    let def = json!({"StartAt":"T","States":{
        "T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
            "Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true},
        "Caught":{"Type":"Pass","End":true}}});
    let mut host = ScriptedHost::new().task("T", vec![err("X", "y")]);
    let o = run_with(def, json!({"in":1}), &mut host);
    assert_eq!(output(&o), json!({"Error":"X","Cause":"y"}));
    let types = event_types(&o);
    assert!(
        types.contains(&"TaskStateExited"),
        "a caught error exits the state: {types:?}"
    );
}

#[test]
fn states_task_failed_matches_any_error_but_timeout() {
    // "States.TaskFailed ... matches any known error name except for States.Timeout."
    let def = |error: &str| {
        let mut host = ScriptedHost::new().task("T", vec![err(error, "c")]);
        let o = run_with(
            json!({"StartAt":"T","States":{
                "T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
                    "Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"Caught"}],"End":true},
                "Caught":{"Type":"Pass","End":true}}}),
            json!({}),
            &mut host,
        );
        o.status
    };
    assert_eq!(def("SomeCustomError"), Status::Succeeded);
    assert_eq!(def("States.Timeout"), Status::Failed);
}

#[test]
fn states_runtime_is_never_caught_even_when_named() {
    // "A retry or catch on States.ALL won't catch States.Runtime errors."
    let def = json!({"StartAt":"T","States":{
        "T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","OutputPath":"$.no.such.result.path",
            "Catch":[{"ErrorEquals":["States.Runtime"],"Next":"Caught"},{"ErrorEquals":["States.ALL"],"Next":"Caught"}],
            "Next":"Caught"},
        "Caught":{"Type":"Pass","End":true}}});
    let mut host = ScriptedHost::new().task("T", vec![ok(json!({"x":1}))]);
    let o = run_with(def, json!({}), &mut host);
    assert_eq!(failure(&o).0, "States.Runtime");
}

#[test]
fn choice_takes_first_matching_rule_then_default_else_fails() {
    let def = json!({"StartAt":"C","States":{
        "C":{"Type":"Choice","Choices":[
            {"Variable":"$.n","NumericGreaterThan":10,"Next":"Big"},
            {"And":[{"Variable":"$.n","NumericGreaterThanEquals":5},{"Variable":"$.s","StringMatches":"a*"}],"Next":"Mid"}],
         "Default":"Small"},
        "Big":{"Type":"Pass","Result":"big","End":true},
        "Mid":{"Type":"Pass","Result":"mid","End":true},
        "Small":{"Type":"Pass","Result":"small","End":true}}});
    assert_eq!(
        output(&run(def.clone(), json!({"n":11,"s":"x"}))),
        json!("big")
    );
    assert_eq!(
        output(&run(def.clone(), json!({"n":5,"s":"abc"}))),
        json!("mid")
    );
    assert_eq!(output(&run(def, json!({"n":5,"s":"xbc"}))), json!("small"));
    let no_default = json!({"StartAt":"C","States":{
        "C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericEquals":1,"Next":"A"}]},
        "A":{"Type":"Succeed"}}});
    assert_eq!(
        failure(&run(no_default, json!({"n":2}))).0,
        "States.NoChoiceMatched"
    );
}

#[test]
fn wait_seconds_and_timestamp_path_advance_the_clock() {
    let def = json!({"StartAt":"W1","States":{
        "W1":{"Type":"Wait","Seconds":30,"Next":"W2"},
        "W2":{"Type":"Wait","TimestampPath":"$.until","End":true}}});
    let mut host = ScriptedHost::new();
    let o = run_with(def, json!({"until":"2026-11-23T01:00:00+01:00"}), &mut host);
    assert_eq!(output(&o), json!({"until":"2026-11-23T01:00:00+01:00"}));
    // 01:00+01:00 is 00:00Z, already past after the 30 s wait: no further sleep needed.
    assert_eq!(host.sleeps[0], 30.0);
    assert!(host.sleeps.len() == 1 || host.sleeps[1] <= 0.0);
}

#[test]
fn wait_seconds_path_rejects_negative_and_fractional_values_with_aws_causes() {
    let def = json!({"StartAt":"WaitState","States":{"WaitState":{"Type":"Wait","SecondsPath":"$.input.waitSeconds","End":true}}});
    let (e, cause) = failure(&run(def.clone(), json!({"input":{"waitSeconds":-1}})));
    assert_eq!(e, "States.Runtime");
    assert!(
        cause.ends_with(
            "The SecondsPath parameter references a negative value: $.input.waitSeconds == -1"
        ),
        "{cause}"
    );
    let (_, cause) = failure(&run(def, json!({"input":{"waitSeconds":1.5}})));
    assert!(
        cause.ends_with(
            "The SecondsPath parameter cannot be parsed as a long value: $.input.waitSeconds == 1.5"
        ),
        "{cause}"
    );
}

#[test]
fn fail_state_takes_error_and_cause_from_paths() {
    let def = json!({"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"$.e","CausePath":"States.Format('n={}', $.n)"}}});
    assert_eq!(
        failure(&run(def, json!({"e":"MyError","n":3}))),
        ("MyError".into(), "n=3".into())
    );
}

#[test]
fn parallel_outputs_are_an_array_in_branch_order() {
    let def = json!({"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
        {"StartAt":"A","States":{"A":{"Type":"Pass","Result":"a","End":true}}},
        {"StartAt":"B","States":{"B":{"Type":"Pass","InputPath":"$.x","End":true}}}]}}});
    let o = run(def, json!({"x":2}));
    assert_eq!(output(&o), json!(["a", 2]));
    let types = event_types(&o);
    assert_eq!(
        &types[..3],
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted"
        ]
    );
    // Recorded on AWS: no ParallelStateSucceeded event, the exit follows the branches.
    assert_eq!(
        &types[types.len() - 3..],
        [
            "PassStateExited",
            "ParallelStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn a_failing_branch_fails_the_parallel_state_with_its_error_which_catch_can_handle() {
    let def = json!({"StartAt":"P","States":{
        "P":{"Type":"Parallel","Next":"Done","Branches":[
            {"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
            {"StartAt":"B","States":{"B":{"Type":"Fail","Error":"BranchError","Cause":"b"}}}],
         "Catch":[{"ErrorEquals":["BranchError"],"ResultPath":"$.err","Next":"Done"}]},
        "Done":{"Type":"Succeed"}}});
    let o = run(def, json!({"x":1}));
    assert_eq!(
        output(&o),
        json!({"x":1,"err":{"Error":"BranchError","Cause":"b"}})
    );
    assert!(event_types(&o).contains(&"ParallelStateFailed"));
}

#[test]
fn map_runs_the_item_processor_per_item_with_item_selector_and_context() {
    let def = json!({"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,
        "ItemSelector":{"index.$":"$$.Map.Item.Index","value.$":"$$.Map.Item.Value","tenant.$":"$.tenant"},
        "ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},
        "ResultPath":"$.out","End":true}}});
    let o = run(def, json!({"tenant":"t1","items":["a","b"]}));
    assert_eq!(
        output(&o),
        json!({"tenant":"t1","items":["a","b"],"out":[
            {"index":0,"value":"a","tenant":"t1"},{"index":1,"value":"b","tenant":"t1"}]})
    );
    let types = event_types(&o);
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "MapIterationStarted")
            .count(),
        2
    );
    assert!(types.contains(&"MapStateSucceeded"));
}

#[test]
fn map_with_legacy_iterator_and_non_array_items_fails_at_runtime() {
    let def = json!({"StartAt":"M","States":{"M":{"Type":"Map",
        "Iterator":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}});
    assert_eq!(output(&run(def.clone(), json!([1, 2]))), json!([1, 2]));
    let (e, cause) = failure(&run(def, json!({"not":"array"})));
    assert_eq!(e, "States.Runtime");
    assert!(
        cause.contains("Map state input must be an array"),
        "{cause}"
    );
}

#[test]
fn execution_timeout_seconds_times_out_a_long_wait() {
    let def = json!({"StartAt":"W","TimeoutSeconds":5,"States":{"W":{"Type":"Wait","Seconds":60,"End":true}}});
    let o = run(def, json!({}));
    assert_eq!(o.status, Status::TimedOut);
    assert_eq!(o.failure.as_ref().unwrap().error, "States.Timeout");
    assert_eq!(event_types(&o).last(), Some(&"ExecutionTimedOut"));
}

#[test]
fn inputs_over_the_payload_limit_fail_with_data_limit_exceeded() {
    let big = "x".repeat(300 * 1024);
    let o = run(
        json!({"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}),
        json!({ "big": big }),
    );
    assert_eq!(failure(&o).0, "States.DataLimitExceeded");
}

#[test]
fn history_of_the_seed_machine_uses_aws_event_types_and_previous_ids() {
    let def: serde_json::Value = serde_json::from_str(include_str!(
        "../../../../examples/seed/sec-pipeline-lambda.json"
    ))
    .unwrap();
    let mut host = ScriptedHost::new()
        .task(
            "CheckEventsForRuleMatch",
            vec![ok(json!({"trigger_payload_exists":true}))],
        )
        .task(
            "TriggerNotifications",
            vec![ok(json!({"notifications_sent":1}))],
        );
    let o = run_with(def, json!({"event_id":"e1"}), &mut host);
    assert_eq!(output(&o), json!({"notifications_sent":1}));
    assert_eq!(
        event_types(&o),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded",
        ]
    );
    // AWS: the first state's entered event has previousEventId 0; then each follows the last.
    let prev: Vec<u64> = o.history.iter().map(|e| e.previous_event_id).collect();
    assert_eq!(prev[..3], [0, 0, 2]);
    assert!(
        o.history
            .iter()
            .skip(2)
            .all(|e| e.previous_event_id == e.id - 1)
    );
    // The Lambda task received {"Payload": <state input>} from Parameters.
    assert_eq!(host.calls[0].1.input, json!({"Payload":{"event_id":"e1"}}));
}

#[test]
fn seed_machine_catches_all_notifications_failed_into_fail_state() {
    let def: serde_json::Value = serde_json::from_str(include_str!(
        "../../../../examples/seed/sec-pipeline-lambda.json"
    ))
    .unwrap();
    let mut host = ScriptedHost::new()
        .task(
            "CheckEventsForRuleMatch",
            vec![
                err("Lambda.ServiceException", "flaky"),
                ok(json!({"trigger_payload_exists":true})),
            ],
        )
        .task(
            "TriggerNotifications",
            vec![err("AllNotificationsFailedException", "smtp down")],
        );
    let o = run_with(def, json!({}), &mut host);
    assert_eq!(o.status, Status::Failed);
    assert_eq!(
        host.sleeps,
        vec![2.0],
        "Lambda.ServiceException retried after IntervalSeconds 2"
    );
    let types = event_types(&o);
    assert!(
        types.ends_with(&["FailStateEntered", "ExecutionFailed"]),
        "{types:?}"
    );
}

#[test]
fn a_state_output_over_the_payload_limit_fails_with_data_limit_exceeded() {
    // The input fits (150 KiB) but the Pass output doubles it past AWS's 256 KiB.
    let big = "x".repeat(150 * 1024);
    let o = run(
        json!({"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"$","b.$":"$"},"End":true}}}),
        json!({ "big": big }),
    );
    let (error, cause) = failure(&o);
    assert_eq!(error, "States.DataLimitExceeded");
    assert!(cause.contains("'P'"), "{cause}");
}

#[test]
fn wait_for_task_token_integrations_get_a_task_token_in_the_context_object() {
    let def = json!({"StartAt":"T","States":{"T":{"Type":"Task",
        "Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters":{"QueueUrl":"q","MessageBody":{"token.$":"$$.Task.Token"}},"End":true}}});
    let mut host = ScriptedHost::new().task("T", vec![ok(json!({"approved":true}))]);
    let o = run_with(def, json!({}), &mut host);
    assert_eq!(output(&o), json!({"approved":true}));
    let token = host.calls[0].1.input["MessageBody"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // It names its task: the execution, the root thread, the task's TaskScheduled event.
    let named = sluice_asl::task_token::TaskToken::decode(&token).expect("a task token");
    assert_eq!(
        named.execution,
        sluice_asl::interpreter::Options::default().execution.id
    );
    assert_eq!(named.thread, 0);
    let scheduled = o
        .history
        .iter()
        .find(|e| e.kind == "TaskScheduled")
        .unwrap();
    assert_eq!(named.scheduled, scheduled.id);
}

/// `(id, previousEventId, type)` of each event.
fn chain(o: &sluice_asl::interpreter::Outcome) -> Vec<(u64, u64, &'static str)> {
    o.history
        .iter()
        .map(|e| (e.id, e.previous_event_id, e.kind))
        .collect()
}

#[test]
fn a_failing_branch_aborts_its_task_and_the_other_branches_as_aws_records_it() {
    // Recorded against AWS: TaskFailed, TaskStateAborted (the failing branch's task), the other
    // branches' `…StateAborted`, then ParallelStateFailed, all chained off TaskFailed.
    let definition = json!({"StartAt": "P", "States": {"P": {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true}}},
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}
        ],
        "End": true
    }}});
    let mut host = ScriptedHost::new().task("T", vec![err("Boom", "it broke")]);
    let o = run_with(definition, json!({}), &mut host);
    let events = chain(&o);
    let failed = events
        .iter()
        .find(|(_, _, kind)| *kind == "LambdaFunctionFailed")
        .map(|(id, _, _)| *id)
        .expect("the task failed");
    let after: Vec<(u64, &str)> = events
        .iter()
        .filter(|(id, _, _)| *id > failed)
        .map(|(_, prev, kind)| (*prev, *kind))
        .collect();
    assert_eq!(
        after[..3],
        [
            (failed, "TaskStateAborted"),
            (failed, "WaitStateAborted"),
            (failed, "ParallelStateFailed")
        ],
        "{events:?}"
    );
}

#[test]
fn a_failing_iteration_aborts_the_others_as_aws_records_it() {
    // Recorded against AWS (a Map whose iterations time out): MapIterationFailed, the failing
    // iteration's TaskStateAborted, then per other iteration MapIterationAborted and its
    // TaskStateAborted, then MapStateFailed — all chained off the failing event.
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true}}},
        "End": true
    }}});
    let mut host = ScriptedHost::new().task("T", vec![err("Boom", "it broke")]);
    let o = run_with(definition, json!([1, 2, 3]), &mut host);
    let events = chain(&o);
    let failed = events
        .iter()
        .find(|(_, _, kind)| *kind == "LambdaFunctionFailed")
        .map(|(id, _, _)| *id)
        .expect("a task failed");
    let after: Vec<(u64, &str)> = events
        .iter()
        .filter(|(id, _, kind)| *id > failed && !kind.starts_with("LambdaFunction"))
        .map(|(_, prev, kind)| (*prev, *kind))
        .collect();
    assert_eq!(
        after[..7],
        [
            (failed, "MapIterationFailed"),
            (failed, "TaskStateAborted"),
            (failed, "MapIterationAborted"),
            (failed, "TaskStateAborted"),
            (failed, "MapIterationAborted"),
            (failed, "TaskStateAborted"),
            (failed, "MapStateFailed"),
        ],
        "{events:?}"
    );
    assert_eq!(after[7].1, "ExecutionFailed", "{events:?}");
}

#[test]
fn map_iteration_events_chain_as_aws_records_them() {
    // Recorded against AWS (three items, MaxConcurrency 1): each MapIterationStarted chains
    // off the previous iteration's last state event, MapStateSucceeded off the last
    // MapIterationSucceeded, and MapStateExited off that same MapIterationSucceeded.
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
        "End": true
    }}});
    let o = run(definition, json!([1, 2, 3]));
    assert_eq!(
        chain(&o),
        [
            (1, 0, "ExecutionStarted"),
            (2, 0, "MapStateEntered"),
            (3, 2, "MapStateStarted"),
            (4, 3, "MapIterationStarted"),
            (5, 4, "PassStateEntered"),
            (6, 5, "PassStateExited"),
            (7, 6, "MapIterationSucceeded"),
            (8, 6, "MapIterationStarted"),
            (9, 8, "PassStateEntered"),
            (10, 9, "PassStateExited"),
            (11, 10, "MapIterationSucceeded"),
            (12, 10, "MapIterationStarted"),
            (13, 12, "PassStateEntered"),
            (14, 13, "PassStateExited"),
            (15, 14, "MapIterationSucceeded"),
            (16, 15, "MapStateSucceeded"),
            (17, 15, "MapStateExited"),
            (18, 17, "ExecutionSucceeded"),
        ]
    );
    // Without a concurrency limit every MapIterationStarted chains off MapStateStarted.
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
        "End": true
    }}});
    let o = run(definition, json!([1, 2, 3]));
    let starts: Vec<u64> = chain(&o)
        .into_iter()
        .filter(|(_, _, kind)| *kind == "MapIterationStarted")
        .map(|(_, prev, _)| prev)
        .collect();
    assert_eq!(starts, [3, 3, 3]);
}

#[test]
fn a_distributed_map_records_its_map_run_not_its_iterations_as_aws_does() {
    // Recorded against AWS (DISTRIBUTED, two items): MapStateStarted{length}, MapRunStarted with
    // the Map Run's ARN, MapRunSucceeded, then MapStateSucceeded and MapStateExited both chained
    // off MapRunSucceeded. The iterations are child workflows with histories of their own: none
    // of their events (tasks, nested Maps) shows in the parent's.
    let definition = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "Label": "Items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "T", "States": {
                    "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                          "Next": "Inner"},
                    "Inner": {"Type": "Map", "ItemsPath": "$.parts",
                        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                        "End": true}}},
            "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let part = || ok(json!({"parts": [1, 2]}));
    let mut host = ScriptedHost::new().task("T", vec![part(), part()]);
    let o = run_with(definition, json!([{"a": 1}, {"a": 2}]), &mut host);
    assert_eq!(output(&o), json!([[1, 2], [1, 2]]));
    assert_eq!(
        chain(&o),
        [
            (1, 0, "ExecutionStarted"),
            (2, 0, "MapStateEntered"),
            (3, 2, "MapStateStarted"),
            (4, 3, "MapRunStarted"),
            (5, 4, "MapRunSucceeded"),
            (6, 5, "MapStateSucceeded"),
            (7, 5, "MapStateExited"),
            (8, 7, "SucceedStateEntered"),
            (9, 8, "SucceedStateExited"),
            (10, 9, "ExecutionSucceeded"),
        ]
    );
    let details = serde_json::to_value(&o.history[3]).unwrap();
    let arn = details["mapRunStartedEventDetails"]["mapRunArn"]
        .as_str()
        .expect("the Map Run's ARN");
    let (machine_and_label, id) = arn.rsplit_once(':').unwrap();
    assert!(
        machine_and_label.starts_with("arn:aws:states:") && machine_and_label.contains(":mapRun:"),
        "{arn}"
    );
    assert!(
        machine_and_label.ends_with("/Items"),
        "the Label names the Map Run: {arn}"
    );
    assert_eq!(id.len(), 36, "a UUID: {arn}");
    let started = serde_json::to_value(&o.history[2]).unwrap();
    assert_eq!(started["mapStateStartedEventDetails"]["length"], 2);
}

#[test]
fn a_distributed_map_over_its_tolerance_fails_its_map_run_then_the_state() {
    // Recorded against AWS (a Map Run that fails): MapRunFailed with the error and cause, then
    // MapStateFailed chained off it, then ExecutionFailed.
    let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map",
        "ToleratedFailureCount": 1,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "T", "States": {"T": {"Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true}}},
        "End": true}}});
    let boom = || err("Boom", "it broke");
    let mut host = ScriptedHost::new().task("T", vec![boom(), boom(), ok(json!(1))]);
    let o = run_with(definition.clone(), json!([1, 2, 3]), &mut host);
    let (error, cause) = failure(&o);
    assert_eq!(error, "States.ExceedToleratedFailureThreshold");
    assert_eq!(
        cause,
        "The specified tolerated failure threshold was exceeded"
    );
    assert_eq!(
        chain(&o),
        [
            (1, 0, "ExecutionStarted"),
            (2, 0, "MapStateEntered"),
            (3, 2, "MapStateStarted"),
            (4, 3, "MapRunStarted"),
            (5, 4, "MapRunFailed"),
            (6, 5, "MapStateFailed"),
            (7, 6, "ExecutionFailed"),
        ]
    );
    let run_failed = serde_json::to_value(&o.history[4]).unwrap();
    assert_eq!(
        run_failed["mapRunFailedEventDetails"],
        json!({"error": "States.ExceedToleratedFailureThreshold",
               "cause": "The specified tolerated failure threshold was exceeded"})
    );

    // One failure within the tolerance: the Map Run succeeds, the failure shows in the output.
    let mut host = ScriptedHost::new().task("T", vec![boom(), ok(json!(1)), ok(json!(1))]);
    let o = run_with(definition, json!([1, 2, 3]), &mut host);
    assert!(
        event_types(&o).contains(&"MapRunSucceeded"),
        "{:?}",
        event_types(&o)
    );
    assert!(
        !event_types(&o).iter().any(|t| t.starts_with("MapIteration")
            || t.starts_with("Task")
            || t.starts_with("Lambda"))
    );
}

#[test]
fn a_legacy_iterator_with_a_distributed_processor_config_runs_as_a_distributed_map() {
    // Recorded against AWS: `Iterator` (the field `ItemProcessor` replaced) with
    // `ProcessorConfig` DISTRIBUTED is accepted and records a Map Run.
    let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 1,
        "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}},
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}},
        "End": true}}});
    let o = run(definition, json!(["Hello", "World"]));
    assert_eq!(output(&o), json!(["Hello", "World"]));
    assert!(
        event_types(&o).contains(&"MapRunStarted"),
        "{:?}",
        event_types(&o)
    );
}
