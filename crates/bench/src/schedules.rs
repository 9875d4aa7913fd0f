//! `sluice bench --schedules`: fire precision of EventBridge Scheduler schedules. Creates
//! `--fires` one-time `at()` schedules due over the next few seconds (several per second, on
//! whole seconds as `at()` has them), each targeting one SQS queue with its due time as the
//! Input, then reads the queue: a fire's lateness is the message's `SentTimestamp` minus its
//! due time, both on the server's clock. Reports p50, p99 and max, and fires missing.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http::Connection;
use super::{Args, Scratch, percentile, process, progress};

/// How far ahead the first fire is: time to create every schedule before any is due.
const LEAD: Duration = Duration::from_secs(3);
/// Fires are spread over this many seconds.
const SPREAD_SECONDS: i64 = 5;
const QUEUE: &str = "sluice-bench-fires";

fn server_now_ms(connection: &mut Connection) -> anyhow::Result<i64> {
    let response = connection.request("GET", "/sluice/clock", "application/json", b"")?;
    let body: Value = serde_json::from_slice(&response.body)?;
    body["nowMs"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no nowMs in /sluice/clock"))
}

/// `yyyy-mm-ddThh:mm:ss` (UTC) of whole epoch seconds.
fn at_text(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .unwrap_or_default()
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

pub fn main(args: &Args) -> anyhow::Result<ExitCode> {
    let scratch = Scratch::new()?;
    let data_dir = scratch.path.join("data");
    std::fs::create_dir_all(&data_dir)?;
    progress(format_args!(
        "starting sluice serve --data-dir {}",
        data_dir.display()
    ));
    let sluice = process::start_sluice_with(&data_dir, &[] as &[&OsStr])?;
    let mut connection = Connection::new(&sluice.endpoint);
    let created = super::queues::call(&mut connection, "CreateQueue", &json!({"QueueName": QUEUE}))
        .map_err(anyhow::Error::msg)?;
    let url = created["QueueUrl"].as_str().unwrap_or_default().to_owned();
    let queue_arn = format!("arn:aws:sqs:us-east-1:000000000000:{QUEUE}");
    let fires = args.fires;
    let first_second = (server_now_ms(&mut connection)? + LEAD.as_millis() as i64) / 1000 + 1;
    progress(format_args!("creating {fires} at() schedules"));
    for i in 0..fires {
        let due = first_second + (i as i64 % SPREAD_SECONDS);
        let body = json!({
            "ScheduleExpression": format!("at({})", at_text(due)),
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": {"Arn": queue_arn, "RoleArn": "arn:aws:iam::000000000000:role/bench",
                       "Input": (due * 1000).to_string()},
        });
        let response = connection.request(
            "POST",
            &format!("/schedules/bench-{i}"),
            "application/json",
            body.to_string().as_bytes(),
        )?;
        anyhow::ensure!(
            response.status == 200,
            "CreateSchedule: HTTP {} {}",
            response.status,
            super::one_line(&response.body)
        );
    }
    let created_by = server_now_ms(&mut connection)?;
    anyhow::ensure!(
        created_by < first_second * 1000,
        "creating the schedules took past the first fire; use fewer --fires"
    );
    let mut late_ns = Vec::with_capacity(fires as usize);
    let deadline = Instant::now() + LEAD + Duration::from_secs(SPREAD_SECONDS as u64 + 10);
    while (late_ns.len() as u64) < fires && Instant::now() < deadline {
        let received = super::queues::call(
            &mut connection,
            "ReceiveMessage",
            &json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1,
                    "VisibilityTimeout": 3600, "MessageSystemAttributeNames": ["SentTimestamp"]}),
        )
        .map_err(anyhow::Error::msg)?;
        for message in received["Messages"].as_array().into_iter().flatten() {
            let due: i64 = message["Body"].as_str().unwrap_or("0").parse().unwrap_or(0);
            let sent: i64 = message["Attributes"]["SentTimestamp"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            late_ns.push(((sent - due).max(0) as u64) * 1_000_000);
        }
    }
    late_ns.sort_unstable();
    let missing = fires.saturating_sub(late_ns.len() as u64);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Schedules: {fires} at() fires over {SPREAD_SECONDS} s into one SQS queue; lateness = SentTimestamp − due time (server clock, ms)"
    );
    let _ = writeln!(
        out,
        "{:<10} {:>8} {:>8} {:>8} {:>8}",
        "fires", "p50", "p99", "max", "missing"
    );
    let ms = |d: Duration| format!("{:.0}ms", d.as_secs_f64() * 1e3);
    let _ = writeln!(
        out,
        "{:<10} {:>8} {:>8} {:>8} {:>8}",
        late_ns.len(),
        ms(percentile(&late_ns, 0.50)),
        ms(percentile(&late_ns, 0.99)),
        ms(Duration::from_nanos(late_ns.last().copied().unwrap_or(0))),
        missing
    );
    print!("{out}");
    drop(sluice);
    Ok(if missing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
