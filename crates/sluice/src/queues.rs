//! `sluice queues`: a running server's queues and topics at a glance, through
//! `GET /sluice/queues` — depth, in flight, delayed, the oldest message's age, traffic and
//! dead letters per queue; deliveries, failures and filtered publications per subscription —
//! and its event-source mappings, through `GET /sluice/mappings` (state, pollers, invocations
//! in flight, batches, messages delivered, deleted, filtered out, failed batches).
//! `--watch` redraws every interval with rates since the last draw.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;

use sluice_bench::http::{Connection, Endpoint};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server's address.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    /// Redraw every SECS seconds, with per-second rates, until interrupted.
    #[arg(long, value_name = "SECS")]
    watch: Option<f64>,
    /// Print the server's JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let endpoint = Endpoint::parse(&args.endpoint)?;
    let mut connection = Connection::new(&endpoint);
    let mut previous: Option<(Instant, HashMap<String, u64>)> = None;
    loop {
        let response = connection
            .request("GET", "/sluice/queues", "application/json", b"")
            .with_context(|| format!("cannot reach sluice serve at {}", endpoint.url()))?;
        anyhow::ensure!(
            response.status == 200,
            "{} answered HTTP {} to /sluice/queues",
            endpoint.url(),
            response.status
        );
        let mut body: Value =
            serde_json::from_slice(&response.body).context("unreadable /sluice/queues")?;
        // A server without mappings' counters answers 404: no mappings table then.
        if let Ok(mappings) = connection.request("GET", "/sluice/mappings", "application/json", b"")
            && mappings.status == 200
            && let Ok(Value::Object(mut mappings)) = serde_json::from_slice(&mappings.body)
            && let Some(mappings) = mappings.remove("mappings")
        {
            body["mappings"] = mappings;
        }
        if let Ok(pipes) = connection.request("GET", "/sluice/pipes", "application/json", b"")
            && pipes.status == 200
            && let Ok(Value::Object(mut pipes)) = serde_json::from_slice(&pipes.body)
            && let Some(pipes) = pipes.remove("pipes")
        {
            body["pipes"] = pipes;
        }
        if args.json {
            println!("{body}");
        } else {
            let now = Instant::now();
            let sent = sluice_views::sent_by_queue(&body);
            let rates = previous.as_ref().map(|(at, before)| {
                let secs = now.duration_since(*at).as_secs_f64().max(1e-3);
                sent.iter()
                    .map(|(name, n)| {
                        let rate = n.saturating_sub(*before.get(name).unwrap_or(&0)) as f64 / secs;
                        (name.clone(), rate)
                    })
                    .collect::<HashMap<_, _>>()
            });
            let table = sluice_views::queues(&body, rates.as_ref());
            if args.watch.is_some() {
                // Clear the screen, then draw.
                print!("\x1b[2J\x1b[H");
            }
            print!("{table}");
            previous = Some((now, sent));
        }
        let Some(secs) = args.watch else {
            return Ok(ExitCode::SUCCESS);
        };
        std::thread::sleep(Duration::from_secs_f64(secs.max(0.1)));
    }
}
