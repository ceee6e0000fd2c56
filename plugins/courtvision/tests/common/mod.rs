// SPDX-License-Identifier: MIT OR Apache-2.0
//! Helpers for the integration tests: run a pipeline description, feed it frames, and collect
//! what reaches the sink (timestamps, ROI metas with their `detection` params, detections meta).
//! Each test binary uses a part of them.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use gst::prelude::*;

pub use courtvision_meta::DetectionsMeta;

pub mod brokers;

static INIT: Once = Once::new();

/// Initialises GStreamer and registers the plugins built from this workspace (courtsrc for
/// the tests that analyse a rendered match).
pub fn init() {
    INIT.call_once(|| {
        gst::init().expect("gst init");
        gstcourtvision::plugin_register_static().expect("register courtvision");
        gstcourtsrc::plugin_register_static().expect("register courtsrc");
    });
}

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Models with planted outputs and tiny random ones, made by tests/make_planted_models.py.
pub fn planted(name: &str) -> String {
    repo().join("tests/models").join(name).display().to_string()
}

/// courtvision's default models (models/: YOLO11n detect and pose exports).
pub fn default_model(name: &str) -> String {
    repo().join("models").join(name).display().to_string()
}

/// One ROI meta as read back from a buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Roi {
    pub label: String,
    pub rect: (u32, u32, u32, u32),
    pub confidence: f64,
    pub class_id: u32,
    pub source: String,
    pub keypoints: Vec<[f64; 3]>,
    pub skeleton: Option<String>,
    pub filled: bool,
}

/// A buffer as it reached the sink.
#[derive(Debug, Clone)]
pub struct Frame {
    pub pts: Option<gst::ClockTime>,
    pub rois: Vec<Roi>,
    /// Detections in the courtvision meta.
    pub detections: usize,
    /// (label, x, y, w, h) of each detection in the courtvision meta.
    pub boxes: Vec<(String, [f32; 4])>,
    pub json: String,
    /// The buffer itself (a reference, not a copy).
    pub buffer: gst::Buffer,
    /// motionskip's score and decision.
    pub motion: Option<courtvision_meta::MotionData>,
    /// Elements that recorded a timing stage, in order.
    pub stages: Vec<String>,
    /// The timing meta: ingress and (element, start, end, batch size) per stage.
    pub timing: Option<courtvision_meta::TimingData>,
}

impl Frame {
    /// 'I' for a frame motionskip marked to infer (or without a motion meta), 's' for skipped.
    pub fn decision(&self) -> char {
        match self.motion.map(|m| m.decision) {
            Some(courtvision_meta::Decision::Skip) => 's',
            _ => 'I',
        }
    }
}

impl Frame {
    pub fn roi(&self, label: &str) -> Vec<&Roi> {
        self.rois.iter().filter(|r| r.label == label).collect()
    }
}

