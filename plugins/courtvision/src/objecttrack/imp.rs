// SPDX-License-Identifier: MIT OR Apache-2.0
//! objecttrack: an in-place pass-through element that tracks the detections of the labels it
//! is given (default: players) over the stream and writes each one's identity (`track_id`)
//! into the detections meta and its region-of-interest mirror. The tracker is in tracker.rs
//! (ByteTrack's two-pass association with a Kalman filter, plus a colour signature read from
//! the frame, see appearance.rs).
//!
//! Frames the detectors did not infer (motionskip's decision): detections the detectors filled
//! in are tracked like found ones (they keep their `filled` mark); where there are none
//! (`fill=none`) the tracks are predicted and the confirmed tracks' predicted boxes are added as
//! filled detections (`fill-skipped`), so every frame carries every tracked player.

use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;

use courtvision_meta::{
    add_detection, record_stage, set_track, wall_clock_ns, BBox, CourtMeta, Detection,
    DetectionsMeta, MotionMeta,
};

use super::appearance::{self, Pixels};
use super::court::{feet, CourtMotion};
use super::tracker::{Input, Params, TrackState, TrackView, Tracker};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "objecttrack",
        gst::DebugColorFlags::empty(),
        Some("courtvision multi-object tracking"),
    )
});

#[derive(Debug, Clone)]
struct Settings {
    labels: String,
    params: Params,
    fill_skipped: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            labels: "player".into(),
            params: Params::default(),
            fill_skipped: true,
        }
    }
}

struct State {
    tracker: Tracker,
    labels: Vec<String>,
    info: Option<gst_video::VideoInfo>,
    /// The frames are in system memory, so their colours can be read.
    readable: bool,
    source: Arc<str>,
    /// Players' positions on the court, where courtcalib found it.
    court: CourtMotion,
}

