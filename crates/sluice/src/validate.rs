//! `sluice validate FILE...`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;
use sluice_asl::validate::{Located, validate};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Definition files (Amazon States Language JSON).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// `file:line:col: path: CODE: message`, one per line.
    Text,
    /// One JSON document: `{"files":[{"file","result","diagnostics":[...]}]}`.
    Json,
}

#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    /// `OK` or `FAIL`, as ValidateStateMachineDefinition's `result`.
    result: &'static str,
    diagnostics: Vec<Located>,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let mut reports = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        reports.push(check(&file.display().to_string(), &text));
    }
    let failed = reports.iter().any(|r| r.result == "FAIL");
    match args.format {
        Format::Text => {
            for r in &reports {
                for d in &r.diagnostics {
                    println!(
                        "{}:{}:{}: {}: {}: {}",
                        r.file,
                        d.line,
                        d.column,
                        d.diagnostic.location,
                        d.diagnostic.code,
                        d.diagnostic.message
                    );
                }
                if r.diagnostics.is_empty() {
                    eprintln!("{}: OK", r.file);
                }
            }
        }
        Format::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "files": reports }))?
            );
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Validates one definition text.
fn check(file: &str, text: &str) -> FileReport {
    let v = validate(text);
    FileReport {
        file: file.to_owned(),
        result: if v.is_ok() { "OK" } else { "FAIL" },
        diagnostics: v.diagnostics,
    }
}
