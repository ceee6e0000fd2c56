// SPDX-License-Identifier: MIT OR Apache-2.0
//! timingmeta: `mode=ingress` stamps the wall-clock time a frame enters the pipeline;
//! `mode=egress` computes each frame's end-to-end latency and per-stage times from the timing
//! meta the courtvision elements fill in, and posts a `courtvision-timing` element message every
//! `interval` ms (and at EOS): fps, latency p50/p95/p99/mean (ms), frames inferred/skipped/filled,
//! position and duration (progress), mean time per stage. `log-file` gets one JSON line per frame
//! (the seeds' frame timing fields).
//!
//! Latency from ingress to egress says how long a frame spent in the analysis, not how far the
//! output is behind the camera: a live stream that cannot keep up queues frames in front of
//! ingress and falls further behind while that latency stays flat. So egress also measures the
//! lag behind the source (the pipeline clock's running time minus the frame's running time,
//! live pipelines only) and the frames dropped upstream (gaps in the timestamps), and posts a
//! warning when a live stream's lag p95 over a window passes `max-lag`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;

use courtvision_meta::{wall_clock_ns, DetectionsMeta, MotionMeta, TimingMeta as TimingMetaData};

use super::stats::{Report, Stats};
use super::{Mode, MESSAGE};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "timingmeta",
        gst::DebugColorFlags::empty(),
        Some("courtvision timing"),
    )
});

#[derive(Debug, Clone)]
struct Settings {
    mode: Mode,
    interval_ms: u32,
    log_file: Option<String>,
    max_lag_ms: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::Ingress,
            interval_ms: 1000,
            log_file: None,
            max_lag_ms: 500,
        }
    }
}

struct State {
    stats: Stats,
    window_start: Instant,
    log: Option<BufWriter<File>>,
    last_pts: Option<gst::ClockTime>,
    /// End of the last frame (its timestamp plus duration), for counting drops.
    expected: Option<(gst::ClockTime, gst::ClockTime)>,
    /// Whether upstream is live (asked once, on the first frame).
    live: Option<bool>,
    /// A falling-behind warning was posted and the stream has not caught up since.
    behind: bool,
}

#[derive(Default)]
pub struct TimingMeta {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for TimingMeta {
    const NAME: &'static str = "GstTimingMeta";
    type Type = super::TimingMeta;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for TimingMeta {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecEnum::builder_with_default("mode", Mode::Ingress)
                    .nick("Mode")
                    .blurb("ingress: stamp frames entering; egress: measure and report")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("interval")
                    .nick("Interval")
                    .blurb("egress: ms between courtvision-timing bus messages (0 = every frame)")
                    .maximum(3_600_000)
                    .default_value(1000)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("max-lag")
                    .nick("Max lag")
                    .blurb("egress, live: lag p95 in ms over a window above which a warning says the stream cannot keep up")
                    .minimum(1)
                    .maximum(3_600_000)
                    .default_value(500)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("log-file")
                    .nick("Log file")
                    .blurb("egress: write one JSON line per frame (processing time, average latency, video and wall-clock time)")
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        gst::info!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "mode" => s.mode = value.get().expect("type checked upstream"),
            "interval" => s.interval_ms = value.get().expect("type checked upstream"),
            "max-lag" => s.max_lag_ms = value.get().expect("type checked upstream"),
            "log-file" => {
                s.log_file = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .filter(|v| !v.is_empty())
            }
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "mode" => s.mode.to_value(),
            "interval" => s.interval_ms.to_value(),
            "max-lag" => s.max_lag_ms.to_value(),
            "log-file" => s.log_file.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for TimingMeta {}

impl ElementImpl for TimingMeta {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "courtvision timing",
                "Filter/Analyzer/Video",
                "Stamps ingress time, or reports end-to-end latency, stage times and progress",
                "courtvision developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(crate::caps::any_templates);
        TEMPLATES.as_ref()
    }
}

impl TimingMeta {
    fn post(&self, report: Report, position: Option<gst::ClockTime>, live: bool) {
        let obj = self.obj();
        let duration = obj.sink_pad().peer_query_duration::<gst::ClockTime>();
        let mut stages = gst::Structure::builder("stage-ms");
        for (name, ms) in &report.stage_ms {
            stages = stages.field(name.as_str(), *ms);
        }
        let s = gst::Structure::builder(MESSAGE)
            .field("fps", report.fps)
            .field("latency-p50", report.latency_p50)
            .field("latency-p95", report.latency_p95)
            .field("latency-p99", report.latency_p99)
            .field("latency-mean", report.latency_mean)
            .field("frames", report.frames)
            .field("inferred", report.inferred)
            .field("skipped", report.skipped)
            .field("filled", report.filled)
            .field("drops", report.drops)
            .field("live", live)
            .field("lag-p50", report.lag_p50)
            .field("lag-p95", report.lag_p95)
            .field("lag-max", report.lag_max)
            .field("position", position.map_or(-1i64, |p| p.nseconds() as i64))
            .field("duration", duration.map_or(-1i64, |d| d.nseconds() as i64))
            .field("stages", stages.build())
            .build();
        let _ = obj.post_message(gst::message::Element::builder(s).src(&*obj).build());
    }
}

impl TimingMeta {
    /// Whether upstream is live (a LATENCY query); false where nobody answers.
    fn query_live(&self) -> bool {
        let mut q = gst::query::Latency::new();
        self.obj().sink_pad().peer_query(&mut q) && q.result().0
    }

