//! `sluice validate FILE...`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;
use sluice_asl::definition::StateMachine;
use sluice_asl::diagnostics::codes;
use sluice_asl::source::{self, LineCol, Positions};
use sluice_asl::{Diagnostic, Diagnostics, Pointer};

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
struct Located {
    #[serde(flatten)]
    diagnostic: Diagnostic,
    line: u32,
    column: u32,
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
                        r.file, d.line, d.column, d.diagnostic.location, d.diagnostic.code, d.diagnostic.message
                    );
                }
                if r.diagnostics.is_empty() {
                    eprintln!("{}: OK", r.file);
                }
            }
        }
        Format::Json => {
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "files": reports }))?);
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Validates one definition text and locates each diagnostic in it.
fn check(file: &str, text: &str) -> FileReport {
    let value = match source::parse_json(text) {
        Ok(v) => v,
        Err(e) => {
            let diagnostic = Diagnostic {
                severity: sluice_asl::Severity::Error,
                code: codes::INVALID_JSON_DESCRIPTION,
                location: Pointer::root(),
                message: e.to_string(),
            };
            return FileReport {
                file: file.to_owned(),
                result: "FAIL",
                diagnostics: vec![Located { diagnostic, line: e.line, column: e.column }],
            };
        }
    };
    let positions = Positions::index(text);
    let mut diags: Vec<Diagnostic> = match StateMachine::parse(&value) {
        Ok(_) => Vec::new(),
        Err(d) => d.into_vec(),
    };
    // serde_json keeps the last of duplicate keys; AWS rejects duplicate state names.
    let mut dup = Diagnostics::new();
    for (pointer, _) in positions.duplicate_keys() {
        dup.error(codes::DUPLICATE_STATE_NAME, pointer, "Duplicate key: the same name appears twice in one object");
    }
    diags.extend(dup);
    let result = if diags.iter().any(|d| d.severity == sluice_asl::Severity::Error) { "FAIL" } else { "OK" };
    let diagnostics = diags
        .into_iter()
        .map(|diagnostic| {
            let LineCol { line, column } = positions.locate(&diagnostic.location);
            Located { diagnostic, line, column }
        })
        .collect();
    FileReport { file: file.to_owned(), result, diagnostics }
}
