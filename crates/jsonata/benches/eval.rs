//! Typical Step Functions JSONata expressions on the seed's 1 KiB security event: parsing
//! (once per definition) and evaluating (once per state transition).
//!
//! `cargo bench -p sluice-jsonata --bench eval`

use divan::{Bencher, black_box};
use serde_json::{Value as Json, json};
use sluice_jsonata::{Bindings, Expression, aws};

const EVENT: &str = include_str!("../../../examples/seed/event.json");

const FIELD: &str =
    "$states.input.severity >= 4 and $states.input.device.hostname = 'WKS-FIN-0231'";
const SUM: &str = "$sum($states.input.items.price)";
const OBJECT: &str = "{
  'id': $states.input.event_id,
  'host': $states.input.device.hostname,
  'user': $states.input.user.domain & '\\\\' & $states.input.user.name,
  'severity': $states.input.severity >= 4 ? 'high' : 'low',
  'tags': $states.input.tags[$contains($, 'lsass')],
  'ou': $join($states.input.device.ou, '/')
}";

const EXPRESSIONS: &[(&str, &str)] = &[("field", FIELD), ("sum", SUM), ("object", OBJECT)];

fn main() {
    divan::main();
}

fn states() -> Json {
    let mut input: Json = serde_json::from_str(EVENT).expect("seed event is JSON");
    input["items"] = json!(
        (0..10)
            .map(|i| json!({ "sku": i, "price": 1.25 * i as f64 }))
            .collect::<Vec<_>>()
    );
    json!({
        "input": input,
        "context": { "Execution": { "Id": "arn:aws:states:us-east-1:123456789012:execution:sec:1" } }
    })
}

#[divan::bench(args = ["field", "sum", "object"])]
fn parse(bencher: Bencher, name: &str) {
    let source = EXPRESSIONS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("known")
        .1;
    bencher.bench(|| Expression::parse(black_box(source)).expect("parses"));
}

#[divan::bench(args = ["field", "sum", "object"])]
fn evaluate(bencher: Bencher, name: &str) {
    let source = EXPRESSIONS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("known")
        .1;
    let expr = Expression::parse(source).expect("parses");
    let states = states();
    let functions = aws::functions();
    bencher.bench(|| {
        let bindings = Bindings::new()
            .with_ref("states", &states)
            .with_functions(&functions)
            .with_now(1_764_000_000_000);
        expr.evaluate(black_box(&Json::Null), &bindings)
            .expect("evaluates")
    });
}
