// SPDX-License-Identifier: MIT OR Apache-2.0
//! One stream of the command (a job of `analyze`, a source of `live`): its pipeline run to the
//! end, what it has done so far (read from the egress timingmeta's messages and a probe on its
//! output), and its state, which the progress bars, the HTTP API and /metrics show.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use serde::Serialize;

/// Where a stream is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// A job waiting in the queue.
    Waiting,
    /// Its pipeline is starting: no frame out yet.
    Connecting,
    /// Frames are coming out.
    Live,
    /// It failed or dropped and is retried after a pause.
    Retrying,
    /// It failed for good (a job's error, or a source out of retries).
    Failed,
    /// It ended (a job's file, a file source's end).
    Done,
    /// A job whose outputs were already complete.
    Skipped,
    /// Removed while running.
    Stopped,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Waiting,
        State::Connecting,
        State::Live,
        State::Retrying,
        State::Failed,
        State::Done,
        State::Skipped,
        State::Stopped,
    ];

    pub fn name(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Connecting => "connecting",
            State::Live => "live",
            State::Retrying => "retrying",
            State::Failed => "failed",
            State::Done => "done",
            State::Skipped => "skipped",
            State::Stopped => "stopped",
        }
    }

    pub fn finished(self) -> bool {
        matches!(
            self,
            State::Failed | State::Done | State::Skipped | State::Stopped
        )
    }
}

/// What a stream has done, over all its connections.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    pub frames: u64,
    pub inferred: u64,
    pub skipped: u64,
    pub drops: u64,
    pub detections: u64,
    /// Over the last report window.
    pub fps: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    /// Lag behind the source (live sources).
    pub lag_p50_ms: f64,
    pub lag_p95_ms: f64,
    /// Position and duration in the input (files), seconds; duration 0 when unknown.
    pub position_s: f64,
    pub duration_s: f64,
}

/// A stream's status, as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub name: String,
    pub uri: String,
    pub state: State,
    pub figures: Figures,
    /// Connections after the first (live sources).
    pub reconnects: u64,
    /// The live policy's level: 0 = as configured, higher = more frames skipped.
    pub skip_level: u32,
    /// The last error, if any.
    pub error: Option<String>,
    /// Outputs written.
    pub outputs: Vec<String>,
    /// Seconds running: from its first connection to its end (or now).
    pub elapsed_s: f64,
}

/// A stream shared between its thread, the command and the HTTP server.
pub struct Stream {
    pub name: String,
    pub uri: String,
    status: Mutex<Status>,
    stop: AtomicBool,
    /// Frames and detections out of the current pipeline, counted by its probe.
    now: Counters,
    /// Counts of earlier connections, added to the current one's.
    base: Mutex<Figures>,
    /// First connection and end.
    span: Mutex<(Option<Instant>, Option<Instant>)>,
}

/// How long a pipeline may go without a frame out: until its first (connecting, loading the
/// models, the first inference on a GPU), and between two.
#[derive(Debug, Clone, Copy)]
pub struct Watchdog {
    pub first: Duration,
    pub between: Duration,
}

/// How one run of a pipeline ended.
#[derive(Debug)]
pub enum Ended {
    Eos,
    /// An error on the bus (element: message); `content` when the data itself is bad (no
    /// type found, wrong type, no decoder), which no reconnection mends.
    Error {
        text: String,
        content: bool,
    },
    /// The pipeline could not be built (a missing element, a bad description).
    Invalid(String),
    /// No frame for the stall timeout.
    Stalled(Duration),
    /// Asked to stop.
    Stopped,
}

impl Stream {
    pub fn new(name: &str, uri: &str, state: State, outputs: Vec<String>) -> Arc<Stream> {
        Arc::new(Stream {
            name: name.into(),
            uri: uri.into(),
            status: Mutex::new(Status {
                name: name.into(),
                uri: uri.into(),
                state,
                figures: Figures::default(),
                reconnects: 0,
                skip_level: 0,
                error: None,
                outputs,
                elapsed_s: 0.0,
            }),
            stop: AtomicBool::new(false),
            now: Counters::default(),
            base: Mutex::new(Figures::default()),
            span: Mutex::new((None, None)),
        })
    }

    pub fn status(&self) -> Status {
        let mut s = self.status.lock().unwrap().clone();
        let base = self.base.lock().unwrap();
        // Frames and detections straight from the probe: exact at any moment.
        s.figures.frames = base.frames + self.now.frames.load(Ordering::Relaxed);
        s.figures.detections = base.detections + self.now.detections.load(Ordering::Relaxed);
        s.elapsed_s = match *self.span.lock().unwrap() {
            (Some(a), Some(b)) => (b - a).as_secs_f64(),
            (Some(a), None) => a.elapsed().as_secs_f64(),
            _ => 0.0,
        };
        s
    }

