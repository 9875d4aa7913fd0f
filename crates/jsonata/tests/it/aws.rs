//! The functions Step Functions adds to JSONata, with the examples of AWS's developer guide
//! ("JSONata functions provided by Step Functions").

use serde_json::{Value as Json, json};
use sluice_jsonata::{Bindings, Expression, aws};

fn eval(expr: &str, input: &Json) -> Result<Option<Json>, String> {
    let functions = aws::functions();
    let bindings = Bindings::new().with_functions(&functions).with_seed(42);
    Expression::parse(expr)
        .map_err(|e| e.code().to_string())?
        .evaluate(input, &bindings)
        .map_err(|e| e.code().to_string())
}

#[test]
fn partition_chunks_an_array() {
    let input = json!({ "chunkSize": 2 });
    assert_eq!(
        eval("$partition([1,2,3,4], chunkSize)", &input),
        Ok(Some(json!([[1, 2], [3, 4]])))
    );
    assert_eq!(
        eval("$partition([1,2,3,4,5,6,7,8,9], 4)", &Json::Null),
        Ok(Some(json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])))
    );
    assert_eq!(
        eval("$partition([1,2,3], 2.9)", &Json::Null),
        Ok(Some(json!([[1, 2], [3]])))
    );
    assert_eq!(
        eval("$partition([1,2,3], 0)", &Json::Null),
        Err("D3200".into())
    );
}

#[test]
fn range_of_one_element_is_that_element() {
    // AWS (recorded): $range(1, 9, 9) outputs 1, a singleton sequence
    assert_eq!(eval("$range(1, 9, 9)", &Json::Null), Ok(Some(json!(1))));
    assert_eq!(eval("$range(3, 3, 1)", &Json::Null), Ok(Some(json!(3))));
    assert_eq!(
        eval("$range(1, 2, 1)", &Json::Null),
        Ok(Some(json!([1, 2])))
    );
}

#[test]
fn range_counts_up_and_down() {
    assert_eq!(
        eval("$range(0, 10, 2)", &Json::Null),
        Ok(Some(json!([0, 2, 4, 6, 8, 10])))
    );
    assert_eq!(
        eval("$range(5, 1, -2)", &Json::Null),
        Ok(Some(json!([5, 3, 1])))
    );
    assert_eq!(eval("$range(1, 0, 1)", &Json::Null), Ok(Some(json!([]))));
    assert_eq!(eval("$range(0, 10, 0)", &Json::Null), Err("D3201".into()));
    assert_eq!(eval("$range(0, 5000, 1)", &Json::Null), Err("D3201".into()));
}

#[test]
fn hash_supports_the_documented_algorithms() {
    let cases = [
        ("MD5", "5d41402abc4b2a76b9719d911017c592"),
        ("SHA-1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        (
            "SHA-256",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        ),
    ];
    for (algorithm, digest) in cases {
        assert_eq!(
            eval(&format!("$hash('hello', '{algorithm}')"), &Json::Null),
            Ok(Some(json!(digest)))
        );
    }
    let long = eval("$hash('hello', 'SHA-512')", &Json::Null).expect("hashes");
    assert_eq!(long.and_then(|v| v.as_str().map(str::len)), Some(128));
    assert_eq!(
        eval("$hash('hello', 'CRC32')", &Json::Null),
        Err("D3202".into())
    );
}

#[test]
fn random_with_a_seed_repeats() {
    let a = eval("$random(7)", &Json::Null).expect("ok");
    let b = eval("$random(7)", &Json::Null).expect("ok");
    let c = eval("$random(8)", &Json::Null).expect("ok");
    assert_eq!(a, b);
    assert_ne!(a, c);
    let unseeded = eval("$random()", &Json::Null)
        .expect("ok")
        .and_then(|v| v.as_f64());
    assert!(unseeded.is_some_and(|x| (0.0..1.0).contains(&x)));
}

#[test]
fn uuid_is_version_4() {
    let v = eval("$uuid()", &Json::Null).expect("ok").expect("defined");
    let s = v.as_str().expect("a string");
    assert_eq!(s.len(), 36);
    assert_eq!(&s[14..15], "4");
    assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
    let two = eval("$uuid() = $uuid()", &Json::Null).expect("ok");
    assert_eq!(two, Some(json!(false)));
}

#[test]
fn parse_deserializes_json_strings() {
    let input = json!({ "json_string": "{\"a\": [1, 2, {\"b\": null}]}" });
    assert_eq!(
        eval("$parse(json_string).a[2]", &input),
        Ok(Some(json!({ "b": null })))
    );
    assert_eq!(eval("$parse('{oops')", &Json::Null), Err("D3203".into()));
}

#[test]
fn registered_functions_shadow_builtins() {
    // AWS's $random takes a seed; JSONata's takes no argument
    assert!(eval("$random(1)", &Json::Null).is_ok());
    let plain = Expression::parse("$random(1)").expect("parses");
    let err = plain
        .evaluate(&Json::Null, &Bindings::new())
        .expect_err("JSONata's $random takes no argument");
    assert_eq!(err.code(), "T0410");
}
