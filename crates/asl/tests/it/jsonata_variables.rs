//! JSONata states and workflow variables, each test written from a rule of the AWS Step
//! Functions developer guide ("Transforming data with JSONata", "Passing data between states
//! with variables") or from executions recorded against AWS.

use crate::common::{ScriptedHost, diagnostics, err, event_types, ok, run, run_with};
use serde_json::{Value, json};
use sluice_asl::history::Details;
use sluice_asl::interpreter::{Outcome, Status};

fn output(o: &Outcome) -> Value {
    assert_eq!(o.status, Status::Succeeded, "failure: {:?}", o.failure);
    o.output.clone().unwrap()
}

fn failure(o: &Outcome) -> (String, String) {
    assert_ne!(
        o.status,
        Status::Succeeded,
        "unexpected success: {:?}",
        o.output
    );
    let f = o.failure.clone().unwrap();
    (f.error, f.cause)
}

/// `assignedVariables` of each `…StateExited` event, by state name.
fn assigned(o: &Outcome) -> Vec<(String, Value)> {
    o.history
        .iter()
        .filter_map(|e| match &e.details {
            Some(Details::StateExited {
                name,
                assigned_variables: Some(vars),
                ..
            }) => Some((name.clone(), Value::Object(vars.clone()))),
            _ => None,
        })
        .collect()
}

fn errors(definition: Value) -> String {
    let d = diagnostics(definition);
    assert!(d.has_errors(), "the definition should be refused");
    format!("{d:?}")
}

// ---- JSONata states --------------------------------------------------------------------------

#[test]
fn a_jsonata_machine_transforms_with_arguments_and_output() {
    // "Arguments ... the input to a Task", "Output ... the state output"; $states.result is
    // the task's result and the default output of a Task.
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Enrich",
        "States": {
            "Enrich": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:enrich",
                "Arguments": {"id": "{% $states.input.detail.id %}", "fixed": "literal $.x"},
                "Output": {
                    "severity": "{% $states.result.severity %}",
                    "original": "{% $states.input.detail.id %}",
                    "execution": "{% $states.context.Execution.Name %}"
                },
                "Next": "Done"
            },
            "Done": {"Type": "Succeed"}
        }
    });
    let mut host = ScriptedHost::new().task("Enrich", vec![ok(json!({"severity": 7}))]);
    let o = run_with(definition, json!({"detail": {"id": "e-1"}}), &mut host);
    assert_eq!(
        output(&o),
        json!({"severity": 7, "original": "e-1", "execution": "run"})
    );
    assert_eq!(
        host.calls[0].1.input,
        json!({"id": "e-1", "fixed": "literal $.x"})
    );
}

#[test]
fn without_output_a_task_outputs_its_result_and_a_pass_its_input() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true}
        }
    });
    let mut host = ScriptedHost::new().task("T", vec![ok(json!({"r": 1}))]);
    let o = run_with(definition, json!({"in": 1}), &mut host);
    assert_eq!(output(&o), json!({"r": 1}));
    assert_eq!(
        host.calls[0].1.input,
        json!({"in": 1}),
        "Arguments default to the input"
    );
}

#[test]
fn choice_conditions_route_and_the_default_takes_the_states_assign() {
    // Recorded against AWS (CHOICE_CONDITION_JSONATA): a matching rule's Assign applies; the
    // state's own Assign applies when Default is taken.
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "ChoiceState",
        "States": {
            "ChoiceState": {
                "Type": "Choice",
                "Choices": [{
                    "Condition": "{% $states.input.condition %}",
                    "Next": "ConditionTrue",
                    "Assign": {"Assignment": "Condition assignment"}
                }],
                "Default": "DefaultState",
                "Assign": {"Assignment": "Default Assignment"}
            },
            "ConditionTrue": {"Type": "Pass", "End": true},
            "DefaultState": {"Type": "Fail", "Cause": "Condition is false"}
        }
    });
    let o = run(definition.clone(), json!({"condition": true}));
    assert_eq!(output(&o), json!({"condition": true}));
    assert_eq!(
        assigned(&o),
        [(
            "ChoiceState".to_owned(),
            json!({"Assignment": "\"Condition assignment\""})
        )]
    );
    let o = run(definition, json!({"condition": false}));
    assert_eq!(failure(&o).1, "Condition is false");
    assert_eq!(
        assigned(&o),
        [(
            "ChoiceState".to_owned(),
            json!({"Assignment": "\"Default Assignment\""})
        )]
    );
}