    pub fn set_state(&self, state: State) {
        let mut s = self.status.lock().unwrap();
        let mut span = self.span.lock().unwrap();
        if state == State::Connecting && span.0.is_none() {
            span.0 = Some(Instant::now());
        }
        if state.finished() && span.1.is_none() {
            span.1 = Some(Instant::now());
        }
        if s.state != state {
            tracing::info!(stream = %self.name, from = s.state.name(), to = state.name(), "state");
            s.state = state;
        }
    }

    pub fn state(&self) -> State {
        self.status.lock().unwrap().state
    }

    pub fn set_error(&self, error: Option<String>) {
        self.status.lock().unwrap().error = error;
    }

    pub fn update(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status.lock().unwrap())
    }

    /// Frames out of the current (or last) connection.
    pub fn connection_frames(&self) -> u64 {
        self.now.frames.load(Ordering::Relaxed)
    }

    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps up to `d`, returning early (true) when asked to stop.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.stopping() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
        }
        self.stopping()
    }

    /// Folds the current connection's counts into the base before a new connection.
    fn close_connection(&self) {
        let s = self.status.lock().unwrap();
        let mut b = self.base.lock().unwrap();
        b.frames += self.now.frames.swap(0, Ordering::Relaxed);
        b.detections += self.now.detections.swap(0, Ordering::Relaxed);
        *self.now.last.lock().unwrap() = None;
        b.inferred = s.figures.inferred;
        b.skipped = s.figures.skipped;
        b.drops = s.figures.drops;
    }

    /// Reads an egress `courtvision-timing` message into the figures.
    fn timing(&self, m: &gst::StructureRef) {
        let f64_ = |k: &str| m.get::<f64>(k).unwrap_or(0.0);
        let u64_ = |k: &str| m.get::<u64>(k).unwrap_or(0);
        let secs = |k: &str| m.get::<i64>(k).map_or(0.0, |v| v.max(0) as f64 / 1e9);
        let base = self.base.lock().unwrap().clone();
        let mut s = self.status.lock().unwrap();
        let f = &mut s.figures;
        f.fps = f64_("fps");
        f.latency_p50_ms = f64_("latency-p50");
        f.latency_p95_ms = f64_("latency-p95");
        f.lag_p50_ms = f64_("lag-p50");
        f.lag_p95_ms = f64_("lag-p95");
        f.inferred = base.inferred + u64_("inferred");
        f.skipped = base.skipped + u64_("skipped");
        f.drops = base.drops + u64_("drops");
        f.position_s = secs("position");
        f.duration_s = secs("duration");
    }

    /// Runs a file's analysis `desc` once to its end, failed as stuck after `stall` without a
    /// frame; the error says why it did not end well (analyze's jobs and the queue's).
    pub fn run_file(&self, desc: &str, stall: Duration) -> Result<(), String> {
        let watchdog = Watchdog {
            first: stall,
            between: stall,
        };
        match self.run_once(desc, Some(watchdog), |_| {}, |_, _| {}) {
            Ended::Eos if self.connection_frames() == 0 => {
                Err("no video frames in the file".into())
            }
            Ended::Eos => Ok(()),
            Ended::Error { text, .. } | Ended::Invalid(text) => Err(text),
            Ended::Stalled(d) => Err(format!(
                "stuck: no frame and no error for {:.0} s (a damaged or truncated file?)",
                d.as_secs_f64()
            )),
            Ended::Stopped => Err("interrupted".into()),
        }
    }

    /// Runs `desc` (whose analysis chain has a timingmeta named `egress`) until EOS, an error,
    /// a stall or a stop request; the state goes live at the first frame out. `on_timing` gets
    /// the pipeline and each egress report (the live policy).
    pub fn run_once(
        &self,
        desc: &str,
        watchdog: Option<Watchdog>,
        prepare: impl FnOnce(&gst::Pipeline),
        mut on_timing: impl FnMut(&gst::Pipeline, &gst::StructureRef),
    ) -> Ended {
        self.close_connection();
        self.set_state(State::Connecting);
        let pipeline = match gst::parse::launch(desc) {
            Ok(p) => match p.downcast::<gst::Pipeline>() {
                Ok(p) => p,
                Err(_) => return Ended::Invalid("not a pipeline".into()),
            },
            Err(e) => return Ended::Invalid(format!("pipeline: {e}")),
        };
        prepare(&pipeline);
        let ended = self.watch(&pipeline, watchdog, &mut on_timing);
        if !matches!(ended, Ended::Eos | Ended::Invalid(_)) {
            finish(&pipeline);
        }
        // Tearing down can take a moment (a source that no longer answers); the figures are
        // already kept.
        pipeline.set_state(gst::State::Null).ok();
        ended
    }

    fn watch(
        &self,
        pipeline: &gst::Pipeline,
        watchdog: Option<Watchdog>,
        on_timing: &mut impl FnMut(&gst::Pipeline, &gst::StructureRef),
    ) -> Ended {
        let probe = pipeline
            .by_name("egress")
            .and_then(|e| e.static_pad("src"))
            .and_then(|pad| {
                let c = self.now.clone();
                pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                    if let Some(buffer) = info.buffer() {
                        c.frames.fetch_add(1, Ordering::Relaxed);
                        let n = buffer
                            .meta::<courtvision_meta::DetectionsMeta>()
                            .map_or(0, |m| m.detections().len() as u64);
                        c.detections.fetch_add(n, Ordering::Relaxed);
                        *c.last.lock().unwrap() = Some(Instant::now());
                    }
                    gst::PadProbeReturn::Ok
                })
                .map(|id| (pad, id))
            });
        let bus = pipeline.bus().expect("a pipeline has a bus");
        let started = Instant::now();
        if pipeline.set_state(gst::State::Playing).is_err() {
            return bus
                .timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])
                .map(|m| error_ended(&m))
                .unwrap_or_else(|| Ended::Error {
                    text: "could not start".into(),
                    content: false,
                });
        }
        let ended = loop {
            if self.stopping() {
                break Ended::Stopped;
            }
            let frames = self.now.frames.load(Ordering::Relaxed);
            let last = *self.now.last.lock().unwrap();
            if frames > 0 && self.state() == State::Connecting {
                self.set_state(State::Live);
                self.set_error(None);
            }
            if let Some(w) = watchdog {
                let (since, limit) = match last {
                    Some(t) => (t.elapsed(), w.between),
                    None => (started.elapsed(), w.first),
                };
                if since > limit {
                    break Ended::Stalled(since);
                }
            }
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
                continue;
            };
            match msg.view() {
                gst::MessageView::Eos(_) => break Ended::Eos,
                gst::MessageView::Error(_) => break error_ended(&msg),
                gst::MessageView::Warning(w) => tracing::warn!(
                    stream = %self.name,
                    "{}: {}",
                    w.src().map(|s| s.name().to_string()).unwrap_or_default(),
                    w.error()
                ),
                gst::MessageView::Element(e) => {
                    if let Some(s) = e.structure().filter(|s| s.name() == "courtvision-timing") {
                        self.timing(s);
                        on_timing(pipeline, s);
                    }
                }
                _ => {}
            }
        };
        if let Some((pad, id)) = probe {
            pad.remove_probe(id);
        }
        ended
    }
}