#[derive(Default)]
pub struct ObjectTrack {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for ObjectTrack {
    const NAME: &'static str = "GstObjectTrack";
    type Type = super::ObjectTrack;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for ObjectTrack {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let d = Params::default();
            let float = |name: &str, nick: &str, blurb: &str, v: f32| {
                glib::ParamSpecFloat::builder(name)
                    .nick(nick)
                    .blurb(blurb)
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(v)
                    .mutable_ready()
                    .build()
            };
            vec![
                glib::ParamSpecString::builder("labels")
                    .nick("Labels")
                    .blurb("Comma-separated labels of the detections to track")
                    .default_value(Some("player"))
                    .mutable_ready()
                    .build(),
                float(
                    "high-threshold",
                    "High threshold",
                    "Detections at or above this confidence take part in the first association",
                    d.high,
                ),
                float(
                    "low-threshold",
                    "Low threshold",
                    "Detections below this confidence are not tracked; those between it and high-threshold only keep tracks going (second association)",
                    d.low,
                ),
                float(
                    "new-track-threshold",
                    "New track threshold",
                    "An unmatched detection starts a track at or above this confidence",
                    d.new_track,
                ),
                float(
                    "match-iou",
                    "Match IoU",
                    "The least overlap of a detection with a track's predicted box for a match",
                    d.match_iou,
                ),
                float(
                    "appearance",
                    "Appearance",
                    "Weight of the colour signature against box overlap in the first association (0: overlap alone)",
                    d.appearance,
                ),
                glib::ParamSpecUInt::builder("confirm-frames")
                    .nick("Confirm frames")
                    .blurb("Matches in a row before a new track is confirmed and gets an identity")
                    .minimum(1)
                    .maximum(30)
                    .default_value(d.confirm)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("lost-frames")
                    .nick("Lost frames")
                    .blurb("Frames a track that lost its object is kept and predicted (its identity comes back with a match) before it is removed")
                    .minimum(1)
                    .maximum(3000)
                    .default_value(d.lost_frames)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("fill-skipped")
                    .nick("Fill skipped")
                    .blurb("On frames that were not inferred and carry no detections, add the tracks' predicted boxes (marked filled)")
                    .default_value(true)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        gst::info!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
        let mut s = self.settings.lock().unwrap();
        let f = || value.get::<f32>().expect("type checked upstream");
        match pspec.name() {
            "labels" => {
                s.labels = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_default()
            }
            "high-threshold" => s.params.high = f(),
            "low-threshold" => s.params.low = f(),
            "new-track-threshold" => s.params.new_track = f(),
            "match-iou" => s.params.match_iou = f(),
            "appearance" => s.params.appearance = f(),
            "confirm-frames" => s.params.confirm = value.get().expect("type checked upstream"),
            "lost-frames" => s.params.lost_frames = value.get().expect("type checked upstream"),
            "fill-skipped" => s.fill_skipped = value.get().expect("type checked upstream"),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "labels" => s.labels.to_value(),
            "high-threshold" => s.params.high.to_value(),
            "low-threshold" => s.params.low.to_value(),
            "new-track-threshold" => s.params.new_track.to_value(),
            "match-iou" => s.params.match_iou.to_value(),
            "appearance" => s.params.appearance.to_value(),
            "confirm-frames" => s.params.confirm.to_value(),
            "lost-frames" => s.params.lost_frames.to_value(),
            "fill-skipped" => s.fill_skipped.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for ObjectTrack {}

impl ElementImpl for ObjectTrack {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "courtvision object tracker",
                "Filter/Analyzer/Video",
                "Keeps the identity of each detected player over the stream (Kalman motion, two-pass association, colour signature) and writes it as track_id",
                "courtvision developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(crate::caps::detector_templates);
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for ObjectTrack {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings.lock().unwrap().clone();
        let p = s.params;
        if p.low > p.high || p.new_track < p.low {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                (
                    "objecttrack: low-threshold ({}) must be at most high-threshold ({}) and new-track-threshold ({})",
                    p.low,
                    p.high,
                    p.new_track
                )
            ));
        }
        let labels = crate::split_list(&s.labels);
        if labels.is_empty() {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ("objecttrack: labels is empty: nothing to track")
            ));
        }
        *self.state.lock().unwrap() = Some(State {
            tracker: Tracker::new(p),
            labels,
            info: None,
            readable: false,
            source: Arc::from(self.obj().name().as_str()),
            court: CourtMotion::default(),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "not raw video: {incaps}"))?;
        let system = incaps
            .features(0)
            .is_none_or(|f| f.contains(gst::CAPS_FEATURE_MEMORY_SYSTEM_MEMORY));
        let readable = system && Pixels::readable(info.format());
        gst::debug!(CAT, imp = self, "caps {incaps}, colours read: {readable}");
        if let Some(s) = self.state.lock().unwrap().as_mut() {
            s.info = Some(info);
            s.readable = readable;
        }
        self.parent_set_caps(incaps, outcaps)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        // A new stream (or a seek): identities start again.
        if matches!(
            event.type_(),
            gst::EventType::StreamStart | gst::EventType::FlushStop
        ) {
            if let Some(s) = self.state.lock().unwrap().as_mut() {
                s.tracker.reset();
                s.court.reset();
            }
        }
        self.parent_sink_event(event)
    }

    /// The tracking itself (`track`), and around it the stage time in the timing meta.
    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let start = wall_clock_ns();
        let result = self.track(buf);
        if result.is_ok() {
            self.place(buf);
        }
        let name: Arc<str> = Arc::from(self.obj().name().as_str());
        record_stage(buf, &name, start, wall_clock_ns(), 1);
        result
    }
}