#[test]
fn a_condition_that_is_not_boolean_is_a_query_evaluation_error() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "E"}], "Default": "E"},
            "E": {"Type": "Succeed"}
        }
    });
    let (error, cause) = failure(&run(definition, json!({"n": 3})));
    assert_eq!(error, "States.QueryEvaluationError");
    assert!(
        cause.contains("Expected 'boolean', but was 'number' for value: 3"),
        "{cause}"
    );
}

#[test]
fn undefined_results_fail_with_the_field_and_an_evaluation_failed_event() {
    // Recorded against AWS (BASE_UNDEFINED_OUTPUT_FIELD).
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "State0",
        "States": {"State0": {"Type": "Pass", "Output": {"result": "{% $doesNotExist %}"}, "End": true}}
    });
    let o = run(definition, json!({}));
    let (error, cause) = failure(&o);
    assert_eq!(error, "States.QueryEvaluationError");
    assert_eq!(
        cause,
        "An error occurred while executing the state 'State0' (entered at the event id #2). The \
         JSONata expression '$doesNotExist' specified for the field 'Output/result' returned \
         nothing (undefined)."
    );
    assert_eq!(
        event_types(&o),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "EvaluationFailed",
            "ExecutionFailed"
        ]
    );
    let evaluation = o
        .history
        .iter()
        .find(|e| e.kind == "EvaluationFailed")
        .unwrap();
    let details = serde_json::to_value(evaluation).unwrap();
    assert_eq!(
        details["evaluationFailedEventDetails"]["location"],
        "Output/result"
    );
    assert_eq!(details["evaluationFailedEventDetails"]["state"], "State0");
}

#[test]
fn map_items_must_be_an_array_and_item_selector_reads_the_item() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.events %}",
                "ItemSelector": {
                    "value": "{% $states.context.Map.Item.Value %}",
                    "index": "{% $states.context.Map.Item.Index %}",
                    "tenant": "{% $states.input.tenant %}"
                },
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
                "Output": "{% $count($states.result) %}",
                "End": true
            }
        }
    });
    let o = run(
        definition.clone(),
        json!({"events": ["a", "b"], "tenant": "t1"}),
    );
    assert_eq!(output(&o), json!(2));
    let entered: Vec<Value> = o
        .history
        .iter()
        .filter_map(|e| match &e.details {
            Some(Details::StateEntered { name, input, .. }) if name == "I" => {
                Some(serde_json::from_str(input).unwrap())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        entered,
        [
            json!({"value": "a", "index": 0, "tenant": "t1"}),
            json!({"value": "b", "index": 1, "tenant": "t1"})
        ]
    );
    // Recorded against AWS: an Items expression that is not an array.
    let (error, cause) = failure(&run(definition, json!({"events": "string", "tenant": "t"})));
    assert_eq!(error, "States.QueryEvaluationError");
    assert!(
        cause.ends_with(
            "The JSONata expression '$states.input.events' specified for the field 'Items' \
             returned an unexpected result type. Expected 'array', but was 'string' for value: \
             \"string\""
        ),
        "{cause}"
    );
}

#[test]
fn wait_seconds_and_timeouts_may_be_expressions() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "W",
        "States": {
            "W": {"Type": "Wait", "Seconds": "{% $states.input.delay * 2 %}", "Next": "T"},
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                "TimeoutSeconds": "{% $states.input.delay + 10 %}",
                "End": true
            }
        }
    });
    let mut host = ScriptedHost::new().task("T", vec![ok(json!(1))]);
    let o = run_with(definition, json!({"delay": 5}), &mut host);
    assert_eq!(output(&o), json!(1));
    assert_eq!(host.sleeps, [10.0]);
    assert_eq!(host.calls[0].1.timeout_seconds, Some(15));
}

