//! Very long or deeply nested parts of a definition (JSONata expressions, JSONPaths, intrinsic
//! calls, payload templates, Choice rules) are validated on a small stack: each is either
//! accepted or a located diagnostic, never a stack overflow, here or when the parsed machine
//! is dropped.

use serde_json::{Value, json};
use sluice_asl::validate::{Validation, validate};

/// Validates on a thread with a quarter of a MiB of stack (Sluice parses definitions on 2 MiB
/// threads); returns the error diagnostics' codes and messages.
fn errors_on_tiny_stack(definition: Value) -> Vec<(String, String)> {
    errors_on_stack(256 << 10, definition)
}

fn errors_on_stack(stack: usize, definition: Value) -> Vec<(String, String)> {
    let text = definition.to_string();
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let v: Validation = validate(&text);
            let errors = v
                .diagnostics
                .iter()
                .map(|d| (d.diagnostic.code.to_owned(), d.diagnostic.message.clone()))
                .collect();
            drop(v);
            errors
        })
        .expect("spawn")
        .join()
        .expect("no panic, no overflow")
}

fn jsonata_pass(output: &str) -> Value {
    json!({
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": output, "End": true}}
    })
}

#[test]
fn very_long_jsonata_chains_are_a_diagnostic_not_an_overflow() {
    let steps = format!("{{% $states.input{} %}}", ".a".repeat(30_000));
    let sum = format!("{{% {} %}}", vec!["1"; 50_000].join("+"));
    for expression in [steps, sum] {
        let errors = errors_on_tiny_stack(jsonata_pass(&expression));
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (code, message) = &errors[0];
        assert_eq!(code, "SCHEMA_VALIDATION_FAILED");
        assert!(
            message.contains("S0299: The expression is nested too deeply to parse"),
            "{message}"
        );
        // The expression is quoted, but not all 60,000 characters of it.
        assert!(message.len() < 1_000, "{} characters", message.len());
    }
}

#[test]
fn very_long_jsonpaths_and_intrinsic_arguments_validate() {
    let path = format!("$.{}", vec!["a"; 30_000].join("."));
    let definition = json!({
        "StartAt": "P",
        "States": {"P": {
            "Type": "Pass",
            "InputPath": path,
            "Parameters": {
                "p.$": path,
                "f.$": format!("States.Format('{{}}', {path})"),
                "deep.$": "States.Array(States.Array(States.Array(States.Array(States.Array(\
                           States.Array(States.Array(States.Array(States.Array(States.Array(\
                           States.Array(1)))))))))))"
            },
            "ResultPath": path,
            "OutputPath": path,
            "End": true
        }}
    });
    let errors = errors_on_tiny_stack(definition);
    // Only the eleven-deep intrinsic is refused (AWS nests at most ten).
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].1.contains("nested at most 10 levels"),
        "{errors:?}"
    );
}

/// `{"a": {"a": ... leaf}}`, `depth` objects deep.
fn nested(depth: usize, leaf: Value) -> Value {
    let mut v = leaf;
    for _ in 0..depth {
        v = json!({ "a": v });
    }
    v
}

#[test]
fn templates_and_choice_rules_as_deep_as_json_allows_validate() {
    // serde_json parses definitions at most 128 levels deep; the template sits 4 levels down.
    let parameters = nested(120, json!({"x.$": "$.x", "y": "{% 1 %}"}));
    let assign = nested(120, json!("{% $states.input %}"));
    let mut rule = json!({"Variable": "$.x", "IsPresent": true, "Next": "P"});
    for _ in 0..60 {
        rule = json!({"Not": rule, "Next": "P"});
        rule.as_object_mut().unwrap()["Not"]
            .as_object_mut()
            .unwrap()
            .remove("Next");
    }
    let definition = json!({
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [rule], "Default": "P"},
            "P": {"Type": "Pass", "Parameters": parameters, "Next": "J"},
            "J": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": assign, "End": true}
        }
    });
    // 128 levels of templates and rules take about 300 KiB of stack in debug builds.
    assert_eq!(errors_on_stack(512 << 10, definition), vec![]);
    // One level more than serde_json allows is a JSON syntax error.
    let too_deep = json!({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": nested(130, json!(1)), "End": true
    }}});
    let errors = errors_on_tiny_stack(too_deep);
    assert_eq!(errors[0].0, "INVALID_JSON_DESCRIPTION", "{errors:?}");
}
