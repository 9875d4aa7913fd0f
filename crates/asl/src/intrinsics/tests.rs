//! Tests of intrinsic parsing and evaluation. Expected values quote the AWS developer guide
//! ("Intrinsic functions for JSONPath states") or results recorded against AWS.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::SplitMix64;
use crate::error::names;

fn parse(text: &str) -> Intrinsic {
    match Intrinsic::parse(text) {
        Ok(intrinsic) => intrinsic,
        Err(e) => panic!("{text} should parse: {e}"),
    }
}

fn parse_error(text: &str) -> String {
    match Intrinsic::parse(text) {
        Ok(intrinsic) => panic!("{text} should not parse, got {intrinsic:?}"),
        Err(e) => {
            assert_eq!(e.text, text);
            e.message
        }
    }
}

fn context() -> Value {
    json!({
        "Execution": {
            "Id": "arn:aws:states:us-east-1:123456789012:execution:my-machine:run-1",
            "Name": "run-1",
            "Input": {"FunctionInput": "Value1,Value2\nValue3"}
        },
        "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:my-machine", "Name": "my-machine"}
    })
}

fn eval_with(text: &str, input: &Value, random: &mut dyn Random) -> Result<Value, Failure> {
    let context = context();
    parse(text).eval(&Scope::new(input, &context), random)
}

fn eval_on(text: &str, input: Value) -> Result<Value, Failure> {
    eval_with(text, &input, &mut SplitMix64(42))
}

fn eval(text: &str) -> Value {
    match eval_on(text, json!({})) {
        Ok(value) => value,
        Err(e) => panic!("{text} should evaluate: {e}"),
    }
}

/// Evaluates and expects `States.IntrinsicFailure`; returns the cause.
fn failure_on(text: &str, input: Value) -> String {
    match eval_on(text, input) {
        Ok(value) => panic!("{text} should fail, got {value}"),
        Err(failure) => {
            assert_eq!(failure.error, names::INTRINSIC_FAILURE, "{text}: {failure}");
            failure.cause
        }
    }
}

fn failure(text: &str) -> String {
    failure_on(text, json!({}))
}

// ---------------------------------------------------------------------------------------------
// Syntax

#[test]
fn is_intrinsic_recognises_states_prefix() {
    assert!(is_intrinsic("States.Array()"));
    assert!(is_intrinsic("  States.UUID()"));
    assert!(!is_intrinsic("$.States"));
}

#[test]
fn every_function_name_parses_and_unknown_names_are_rejected() {
    for function in Function::ALL {
        assert_eq!(Function::from_name(function.name()), Some(function));
    }
    assert!(parse_error("States.Foo(1)").contains("unknown intrinsic function 'States.Foo'"));
    // Names are case-sensitive ("States.format" was a real SCHEMA_VALIDATION_FAILED report).
    assert!(
        parse_error("States.format('x')").contains("unknown intrinsic function 'States.format'")
    );
    assert!(parse_error("States.Uuid()").contains("unknown"));
    assert!(parse_error("States.(1)").contains("expected a function name"));
    assert!(parse_error("Foo.Array()").contains("expected an intrinsic function call"));
    assert!(parse_error("").contains("found nothing"));
    assert!(parse_error("   ").contains("found nothing"));
}

#[test]
fn calls_need_balanced_parentheses_and_nothing_after_them() {
    assert!(parse_error("States.Array").contains("expected '('"));
    assert!(parse_error("States.Array[1]").contains("expected '(' after States.Array, found '['"));
    assert!(parse_error("States.Array(1, 2").contains("unbalanced parentheses"));
    assert!(parse_error("States.Array(1,").contains("unbalanced parentheses"));
    assert!(parse_error("States.Array(").contains("unbalanced parentheses"));
    assert!(
        parse_error("States.Array(1))").contains("unexpected ')' after the closing parenthesis")
    );
    assert!(parse_error("States.Array(1) x").contains("unexpected 'x'"));
    // A function result cannot be indexed within the same call.
    assert!(parse_error("States.StringSplit('a,b', ',')[0]").contains("unexpected '['"));
    assert!(parse_error("States.Array(1 2)").contains("expected ',' or ')'"));
    assert!(parse_error("States.Array(1,,2)").contains("expected an argument"));
    assert!(parse_error("States.Array(1,)").contains("expected an argument"));
    assert!(parse_error("States.Array(,1)").contains("expected an argument"));
}

#[test]
fn blanks_between_tokens_are_allowed() {
    let intrinsic = parse("  States.Array ( 1 ,\t'a' ,\nStates.UUID( ) )  ");
    assert_eq!(intrinsic.to_string(), "States.Array(1, 'a', States.UUID())");
    assert_eq!(
        intrinsic.text(),
        "  States.Array ( 1 ,\t'a' ,\nStates.UUID( ) )  "
    );
}

#[test]
fn parse_errors_report_the_offset() {
    let message = parse_error("States.Array(1, @)");
    assert!(message.ends_with("(at offset 16)"), "{message}");
    let error = Intrinsic::parse("States.Nope()").unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid intrinsic function 'States.Nope()': unknown intrinsic function 'States.Nope' (at offset 7)"
    );
}

#[test]
fn argument_counts_are_checked_when_parsing() {
    let cases = [
        (
            "States.Format()",
            "States.Format takes at least 1 argument, but 0 were given",
        ),
        (
            "States.StringToJson()",
            "States.StringToJson takes exactly 1 argument, but 0 were given",
        ),
        (
            "States.JsonToString(1, 2)",
            "takes exactly 1 argument, but 2 were given",
        ),
        (
            "States.ArrayPartition(States.Array())",
            "States.ArrayPartition takes exactly 2 arguments, but 1 was given",
        ),
        (
            "States.ArrayContains(States.Array())",
            "takes exactly 2 arguments",
        ),
        (
            "States.ArrayRange(1, 2)",
            "States.ArrayRange takes exactly 3 arguments, but 2 were given",
        ),
        (
            "States.ArrayGetItem(States.Array(), 1, 2)",
            "takes exactly 2 arguments",
        ),
        ("States.ArrayLength()", "takes exactly 1 argument"),
        ("States.ArrayUnique()", "takes exactly 1 argument"),
        ("States.Base64Encode()", "takes exactly 1 argument"),
        ("States.Base64Decode('a', 'b')", "takes exactly 1 argument"),
        ("States.Hash('a')", "takes exactly 2 arguments"),
        (
            "States.JsonMerge(States.StringToJson('{}'), States.StringToJson('{}'))",
            "takes exactly 3 arguments",
        ),
        (
            "States.MathRandom(1)",
            "States.MathRandom takes 2 to 3 arguments, but 1 was given",
        ),
        (
            "States.MathRandom(1, 2, 3, 4)",
            "takes 2 to 3 arguments, but 4 were given",
        ),
        ("States.MathAdd(1)", "takes exactly 2 arguments"),
        ("States.StringSplit('a')", "takes exactly 2 arguments"),
        (
            "States.UUID(1)",
            "States.UUID takes no arguments, but 1 was given",
        ),
    ];
    for (text, expected) in cases {
        let message = parse_error(text);
        assert!(message.contains(expected), "{text}: {message}");
    }
    // The same check applies to nested calls.
    assert!(
        parse_error("States.Array(States.MathAdd(1))").contains("States.MathAdd takes exactly 2")
    );
}