#[test]
fn catch_output_and_assign_read_the_error_output() {
    // "$states.errorOutput ... available in a Catch"; without Output a catcher outputs the
    // error output.
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                "Assign": {"result": "SUCCESS"},
                "Catch": [{
                    "ErrorEquals": ["States.ALL"],
                    "Assign": {"result": "{% $states.errorOutput %}"},
                    "Output": {"failedWith": "{% $states.errorOutput.Error %}", "input": "{% $states.input %}"},
                    "Next": "Fallback"
                }],
                "End": true
            },
            "Fallback": {"Type": "Pass", "Output": {"out": "{% $states.input %}", "saved": "{% $result %}"}, "End": true}
        }
    });
    let mut host = ScriptedHost::new().task("T", vec![err("Boom", "it broke")]);
    let o = run_with(definition, json!({"x": 1}), &mut host);
    assert_eq!(
        output(&o),
        json!({
            "out": {"failedWith": "Boom", "input": {"x": 1}},
            "saved": {"Error": "Boom", "Cause": "it broke"}
        })
    );
}

#[test]
fn query_evaluation_errors_of_a_task_can_be_caught() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                "Arguments": "{% $missing %}",
                "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "F"}],
                "End": true
            },
            "F": {"Type": "Pass", "End": true}
        }
    });
    let o = run(definition, json!({}));
    let out = output(&o);
    assert_eq!(out["Error"], "States.QueryEvaluationError");
    assert!(event_types(&o).contains(&"EvaluationFailed"));
}

#[test]
fn fail_error_and_cause_may_be_expressions_and_aws_functions_are_available() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "F",
        "States": {"F": {
            "Type": "Fail",
            "Error": "{% 'Custom.' & $states.input.kind %}",
            "Cause": "{% $string($partition([1,2,3], 2)) %}"
        }}
    });
    assert_eq!(
        failure(&run(definition, json!({"kind": "Bad"}))),
        ("Custom.Bad".to_owned(), "[[1,2],[3]]".to_owned())
    );
}

// ---- mixing query languages ------------------------------------------------------------------

#[test]
fn a_jsonpath_machine_can_hold_a_jsonata_state_and_the_reverse() {
    let jsonpath_machine = json!({
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "Next": "B"},
            "B": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.v + 1 %}", "End": true}
        }
    });
    assert_eq!(output(&run(jsonpath_machine, json!({"v": 1}))), json!(2));
    let jsonata_machine = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}
    });
    // Recorded against AWS: a state cannot go back to JSONPath in a JSONata machine.
    assert!(errors(jsonata_machine).contains(
        "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"
    ));
}

