// SPDX-License-Identifier: MIT OR Apache-2.0
//! `courtvision live`: each source its own pipeline into engines shared by name, each with its
//! own outputs, so one source failing, ending or being removed touches no other. A source that
//! fails or stops sending is rebuilt after a pause that doubles up to a bound; a source whose
//! data is bad (no type found, no decoder) fails at once.
//!
//! A live source (one that answers the LATENCY query as live: cameras, RTSP) drops frames
//! rather than fall behind: the queue in front of the detectors becomes leaky at its first
//! report. A file is not live and loses no frame. When a live source cannot keep up
//! (timingmeta's lag p95 above `--max-lag`, or frames dropped by that queue), the policy skips
//! more: motionskip's `min-skip`
//! goes up a step per report, to `MAX_LEVEL`; after five calm reports (lag under half the
//! bound, no drops) it comes down a step. The leaky queue bounds the lag meanwhile by dropping
//! the oldest frames, which timingmeta counts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use gst::prelude::*;

use crate::chain::{self, Analysis, Pace};
use crate::rtsp::RtspOut;
use crate::stream::{Ended, Registry, State, Stream, Watchdog};

/// The most frames skipped in a row the policy asks for.
pub const MAX_LEVEL: u32 = 6;

#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Sources: rtsp://, http(s)://, file:// URIs, /dev/videoN or v4l2://DEVICE, courtsrc://
    /// (a rendered match); NAME=URI names one (default: cam1, cam2, ...).
    #[arg(value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Folder for the outputs: NAME.jsonl per source (appended over reconnections).
    #[arg(long, default_value = "courtvision-live", value_name = "DIR")]
    pub out: PathBuf,
    /// Also write the annotated video: NAME-N.mp4 per connection.
    #[arg(long)]
    pub record: bool,
    /// Serve the dashboard, /metrics and the API (add and remove sources) on this address.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Serve each source's annotated video over RTSP on this address: rtsp://ADDR/NAME
    /// (H.264, encoded while someone watches).
    #[arg(long, value_name = "ADDR")]
    pub rtsp: Option<SocketAddr>,
    /// Retries after a failure before a source is given up (0 = retry for ever).
    #[arg(long, default_value_t = 0)]
    pub max_retries: u32,
    /// First pause before a retry, in seconds; it doubles at each failure in a row.
    #[arg(long, default_value_t = 1.0)]
    pub backoff: f64,
    /// Longest pause before a retry, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub max_backoff: f64,
    /// Seconds without a frame after which a source counts as dropped and is reconnected.
    #[arg(long, default_value_t = 10.0)]
    pub stall_timeout: f64,
    /// Seconds a connection may take to its first frame out (connecting, loading the models,
    /// the first inference on a GPU) before it is retried.
    #[arg(long, default_value_t = 60.0)]
    pub connect_timeout: f64,
    /// Lag behind the source (ms, p95) above which the source skips more.
    #[arg(long, default_value_t = 500)]
    pub max_lag: u32,
    /// Frames queued in front of the detectors; when full, the oldest is dropped.
    #[arg(long, default_value_t = 8)]
    pub queue: u32,
    /// Stop after this many seconds (default: run until every source has ended, or until
    /// interrupted when serving --http).
    #[arg(long)]
    pub duration: Option<f64>,
    #[command(flatten)]
    pub analysis: Analysis,
}

/// Starts sources and supervises them.
pub struct Live {
    args: LiveArgs,
    pub registry: Arc<Registry>,
    rtsp: Option<Arc<RtspOut>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    next: Mutex<u32>,
}

impl Live {
    pub fn new(args: LiveArgs) -> Result<Arc<Live>, String> {
        args.analysis.check()?;
        if args.backoff <= 0.0
            || args.max_backoff < args.backoff
            || args.stall_timeout <= 0.0
            || args.connect_timeout <= 0.0
        {
            return Err(
                "--backoff must be > 0 and <= --max-backoff; --stall-timeout and \
                 --connect-timeout > 0"
                    .into(),
            );
        }
        std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
        let rtsp = args.rtsp.map(RtspOut::start).transpose()?;
        Ok(Arc::new(Live {
            args,
            registry: Arc::default(),
            rtsp,
            threads: Mutex::default(),
            next: Mutex::new(0),
        }))
    }

