// SPDX-License-Identifier: MIT OR Apache-2.0
//! motionskip: an in-place pass-through element that scores each frame's motion (mean absolute
//! difference of a 64-wide downscaled luma grid against the previous frame: a few tens of
//! microseconds at 1080p) and decides whether the detectors after it infer or skip the frame,
//! recorded in a courtvision MotionMeta. yolodetect/posedetect pass skipped frames without
//! inference (their `fill` property gives them results). Downstream detectors report object
//! count and speed in an upstream `courtvision-feedback` event; motionskip announces its longest
//! skip run downstream in a sticky `courtvision-skip` event (for the detectors' latency).

use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;

use courtvision_meta::{record_stage, wall_clock_ns, Decision, MotionData, MotionMeta};

use super::decide::{self, Decider, Feedback, Params};
use super::Mode;
use crate::detector::{FEEDBACK_EVENT, FLIGHTS_QUERY, SKIP_EVENT};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "motionskip",
        gst::DebugColorFlags::empty(),
        Some("courtvision motion-based frame skipping"),
    )
});

#[derive(Debug, Clone)]
struct Settings {
    params: Params,
    drop_skipped: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            params: Params {
                mode: Mode::Adaptive,
                interval: 2,
                min_skip: 0,
                max_skip: 4,
                low_threshold: 1.0,
                high_threshold: 8.0,
                fast_speed: 600.0,
                many_objects: 8,
                keep_flights: true,
                flight_hold: 60,
            },
            drop_skipped: false,
        }
    }
}

#[derive(Default)]
struct State {
    info: Option<gst_video::VideoInfo>,
    prev: Vec<u8>,
    cur: Vec<u8>,
    decider: Decider,
    /// The latest feedback of each element that sends it (detectors, shuttletrack), by name.
    feedback: std::collections::HashMap<String, Feedback>,
    /// The skip run last announced downstream (None: announce before the next frame).
    announced: Option<u32>,
    name: Option<std::sync::Arc<str>>,
}