impl ObjectTrack {
    fn track(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let fill_skipped = self.settings.lock().unwrap().fill_skipped;
        let mut guard = self.state.lock().unwrap();
        let st = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        // The tracked detections: index in the meta, box, score.
        let tracked: Vec<(usize, [f32; 4], f32)> = buf
            .meta::<DetectionsMeta>()
            .map(|m| {
                m.detections()
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| st.labels.iter().any(|l| **l == *d.label))
                    .map(|(i, d)| {
                        let b = d.bbox;
                        (i, [b.x, b.y, b.x + b.w, b.y + b.h], d.confidence)
                    })
                    .collect()
            })
            .unwrap_or_default();
        // A frame that was not inferred and has no detections: the tracks go on predicted.
        // Detections the detectors filled in (interpolated between inferred frames, or the
        // last ones held) are tracked like found ones: keeping the tracks on them kept the
        // identities through crossings far better than predicting over the skipped frames
        // (docs/elements/objecttrack.md).
        if tracked.is_empty() && MotionMeta::is_skip(buf) {
            st.tracker.predict_only();
            if fill_skipped {
                self.add_predicted(buf, st, |_| true);
            }
            return Ok(gst::FlowSuccess::Ok);
        }
        let features = if st.readable && st.tracker.params().appearance > 0.0 {
            let info = st.info.as_ref().expect("caps come before buffers");
            match gst_video::VideoFrameRef::from_buffer_ref_readable(buf, info) {
                Ok(frame) => {
                    let planes = (0..frame.n_planes())
                        .map(|p| {
                            (
                                frame.plane_data(p).unwrap_or(&[]),
                                frame.plane_stride()[p as usize] as usize,
                            )
                        })
                        .collect();
                    let pixels = Pixels {
                        format: info.format(),
                        width: info.width(),
                        height: info.height(),
                        planes,
                    };
                    tracked
                        .iter()
                        .map(|t| appearance::signature(&pixels, t.1))
                        .collect()
                }
                Err(_) => vec![None; tracked.len()],
            }
        } else {
            vec![None; tracked.len()]
        };
        let inputs: Vec<Input> = tracked
            .iter()
            .zip(features)
            .map(|(t, feature)| Input {
                bbox: t.1,
                score: t.2,
                feature,
            })
            .collect();
        let ids = st.tracker.update(&inputs);
        for (t, id) in tracked.iter().zip(ids) {
            set_track(buf, t.0, id, None);
        }
        // Players inside a merged box: where they are predicted.
        self.add_predicted(buf, st, |t| t.hidden);
        Ok(gst::FlowSuccess::Ok)
    }
}

impl ObjectTrack {
    /// With a court meta on the frame (courtcalib): each tracked detection's feet point on the
    /// court, speed and distance, into the court meta's positions.
    fn place(&self, buf: &mut gst::BufferRef) {
        let mut guard = self.state.lock().unwrap();
        let Some(st) = guard.as_mut() else { return };
        let Some(court) = buf.meta::<CourtMeta>() else {
            return;
        };
        let time = buf.pts().map_or(0.0, |t| t.nseconds() as f64 / 1e9);
        let mut positions = Vec::new();
        if let Some(m) = buf.meta::<DetectionsMeta>() {
            for (d, k) in m.iter() {
                let Some(id) = d.track_id else { continue };
                if !st.labels.iter().any(|l| **l == *d.label) {
                    continue;
                }
                if let Some(xy) = feet(court.data(), &d.bbox, k) {
                    positions.push(st.court.update(id, d.class_id, xy, time));
                }
            }
        }
        st.court.prune(time);
        if let Some(mut m) = buf.meta_mut::<CourtMeta>() {
            m.data_mut().positions = positions;
        }
    }

    /// The predicted boxes of the confirmed tracks `which` selects (on a frame that was not
    /// inferred and has no detections: all), as filled detections of the first label.
    fn add_predicted(
        &self,
        buf: &mut gst::BufferRef,
        st: &State,
        which: impl Fn(&TrackView) -> bool,
    ) {
        let label: Arc<str> = Arc::from(st.labels[0].as_str());
        let (w, h) = st.info.as_ref().map_or((f32::MAX, f32::MAX), |i| {
            (i.width() as f32, i.height() as f32)
        });
        for t in st.tracker.tracks() {
            if t.state != TrackState::Confirmed || !which(&t) {
                continue;
            }
            let b = t.bbox;
            let (x1, y1) = (b[0].clamp(0.0, w), b[1].clamp(0.0, h));
            let (x2, y2) = (b[2].clamp(0.0, w), b[3].clamp(0.0, h));
            if x2 - x1 < 1.0 || y2 - y1 < 1.0 {
                continue;
            }
            let mut det = Detection::new(
                0,
                label.clone(),
                0.0,
                BBox::from_corners([x1, y1, x2, y2]),
                st.source.clone(),
            );
            det.filled = true;
            det.track_id = Some(t.id);
            add_detection(buf, det, &[]);
        }
    }
}