#[test]
fn jsonpath_fields_are_refused_in_jsonata_states_and_the_reverse() {
    let d = errors(json!({
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "InputPath": "$.a", "Parameters": {"x": 1}, "End": true}}
    }));
    assert!(
        d.contains("/States/A/InputPath") && d.contains("/States/A/Parameters"),
        "{d}"
    );
    assert!(
        d.contains(
            "The field 'InputPath' is not supported when QueryLanguage is 'JSONata' (a JSONPath \
             field: JSONata states use Arguments, Output and Assign)"
        ),
        "{d}"
    );
    let d = errors(json!({
        "StartAt": "A",
        "States": {"A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "Arguments": {}, "End": true}}
    }));
    assert!(
        d.contains("/States/A/Arguments")
            && d.contains("only supported when QueryLanguage is 'JSONata'"),
        "{d}"
    );
    let d = errors(json!({
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Output": "{% $states.input.( %}", "End": true}}
    }));
    assert!(
        d.contains("/States/A/Output") && d.contains("is invalid: S0"),
        "{d}"
    );
}

// ---- variables ---------------------------------------------------------------------------------

#[test]
fn assign_in_jsonpath_reads_the_result_and_references_read_variables_everywhere() {
    // Recorded against AWS (BASE_ASSIGN_FROM_RESULT, BASE_REFERENCE_IN_*): `$` in a JSONPath
    // Assign is the state's result; `$name` works in paths, Parameters and intrinsics.
    let definition = json!({
        "StartAt": "S0",
        "States": {
            "S0": {"Type": "Pass", "Result": {"answer": 42}, "Assign": {"theAnswer.$": "$.answer", "items": [1, 2, 3], "name": "n"}, "Next": "S1"},
            "S1": {
                "Type": "Pass",
                "Parameters": {
                    "answer.$": "$theAnswer",
                    "second.$": "$items[1]",
                    "text.$": "States.Format('{} has {}', $name, $theAnswer)"
                },
                "Next": "W"
            },
            "W": {"Type": "Wait", "SecondsPath": "$theAnswer", "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$items", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "ResultPath": "$.items", "End": true}
        }
    });
    let mut host = ScriptedHost::new();
    let o = run_with(definition, json!({}), &mut host);
    assert_eq!(
        output(&o),
        json!({"answer": 42, "second": 2, "text": "n has 42", "items": [1, 2, 3]})
    );
    assert_eq!(host.sleeps, [42.0]);
    assert_eq!(
        assigned(&o),
        [(
            "S0".to_owned(),
            json!({"theAnswer": "42", "items": "[1,2,3]", "name": "\"n\""})
        )]
    );
}

#[test]
fn all_assignments_of_a_state_see_the_values_from_before_it() {
    // Recorded against AWS (BASE_EVALUATION_ORDER_PASS_STATE): InputPath and OutputPath read
    // the old `$answer` even though the state assigns a new one.
    let definition = json!({
        "StartAt": "State0",
        "States": {
            "State0": {"Type": "Pass", "Result": {"theQuestion": "?"}, "Assign": {"question.$": "$.theQuestion", "answer": 42}, "Next": "State1"},
            "State1": {"Type": "Pass", "InputPath": "$answer", "ResultPath": "$.theAnswer", "OutputPath": "$answer", "Assign": {"answer": "<omitted>"}, "End": true}
        }
    });
    let o = run(definition, json!({}));
    assert_eq!(output(&o), json!(42));
    // JSONata: Assign values read each other's old values, not the new ones.
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1, "y": 2}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"x": "{% $y %}", "y": "{% $x %}"}, "Output": {"x": "{% $x %}"}, "Next": "C"},
            "C": {"Type": "Pass", "Output": {"x": "{% $x %}", "y": "{% $y %}"}, "End": true}
        }
    });
    let o = run(definition, json!({}));
    assert_eq!(output(&o), json!({"x": 2, "y": 1}));
    let b = o
        .history
        .iter()
        .find_map(|e| match &e.details {
            Some(Details::StateExited { name, output, .. }) if name == "B" => Some(output.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        b, r#"{"x":1}"#,
        "Output reads the value from before the state"
    );
}

#[test]
fn branches_read_outer_variables_cannot_assign_them_and_do_not_leak() {
    // "Inner scopes can read outer variables ... assignments inside a Parallel branch or Map
    // iteration are not visible outside; only Output passes data back."
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"x": 42}, "Next": "Par"},
            "Par": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Assign": {"inner": "{% $x + 1 %}"}, "Output": "{% $x %}", "Next": "B2"},
                                                 "B2": {"Type": "Pass", "Output": "{% $inner %}", "End": true}}},
                    {"StartAt": "C1", "States": {"C1": {"Type": "Pass", "Output": "{% $x * 2 %}", "End": true}}}
                ],
                "Output": {"results": "{% $states.result %}", "leaked": "{% $exists($inner) %}"},
                "End": true
            }
        }
    });
    assert_eq!(
        output(&run(definition, json!({}))),
        json!({"results": [43, 84], "leaked": false})
    );
    let definition = json!({
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"x": 42}, "Next": "Map"},
            "Map": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "Assign": {"x": 1}, "End": true}}}, "End": true}
        }
    });
    let (error, cause) = failure(&run(definition, json!([1])));
    assert_eq!(error, "States.Runtime");
    assert!(
        cause.contains("Cannot bind value '1' to variable 'x' as it belongs to an outer scope."),
        "{cause}"
    );
}