#[derive(Default)]
pub struct MotionSkip {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for MotionSkip {
    const NAME: &'static str = "GstMotionSkip";
    type Type = super::MotionSkip;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for MotionSkip {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let d = Settings::default();
            let uint = |name: &str, nick: &str, blurb: &str, min: u32, max: u32, def: u32| {
                glib::ParamSpecUInt::builder(name)
                    .nick(nick)
                    .blurb(blurb)
                    .minimum(min)
                    .maximum(max)
                    .default_value(def)
                    .mutable_playing()
                    .build()
            };
            vec![
                glib::ParamSpecEnum::builder_with_default("mode", d.params.mode)
                    .nick("Mode")
                    .blurb("fixed: infer every interval-th frame; adaptive: skip by motion and feedback")
                    .mutable_playing()
                    .build(),
                uint("interval", "Interval", "fixed mode: infer every interval-th frame (1 = all)", 1, 1000, d.params.interval),
                uint("min-skip", "Min skip", "adaptive mode: frames skipped in a row when motion is high", 0, 100, d.params.min_skip),
                uint("max-skip", "Max skip", "adaptive mode: frames skipped in a row in a static scene", 0, 100, d.params.max_skip),
                glib::ParamSpecFloat::builder("low-threshold")
                    .nick("Low threshold")
                    .blurb("adaptive: motion score (0-255) at or below which max-skip applies")
                    .minimum(0.0)
                    .maximum(255.0)
                    .default_value(d.params.low_threshold)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecFloat::builder("high-threshold")
                    .nick("High threshold")
                    .blurb("adaptive: motion score (0-255) at or above which min-skip applies")
                    .minimum(0.0)
                    .maximum(255.0)
                    .default_value(d.params.high_threshold)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("fast-speed")
                    .nick("Fast speed")
                    .blurb("adaptive: infer every frame (min-skip) while downstream reports an object this fast (px/s)")
                    .minimum(0.0)
                    .maximum(1e9)
                    .default_value(d.params.fast_speed)
                    .mutable_playing()
                    .build(),
                uint("many-objects", "Many objects", "adaptive: infer every frame (min-skip) while downstream reports this many objects", 1, 100_000, d.params.many_objects),
                glib::ParamSpecBoolean::builder("keep-flights")
                    .nick("Keep flights")
                    .blurb("adaptive: infer every frame (min-skip) while downstream tracks a flight of the shuttle or ball (shuttletrack)")
                    .default_value(d.params.keep_flights)
                    .mutable_playing()
                    .build(),
                uint("flight-hold", "Flight hold", "adaptive, keep-flights: frames inferred one by one after the last flight ends (the next flight of a rally)", 0, 100_000, d.params.flight_hold),
                glib::ParamSpecBoolean::builder("drop-skipped")
                    .nick("Drop skipped")
                    .blurb("Drop skipped frames instead of passing them on")
                    .default_value(false)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        gst::info!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
        let mut s = self.settings.lock().unwrap();
        let p = &mut s.params;
        match pspec.name() {
            "mode" => p.mode = value.get().expect("type checked upstream"),
            "interval" => p.interval = value.get().expect("type checked upstream"),
            "min-skip" => p.min_skip = value.get().expect("type checked upstream"),
            "max-skip" => p.max_skip = value.get().expect("type checked upstream"),
            "low-threshold" => p.low_threshold = value.get().expect("type checked upstream"),
            "high-threshold" => p.high_threshold = value.get().expect("type checked upstream"),
            "fast-speed" => p.fast_speed = value.get().expect("type checked upstream"),
            "many-objects" => p.many_objects = value.get().expect("type checked upstream"),
            "keep-flights" => p.keep_flights = value.get().expect("type checked upstream"),
            "flight-hold" => p.flight_hold = value.get().expect("type checked upstream"),
            "drop-skipped" => s.drop_skipped = value.get().expect("type checked upstream"),
            other => unreachable!("unknown property {other}"),
        }
        drop(s);
        // A new skip run bound is announced before the next frame.
        self.state.lock().unwrap().announced = None;
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        let p = &s.params;
        match pspec.name() {
            "mode" => p.mode.to_value(),
            "interval" => p.interval.to_value(),
            "min-skip" => p.min_skip.to_value(),
            "max-skip" => p.max_skip.to_value(),
            "low-threshold" => p.low_threshold.to_value(),
            "high-threshold" => p.high_threshold.to_value(),
            "fast-speed" => p.fast_speed.to_value(),
            "many-objects" => p.many_objects.to_value(),
            "keep-flights" => p.keep_flights.to_value(),
            "flight-hold" => p.flight_hold.to_value(),
            "drop-skipped" => s.drop_skipped.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for MotionSkip {}

impl ElementImpl for MotionSkip {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "courtvision motion skip",
                "Filter/Analyzer/Video",
                "Scores frame motion and decides which frames the detectors infer",
                "courtvision developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(crate::caps::raw_video_templates);
        TEMPLATES.as_ref()
    }
}

/// Luma of pixel (x, y) of a mapped frame.
fn luma_of<'a>(
    frame: &'a gst_video::VideoFrameRef<&gst::BufferRef>,
) -> Option<Box<dyn Fn(usize, usize) -> u8 + 'a>> {
    use gst_video::VideoFormat as F;
    let stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data(0).ok()?;
    let packed =
        |bpp: usize, r: usize, g: usize, b: usize| -> Box<dyn Fn(usize, usize) -> u8 + 'a> {
            Box::new(move |x, y| {
                let p = &data[y * stride + x * bpp..];
                ((p[r] as u32 * 77 + p[g] as u32 * 150 + p[b] as u32 * 29) >> 8) as u8
            })
        };
    Some(match frame.format() {
        F::I420 | F::Nv12 => Box::new(move |x, y| data[y * stride + x]),
        F::Rgb => packed(3, 0, 1, 2),
        F::Bgr => packed(3, 2, 1, 0),
        F::Rgba => packed(4, 0, 1, 2),
        F::Bgrx => packed(4, 2, 1, 0),
        _ => return None,
    })
}

impl BaseTransformImpl for MotionSkip {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State {
            name: Some(std::sync::Arc::from(self.obj().name().as_str())),
            ..State::default()
        };
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        gst::debug!(CAT, imp = self, "caps {incaps}");
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "not raw video: {incaps}"))?;
        // Whether a flight tracker (shuttletrack) is downstream, for keep-flights.
        let mut query = gst::query::Custom::new(gst::Structure::new_empty(FLIGHTS_QUERY));
        let flights = self
            .obj()
            .static_pad("src")
            .expect("a src pad")
            .peer_query(&mut query);
        gst::debug!(CAT, imp = self, "flights tracked downstream: {flights}");
        let mut st = self.state.lock().unwrap();
        st.info = Some(info);
        // A new size starts a new motion history; the next frame is inferred.
        st.prev.clear();
        st.decider.reset();
        st.decider.flights_downstream = flights;
        drop(st);
        self.parent_set_caps(incaps, outcaps)
    }

    fn src_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::CustomUpstream(e) = event.view() {
            if let Some(s) = e.structure().filter(|s| s.name() == FEEDBACK_EVENT) {
                let fb = Feedback {
                    objects: s.get("objects").unwrap_or(0),
                    max_speed: s.get("max-speed").unwrap_or(0.0),
                    in_flight: s.get("in-flight").unwrap_or(false),
                };
                let from = s.get::<String>("source").unwrap_or_default();
                gst::trace!(CAT, imp = self, "feedback from {from}: {fb:?}");
                self.state.lock().unwrap().feedback.insert(from, fb);
                return true;
            }
        }
        self.parent_src_event(event)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if event.type_() == gst::EventType::FlushStop {
            let mut st = self.state.lock().unwrap();
            st.prev.clear();
            st.decider.reset();
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let start = wall_clock_ns();
        let settings = self.settings.lock().unwrap().clone();
        let mut guard = self.state.lock().unwrap();
        let st = &mut *guard;
        let info = st.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        let run = settings.params.max_run();
        let announce = st.announced != Some(run);
        st.announced = Some(run);
        {
            let frame =
                gst_video::VideoFrameRef::from_buffer_ref_readable(&*buf, &info).map_err(|_| {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Format,
                        ("cannot map a video frame")
                    );
                    gst::FlowError::Error
                })?;
            let Some(luma) = luma_of(&frame) else {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("unsupported format {}", info.format().to_str())
                );
                return Err(gst::FlowError::NotNegotiated);
            };
            decide::downscale(
                info.width() as usize,
                info.height() as usize,
                luma,
                &mut st.cur,
            );
        }
        let score = decide::score(&st.prev, &st.cur);
        std::mem::swap(&mut st.prev, &mut st.cur);
        // Every sender's latest word counts: the fastest object and the most objects.
        let feedback = st.feedback.values().copied().reduce(|a, b| Feedback {
            objects: a.objects.max(b.objects),
            max_speed: a.max_speed.max(b.max_speed),
            in_flight: a.in_flight || b.in_flight,
        });
        let infer = st.decider.decide(&settings.params, score, feedback);
        let decision = if infer {
            Decision::Infer
        } else {
            Decision::Skip
        };
        let name = st
            .name
            .clone()
            .unwrap_or_else(|| std::sync::Arc::from("motionskip"));
        drop(guard);
        if announce {
            // Pushed without the state lock: detectors' feedback events take it from their threads.
            let s = gst::Structure::builder(SKIP_EVENT)
                .field("max-skip", run)
                .build();
            self.obj()
                .src_pad()
                .push_event(gst::event::CustomDownstreamSticky::new(s));
        }
        MotionMeta::set(buf, MotionData { score, decision });
        record_stage(buf, &name, start, wall_clock_ns(), 1);
        gst::trace!(CAT, imp = self, "score {score:.2}: {decision:?}");
        if !infer && settings.drop_skipped {
            return Ok(gst_base::BASE_TRANSFORM_FLOW_DROPPED);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