    /// How far `buf` is behind its source: the clock's running time now minus the frame's.
    fn lag_ms(&self, buf: &gst::BufferRef) -> Option<f64> {
        let obj = self.obj();
        let now = obj.current_running_time()?;
        let segment = obj.segment();
        let rt = segment
            .downcast_ref::<gst::ClockTime>()?
            .to_running_time(buf.pts()?)?;
        Some((now.nseconds() as f64 - rt.nseconds() as f64) / 1e6)
    }
}

impl BaseTransformImpl for TimingMeta {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings.lock().unwrap().clone();
        let log = match (&s.log_file, s.mode) {
            (Some(path), Mode::Egress) => {
                Some(BufWriter::new(File::create(path).map_err(|e| {
                    gst::error_msg!(
                        gst::ResourceError::OpenWrite,
                        ("cannot write {}: {}", path, e)
                    )
                })?))
            }
            _ => None,
        };
        *self.state.lock().unwrap() = Some(State {
            stats: Stats::default(),
            window_start: Instant::now(),
            log,
            last_pts: None,
            expected: None,
            live: None,
            behind: false,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(mut st) = self.state.lock().unwrap().take() {
            if let Some(log) = st.log.as_mut() {
                log.flush().map_err(|e| {
                    gst::error_msg!(gst::ResourceError::Write, ("cannot write the log: {}", e))
                })?;
            }
        }
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if event.type_() == gst::EventType::Eos
            && self.settings.lock().unwrap().mode == Mode::Egress
        {
            let report = self.state.lock().unwrap().as_mut().map(|st| {
                if let Some(log) = st.log.as_mut() {
                    let _ = log.flush();
                }
                (
                    st.stats.report(st.window_start.elapsed().as_secs_f64()),
                    st.last_pts,
                    st.live == Some(true),
                )
            });
            if let Some((r, pos, live)) = report {
                self.post(r, pos, live);
            }
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let now = wall_clock_ns();
        let settings = self.settings.lock().unwrap().clone();
        if settings.mode == Mode::Ingress {
            TimingMetaData::get_or_add(buf).set_ingress(now);
            return Ok(gst::FlowSuccess::Ok);
        }
        let timing = buf.meta::<TimingMetaData>();
        let latency_ms = timing
            .as_ref()
            .and_then(|t| t.ingress())
            .map(|i| now.saturating_sub(i) as f64 / 1e6);
        let decision = buf.meta::<MotionMeta>().map(|m| m.data().decision);
        let filled = buf
            .meta::<DetectionsMeta>()
            .is_some_and(|m| m.detections().iter().any(|d| d.filled));
        let live = self.state.lock().unwrap().as_ref().and_then(|st| st.live);
        let live = live.unwrap_or_else(|| self.query_live());
        // identity sync=true answers as live: a recording played at its real rate has a lag.
        let lag_ms = if live { self.lag_ms(buf) } else { None };
        let mut guard = self.state.lock().unwrap();
        let st = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        st.live = Some(live);
        if let Some(lag) = lag_ms {
            st.stats.add_lag(lag);
        }
        if let Some(pts) = buf.pts() {
            if let Some((end, duration)) = st.expected {
                // A frame that starts half a frame or more after the last one ended follows
                // missing frames.
                if duration > gst::ClockTime::ZERO && pts >= end + duration / 2 {
                    let missing = (pts - end + duration / 2).nseconds() / duration.nseconds();
                    st.stats.drops += missing;
                }
            }
            if let Some(d) = buf.duration().or_else(|| st.expected.map(|e| e.1)) {
                st.expected = Some((pts + d, d));
            }
        }
        st.stats.add(
            timing.as_ref().map(|t| t.data()),
            latency_ms,
            decision,
            filled,
        );
        st.last_pts = buf.pts();
        if let Some(log) = st.log.as_mut() {
            let line = serde_json::json!({
                "frame": st.stats.frames - 1,
                "pts": buf.pts().map(|p| p.nseconds()),
                "video_time": buf.pts().map(|p| p.nseconds() as f64 / 1e9),
                "wall_time": now as f64 / 1e9,
                "processing_ms": latency_ms,
                "lag_ms": lag_ms,
                "avg_latency_ms": st.stats.mean_latency(),
            });
            if let Err(e) = writeln!(log, "{line}") {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::Write,
                    ("cannot write the log: {}", e)
                );
                return Err(gst::FlowError::Error);
            }
        }
        let elapsed = st.window_start.elapsed();
        if elapsed.as_millis() >= settings.interval_ms as u128 {
            let report = st.stats.report(elapsed.as_secs_f64());
            st.window_start = Instant::now();
            let pos = st.last_pts;
            let behind = live && report.lag_p95 > settings.max_lag_ms as f64;
            let warn = behind && !st.behind;
            if st.behind && report.lag_p95 <= settings.max_lag_ms as f64 / 2.0 {
                st.behind = false;
            }
            st.behind |= behind;
            drop(guard);
            gst::trace!(CAT, imp = self, "report {report:?}");
            if warn {
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Failed,
                    (
                        "live stream cannot keep up: {:.0} ms behind the source (p95 over {:.1} s, max-lag {} ms), {} frames dropped so far",
                        report.lag_p95,
                        elapsed.as_secs_f64(),
                        settings.max_lag_ms,
                        report.drops
                    )
                );
            }
            self.post(report, pos, live);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
