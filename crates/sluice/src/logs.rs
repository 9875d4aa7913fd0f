//! `sluice logs FUNCTION`: a running server's recent log lines of one function, through
//! `GET /sluice/functions/{name}/logs`, grouped by the invocation (request id) that printed
//! them. `--follow` keeps polling for new lines.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;

use sluice_bench::http::{Connection, Endpoint};

/// How often `--follow` asks for new lines.
const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The function's name.
    function: String,
    /// The function's region (the server's configured region when not given).
    #[arg(long)]
    region: Option<String>,
    /// The server's address.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    /// Only the lines of this invocation.
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
    /// Keep printing new lines as they come, until interrupted.
    #[arg(long, short)]
    follow: bool,
    /// Print the lines as JSON (`{"seq", "requestId", "text"}` each, one a line).
    #[arg(long)]
    json: bool,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let endpoint = Endpoint::parse(&args.endpoint)?;
    let mut connection = Connection::new(&endpoint);
    let mut after = 0u64;
    let mut printed: Option<Option<String>> = None;
    let stdout = std::io::stdout();
    loop {
        let (lines, last) = fetch(&mut connection, &endpoint, &args, after)?;
        after = last;
        let mut out = stdout.lock();
        if args.json {
            for line in &lines {
                writeln!(out, "{line}")?;
            }
        } else if args.follow {
            print_in_order(&mut out, &lines, &mut printed)?;
        } else {
            print_grouped(&mut out, &lines)?;
        }
        out.flush()?;
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        drop(out);
        std::thread::sleep(POLL);
    }
}

/// The lines after `after`, and the sequence number to ask after next.
fn fetch(
    connection: &mut Connection,
    endpoint: &Endpoint,
    args: &Args,
    after: u64,
) -> anyhow::Result<(Vec<Value>, u64)> {
    let mut path = format!(
        "/sluice/functions/{}/logs?after={after}",
        encode(&args.function)
    );
    for (key, value) in [("requestId", &args.request_id), ("region", &args.region)] {
        if let Some(value) = value {
            path.push_str(&format!("&{key}={}", encode(value)));
        }
    }
    let response = connection
        .request("GET", &path, "application/json", b"")
        .with_context(|| format!("cannot reach sluice serve at {}", endpoint.url()))?;
    let mut body: Value = serde_json::from_slice(&response.body).with_context(|| {
        format!(
            "{} answered HTTP {} without JSON (is it sluice serve?)",
            endpoint.url(),
            response.status
        )
    })?;
    if response.status != 200 {
        bail!(
            "{}",
            body["message"]
                .as_str()
                .unwrap_or("the server refused the request")
        );
    }
    let last = body["last"].as_u64().unwrap_or(after);
    let lines = match body["lines"].take() {
        Value::Array(lines) => lines,
        _ => Vec::new(),
    };
    Ok((lines, last))
}

/// Request ids and function names are `[A-Za-z0-9-_]`; anything else is percent-encoded.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn request_id(line: &Value) -> Option<String> {
    line["requestId"].as_str().map(str::to_owned)
}

fn header(out: &mut impl std::io::Write, id: Option<&str>) -> std::io::Result<()> {
    match id {
        Some(id) => writeln!(out, "== RequestId: {id}"),
        None => writeln!(out, "== (outside any invocation)"),
    }
}

/// Every invocation's lines together, invocations in the order they first printed.
fn print_grouped(out: &mut impl std::io::Write, lines: &[Value]) -> std::io::Result<()> {
    let mut groups: Vec<(Option<String>, Vec<&str>)> = Vec::new();
    for line in lines {
        let id = request_id(line);
        let text = line["text"].as_str().unwrap_or_default();
        match groups.iter_mut().find(|(g, _)| *g == id) {
            Some((_, texts)) => texts.push(text),
            None => groups.push((id, vec![text])),
        }
    }
    for (id, texts) in groups {
        header(out, id.as_deref())?;
        for text in texts {
            writeln!(out, "{text}")?;
        }
    }
    Ok(())
}

/// Lines as they come, with a header whenever the invocation changes.
fn print_in_order(
    out: &mut impl std::io::Write,
    lines: &[Value],
    printed: &mut Option<Option<String>>,
) -> std::io::Result<()> {
    for line in lines {
        let id = request_id(line);
        if printed.as_ref() != Some(&id) {
            header(out, id.as_deref())?;
            *printed = Some(id);
        }
        writeln!(out, "{}", line["text"].as_str().unwrap_or_default())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_are_grouped_by_invocation() {
        let lines = vec![
            json!({"seq": 1, "requestId": null, "text": "init"}),
            json!({"seq": 2, "requestId": "a", "text": "START a"}),
            json!({"seq": 3, "requestId": "b", "text": "START b"}),
            json!({"seq": 4, "requestId": "a", "text": "END a"}),
        ];
        let mut out = Vec::new();
        print_grouped(&mut out, &lines).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "== (outside any invocation)\ninit\n== RequestId: a\nSTART a\nEND a\n\
             == RequestId: b\nSTART b\n"
        );
        let mut out = Vec::new();
        let mut printed = None;
        print_in_order(&mut out, &lines[1..3], &mut printed).unwrap();
        print_in_order(&mut out, &lines[3..], &mut printed).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "== RequestId: a\nSTART a\n== RequestId: b\nSTART b\n== RequestId: a\nEND a\n"
        );
        assert_eq!(encode("my-fn_1"), "my-fn_1");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