#[test]
fn string_literals_use_single_quotes_and_the_four_documented_escapes() {
    // "The literal string \' represents '. \{ represents {. \} represents }. \\ represents \."
    assert_eq!(
        eval(r"States.Array('it\'s', '\{', '\}', 'a\\b')"),
        json!(["it's", "{", "}", "a\\b"])
    );
    assert_eq!(eval("States.Array('')"), json!([""]));
    // Raw control characters are fine (AWS splits 'Hello<LF>World' on '<LF>').
    assert_eq!(
        eval("States.StringSplit('Hello\nWorld', '\n')"),
        json!(["Hello", "World"])
    );
    assert_eq!(eval("States.Array('日本 ✓')"), json!(["日本 ✓"]));
}

#[test]
fn other_backslash_sequences_are_rejected() {
    // AWS rejects `States.StringToJson('{"text":"An \"escaped\" quote"}')` at definition time.
    let message = parse_error(r#"States.StringToJson('{"text":"An \"escaped\" quote"}')"#);
    assert!(
        message.contains(r#"invalid escape sequence '\"'"#),
        "{message}"
    );
    assert!(parse_error(r"States.Format('a\nb')").contains(r"invalid escape sequence '\n'"));
    assert!(parse_error(r"States.Array('a\')").contains("unterminated string literal"));
    assert!(parse_error("States.Array('abc)").contains("unterminated string literal"));
    assert!(parse_error(r#"States.Array("abc")"#).contains("single quotes"));
}

#[test]
fn unescaped_braces_are_tolerated_outside_format_placeholders() {
    // Recorded against AWS: States.JsonMerge(States.StringToJson('{"constant_in_literal":
    // "false"}'), $$.Execution.Input.input_field, false) succeeds.
    assert_eq!(
        eval(r#"States.StringToJson('{"a": {"b": []}}')"#),
        json!({"a": {"b": []}})
    );
    assert_eq!(eval("States.Array('{}')"), json!(["{}"]));
}

#[test]
fn numbers_are_json_numbers_int_or_float() {
    let value = eval(
        "States.Array(0, -7, 12, 1.5, -0.25, 1.0, 1e3, 2E-2, 9223372036854775807, 18446744073709551615)",
    );
    assert_eq!(
        value.to_string(),
        "[0,-7,12,1.5,-0.25,1.0,1000.0,0.02,9223372036854775807,18446744073709551615]"
    );
    assert!(value[0].is_i64() && value[5].is_f64() && value[6].is_f64());
    assert_eq!(eval("States.Array(-0)"), json!([0]));
    // A too large integer becomes a float, like a JSON parser would make it.
    assert!(eval("States.Array(18446744073709551616)")[0].is_f64());
    for bad in [
        "01", "1.", "-", "--1", "1.e3", "1e", "1e+", "12abc", "1.5.2", "+1", ".5",
    ] {
        parse_error(&format!("States.Array({bad})"));
    }
    assert!(parse_error("States.Array(1e400)").contains("out of range"));
}

#[test]
fn true_false_and_null_are_literals() {
    assert_eq!(
        eval("States.Array(true, false, null)"),
        json!([true, false, null])
    );
    assert!(parse_error("States.Array(True)").contains("unexpected 'True'"));
    assert!(parse_error("States.Array(nullx)").contains("unexpected 'nullx'"));
    assert!(parse_error("States.Array(foo.bar)").contains("unexpected 'foo.bar'"));
}

#[test]
fn calls_nest_up_to_ten_levels() {
    // "You can nest up to 10 intrinsic functions within a field in your workflows."
    let nested = |levels: usize| {
        let mut text = "States.Array()".to_owned();
        for _ in 1..levels {
            text = format!("States.Array({text})");
        }
        text
    };
    let ten = parse(&nested(10));
    assert_eq!(ten.call().depth(), 10);
    assert_eq!(
        ten.eval(&Scope::new(&json!({}), &json!({})), &mut SplitMix64(1))
            .unwrap()
            .to_string(),
        "[[[[[[[[[[]]]]]]]]]]"
    );
    assert!(parse_error(&nested(11)).contains("nested at most 10 levels deep"));
    // Absurd nesting is rejected without exhausting the stack.
    let deep = "States.Array(".repeat(200_000);
    assert!(parse_error(&deep).contains("nested at most 10 levels deep"));
}

#[test]
fn format_template_literal_must_match_its_values_when_parsing() {
    // "There must be as many remaining arguments in the intrinsic function invocation as there
    // are occurrences of {}."
    assert!(
        parse_error("States.Format('{} and {}', 'a')")
            .contains("has 2 placeholders '{}' but 1 value is given")
    );
    assert!(parse_error("States.Format('none', 'a')").contains("has 0 placeholders"));
    assert!(parse_error(r"States.Format('\{\}', 'a')").contains("has 0 placeholders"));
    // "The value of the first argument must be a string".
    assert!(
        parse_error("States.Format(1)")
            .contains("first argument of States.Format must be a string")
    );
    assert!(parse_error("States.Format(null)").contains("must be a string"));
}

#[test]
fn json_merge_deep_flag_literal_must_be_false() {
    // "Currently, Step Functions only supports the shallow merging mode; therefore, you must
    // specify the boolean value as false."
    let objects = "States.StringToJson('{}'), States.StringToJson('{}')";
    assert!(
        parse_error(&format!("States.JsonMerge({objects}, true)"))
            .contains("only supports the shallow merging mode")
    );
    assert!(
        parse_error(&format!("States.JsonMerge({objects}, 'false')"))
            .contains("must be the boolean false")
    );
    assert!(
        parse_error(&format!("States.JsonMerge({objects}, 0)"))
            .contains("must be the boolean false")
    );
    assert_eq!(
        eval(&format!("States.JsonMerge({objects}, false)")),
        json!({})
    );
}

#[test]
fn display_prints_a_canonical_call() {
    let intrinsic = parse(r"States.Format( 'it\'s {} \{\} a\\b {x} {}' ,1.50,  States.UUID() )");
    assert_eq!(
        intrinsic.to_string(),
        r"States.Format('it\'s {} \{\} a\\b \{x\} {}', 1.5, States.UUID())"
    );
    assert_eq!(parse(&intrinsic.to_string()).call(), intrinsic.call());
    let literal = StringLiteral::template("a {} b");
    assert_eq!(literal.to_string(), "'a {} b'");
    assert_eq!(StringLiteral::plain("a {} b").to_string(), r"'a \{\} b'");
    assert_eq!(literal.placeholders(), &[2]);
}

// ---------------------------------------------------------------------------------------------
// States.Format

#[test]
fn format_renders_strings_raw_and_other_scalars_as_json() {
    // Recorded against AWS: 'Formatting argument {}.' with "", " ", "HelloWorld", null, 1, 1.1.
    assert_eq!(
        eval("States.Format('Formatting argument {}.', '')"),
        json!("Formatting argument .")
    );
    assert_eq!(
        eval("States.Format('Formatting argument {}.', ' ')"),
        json!("Formatting argument  .")
    );
    assert_eq!(
        eval("States.Format('Formatting argument {}.', null)"),
        json!("Formatting argument null.")
    );
    assert_eq!(
        eval("States.Format('Formatting argument {}.', 1)"),
        json!("Formatting argument 1.")
    );
    assert_eq!(
        eval("States.Format('Formatting argument {}.', 1.1)"),
        json!("Formatting argument 1.1.")
    );
    assert_eq!(eval("States.Format('{}', 1.0)"), json!("1.0"));
    assert_eq!(eval("States.Format('{}|{}', true, -3)"), json!("true|-3"));
    assert_eq!(
        eval(r#"States.Format('Formatting argument {}.', '{"Arg1": 1, "Arg2": []}')"#),
        json!(r#"Formatting argument {"Arg1": 1, "Arg2": []}."#)
    );
    assert_eq!(
        eval("States.Format('no placeholders')"),
        json!("no placeholders")
    );
}

#[test]
fn format_renders_objects_and_arrays_like_java_collections() {
    // Recorded against AWS: {"Arg1": 1, "Arg2": []} is shown as {Arg1=1, Arg2=[]}.
    assert_eq!(
        eval(r#"States.Format('fst={}', States.StringToJson('{"Arg1": 1, "Arg2": []}'))"#),
        json!("fst={Arg1=1, Arg2=[]}")
    );
    assert_eq!(
        eval(r#"States.Format('{}', States.StringToJson('[1, "a b", null, {"k": ["v"]}]'))"#),
        json!("[1, a b, null, {k=[v]}]")
    );
}

#[test]
fn format_escaped_braces_and_quotes_are_literal_text() {
    // "The literal string \{ represents {" - so \{\} is not a placeholder.
    assert_eq!(
        eval(r"States.Format('\{\} {} \{x\}', 'v')"),
        json!("{} v {x}")
    );
    assert_eq!(eval(r"States.Format('it\'s {}', 'me')"), json!("it's me"));
    assert_eq!(eval(r"States.Format('a\\{}', 'b')"), json!(r"a\b"));
    // A lone unescaped brace is text.
    assert_eq!(eval("States.Format('{ {} }', 'v')"), json!("{ v }"));
}

#[test]
fn format_template_from_a_value_is_checked_at_run_time() {
    assert_eq!(
        eval("States.Format(States.Format('\\{\\} and \\{\\}'), 1, 'b')"),
        json!("1 and b")
    );
    let cause = failure("States.Format(States.Format('\\{\\}'), 1, 2)");
    assert!(
        cause.contains("has 1 placeholder(s) '{}' but 2 value(s) are given"),
        "{cause}"
    );
    let cause = failure("States.Format(States.Array(), 1)");
    assert!(
        cause.contains("the first argument must be a string, but it is an array"),
        "{cause}"
    );
    assert!(
        cause.starts_with(
            "The function 'States.Format(States.Array(), 1)' had the following error:"
        ),
        "{cause}"
    );
}

// ---------------------------------------------------------------------------------------------
// JSON manipulation

#[test]
fn string_to_json_parses_json_text() {
    // Recorded against AWS.
    assert_eq!(eval("States.StringToJson('')"), Value::Null);
    assert_eq!(eval("States.StringToJson(' ')"), Value::Null);
    assert_eq!(eval("States.StringToJson('null')"), Value::Null);
    assert_eq!(eval("States.StringToJson('-0')"), json!(0));
    assert_eq!(eval("States.StringToJson('1')"), json!(1));
    assert_eq!(eval("States.StringToJson('1.1')"), json!(1.1));
    assert_eq!(eval("States.StringToJson('true')"), json!(true));
    assert_eq!(
        eval(r#"States.StringToJson('"HelloWorld"')"#),
        json!("HelloWorld")
    );
    assert_eq!(
        eval(r#"States.StringToJson('[1, 2, "HelloWorld"]')"#),
        json!([1, 2, "HelloWorld"])
    );
    assert_eq!(
        eval(r#"States.StringToJson('{"Arg1": 1, "Arg2": []}')"#),
        json!({"Arg1": 1, "Arg2": []})
    );
}

#[test]
fn string_to_json_rejects_invalid_json_and_non_strings() {
    assert!(failure("States.StringToJson('{oops')").contains("the string is not valid JSON"));
    assert!(failure("States.StringToJson(1)").contains("must be a string, but it is a number"));
}

#[test]
fn json_to_string_prints_compact_json() {
    // Recorded against AWS: {"Arg1": 1, "Arg2": []} becomes "{\"Arg1\":1,\"Arg2\":[]}".
    assert_eq!(
        eval(r#"States.JsonToString(States.StringToJson('{"Arg1": 1, "Arg2": []}'))"#),
        json!(r#"{"Arg1":1,"Arg2":[]}"#)
    );
    assert_eq!(
        eval(r#"States.JsonToString(States.StringToJson('[1, 2, "HelloWorld"]'))"#),
        json!(r#"[1,2,"HelloWorld"]"#)
    );
    assert_eq!(
        eval("States.JsonToString('HelloWorld')"),
        json!(r#""HelloWorld""#)
    );
    assert_eq!(eval("States.JsonToString(null)"), json!("null"));
    assert_eq!(eval("States.JsonToString(1.1)"), json!("1.1"));
    assert_eq!(eval("States.JsonToString(true)"), json!("true"));
}

#[test]
fn json_merge_is_shallow_and_the_second_object_wins() {
    // The guide's example, as recorded against AWS.
    let input = json!({
        "json1": {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3},
        "json2": {"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4}
    });
    let merged = eval_on(
        r#"States.JsonMerge(States.StringToJson('{"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3}'), States.StringToJson('{"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4}'), false)"#,
        input,
    )
    .unwrap();
    assert_eq!(
        merged,
        json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3, "d": 4})
    );
}

#[test]
fn json_merge_needs_two_objects_and_false() {
    assert!(
        failure("States.JsonMerge(States.Array(), States.StringToJson('{}'), false)")
            .contains("the first argument must be a JSON object, but it is an array")
    );
    assert!(
        failure("States.JsonMerge(States.StringToJson('{}'), 'x', false)")
            .contains("the second argument must be a JSON object, but it is a string")
    );
    // A flag computed at run time is checked at run time.
    assert!(failure("States.JsonMerge(States.StringToJson('{}'), States.StringToJson('{}'), States.StringToJson('true'))").contains("only supports the shallow merging mode"));
    assert!(failure("States.JsonMerge(States.StringToJson('{}'), States.StringToJson('{}'), States.StringToJson('0'))").contains("must be the boolean false"));
}

// ---------------------------------------------------------------------------------------------
// Arrays

#[test]
fn array_collects_its_arguments_in_order() {
    // Recorded against AWS: States.Array() is [].
    assert_eq!(eval("States.Array()"), json!([]));
    assert_eq!(
        eval("States.Array('HelloWorld', 1, null, States.Array(true))"),
        json!(["HelloWorld", 1, null, [true]])
    );
}

#[test]
fn array_partition_chunks_with_a_shorter_last_chunk() {
    // The guide: [1..9] in chunks of 4 is [[1,2,3,4],[5,6,7,8],[9]].
    assert_eq!(
        eval("States.ArrayPartition(States.ArrayRange(1, 9, 1), 4)"),
        json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
    );
    // Recorded against AWS: [] in any chunk size is []; [0,1,2,3] by 3 is [[0,1,2],[3]].
    assert_eq!(eval("States.ArrayPartition(States.Array(), 1)"), json!([]));
    assert_eq!(
        eval("States.ArrayPartition(States.Array(0, 1, 2, 3), 3)"),
        json!([[0, 1, 2], [3]])
    );
    assert_eq!(
        eval("States.ArrayPartition(States.Array(0, 1), 5)"),
        json!([[0, 1]])
    );
    // "If you specify a non-integer value for the second argument, Step Functions will round it
    // off to the nearest integer."
    assert_eq!(
        eval("States.ArrayPartition(States.Array(0, 1, 2, 3), 2.5)"),
        json!([[0, 1, 2], [3]])
    );
}

#[test]
fn array_partition_needs_an_array_and_a_positive_chunk_size() {
    // "You must specify a non-zero, positive integer for the second argument".
    assert!(
        failure("States.ArrayPartition(States.Array(1), 0)")
            .contains("non-zero, positive integer, but it is 0")
    );
    assert!(failure("States.ArrayPartition(States.Array(1), -2)").contains("positive integer"));
    assert!(failure("States.ArrayPartition(States.Array(1), 0.4)").contains("positive integer"));
    assert!(
        failure("States.ArrayPartition(States.Array(1), '2')")
            .contains("chunk size must be an integer, but it is a string")
    );
    // "You must specify an array as the input value for the function's first argument."
    assert!(
        failure("States.ArrayPartition('abc', 2)")
            .contains("the first argument must be an array, but it is a string")
    );
}

#[test]
fn array_contains_compares_json_values() {
    // Recorded against AWS.
    assert_eq!(
        eval("States.ArrayContains(States.Array(), null)"),
        json!(false)
    );
    assert_eq!(
        eval("States.ArrayContains(States.Array(States.Array(1, 2, 3), 2), States.Array(1, 2, 3))"),
        json!(true)
    );
    assert_eq!(
        eval("States.ArrayContains(States.Array(States.Array(1, 2, 3), 2), null)"),
        json!(false)
    );
    assert_eq!(
        eval(
            r#"States.ArrayContains(States.Array(States.StringToJson('{"1": 2, "2": []}')), States.StringToJson('{"2": [], "1": 2}'))"#
        ),
        json!(true)
    );
    assert_eq!(
        eval("States.ArrayContains(States.Array(true, false), false)"),
        json!(true)
    );
    assert!(failure("States.ArrayContains('abc', 'a')").contains("must be an array"));
}

#[test]
fn array_range_includes_the_final_element_when_reached() {
    // The guide: States.ArrayRange(1, 9, 2) is [1,3,5,7,9]. Recorded against AWS: (0, 9, 3) and
    // (0, 10, 3) are [0,3,6,9]; (1, 9, 9) is [1].
    assert_eq!(eval("States.ArrayRange(1, 9, 2)"), json!([1, 3, 5, 7, 9]));
    assert_eq!(eval("States.ArrayRange(0, 9, 3)"), json!([0, 3, 6, 9]));
    assert_eq!(eval("States.ArrayRange(0, 10, 3)"), json!([0, 3, 6, 9]));
    assert_eq!(eval("States.ArrayRange(1, 9, 9)"), json!([1]));
    assert_eq!(eval("States.ArrayRange(5, 5, 1)"), json!([5]));
    // "You must specify a non-zero value for the third argument": negative steps count down.
    assert_eq!(eval("States.ArrayRange(3, -3, -2)"), json!([3, 1, -1, -3]));
    assert_eq!(eval("States.ArrayRange(1, 9, -1)"), json!([]));
    // "If you specify a non-integer value for any of the arguments, Step Functions will round it
    // off to the nearest integer."
    assert_eq!(eval("States.ArrayRange(0.5, 4.4, 1.5)"), json!([1, 3]));
}

#[test]
fn array_range_rejects_a_zero_step_non_integers_and_more_than_1000_items() {
    assert!(failure("States.ArrayRange(1, 9, 0)").contains("must be a non-zero integer"));
    assert!(failure("States.ArrayRange(1, 9, 0.4)").contains("must be a non-zero integer"));
    assert!(
        failure("States.ArrayRange('1', 9, 1)")
            .contains("the first element must be an integer, but it is a string")
    );
    // "The newly generated array can't contain more than 1000 items."
    assert_eq!(
        eval("States.ArrayRange(1, 1000, 1)")
            .as_array()
            .unwrap()
            .len(),
        1000
    );
    assert!(
        failure("States.ArrayRange(0, 1000, 1)")
            .contains("would have 1001 items, but it can contain at most 1000")
    );
    assert!(
        failure("States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)")
            .contains("at most 1000")
    );
}

#[test]
fn array_get_item_returns_the_item_at_an_index() {
    // The guide: index 5 of [1..9] is 6.
    assert_eq!(
        eval("States.ArrayGetItem(States.ArrayRange(1, 9, 1), 5)"),
        json!(6)
    );
    assert_eq!(
        eval("States.ArrayGetItem(States.Array('a', 'b'), 0)"),
        json!("a")
    );
    assert_eq!(
        eval("States.ArrayGetItem(States.Array('a', 'b'), 1.0)"),
        json!("b")
    );
}

#[test]
fn array_get_item_rejects_bad_indices() {
    assert!(
        failure("States.ArrayGetItem(States.Array('a', 'b'), 2)")
            .contains("the index 2 is out of bounds for an array of length 2")
    );
    assert!(
        failure("States.ArrayGetItem(States.Array('a', 'b'), -1)")
            .contains("the index -1 is out of bounds")
    );
    assert!(
        failure("States.ArrayGetItem(States.Array('a', 'b'), 0.5)")
            .contains("the index must be an integer, but it is 0.5")
    );
    assert!(
        failure("States.ArrayGetItem(States.Array('a'), '0')")
            .contains("the index must be an integer, but it is a string")
    );
    assert!(
        failure("States.ArrayGetItem('ab', 0)").contains("must be an array, but it is a string")
    );
}

#[test]
fn array_length_counts_items() {
    // The guide: the length of [1..9] is 9.
    assert_eq!(
        eval("States.ArrayLength(States.ArrayRange(1, 9, 1))"),
        json!(9)
    );
    assert_eq!(eval("States.ArrayLength(States.Array())"), json!(0));
    assert!(
        failure("States.ArrayLength(States.StringToJson('{}'))")
            .contains("must be an array, but it is an object")
    );
}

#[test]
fn array_unique_keeps_the_first_of_equal_values_in_order() {
    // The guide: [1,2,3,3,3,3,3,3,4] becomes [1,2,3,4].
    assert_eq!(
        eval("States.ArrayUnique(States.Array(1, 2, 3, 3, 3, 3, 3, 3, 4))"),
        json!([1, 2, 3, 4])
    );
    let value = eval(
        r#"States.ArrayUnique(States.StringToJson('[null, null, true, true, false, 1, 1, 1.1, "a", "a", [], [], [null], [null], {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1, "b": 1}, "1"]'))"#,
    );
    assert_eq!(
        value,
        json!([null, true, false, 1, 1.1, "a", [], [null], {"a": 1, "b": 2}, {"a": 1, "b": 1}, "1"])
    );
    assert!(failure("States.ArrayUnique(1)").contains("must be an array"));
}

// ---------------------------------------------------------------------------------------------
// Encoding and hashing

#[test]
fn base64_encode_and_decode_round_trip() {
    // The guide: "Data to encode" is "RGF0YSB0byBlbmNvZGU=". Recorded against AWS: "" is "".
    assert_eq!(
        eval("States.Base64Encode('Data to encode')"),
        json!("RGF0YSB0byBlbmNvZGU=")
    );
    assert_eq!(
        eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')"),
        json!("Data to encode")
    );
    assert_eq!(eval("States.Base64Encode('')"), json!(""));
    assert_eq!(eval("States.Base64Decode('')"), json!(""));
    // Non-ASCII text is encoded as UTF-8.
    assert_eq!(
        eval("States.Base64Encode('héllo ✓ 日本')"),
        json!("aMOpbGxvIOKckyDml6XmnKw=")
    );
    assert_eq!(
        eval("States.Base64Decode('aMOpbGxvIOKckyDml6XmnKw=')"),
        json!("héllo ✓ 日本")
    );
    // MIME decoding ignores line breaks; missing padding is tolerated.
    assert_eq!(
        eval("States.Base64Decode('RGF0YSB0\r\nbyBlbmNvZGU')"),
        json!("Data to encode")
    );
}

#[test]
fn base64_decode_rejects_invalid_input() {
    assert!(failure("States.Base64Decode('not base64!')").contains("not valid Base64"));
    assert!(failure("States.Base64Decode('/w==')").contains("not a valid UTF-8 string"));
    assert!(failure("States.Base64Encode(1)").contains("must be a string, but it is a number"));
    assert!(failure("States.Base64Decode(null)").contains("must be a string, but it is null"));
}

#[test]
fn base64_and_hash_inputs_are_limited_to_10000_characters() {
    // "This function takes a data string of up to 10,000 characters".
    let at_limit = "a".repeat(MAX_INPUT_CHARS);
    let over = "a".repeat(MAX_INPUT_CHARS + 1);
    assert!(eval(&format!("States.Base64Encode('{at_limit}')")).is_string());
    assert!(
        failure(&format!("States.Base64Encode('{over}')"))
            .contains("at most 10000 characters long, but it has 10001")
    );
    assert!(
        failure(&format!("States.Base64Decode('{over}')")).contains("at most 10000 characters")
    );
    assert!(eval(&format!("States.Hash('{at_limit}', 'MD5')")).is_string());
    assert!(failure(&format!("States.Hash('{over}', 'MD5')")).contains("at most 10000 characters"));
    // Characters, not bytes: 10,000 three-byte characters are accepted.
    assert!(
        eval(&format!(
            "States.Base64Encode('{}')",
            "✓".repeat(MAX_INPUT_CHARS)
        ))
        .is_string()
    );
}

#[test]
fn hash_supports_the_five_documented_algorithms() {
    // Recorded against AWS for "input data".
    let cases = [
        ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
        ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        (
            "SHA-256",
            "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3",
        ),
        (
            "SHA-384",
            "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562",
        ),
        (
            "SHA-512",
            "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4",
        ),
    ];
    for (algorithm, expected) in cases {
        assert_eq!(
            eval(&format!("States.Hash('input data', '{algorithm}')")),
            json!(expected),
            "{algorithm}"
        );
    }
    // Unicode is hashed as UTF-8.
    assert_eq!(
        eval("States.Hash('héllo ✓ 日本', 'MD5')"),
        json!("8f1c794e2dd98d8bf12c103f8345d08f")
    );
    assert_eq!(
        eval("States.Hash('héllo ✓ 日本', 'SHA-1')"),
        json!("12abaef0c8e7420556817e1a65014eb84129572c")
    );
    assert_eq!(
        eval("States.Hash('héllo ✓ 日本', 'SHA-256')"),
        json!("ebdf4e8b1a7a835d097aee43016f1e04d10a6261fceb372cab99c720a21bfe18")
    );
    assert_eq!(
        eval("States.Hash('', 'SHA-256')"),
        json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
}

#[test]
fn hash_algorithm_names_are_exact() {
    for bad in ["sha-256", "SHA256", "SHA-3", "md5", ""] {
        let cause = failure(&format!("States.Hash('x', '{bad}')"));
        assert!(
            cause.contains(&format!("the hashing algorithm '{bad}' is not supported")),
            "{cause}"
        );
    }
    assert!(failure("States.Hash(1, 'MD5')").contains("the first argument must be a string"));
    assert!(failure("States.Hash('x', 1)").contains("the second argument must be a string"));
}

// ---------------------------------------------------------------------------------------------
// Math

#[test]
fn math_add_rounds_each_value_like_java_then_adds() {
    // Recorded against AWS (Java's Math.round: halves go up).
    let cases = [
        ("-9", "3", -6),
        ("1.49", "1.50", 3),
        ("1.50", "1.51", 4),
        ("-1.49", "-1.50", -2),
        ("-1.50", "-1.51", -3),
        ("1.49", "-1.49", 0),
        ("0.5", "0", 1),
        ("2.5", "0", 3),
        ("-0.5", "0.5", 1),
        ("-0.5", "0", 0),
        ("-1.5", "0", -1),
        ("-2.5", "0", -2),
        ("-3.5", "0", -3),
        ("111", "-1", 110),
    ];
    for (a, b, expected) in cases {
        let value = eval(&format!("States.MathAdd({a}, {b})"));
        assert_eq!(value, json!(expected), "{a} + {b}");
        assert!(value.is_i64());
    }
}

#[test]
fn math_add_needs_integers_in_the_32_bit_range() {
    // "You must specify integer values in the range of -2147483648 and 2147483647."
    assert_eq!(
        eval("States.MathAdd(2147483647, 2147483647)"),
        json!(4_294_967_294_i64)
    );
    assert_eq!(
        eval("States.MathAdd(-2147483648, 0)"),
        json!(-2_147_483_648_i64)
    );
    assert!(
        failure("States.MathAdd(2147483648, 0)")
            .contains("not an integer in the range of -2147483648 and 2147483647")
    );
    assert!(
        failure("States.MathAdd(0, -2147483649)")
            .contains("the second value -2147483649 is not an integer in the range")
    );
    assert!(failure("States.MathAdd(1e300, 0)").contains("out of the integer range"));
    assert!(
        failure("States.MathAdd('1', 2)")
            .contains("the first value must be an integer, but it is a string")
    );
    assert!(
        failure("States.MathAdd(1, null)")
            .contains("the second value must be an integer, but it is null")
    );
}

#[test]
fn math_random_is_between_start_inclusive_and_end_exclusive() {
    // "return a random number between the specified start number (inclusive) and end number
    // (exclusive)".
    let empty = json!({});
    let mut random = SplitMix64(7);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..500 {
        let n = eval_with("States.MathRandom(1, 5)", &empty, &mut random)
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((1..5).contains(&n), "{n}");
        seen.insert(n);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    for _ in 0..100 {
        let n = eval_with("States.MathRandom(-99999, -9999)", &empty, &mut random)
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((-99999..-9999).contains(&n));
    }
    assert_eq!(eval("States.MathRandom(3, 4)"), json!(3));
    // Non-integers are rounded: (12.50, 44.51) is [13, 45).
    for _ in 0..100 {
        let n = eval_with("States.MathRandom(12.50, 44.51)", &empty, &mut random)
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((13..45).contains(&n));
    }
    let extreme = eval("States.MathRandom(-9223372036854775808, 9223372036854775807)");
    assert!(extreme.is_i64());
}

#[test]
fn math_random_with_a_seed_is_deterministic() {
    // "if you use this function with the same seed value, it will return identical numbers."
    let empty = json!({});
    let a = eval_with("States.MathRandom(0, 999, 3)", &empty, &mut SplitMix64(1)).unwrap();
    let b = eval_with("States.MathRandom(0, 999, 3)", &empty, &mut SplitMix64(2)).unwrap();
    assert_eq!(a, b);
    // A seeded call leaves the caller's source untouched.
    let mut random = SplitMix64(9);
    eval_with("States.MathRandom(0, 999, 3)", &empty, &mut random).unwrap();
    assert_eq!(random.0, SplitMix64(9).0);
    // Different seeds give different sequences; unseeded calls follow the caller's source.
    let values: std::collections::BTreeSet<_> = (0..20)
        .map(|seed| {
            eval(&format!("States.MathRandom(0, 1000000, {seed})"))
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(values.len() > 15);
    let first = eval_with("States.MathRandom(0, 1000000)", &empty, &mut SplitMix64(5)).unwrap();
    let again = eval_with("States.MathRandom(0, 1000000)", &empty, &mut SplitMix64(5)).unwrap();
    assert_eq!(first, again);
}

#[test]
fn math_random_rejects_bad_bounds() {
    assert!(
        failure("States.MathRandom(5, 5)")
            .contains("the end number (5) must be greater than the start number (5)")
    );
    assert!(failure("States.MathRandom(9, 1)").contains("must be greater than the start number"));
    assert!(
        failure("States.MathRandom('1', 5)")
            .contains("the start number must be an integer, but it is a string")
    );
    assert!(
        failure("States.MathRandom(1, 5, 'seed')")
            .contains("the seed must be an integer, but it is a string")
    );
}

// ---------------------------------------------------------------------------------------------
// Strings and identifiers

#[test]
fn string_split_splits_on_any_delimiter_character_and_drops_empty_pieces() {
    // The guide and recordings against AWS.
    let cases = [
        ("1,2,3,4,5", ",", json!(["1", "2", "3", "4", "5"])),
        (
            "This.is+a,test=string",
            ".+,=",
            json!(["This", "is", "a", "test", "string"]),
        ),
        (" ", ",", json!([" "])),
        (" , ", ",", json!([" ", " "])),
        (", , ,", ",", json!([" ", " "])),
        (",,,,", ",", json!([])),
        (
            "split on T and \nnew line",
            "T\n",
            json!(["split on ", " and ", "new line"]),
        ),
        ("", ",", json!([])),
        ("abc", "", json!(["abc"])),
        ("a→b→c", "→", json!(["a", "b", "c"])),
    ];
    for (text, delimiters, expected) in cases {
        let call = format!("States.StringSplit('{text}', '{delimiters}')");
        assert_eq!(eval(&call), expected, "{call}");
    }
    assert!(failure("States.StringSplit(1, ',')").contains("the first argument must be a string"));
    assert!(
        failure("States.StringSplit('a', null)").contains("the second argument must be a string")
    );
}

#[test]
fn uuid_is_a_version_4_uuid_drawn_from_the_random_source() {
    // "return a version 4 universally unique identifier (v4 UUID) generated using random numbers".
    let empty = json!({});
    let mut random = SplitMix64(3);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..100 {
        let value = eval_with("States.UUID()", &empty, &mut random).unwrap();
        let uuid = value.as_str().unwrap();
        assert_eq!(uuid.len(), 36);
        let groups: Vec<_> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, vec![8, 4, 4, 4, 12]);
        assert!(
            uuid.chars()
                .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
        assert!(seen.insert(uuid.to_owned()));
    }
    let a = eval_with("States.UUID()", &empty, &mut SplitMix64(11)).unwrap();
    let b = eval_with("States.UUID()", &empty, &mut SplitMix64(11)).unwrap();
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------------------------
// Nesting

#[test]
fn nested_calls_feed_their_results_to_the_enclosing_call() {
    // Shaped after AWS's recorded NESTED_CALLS_2.
    assert_eq!(
        eval(
            "States.ArrayGetItem(States.StringSplit('a-b-c', '-'), States.MathAdd(States.ArrayLength(States.StringSplit('a-b-c', '-')), -1))"
        ),
        json!("c")
    );
    // A failing inner call names itself.
    let cause = failure("States.Array(States.ArrayGetItem(States.Array(), 0))");
    assert!(
        cause.starts_with(
            "The function 'States.ArrayGetItem(States.Array(), 0)' had the following error:"
        ),
        "{cause}"
    );
}

#[test]
fn uses_context_finds_context_paths_at_any_depth() {
    assert!(!parse("States.Array(1, 'a')").uses_context());
    assert!(!parse("States.UUID()").uses_context());
}

// ---------------------------------------------------------------------------------------------
// Paths

#[test]
fn path_arguments_read_the_input_and_the_context_object() {
    // The guide: States.Format('Hello, my name is {}.', $.name) and States.Format($.template,
    // $.name) both give "Hello, my name is Arnav.".
    let input = json!({"name": "Arnav", "template": "Hello, my name is {}."});
    assert_eq!(
        eval_on(
            "States.Format('Hello, my name is {}.', $.name)",
            input.clone()
        )
        .unwrap(),
        json!("Hello, my name is Arnav.")
    );
    assert_eq!(
        eval_on("States.Format($.template, $.name)", input).unwrap(),
        json!("Hello, my name is Arnav.")
    );
    assert_eq!(eval_on("States.Array($)", json!(1)).unwrap(), json!([1]));
    // Recorded against AWS (FORMAT_CONTEXT_PATH): an object from $$ is rendered Java-style.
    assert_eq!(
        eval_on(
            "States.Format('fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)",
            json!({})
        )
        .unwrap(),
        json!(
            "fst=run-1 and snd={Id=arn:aws:states:us-east-1:123456789012:stateMachine:my-machine, Name=my-machine}."
        )
    );
    assert_eq!(
        eval_on(
            "States.StringSplit($$.Execution.Input.FunctionInput, ',')",
            json!({})
        )
        .unwrap(),
        json!(["Value1", "Value2\nValue3"])
    );
    assert!(parse("States.Array(1, States.Array($$.Execution.Id))").uses_context());
    assert!(!parse("States.Array($.a, States.Array($))").uses_context());
}

#[test]
fn path_arguments_may_use_brackets_with_commas_and_parentheses() {
    // "If your Path contains non-alphanumeric characters, besides _, you must use square bracket
    // notation. For example, $.abc.['def ghi']."
    let input = json!({"a,b)": "x", "list": [10, 20], "abc": {"def ghi": 7}});
    assert_eq!(
        eval_on("States.Array($['a,b)'], $.list[1])", input.clone()).unwrap(),
        json!(["x", 20])
    );
    assert_eq!(
        eval_on("States.Array($.abc['def ghi'])", input).unwrap(),
        json!([7])
    );
    // A filter may hold commas, parentheses and quotes.
    let input = json!({"items": [{"k": "a,b", "v": 1}, {"k": "c)", "v": 2}]});
    assert_eq!(
        eval_on(
            "States.Array($.items[?(@.k == 'c)')].v, $.items[?(@.k == \"a,b\")].v)",
            input
        )
        .unwrap(),
        json!([[2], [1]])
    );
    assert_eq!(
        parse("States.Array( $.list[1] , $ )").to_string(),
        "States.Array($.list[1], $)"
    );
}

#[test]
fn a_path_that_selects_nothing_is_a_runtime_error() {
    let failure = eval_on("States.Format('{}', $.missing)", json!({"present": 1})).unwrap_err();
    assert_eq!(failure.error, names::RUNTIME);
    assert!(
        failure.cause.contains("'$.missing'") && failure.cause.contains(r#"{"present":1}"#),
        "{}",
        failure.cause
    );
    let failure = eval_on("States.Array($$.Nope)", json!({})).unwrap_err();
    assert_eq!(failure.error, names::RUNTIME);
    assert!(
        failure.cause.contains("context object"),
        "{}",
        failure.cause
    );
}

#[test]
fn invalid_path_arguments_are_rejected_when_parsing() {
    let message = parse_error("States.Array(1, $.a.)");
    assert!(
        message.contains("invalid path argument '$.a.'"),
        "{message}"
    );
    // Workflow variables ($name) are path arguments; a bad name is not.
    assert!(parse_error("States.Format('{}', $1name)").contains("invalid path argument '$1name'"));
    assert!(parse_error("States.Array($.a[)").contains("unbalanced brackets in a path argument"));
    assert!(parse_error("States.Array($['a)").contains("unterminated quoted name"));
    assert!(parse_error("States.Array($.a b)").contains("expected ',' or ')'"));
}

#[test]
fn path_argument_values_get_the_same_rules_as_literals() {
    // Recorded against AWS: FORMAT_2 with fst = snd = {"Arg1": 1, "Arg2": []}.
    let input = json!({"FunctionInput": {"fst": {"Arg1": 1, "Arg2": []}, "snd": 1.1}});
    assert_eq!(
        eval_on("States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)", input).unwrap(),
        json!("Formatting arguments fst={Arg1=1, Arg2=[]} and snd=1.1.")
    );
    // The deep-merge flag from a path is checked at run time.
    let input = json!({"a": {"x": 1}, "b": {"y": 2}, "deep": true});
    let cause = failure_on("States.JsonMerge($.a, $.b, $.deep)", input.clone());
    assert!(cause.contains("only supports the shallow merging mode"));
    assert_eq!(
        eval_on("States.JsonMerge($.a, $.b, false)", input).unwrap(),
        json!({"x": 1, "y": 2})
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

/// Characters that exercise every branch of the lexer.
fn lexer_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("States.".to_owned()),
            Just("Format".to_owned()),
            Just("Array".to_owned()),
            Just("MathAdd".to_owned()),
            Just("JsonMerge".to_owned()),
            "[-0-9eE.+]{1,4}",
            "[(),'\\\\{}$\\[\\]\"@?*. \t]",
            Just("true".to_owned()),
            Just("null".to_owned()),
            "\\PC{0,3}",
        ],
        0..24,
    )
    .prop_map(|pieces| pieces.concat())
}

fn literal_arg() -> impl Strategy<Value = Arg> {
    prop_oneof![
        "\\PC{0,12}".prop_map(|s| Arg::String(StringLiteral::plain(&s))),
        "[a-z{}'\\\\ ]{0,12}".prop_map(|s| Arg::String(StringLiteral::plain(&s))),
        any::<i64>().prop_map(|n| Arg::Number(n.into())),
        any::<u64>().prop_map(|n| Arg::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(Arg::Number),
        any::<bool>().prop_map(Arg::Bool),
        Just(Arg::Null),
        proptest::sample::select(vec![
            "$",
            "$.a",
            "$$.Execution.Id",
            "$['x, y)']",
            "$.a[0]",
            "$..b"
        ])
        .prop_map(|text| Arg::Path(Path::parse(text).unwrap())),
    ]
}

/// A call to `function` with valid arity, arguments drawn from `arg`.
fn call_of(function: Function, arg: BoxedStrategy<Arg>) -> BoxedStrategy<Call> {
    let (min, max) = function.arity();
    let max = max.unwrap_or(min + 3);
    proptest::collection::vec(arg, min..=max)
        .prop_flat_map(move |args| {
            let pieces = proptest::collection::vec("[a-z {}\\\\']{0,4}", args.len().max(1));
            pieces.prop_map(move |pieces| {
                let mut args = args.clone();
                match function {
                    // A literal template with exactly one placeholder per value.
                    Function::Format => {
                        let mut literal = StringLiteral::plain("");
                        for (i, piece) in pieces[..args.len()].iter().enumerate() {
                            if i > 0 {
                                literal.placeholders.push(literal.value.len());
                                literal.value.push_str("{}");
                            }
                            literal.value.push_str(piece);
                        }
                        args[0] = Arg::String(literal);
                    }
                    Function::JsonMerge => args[2] = Arg::Bool(false),
                    _ => {}
                }
                Call { function, args }
            })
        })
        .boxed()
}

fn any_call() -> impl Strategy<Value = Call> {
    let leaf = proptest::sample::select(Function::ALL.to_vec())
        .prop_flat_map(|function| call_of(function, literal_arg().boxed()));
    leaf.prop_recursive(3, 24, 4, |inner| {
        proptest::sample::select(Function::ALL.to_vec()).prop_flat_map(move |function| {
            let arg =
                prop_oneof![3 => literal_arg(), 1 => inner.clone().prop_map(Arg::Call)].boxed();
            call_of(function, arg)
        })
    })
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC{0,64}") {
        let _ = Intrinsic::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_intrinsic_like_text(text in lexer_soup()) {
        if let Ok(intrinsic) = Intrinsic::parse(&text) {
            // Whatever parses evaluates without panicking and prints back to itself.
            let reparsed = Intrinsic::parse(&intrinsic.to_string()).unwrap();
            prop_assert_eq!(reparsed.call(), intrinsic.call());
            let _ = intrinsic.eval(&Scope::new(&json!({"a": [1]}), &json!({})), &mut SplitMix64(0));
        }
    }

    #[test]
    fn printed_calls_parse_back_to_the_same_call(call in any_call()) {
        let text = call.to_string();
        let parsed = Intrinsic::parse(&text);
        prop_assert!(parsed.is_ok(), "{} failed: {:?}", text, parsed);
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.call(), &call);
        prop_assert_eq!(parsed.to_string(), text);
        // And evaluating it never panics.
        let _ = parsed.eval(&Scope::new(&json!({}), &json!({})), &mut SplitMix64(0));
    }
}