#[test]
fn a_distributed_map_sees_no_outer_variables() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"x": 42}, "Next": "Map"},
            "Map": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "I",
                    "States": {"I": {"Type": "Pass", "Output": "{% $exists($x) %}", "End": true}}
                },
                "End": true
            }
        }
    });
    assert_eq!(output(&run(definition, json!([1]))), json!([false]));
}

#[test]
fn variable_names_and_sizes_follow_awss_rules() {
    let d = errors(json!({
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Assign": {"states": 1, "9lives": 2, "ok_name": 3}, "End": true}}
    }));
    assert!(
        d.contains("/States/A/Assign/states") && d.contains("/States/A/Assign/9lives"),
        "{d}"
    );
    assert!(!d.contains("ok_name"), "{d}");
    // 256 KiB per variable.
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Assign": {"big": "{% $pad('', 270000, 'x') %}"}, "End": true}}
    });
    assert_eq!(
        failure(&run(definition, json!({}))).0,
        "States.DataLimitExceeded"
    );
}

#[test]
fn jsonpath_assign_in_catch_reads_the_error_output() {
    let definition = json!({
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"why.$": "$.Cause"}, "ResultPath": "$.error", "Next": "F"}],
                "End": true
            },
            "F": {"Type": "Pass", "Parameters": {"why.$": "$why", "error.$": "$.error.Error"}, "End": true}
        }
    });
    let mut host = ScriptedHost::new().task("T", vec![err("E", "because")]);
    let o = run_with(definition, json!({}), &mut host);
    assert_eq!(output(&o), json!({"why": "because", "error": "E"}));
}

// ---- robustness ----------------------------------------------------------------------------

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Fragments JSONata expressions of states are made of: `$states`, variables, functions,
    /// operators, literals (including ones that loop or recurse).
    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "$states.input",
            "$states.context",
            "$states.result",
            "$x",
            "$y",
            ".a",
            "[0]",
            "$count(",
            "$map(",
            "function($v){$v}",
            ")",
            "(",
            " + ",
            " & ",
            " = ",
            " ? ",
            " : ",
            "1",
            "'s'",
            "[",
            "]",
            "{",
            "}",
            "'k':",
            ",",
            "$partition([1,2],",
            "$uuid()",
            "$random()",
            "..",
            "*",
            "**",
            "$f := function($n){$f($n+1)}; $f(0)",
            "[1..100000]",
            ";",
            " and ",
            " or ",
            "null",
            "true",
            "$string(",
            "$sum(",
            "$.",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Whatever the expressions of a JSONata state's Output and Assign, a definition either
        /// is refused with diagnostics or runs to an end (success or an ASL error): never a
        /// panic, never a hang.
        #[test]
        fn any_expression_parses_or_is_refused_and_runs_to_an_end(
            output in prop::collection::vec(fragment(), 1..8),
            assign in prop::collection::vec(fragment(), 1..6),
        ) {
            let definition = json!({
                "QueryLanguage": "JSONata",
                "StartAt": "A",
                "States": {
                    "A": {"Type": "Pass", "Assign": {"x": 1, "y": [1, 2]}, "Next": "B"},
                    "B": {
                        "Type": "Pass",
                        "Assign": {"x": format!("{{% {} %}}", assign.concat())},
                        "Output": format!("{{% {} %}}", output.concat()),
                        "End": true
                    }
                }
            });
            if sluice_asl::definition::StateMachine::parse(&definition).is_ok() {
                let o = run(definition, json!({"a": [1, {"b": 2}]}));
                prop_assert!(o.status == Status::Succeeded || o.failure.is_some());
            }
        }
    }
}

// ---- Checked against executions recorded on AWS ----------------------------------------------

