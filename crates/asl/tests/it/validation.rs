//! Definition validation: every problem reported, each with AWS's code and the JSON pointer of
//! the offending field.

use crate::common::diagnostics;
use serde_json::json;

/// `(code, location)` of every diagnostic.
fn found(d: &sluice_asl::Diagnostics) -> Vec<(String, String)> {
    d.iter()
        .map(|d| (d.code.to_owned(), d.location.to_string()))
        .collect()
}

fn has(d: &sluice_asl::Diagnostics, code: &str, location: &str) -> bool {
    d.iter()
        .any(|x| x.code == code && x.location.to_string() == location)
}

#[test]
fn missing_start_at_and_states_are_reported_together_at_the_root() {
    let d = diagnostics(json!({"Comment":"x"}));
    let first = d.iter().next().unwrap();
    assert_eq!(first.code, "SCHEMA_VALIDATION_FAILED");
    assert_eq!(first.location.to_string(), "/");
    assert_eq!(
        first.message,
        "These fields are required: [States, StartAt]"
    );
}

#[test]
fn a_definition_must_be_an_object() {
    let d = diagnostics(json!([1]));
    assert_eq!(
        d.iter().next().unwrap().message,
        "Definition must be a valid JSON object"
    );
}

#[test]
fn unknown_next_target_points_at_next() {
    let d = diagnostics(json!({"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nope"}}}));
    assert!(
        has(&d, "MISSING_TRANSITION_TARGET", "/States/A/Next"),
        "{:?}",
        found(&d)
    );
}

#[test]
fn unknown_start_at_and_unreachable_states() {
    let d = diagnostics(json!({"StartAt":"Z","States":{"A":{"Type":"Succeed"}}}));
    assert!(
        has(&d, "MISSING_TRANSITION_TARGET", "/StartAt"),
        "{:?}",
        found(&d)
    );
    let d = diagnostics(
        json!({"StartAt":"A","States":{"A":{"Type":"Succeed"},"Orphan":{"Type":"Succeed"}}}),
    );
    assert!(
        has(&d, "MISSING_TRANSITION_TARGET", "/States/Orphan"),
        "{:?}",
        found(&d)
    );
}

#[test]
fn states_all_must_be_alone_and_last() {
    // "States.ALL ... must appear alone in the ErrorEquals array and must appear in the last
    // retrier / catcher."
    let d = diagnostics(
        json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f",
        "Retry":[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["X"]}],
        "Catch":[{"ErrorEquals":["States.ALL","X"],"Next":"T"}],"End":true}}}),
    );
    assert!(
        has(
            &d,
            "SCHEMA_VALIDATION_FAILED",
            "/States/T/Retry/0/ErrorEquals"
        ),
        "{:?}",
        found(&d)
    );
    assert!(
        has(
            &d,
            "SCHEMA_VALIDATION_FAILED",
            "/States/T/Catch/0/ErrorEquals"
        ),
        "{:?}",
        found(&d)
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let d = diagnostics(json!({"StartAt":"A","States":{
        "A":{"Type":"Pass","Next":"B","End":true},
        "B":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","TimeoutSeconds":"10","End":true},
        "C":{"Type":"Choice"},
        "D":{"Type":"Bogus"}}}));
    let f = found(&d);
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/A/End"),
        "{f:?}"
    );
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/B/TimeoutSeconds"),
        "{f:?}"
    );
    assert!(has(&d, "SCHEMA_VALIDATION_FAILED", "/States/C"), "{f:?}");
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/D/Type"),
        "{f:?}"
    );
    assert!(d.len() >= 4);
}

#[test]
fn type_errors_name_the_field_and_the_expected_type() {
    let d = diagnostics(
        json!({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":"ten","End":true}}}),
    );
    let msg = &d
        .iter()
        .find(|x| x.location.to_string() == "/States/W/Seconds")
        .unwrap()
        .message;
    assert!(
        msg.contains("'Seconds'") && msg.contains("integer"),
        "{msg}"
    );
}

#[test]
fn invalid_paths_and_intrinsics_are_rejected_at_their_field() {
    let d = diagnostics(json!({"StartAt":"P","States":{"P":{"Type":"Pass",
        "InputPath":"not a path",
        "Parameters":{"bad.$":"States.NoSuchFunction($)","alsoBad.$":"$.a[","ok.$":"$.x"},
        "ResultPath":"$.a[*]",
        "End":true}}}));
    let f = found(&d);
    for loc in [
        "/States/P/InputPath",
        "/States/P/Parameters/bad.$",
        "/States/P/Parameters/alsoBad.$",
        "/States/P/ResultPath",
    ] {
        assert!(
            has(&d, "SCHEMA_VALIDATION_FAILED", loc),
            "{loc} missing from {f:?}"
        );
    }
    assert!(!has(
        &d,
        "SCHEMA_VALIDATION_FAILED",
        "/States/P/Parameters/ok.$"
    ));
}

#[test]
fn result_path_cannot_write_into_the_context_object() {
    let d = diagnostics(
        json!({"StartAt":"P","States":{"P":{"Type":"Pass","ResultPath":"$$.Execution","End":true}}}),
    );
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/P/ResultPath"),
        "{:?}",
        found(&d)
    );
}

#[test]
fn terminal_state_rules() {
    // Succeed and Fail take neither Next nor End; Choice takes neither; others need one.
    let d = diagnostics(json!({"StartAt":"C","States":{
        "C":{"Type":"Choice","Choices":[{"Variable":"$.x","IsPresent":true,"Next":"S"}],"End":true},
        "S":{"Type":"Succeed","Next":"C"},
        "F":{"Type":"Fail","End":true},
        "P":{"Type":"Pass"}}}));
    let f = found(&d);
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/C/End"),
        "{f:?}"
    );
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/S/Next"),
        "{f:?}"
    );
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/F/End"),
        "{f:?}"
    );
    assert!(has(&d, "SCHEMA_VALIDATION_FAILED", "/States/P"), "{f:?}");
}