/// Ends the outputs of a live chain that stops, stalls or fails before its source ended: an end
/// of stream sent in after the source (into the queue in front of the detectors, which a live
/// source never blocks on) lets the frames already analysed through and the outputs close
/// (an MP4 recording gets its index), within a bound.
fn finish(pipeline: &gst::Pipeline) {
    let Some((sink, src)) = pipeline
        .by_name("inqueue")
        .and_then(|q| Some((q.static_pad("sink")?, q.static_pad("src")?)))
    else {
        return;
    };
    if pipeline.current_state() != gst::State::Playing {
        return;
    }
    // Frames still waiting in the queue were not analysed: they go, so that the end of the
    // stream reaches the outputs behind what was analysed without waiting for a lagging
    // stream to catch up.
    src.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
        |_, _| gst::PadProbeReturn::Drop,
    );
    if !sink.send_event(gst::event::Eos::new()) {
        return;
    }
    if let Some(bus) = pipeline.bus() {
        bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(5),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
    }
}

/// What the output probe counts (shared with it: it outlives no pipeline, and the stream
/// reads it at any moment).
#[derive(Clone, Default)]
struct Counters {
    frames: Arc<AtomicU64>,
    detections: Arc<AtomicU64>,
    last: Arc<Mutex<Option<Instant>>>,
}

/// An error message as "element: message", and whether the data itself is at fault.
fn error_ended(msg: &gst::Message) -> Ended {
    let gst::MessageView::Error(e) = msg.view() else {
        unreachable!("only error messages come here")
    };
    let err = e.error();
    let content = matches!(
        err.kind::<gst::StreamError>(),
        Some(
            gst::StreamError::TypeNotFound
                | gst::StreamError::WrongType
                | gst::StreamError::CodecNotFound
        )
    );
    Ended::Error {
        text: format!(
            "{}: {}",
            e.src().map(|s| s.name().to_string()).unwrap_or_default(),
            err
        ),
        content,
    }
}

/// The streams of the process, for the HTTP API and /metrics.
#[derive(Default)]
pub struct Registry {
    streams: Mutex<Vec<Arc<Stream>>>,
}

impl Registry {
    pub fn add(&self, s: Arc<Stream>) {
        self.streams.lock().unwrap().push(s);
    }

    pub fn get(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.name == name)
            .cloned()
    }

    pub fn remove(&self, name: &str) -> Option<Arc<Stream>> {
        let mut v = self.streams.lock().unwrap();
        let i = v.iter().position(|s| s.name == name)?;
        Some(v.remove(i))
    }

    pub fn all(&self) -> Vec<Arc<Stream>> {
        self.streams.lock().unwrap().clone()
    }

    pub fn statuses(&self) -> Vec<Status> {
        self.all().iter().map(|s| s.status()).collect()
    }
}