fn read_frame(buffer: &gst::Buffer) -> Frame {
    let rois = buffer
        .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
        .map(|m| {
            // GStreamer 1.22's ROI scale transform (videoscale) drops the params; copies keep them.
            let p = m.param(courtvision_meta::ROI_PARAM);
            let keypoints = p
                .and_then(|p| p.get::<gst::Array>("keypoints").ok())
                .map(|a| {
                    a.iter()
                        .filter_map(|k| {
                            let k = k.get::<gst::Array>().ok()?;
                            Some([k[0].get().ok()?, k[1].get().ok()?, k[2].get().ok()?])
                        })
                        .collect()
                })
                .unwrap_or_default();
            Roi {
                label: m.roi_type().to_string(),
                rect: m.rect(),
                confidence: p.and_then(|p| p.get("confidence").ok()).unwrap_or(f64::NAN),
                class_id: p.and_then(|p| p.get("class-id").ok()).unwrap_or(u32::MAX),
                source: p.and_then(|p| p.get("source").ok()).unwrap_or_default(),
                keypoints,
                skeleton: p.and_then(|p| p.get("skeleton").ok()),
                filled: p.and_then(|p| p.get("filled").ok()).unwrap_or(false),
            }
        })
        .collect();
    Frame {
        pts: buffer.pts(),
        rois,
        detections: buffer.meta::<DetectionsMeta>().map_or(0, |m| m.len()),
        boxes: buffer
            .meta::<DetectionsMeta>()
            .map(|m| {
                m.detections()
                    .iter()
                    .map(|d| {
                        (
                            d.label.to_string(),
                            [d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h],
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        timing: buffer
            .meta::<courtvision_meta::TimingMeta>()
            .map(|t| t.data().clone()),
        json: courtvision_meta::frame_json(buffer, 0, 0),
        buffer: buffer.clone(),
        motion: buffer
            .meta::<courtvision_meta::MotionMeta>()
            .map(|m| m.data()),
        stages: buffer
            .meta::<courtvision_meta::TimingMeta>()
            .map(|t| t.stages().iter().map(|s| s.element.to_string()).collect())
            .unwrap_or_default(),
    }
}

/// Runs `desc` (which must contain a sink named `sink`, and may contain an appsrc named `src`
/// that `feed` drives) to EOS. Returns the frames that reached the sink, or the first error
/// posted on the bus as "element: message | debug: ...".
pub fn run(
    desc: &str,
    feed: impl FnOnce(gst_app::AppSrc) + Send + 'static,
) -> Result<Vec<Frame>, String> {
    run_with_warnings(desc, feed).map(|(frames, _)| frames)
}

/// As [`run`], also returning the warnings posted on the bus.
pub fn run_with_warnings(
    desc: &str,
    feed: impl FnOnce(gst_app::AppSrc) + Send + 'static,
) -> Result<(Vec<Frame>, Vec<String>), String> {
    run_full(desc, feed).map(|r| (r.frames, r.warnings))
}

/// Everything a run produced.
pub struct Run {
    /// What reached the sink named `sink`.
    pub frames: Vec<Frame>,
    /// What reached each other sink whose name starts with `sink` (several streams).
    pub sinks: std::collections::BTreeMap<String, Vec<Frame>>,
    pub warnings: Vec<String>,
    /// Element messages posted on the bus, in order.
    pub messages: Vec<gst::Structure>,
}

/// As [`run`], returning frames, warnings and element messages.
pub fn run_full(
    desc: &str,
    feed: impl FnOnce(gst_app::AppSrc) + Send + 'static,
) -> Result<Run, String> {
    init();
    let pipeline = gst::parse::launch(desc)
        .map_err(|e| format!("parse: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())?;
    let mut sinks = vec![pipeline.by_name("sink").expect("a sink named 'sink'")];
    sinks.extend(pipeline.iterate_sinks().into_iter().flatten().filter(|s| {
        let name = s.name();
        name.starts_with("sink") && name != "sink"
    }));
    let frames = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
    for sink in sinks {
        let name = sink.name().to_string();
        let f = frames.clone();
        f.lock().unwrap().insert(name.clone(), Vec::new());
        let pad = sink.static_pad("sink").unwrap();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(buffer) = info.buffer() {
                let frame = read_frame(buffer);
                f.lock().unwrap().get_mut(&name).unwrap().push(frame);
            }
            gst::PadProbeReturn::Ok
        });
    }
    let result = (|| {
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| bus_error(&pipeline).unwrap_or_else(|| "state change failed".into()))?;
        if let Some(src) = pipeline.by_name("src") {
            let src = src.downcast::<gst_app::AppSrc>().unwrap();
            std::thread::spawn(move || feed(src));
        }
        let bus = pipeline.bus().unwrap();
        let mut warnings = Vec::new();
        let mut messages = Vec::new();
        loop {
            let msg = bus
                .timed_pop_filtered(
                    gst::ClockTime::from_seconds(120),
                    &[
                        gst::MessageType::Eos,
                        gst::MessageType::Error,
                        gst::MessageType::Warning,
                        gst::MessageType::Element,
                    ],
                )
                .ok_or("timeout: no EOS within 120 s")?;
            match msg.view() {
                gst::MessageView::Error(e) => return Err(format_error(e)),
                gst::MessageView::Warning(w) => warnings.push(w.error().to_string()),
                gst::MessageView::Element(e) => {
                    messages.extend(e.structure().map(|s| s.to_owned()))
                }
                _ => return Ok((warnings, messages)),
            }
        }
    })();
    pipeline.set_state(gst::State::Null).unwrap();
    let (warnings, messages) = result?;
    let mut sinks = std::mem::take(&mut *frames.lock().unwrap());
    let frames = sinks.remove("sink").unwrap_or_default();
    Ok(Run {
        frames,
        sinks,
        warnings,
        messages,
    })
}

/// "element: message | debug: ..."; the message itself must say what is wrong.
fn format_error(e: &gst::message::Error) -> String {
    format!(
        "{}: {} | debug: {}",
        e.src().map(|s| s.name().to_string()).unwrap_or_default(),
        e.error(),
        e.debug().map(|d| d.to_string()).unwrap_or_default()
    )
}

fn bus_error(pipeline: &gst::Pipeline) -> Option<String> {
    let bus = pipeline.bus()?;
    let msg =
        bus.timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(e) => Some(format_error(e)),
        _ => None,
    }
}

/// A feed for an appsrc: frames of uniform grey `levels[i]` in packed RGB of `w`x`h`, 25 fps.
pub fn grey_rgb(
    w: usize,
    h: usize,
    levels: Vec<u8>,
) -> impl FnOnce(gst_app::AppSrc) + Send + 'static {
    move |src| {
        for (i, g) in levels.into_iter().enumerate() {
            let mut buffer = gst::Buffer::from_mut_slice(vec![g; w * h * 3]);
            {
                let b = buffer.get_mut().unwrap();
                b.set_pts(gst::ClockTime::from_mseconds(40 * i as u64));
                b.set_duration(gst::ClockTime::from_mseconds(40));
                b.set_offset(i as u64);
            }
            if src.push_buffer(buffer).is_err() {
                return;
            }
        }
        let _ = src.end_of_stream();
    }
}

/// appsrc caps for grey_rgb frames.
pub fn appsrc_rgb(w: usize, h: usize) -> String {
    format!("appsrc name=src format=time caps=video/x-raw,format=RGB,width={w},height={h},framerate=25/1")
}

/// A feed that does nothing (for pipelines without appsrc).
pub fn no_feed(_: gst_app::AppSrc) {}

/// Asserts two floats are within `tol`.
#[track_caller]
pub fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} is not within {tol} of {b}");
}