#[test]
fn choice_needs_non_empty_choices_and_existing_targets() {
    let d = diagnostics(
        json!({"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[],"Default":"Nope"}}}),
    );
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/C/Choices"),
        "{:?}",
        found(&d)
    );
    assert!(
        has(&d, "MISSING_TRANSITION_TARGET", "/States/C/Default"),
        "{:?}",
        found(&d)
    );
}

#[test]
fn wait_needs_exactly_one_duration_and_valid_timestamps() {
    let d = diagnostics(
        json!({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}}}),
    );
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/W"),
        "{:?}",
        found(&d)
    );
    let d = diagnostics(
        json!({"StartAt":"W","States":{"W":{"Type":"Wait","Timestamp":"2016-03-14 01:59:00Z","End":true}}}),
    );
    let t = d
        .iter()
        .find(|x| x.location.to_string() == "/States/W/Timestamp")
        .unwrap();
    assert_eq!(t.message, "String does not match RFC3339 timestamp");
}

#[test]
fn mutually_exclusive_fields() {
    let d = diagnostics(json!({"StartAt":"T","States":{
        "T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","TimeoutSeconds":5,"TimeoutSecondsPath":"$.t","Next":"F"},
        "F":{"Type":"Fail","Error":"E","ErrorPath":"$.e"}}}));
    assert!(
        has(
            &d,
            "SCHEMA_VALIDATION_FAILED",
            "/States/T/TimeoutSecondsPath"
        ),
        "{:?}",
        found(&d)
    );
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/F/ErrorPath"),
        "{:?}",
        found(&d)
    );
}

#[test]
fn heartbeat_must_be_shorter_than_timeout() {
    let d = diagnostics(
        json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
        "TimeoutSeconds":5,"HeartbeatSeconds":5,"End":true}}}),
    );
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/T/HeartbeatSeconds"),
        "{:?}",
        found(&d)
    );
}

#[test]
fn unknown_fields_are_rejected() {
    let d = diagnostics(
        json!({"StartAt":"P","States":{"P":{"Type":"Pass","Resource":"x","End":true}}}),
    );
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/P/Resource"),
        "{:?}",
        found(&d)
    );
}

#[test]
fn branch_states_live_in_their_own_scope_and_names_are_unique_machine_wide() {
    let d = diagnostics(json!({"StartAt":"P","States":{
        "P":{"Type":"Parallel","Next":"Done","Branches":[
            {"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Done"}}},
            {"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}]},
        "Done":{"Type":"Succeed"}}}));
    let f = found(&d);
    assert!(
        has(
            &d,
            "MISSING_TRANSITION_TARGET",
            "/States/P/Branches/0/States/A/Next"
        ),
        "{f:?}"
    );
    assert!(d.iter().any(|x| x.code == "DUPLICATE_STATE_NAME"), "{f:?}");
}

#[test]
fn map_processor_rules() {
    let d = diagnostics(json!({"StartAt":"M","States":{"M":{"Type":"Map",
        "Iterator":{"StartAt":"I","States":{"I":{"Type":"Succeed"}}},
        "ItemProcessor":{"StartAt":"J","States":{"J":{"Type":"Succeed"}}},
        "ToleratedFailureCount":1,"End":true}}}));
    let f = found(&d);
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/M/Iterator"),
        "{f:?}"
    );
    assert!(
        has(
            &d,
            "SCHEMA_VALIDATION_FAILED",
            "/States/M/ToleratedFailureCount"
        ),
        "{f:?}"
    );
    let d = diagnostics(json!({"StartAt":"M","States":{"M":{"Type":"Map","End":true}}}));
    assert!(
        has(&d, "SCHEMA_VALIDATION_FAILED", "/States/M"),
        "{:?}",
        found(&d)
    );
}

#[test]
fn retry_field_ranges() {
    let d = diagnostics(
        json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
        "Retry":[{"ErrorEquals":[],"IntervalSeconds":0,"MaxAttempts":-1,"BackoffRate":0.5,"JitterStrategy":"SOME"}],"End":true}}}),
    );
    let f = found(&d);
    for field in [
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "JitterStrategy",
    ] {
        let loc = format!("/States/T/Retry/0/{field}");
        assert!(
            has(&d, "SCHEMA_VALIDATION_FAILED", &loc),
            "{loc} missing from {f:?}"
        );
    }
}

#[test]
fn the_seed_definitions_are_valid() {
    for text in [
        include_str!("../../../../examples/seed/sec-pipeline-lambda.json"),
        include_str!("../../../../examples/seed/sec-pipeline-pass.json"),
    ] {
        if let Err(d) = sluice_asl::definition::StateMachine::parse_str(text) {
            panic!("{:?}", d.into_vec());
        }
    }
}

#[test]
fn malformed_json_is_an_invalid_json_description() {
    let d = sluice_asl::definition::StateMachine::parse_str("{\"StartAt\": ").unwrap_err();
    assert_eq!(d.iter().next().unwrap().code, "INVALID_JSON_DESCRIPTION");
}