#[test]
fn map_count_paths_accept_a_number_held_in_a_string() {
    // Recorded on AWS: variables assigned the string "1" and referenced by MaxConcurrencyPath,
    // ToleratedFailureCountPath and ToleratedFailurePercentagePath; the Map ran and succeeded.
    for (mode, field, var) in [
        ("INLINE", "MaxConcurrencyPath", "limit"),
        ("DISTRIBUTED", "ToleratedFailureCountPath", "count"),
        ("DISTRIBUTED", "ToleratedFailurePercentagePath", "pct"),
    ] {
        let definition = json!({
            "StartAt": "Start",
            "States": {
                "Start": {
                    "Type": "Pass",
                    "Assign": { var: "1" },
                    "Result": { "Values": [1, 2, 3] },
                    "Next": "Fan"
                },
                "Fan": {
                    "Type": "Map",
                    "ItemsPath": "$.Values",
                    field: format!("${var}"),
                    "ItemProcessor": {
                        "ProcessorConfig": { "Mode": mode, "ExecutionType": "STANDARD" },
                        "StartAt": "Item",
                        "States": { "Item": { "Type": "Pass", "End": true } }
                    },
                    "End": true
                }
            }
        });
        assert_eq!(
            output(&run(definition, json!({}))),
            json!([1, 2, 3]),
            "{field}"
        );
    }
    // A string that holds no number still fails as before.
    let definition = json!({
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "MaxConcurrencyPath": "$.limit",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "Item",
                    "States": { "Item": { "Type": "Pass", "End": true } }
                },
                "End": true
            }
        }
    });
    let (error, cause) = failure(&run(definition, json!({ "limit": "1.5", "items": [1] })));
    assert_eq!(error, "States.Runtime");
    assert!(
        cause.ends_with("The MaxConcurrencyPath field refers to value \"1.5\" which is not a valid integer: $.limit"),
        "{cause}"
    );
}

#[test]
fn an_inline_jsonata_map_accepts_a_failure_tolerance() {
    // Recorded on AWS: a JSONata Map without ProcessorConfig (INLINE) with
    // ToleratedFailureCount / ToleratedFailurePercentage ("{% $variable := 1 %}") is accepted
    // and runs as an ordinary inline Map.
    for field in ["ToleratedFailureCount", "ToleratedFailurePercentage"] {
        let definition = json!({
            "QueryLanguage": "JSONata",
            "StartAt": "Start",
            "States": {
                "Start": {
                    "Type": "Map",
                    "Items": [1],
                    "MaxConcurrency": 1,
                    field: "{% $variable := 1 %}",
                    "ItemProcessor": {
                        "StartAt": "Process",
                        "States": { "Process": { "Type": "Pass", "End": true } }
                    },
                    "End": true
                }
            }
        });
        let o = run(definition, json!({}));
        assert_eq!(output(&o), json!([1]), "{field}");
        assert_eq!(
            event_types(&o),
            [
                "ExecutionStarted",
                "MapStateEntered",
                "MapStateStarted",
                "MapIterationStarted",
                "PassStateEntered",
                "PassStateExited",
                "MapIterationSucceeded",
                "MapStateSucceeded",
                "MapStateExited",
                "ExecutionSucceeded"
            ]
        );
    }
}

/// The `location` of each `EvaluationFailed` event, as serialized (absent when AWS omits it).
fn evaluation_locations(o: &Outcome) -> Vec<Option<Value>> {
    o.history
        .iter()
        .filter(|e| e.kind == "EvaluationFailed")
        .map(|e| {
            let v = serde_json::to_value(e).unwrap();
            v["evaluationFailedEventDetails"].get("location").cloned()
        })
        .collect()
}