    /// Adds a source ("URI" or "NAME=URI") and starts it.
    pub fn add(self: &Arc<Self>, spec: &str) -> Result<Arc<Stream>, String> {
        let (name, uri) = match spec.split_once('=') {
            Some((n, u)) if !n.contains(':') && !n.contains('/') => (n.to_string(), u.to_string()),
            _ => {
                let mut next = self.next.lock().unwrap();
                loop {
                    *next += 1;
                    let n = format!("cam{next}");
                    if self.registry.get(&n).is_none() {
                        break (n, spec.to_string());
                    }
                }
            }
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(format!(
                "{name:?}: a source name is letters, digits, '-', '_' and '.'"
            ));
        }
        if self.registry.get(&name).is_some() {
            return Err(format!("a source named {name} exists"));
        }
        // Checked now, so a bad URI is an answer, not a failed stream.
        chain::source(&uri, true)?;
        let jsonl = self.args.out.join(format!("{name}.jsonl"));
        let stream = Stream::new(
            &name,
            &uri,
            State::Connecting,
            vec![jsonl.display().to_string()],
        );
        self.registry.add(stream.clone());
        if let Some(r) = &self.rtsp {
            r.mount(&name);
        }
        let me = self.clone();
        let s = stream.clone();
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::spawn(move || me.supervise(&s)));
        Ok(stream)
    }

    /// Stops a source and forgets it; the others run on.
    pub fn remove(&self, name: &str) -> Result<(), String> {
        let s = self
            .registry
            .remove(name)
            .ok_or_else(|| format!("no source named {name}"))?;
        s.request_stop();
        if let Some(r) = &self.rtsp {
            r.unmount(name);
        }
        Ok(())
    }

    fn description(&self, s: &Stream, connection: u64, level: u32) -> Result<String, String> {
        let a = &self.args;
        let jsonl = self.args.out.join(format!("{}.jsonl", s.name));
        let mut d = format!(
            "{} ! {} ! metaexport location={} append=true",
            chain::source(&s.uri, true)?,
            a.analysis.chain(Pace::Live {
                queue: a.queue,
                max_lag_ms: a.max_lag,
                min_skip: level,
            })?,
            chain::gst_quote(&jsonl.display().to_string())
        );
        let mut outputs = Vec::new();
        if a.record {
            let mp4 = a.out.join(format!("{}-{connection}.mp4", s.name));
            outputs.push(chain::mp4_output(&mp4));
        }
        if self.rtsp.is_some() {
            outputs.push(RtspOut::sink());
        }
        match outputs.as_slice() {
            [] => d += " ! fakesink sync=false",
            [one] => d += &format!(" ! {one}"),
            many => {
                d += " ! tee name=outputs";
                for o in many {
                    d += &format!(" outputs. ! queue ! {o}");
                }
            }
        }
        Ok(d)
    }

    fn supervise(&self, s: &Stream) {
        let a = &self.args;
        let file = s.uri.starts_with("file://");
        let mut failures = 0u32;
        let mut connection = 0u64;
        let mut policy = Policy::new(a.max_lag as f64);
        loop {
            connection += 1;
            let ended = match self.description(s, connection, policy.level) {
                Ok(desc) => {
                    tracing::debug!(stream = %s.name, "{desc}");
                    policy.new_connection();
                    s.run_once(
                        &desc,
                        Some(Watchdog {
                            first: Duration::from_secs_f64(a.connect_timeout),
                            between: Duration::from_secs_f64(a.stall_timeout),
                        }),
                        |p| {
                            if let Some(r) = &self.rtsp {
                                r.connect(p, &s.name);
                            }
                        },
                        |p, m| policy.step(s, p, m),
                    )
                }
                Err(e) => Ended::Invalid(e),
            };
            let error = match ended {
                Ended::Stopped => {
                    s.set_state(State::Stopped);
                    return;
                }
                Ended::Eos if file => {
                    s.set_state(State::Done);
                    return;
                }
                Ended::Eos => "the source ended the stream".to_string(),
                Ended::Stalled(d) => format!("no frame for {:.1} s", d.as_secs_f64()),
                Ended::Invalid(e)
                | Ended::Error {
                    text: e,
                    content: true,
                } => {
                    tracing::error!(stream = %s.name, "{e}");
                    s.set_error(Some(e));
                    s.set_state(State::Failed);
                    return;
                }
                Ended::Error { text, .. } => text,
            };
            if s.connection_frames() > 0 {
                failures = 0;
            }
            failures += 1;
            tracing::warn!(stream = %s.name, failures, "{error}");
            s.set_error(Some(error));
            if a.max_retries > 0 && failures > a.max_retries {
                s.set_state(State::Failed);
                return;
            }
            s.set_state(State::Retrying);
            let pause = (a.backoff * 2f64.powi(failures as i32 - 1)).min(a.max_backoff);
            if s.sleep(Duration::from_secs_f64(pause)) {
                s.set_state(State::Stopped);
                return;
            }
            s.update(|st| st.reconnects += 1);
        }
    }

    /// Runs until every source has ended (without --http), `--duration` has passed, or
    /// `stop` says so; then stops every source and waits for them.
    pub fn wait(&self, stop: impl Fn() -> bool) {
        let started = std::time::Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let all = self.registry.all();
            let over = self
                .args
                .duration
                .is_some_and(|d| started.elapsed().as_secs_f64() >= d);
            let ended = self.args.http.is_none() && all.iter().all(|s| s.state().finished());
            if over || ended || stop() {
                break;
            }
        }
        for s in self.registry.all() {
            s.request_stop();
        }
        for t in std::mem::take(&mut *self.threads.lock().unwrap()) {
            let _ = t.join();
        }
    }
}

