//! `sluice schedules`: a running server's EventBridge Scheduler schedules through
//! `GET /sluice/schedules` — each with its next fire time on the server's clock and what its
//! fires did (fired, delivered, failed attempts, dead-lettered). `--watch` redraws.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use sluice_bench::http::{Connection, Endpoint};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server's address.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    /// Redraw every SECS seconds until interrupted.
    #[arg(long, value_name = "SECS")]
    watch: Option<f64>,
    /// Print the server's JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let endpoint = Endpoint::parse(&args.endpoint)?;
    let mut connection = Connection::new(&endpoint);
    loop {
        let response = connection
            .request("GET", "/sluice/schedules", "application/json", b"")
            .with_context(|| format!("cannot reach sluice serve at {}", endpoint.url()))?;
        anyhow::ensure!(
            response.status == 200,
            "{} answered HTTP {} to /sluice/schedules",
            endpoint.url(),
            response.status
        );
        let body: Value =
            serde_json::from_slice(&response.body).context("unreadable /sluice/schedules")?;
        if args.json {
            println!("{body}");
        } else {
            if args.watch.is_some() {
                // Clear the screen, then draw.
                print!("\x1b[2J\x1b[H");
            }
            print!("{}", sluice_views::schedules(&body));
        }
        match args.watch {
            Some(seconds) => std::thread::sleep(Duration::from_secs_f64(seconds.max(0.1))),
            None => return Ok(ExitCode::SUCCESS),
        }
    }
}
