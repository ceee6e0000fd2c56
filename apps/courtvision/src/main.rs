// SPDX-License-Identifier: MIT OR Apache-2.0
//! courtvision: match videos in a queue, or live cameras that reconnect, through the
//! courtvision elements (registered from this build; nothing to install), with progress,
//! a summary, and a dashboard with /metrics and an API.
//!
//!     courtvision analyze IN... [--out DIR] [--jobs N] [--device cpu|cuda|auto]
//!     courtvision live SOURCE... [--http ADDR] [--record] [--rtsp ADDR]
//!     courtvision submit VIDEO... [--nats URL] [--db URL] [--camera NAME] [--wait]
//!     courtvision worker [--nats URL] [--db URL] [--name NAME]
//!     courtvision dashboard [--db URL] [--http ADDR]

mod analyze;
mod chain;
mod http;
mod jobs;
mod live;
mod metrics;
mod rtsp;
mod stream;
mod summary;

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use clap::{Parser, Subcommand};
use courtvision::store;
use indicatif::MultiProgress;

#[derive(Parser)]
#[command(
    name = "courtvision",
    version,
    about = "Sports video analysis with the courtvision GStreamer elements"
)]
struct Cli {
    /// Log filter (tracing's EnvFilter: error, warn, info, debug, or per target)
    /// [default: warn for analyze, info for live].
    #[arg(long, global = true, env = "COURTVISION_LOG")]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse video files, N at a time: an annotated MP4 and JSON Lines per file.
    Analyze(analyze::AnalyzeArgs),
    /// Analyse live sources (cameras, streams) that reconnect when they drop.
    Live(live::LiveArgs),
    /// Put analysis jobs on the NATS JetStream queue (answered from the database when cached).
    Submit(jobs::SubmitArgs),
    /// Take jobs from the queue and store their results, until stopped.
    Worker(jobs::WorkerArgs),
    /// Serve the dashboard of the job queue and its results database.
    Dashboard(jobs::DashboardArgs),
}

/// Log lines go above the progress bars, not through them.
#[derive(Clone)]
struct BarWriter(MultiProgress);

impl Write for BarWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Set on Ctrl-C or SIGTERM: the commands stop their streams cleanly (outputs flushed).
pub fn interrupted() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        if let Err(e) = ctrlc::set_handler(move || f.store(true, Ordering::Relaxed)) {
            tracing::warn!("no Ctrl-C handler: {e}");
        }
        flag
    })
    .clone()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let multi = MultiProgress::new();
    let default = match cli.command {
        Command::Analyze(_) => "warn",
        Command::Live(_) | Command::Worker(_) | Command::Dashboard(_) => "info",
        Command::Submit(_) => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_new(cli.log.as_deref().unwrap_or(default))
        .unwrap_or_else(|e| {
            eprintln!("courtvision: --log: {e}");
            std::process::exit(2)
        });
    let writer = BarWriter(multi.clone());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(move || writer.clone())
        .init();
    let registered = gst::init()
        .map_err(|e| e.to_string())
        .and_then(|_| gstcourtvision::plugin_register_static().map_err(|e| e.to_string()))
        .and_then(|_| gstcourtsrc::plugin_register_static().map_err(|e| e.to_string()));
    if let Err(e) = registered {
        eprintln!("courtvision: GStreamer: {e}");
        return ExitCode::from(2);
    }
    interrupted();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(args, multi),
        Command::Live(args) => live::run(args),
        Command::Submit(args) => jobs::submit(args),
        Command::Worker(args) => jobs::worker(args),
        Command::Dashboard(args) => jobs::dashboard(args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("courtvision: {e}");
            ExitCode::from(2)
        }
    }
}