#[test]
fn a_jsonata_map_whose_items_fail_records_map_state_failed() {
    // Recorded on AWS: a Map without Items whose input is no array fails with
    // EvaluationFailed (no location: the failure is no field's) then MapStateFailed; Items
    // evaluating to a non-array (located at Items) records MapStateFailed too.
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Item",
                    "States": { "Item": { "Type": "Pass", "End": true } }
                },
                "End": true
            }
        }
    });
    let o = run(definition.clone(), json!(1));
    let (error, cause) = failure(&o);
    assert_eq!(error, "States.QueryEvaluationError");
    assert_eq!(
        cause,
        "An error occurred while executing the state 'Fan' (entered at the event id #2). \
         Map state input must be an array but was: 1"
    );
    assert_eq!(
        event_types(&o),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "EvaluationFailed",
            "MapStateFailed",
            "ExecutionFailed"
        ]
    );
    assert_eq!(evaluation_locations(&o), [None]);

    let mut definition = definition;
    definition["States"]["Fan"]["Items"] = json!("{% $states.input.items %}");
    let o = run(definition, json!({ "items": "string" }));
    assert_eq!(failure(&o).0, "States.QueryEvaluationError");
    assert_eq!(
        event_types(&o),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "EvaluationFailed",
            "MapStateFailed",
            "ExecutionFailed"
        ]
    );
    assert_eq!(evaluation_locations(&o), [Some(json!("Items"))]);
}

#[test]
fn an_unparsable_jsonata_wait_timestamp_is_located_at_timestamp() {
    // Recorded on AWS: the EvaluationFailed event of a bad Timestamp has location "Timestamp".
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Pause",
        "States": {
            "Pause": {
                "Type": "Wait",
                "Timestamp": "{% $states.input.at %}",
                "End": true
            }
        }
    });
    let o = run(definition, json!({ "at": "2016-12-05T21:29:29" }));
    let (error, cause) = failure(&o);
    assert_eq!(error, "States.QueryEvaluationError");
    assert!(
        cause.ends_with(
            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time \
             format string: 2016-12-05T21:29:29"
        ),
        "{cause}"
    );
    assert_eq!(evaluation_locations(&o), [Some(json!("Timestamp"))]);
}

#[test]
fn task_credentials_are_evaluated_and_recorded_in_the_scheduled_event() {
    // Recorded against AWS: `taskCredentials: {"roleArn": ...}` in TaskScheduled (and in
    // LambdaFunctionScheduled), with the role computed from the input or variables.
    let scheduled = |o: &Outcome| -> Vec<Value> {
        o.history
            .iter()
            .filter(|e| e.kind.ends_with("Scheduled"))
            .map(|e| serde_json::to_value(e).unwrap())
            .collect()
    };
    let definition = json!({
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"account": "111111111111"}, "Next": "T"},
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f"},
                "Credentials": {"RoleArn.$": "States.Format('arn:aws:iam::{}:role/{}', $account, $.role)"},
                "End": true
            }
        }
    });
    let mut host = ScriptedHost::new().task("T", vec![ok(json!({"Payload": 1}))]);
    let o = run_with(definition, json!({"role": "CrossAccountRole"}), &mut host);
    assert_eq!(output(&o), json!({"Payload": 1}));
    let events = scheduled(&o);
    assert_eq!(
        events[0]["taskScheduledEventDetails"]["taskCredentials"],
        json!({"roleArn": "arn:aws:iam::111111111111:role/CrossAccountRole"})
    );
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {"T": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:1:function:f",
            "Credentials": {"RoleArn": "{% $states.input.roleArn %}"},
            "End": true
        }}
    });
    let mut host = ScriptedHost::new().task("T", vec![ok(json!(1))]);
    let o = run_with(
        definition,
        json!({"roleArn": "arn:aws:iam::2:role/r"}),
        &mut host,
    );
    assert_eq!(output(&o), json!(1));
    assert_eq!(
        scheduled(&o)[0]["lambdaFunctionScheduledEventDetails"]["taskCredentials"],
        json!({"roleArn": "arn:aws:iam::2:role/r"})
    );
    // Without Credentials, nothing is recorded.
    let definition = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true}}});
    let mut host = ScriptedHost::new().task("T", vec![ok(json!(1))]);
    let o = run_with(definition, json!({}), &mut host);
    assert!(
        scheduled(&o)[0]["lambdaFunctionScheduledEventDetails"]
            .get("taskCredentials")
            .is_none()
    );
}
