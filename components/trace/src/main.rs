//! `tracewire-trace`: the JSONL of many processes as traces (SPEC §12).

use std::{
    env,
    io::{self, IsTerminal},
    path::PathBuf,
    process::ExitCode,
    str::FromStr,
};

use clap::{Parser, Subcommand};
use tracewire_runtime::{
    logging::ColorMode,
    settings::env::{DYN_LOG_COLOR, NO_COLOR},
};
use tracewire_trace::{commands, render::terminal::Style, ListOptions, ShowOptions};

/// Turns the JSONL of any number of tracewire processes into traces: a list, a waterfall in
/// the terminal, an HTML page, Chrome trace JSON (Perfetto UI) and OTLP/JSON. FILE is a JSONL
/// file (gzip or not), one or many per process, or `-` for standard input.
#[derive(Parser)]
#[command(name = "tracewire-trace", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One row per trace, oldest first.
    List {
        /// Only traces with a 5xx, an outcome other than `ok`, or an ERROR line.
        #[arg(long)]
        failed: bool,
        /// Only the N slowest, slowest first.
        #[arg(long, value_name = "N")]
        slowest: Option<usize>,
        /// Only the traces of this x_request_id.
        #[arg(long, value_name = "ID")]
        request_id: Option<String>,
        /// One JSON object per trace.
        #[arg(long)]
        json: bool,
        /// JSONL files, `-` for standard input.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// The waterfall of one trace (a trace_id) or one request (an x_request_id).
    Show {
        /// A trace_id or an x_request_id.
        id: String,
        /// JSONL files, `-` for standard input.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
        /// Spans only, without their lines.
        #[arg(long)]
        no_lines: bool,
        /// Columns (default: $COLUMNS, else 80).
        #[arg(long, value_name = "N")]
        width: Option<usize>,
        /// Write one self-contained HTML page.
        #[arg(long, value_name = "OUT")]
        html: Option<PathBuf>,
        /// Write Chrome Trace Event Format JSON (Perfetto UI, chrome://tracing).
        #[arg(long, value_name = "OUT")]
        chrome: Option<PathBuf>,
        /// Write one OTLP/JSON ExportTraceServiceRequest.
        #[arg(long, value_name = "OUT")]
        otlp_json: Option<PathBuf>,
    },
}

/// SPEC §1's colour rules: an explicit DYN_LOG_COLOR, else a non-empty NO_COLOR turns it off,
/// else colour on a terminal only.
fn color(terminal: bool) -> Result<bool, String> {
    let mode = match env::var(DYN_LOG_COLOR) {
        Ok(v) => ColorMode::from_str(v.trim()).map_err(|e| format!("{DYN_LOG_COLOR}={e}"))?,
        Err(_) if env::var_os(NO_COLOR).is_some_and(|v| !v.is_empty()) => ColorMode::Never,
        Err(_) => ColorMode::Auto,
    };
    Ok(match mode {
        ColorMode::Always => true,
        ColorMode::Never => false,
        _ => terminal,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
    let status = match cli.command {
        Command::List {
            failed,
            slowest,
            request_id,
            json,
            files,
        } => {
            let options = ListOptions {
                failed,
                slowest,
                request_id,
                json,
            };
            commands::list(&files, &options, &mut out, &mut err)
        }
        Command::Show {
            id,
            files,
            no_lines,
            width,
            html,
            chrome,
            otlp_json,
        } => {
            let terminal = io::stdout().is_terminal();
            let color = match color(terminal) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("tracewire-trace: {e}");
                    return ExitCode::from(commands::USAGE);
                }
            };
            let columns = env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok());
            let style = Style {
                color,
                width: width.or(columns).unwrap_or(80),
                lines: !no_lines,
                cut_lines: terminal,
            };
            let options = ShowOptions {
                id,
                style,
                html,
                chrome,
                otlp_json,
            };
            commands::show(&files, &options, &mut out, &mut err)
        }
    };
    ExitCode::from(status)
}