/// The live policy of one source (see the module's comment).
struct Policy {
    /// The queue in front of the detectors was made leaky (this connection).
    leaky: bool,
    level: u32,
    calm: u32,
    drops: u64,
    max_lag: f64,
}

impl Policy {
    fn new(max_lag: f64) -> Policy {
        Policy {
            leaky: false,
            level: 0,
            calm: 0,
            drops: 0,
            max_lag,
        }
    }

    /// timingmeta's drop count starts again with each connection.
    fn new_connection(&mut self) {
        self.drops = 0;
        self.leaky = false;
    }

    fn step(&mut self, s: &Stream, pipeline: &gst::Pipeline, m: &gst::StructureRef) {
        if !m.get::<bool>("live").unwrap_or(false) {
            return;
        }
        if !self.leaky {
            if let Some(q) = pipeline.by_name("inqueue") {
                q.set_property_from_str("leaky", "downstream");
            }
            self.leaky = true;
        }
        let lag = m.get::<f64>("lag-p95").unwrap_or(0.0);
        let drops = m.get::<u64>("drops").unwrap_or(0);
        let new_drops = drops.saturating_sub(self.drops);
        self.drops = drops;
        let before = self.level;
        if lag > self.max_lag || new_drops > 0 {
            self.calm = 0;
            self.level = (self.level + 1).min(MAX_LEVEL);
        } else if lag < self.max_lag / 2.0 {
            self.calm += 1;
            if self.calm >= 5 && self.level > 0 {
                self.level -= 1;
                self.calm = 0;
            }
        }
        if self.level != before {
            tracing::info!(
                stream = %s.name,
                lag_p95_ms = lag,
                new_drops,
                "skip level {before} -> {}",
                self.level
            );
            if let Some(skip) = pipeline.by_name("skip") {
                skip.set_property("max-skip", chain::max_skip(self.level));
                skip.set_property("min-skip", self.level);
            }
            s.update(|st| st.skip_level = self.level);
        }
    }
}

pub fn run(args: LiveArgs) -> Result<bool, String> {
    let live = Live::new(args.clone())?;
    for spec in &args.sources {
        live.add(spec)?;
    }
    if args.sources.is_empty() && args.http.is_none() {
        return Err("no source: give SOURCE URIs, or --http to add them from the dashboard".into());
    }
    if let Some(addr) = args.http {
        crate::http::serve(
            addr,
            crate::http::App::new(live.registry.clone(), Some(live.clone())),
        )?;
    }
    let interrupted = crate::interrupted();
    live.wait(|| interrupted.load(std::sync::atomic::Ordering::Relaxed));
    let statuses = live.registry.statuses();
    print!("{}", crate::summary::table(&statuses));
    Ok(statuses.iter().all(|s| s.state != State::Failed))
}