/// A live videotestsrc (64x48, 20 frames/s: one frame of latency is 50 ms) through `elements`,
/// one of them named `det`, into a fakesink, playing: the pipeline (set it to NULL when done)
/// and `det`'s source pad, for LATENCY queries.
pub fn play_live(elements: &str) -> (gst::Pipeline, gst::Pad) {
    init();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=20/1 \
         ! {elements} ! fakesink name=sink"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let src = pipeline.by_name("det").unwrap().static_pad("src").unwrap();
    (pipeline, src)
}

/// Waits for a condition with a generous bound (not a timing assertion: a hang guard).
pub fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..600 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Decisions of a run as a string, e.g. "IssIss".
pub fn decisions(frames: &[Frame]) -> String {
    frames.iter().map(Frame::decision).collect()
}

/// A feed of uniform grey RGB frames that waits (bounded) until the sink has received each frame
/// before pushing the next, so feedback from downstream reaches upstream elements in between.
pub fn grey_rgb_lockstep(
    w: usize,
    h: usize,
    levels: Vec<u8>,
) -> impl FnOnce(gst_app::AppSrc) + Send + 'static {
    move |src| {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let sink = src
            .parent()
            .and_then(|p| p.downcast::<gst::Bin>().ok())
            .and_then(|b| b.by_name("sink"))
            .and_then(|s| s.static_pad("sink"))
            .expect("a sink named 'sink'");
        sink.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            c.fetch_add(1, Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
        for (i, g) in levels.into_iter().enumerate() {
            let mut buffer = gst::Buffer::from_mut_slice(vec![g; w * h * 3]);
            {
                let b = buffer.get_mut().unwrap();
                b.set_pts(gst::ClockTime::from_mseconds(40 * i as u64));
                b.set_duration(gst::ClockTime::from_mseconds(40));
            }
            if src.push_buffer(buffer).is_err() {
                return;
            }
            wait_for(|| count.load(Ordering::SeqCst) > i);
        }
        let _ = src.end_of_stream();
    }
}
