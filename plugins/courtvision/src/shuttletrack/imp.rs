// SPDX-License-Identifier: MIT OR Apache-2.0
//! shuttletrack: an in-place pass-through element that turns the ball detections of each
//! frame (labels in `ball-labels`) into one trajectory (see trajectory.rs). The detection on
//! the trajectory keeps its place with the flight's identity (`track_id`) and image velocity
//! (`velocity`, pixels a second); the other ball detections are removed as false; a frame
//! where the shuttle was not found but its flight goes on gets the predicted position as a
//! filled detection. After each frame the shuttle's speed goes upstream to motionskip (the
//! detectors' `courtvision-feedback` event), so fast rallies are inferred frame by frame.

use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use courtvision_meta::{
    add_detection, record_stage, retain_detections, set_track, wall_clock_ns, BBox, CourtEvent,
    CourtMeta, Detection, DetectionsMeta,
};

use super::shots::{PlayerAt, Shots};
use super::trajectory::{Candidate, Outcome, Params, Trajectory};
use crate::detector::{FEEDBACK_EVENT, FLIGHTS_QUERY};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "shuttletrack",
        gst::DebugColorFlags::empty(),
        Some("courtvision shuttle trajectory"),
    )
});

#[derive(Debug, Clone)]
struct Settings {
    ball_labels: String,
    params: Params,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ball_labels: "shuttle,ball,sports ball,shuttlecock".into(),
            params: Params::default(),
        }
    }
}

struct State {
    labels: Vec<String>,
    trajectory: Option<Trajectory>,
    fps: f32,
    frame: i64,
    source: Arc<str>,
    /// Label and class of the latest shuttle seen (for filled detections).
    last: Option<(Arc<str>, u32)>,
    /// A flight was in progress on the previous frame.
    in_flight: bool,
    /// Flights in 3D, hits, landings and rallies, where the court's camera is known.
    shots: Shots,
}

#[derive(Default)]
pub struct ShuttleTrack {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for ShuttleTrack {
    const NAME: &'static str = "GstShuttleTrack";
    type Type = super::ShuttleTrack;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for ShuttleTrack {
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
                glib::ParamSpecString::builder("ball-labels")
                    .nick("Ball labels")
                    .blurb("Comma-separated labels of the ball/shuttle detections")
                    .default_value(Some(Settings::default().ball_labels.as_str()))
                    .mutable_ready()
                    .build(),
                float(
                    "min-score",
                    "Minimum score",
                    "Ball detections below this confidence are not considered",
                    d.min_score,
                ),
                float(
                    "start-score",
                    "Start score",
                    "A flight starts (or starts again after a hit) from a detection at or above this confidence",
                    d.start_score,
                ),
                float(
                    "gate",
                    "Gate",
                    "Base radius around the predicted position within which a detection belongs to the flight, as a fraction of the frame diagonal (it grows with speed and missed frames)",
                    d.gate,
                ),
                float(
                    "max-step",
                    "Maximum step",
                    "The farthest the ball moves in one frame, as a fraction of the frame diagonal",
                    d.max_step,
                ),
                glib::ParamSpecUInt::builder("max-gap")
                    .nick("Maximum gap")
                    .blurb("Frames without a detection filled by the trajectory's prediction before the flight ends")
                    .maximum(300)
                    .default_value(d.max_gap)
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
            "ball-labels" => {
                s.ball_labels = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_default()
            }
            "min-score" => s.params.min_score = f(),
            "start-score" => s.params.start_score = f(),
            "gate" => s.params.gate = f(),
            "max-step" => s.params.max_step = f(),
            "max-gap" => s.params.max_gap = value.get().expect("type checked upstream"),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "ball-labels" => s.ball_labels.to_value(),
            "min-score" => s.params.min_score.to_value(),
            "start-score" => s.params.start_score.to_value(),
            "gate" => s.params.gate.to_value(),
            "max-step" => s.params.max_step.to_value(),
            "max-gap" => s.params.max_gap.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for ShuttleTrack {}

impl ElementImpl for ShuttleTrack {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "courtvision shuttle tracker",
                "Filter/Analyzer/Video",
                "Follows the shuttle or ball as one trajectory per flight: rejects detections off it, fills short gaps, gives its image velocity",
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

impl BaseTransformImpl for ShuttleTrack {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings.lock().unwrap().clone();
        let labels = crate::split_list(&s.ball_labels);
        if labels.is_empty() {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ("shuttletrack: ball-labels is empty: nothing to track")
            ));
        }
        if s.params.start_score < s.params.min_score {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ("shuttletrack: start-score must be at least min-score")
            ));
        }
        *self.state.lock().unwrap() = Some(State {
            labels,
            trajectory: None,
            fps: 30.0,
            frame: 0,
            source: Arc::from(self.obj().name().as_str()),
            last: None,
            in_flight: false,
            shots: Shots::default(),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    /// motionskip asks whether flights are tracked downstream: they are, here.
    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Custom(q) = query.view_mut() {
            let s = q.structure_mut();
            if s.name() == FLIGHTS_QUERY {
                s.set("tracker", self.obj().name().as_str());
                return true;
            }
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "not raw video: {incaps}"))?;
        let params = self.settings.lock().unwrap().params;
        let fps = info.fps();
        if let Some(s) = self.state.lock().unwrap().as_mut() {
            s.fps = if fps.numer() > 0 {
                fps.numer() as f32 / fps.denom() as f32
            } else {
                30.0
            };
            s.trajectory = Some(Trajectory::new(
                params,
                info.width() as f32,
                info.height() as f32,
            ));
        }
        self.parent_set_caps(incaps, outcaps)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if matches!(
            event.type_(),
            gst::EventType::StreamStart | gst::EventType::FlushStop
        ) {
            if let Some(s) = self.state.lock().unwrap().as_mut() {
                if let Some(t) = s.trajectory.as_mut() {
                    t.reset();
                }
                s.shots.reset();
            }
        }
        self.parent_sink_event(event)
    }

    /// The tracking itself (`track`), and around it the stage time in the timing meta.
    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let start = wall_clock_ns();
        let result = self.track(buf);
        let name: Arc<str> = Arc::from(self.obj().name().as_str());
        record_stage(buf, &name, start, wall_clock_ns(), 1);
        result
    }
}

impl ShuttleTrack {
    fn track(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut guard = self.state.lock().unwrap();
        let st = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let frame = st.frame;
        st.frame += 1;
        let labels = st.labels.clone();
        let is_ball = |d: &Detection| labels.iter().any(|l| **l == *d.label);
        // Ball detections: index in the meta and candidate.
        let balls: Vec<(usize, Candidate, Arc<str>, u32)> = buf
            .meta::<DetectionsMeta>()
            .map(|m| {
                m.detections()
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| is_ball(d))
                    .map(|(i, d)| {
                        let b = d.bbox;
                        let c = Candidate {
                            x: b.x + b.w / 2.0,
                            y: b.y + b.h / 2.0,
                            w: b.w,
                            h: b.h,
                            score: d.confidence,
                        };
                        (i, c, d.label.clone(), d.class_id)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let cands: Vec<Candidate> = balls.iter().map(|b| b.1).collect();
        let Some(trajectory) = st.trajectory.as_mut() else {
            return Err(gst::FlowError::NotNegotiated);
        };
        let outcome = trajectory.step(frame, &cands);
        // Where the shuttle was seen (not filled in), for the shots in 3D.
        let seen = match outcome {
            Outcome::Observed { index, .. } => {
                let c = balls[index].1;
                Some([c.x as f64, c.y as f64])
            }
            _ => None,
        };
        let fps = st.fps;
        let per_second = |v: [f32; 2]| [v[0] * fps, v[1] * fps];
        let mut speed = 0.0f32;
        // The kept detection's index before the others go.
        let mut keep = None;
        match outcome {
            Outcome::Observed {
                index,
                flight,
                velocity,
            } => {
                let (at, _, label, class) = &balls[index];
                st.last = Some((label.clone(), *class));
                let v = per_second(velocity);
                speed = v[0].hypot(v[1]);
                set_track(buf, *at, Some(flight), Some(v));
                keep = Some(*at);
            }
            Outcome::Filled {
                flight,
                candidate: c,
                velocity,
            } => {
                let v = per_second(velocity);
                speed = v[0].hypot(v[1]);
                let (label, class) = st
                    .last
                    .clone()
                    .unwrap_or_else(|| (Arc::from(labels[0].as_str()), 0));
                let mut det = Detection::new(
                    class,
                    label,
                    0.0,
                    BBox {
                        x: c.x - c.w / 2.0,
                        y: c.y - c.h / 2.0,
                        w: c.w,
                        h: c.h,
                    },
                    st.source.clone(),
                );
                det.filled = true;
                det.track_id = Some(flight);
                det.velocity = Some(v);
                // Removing the false ones first keeps the new one's index valid.
                retain_detections(buf, |_, d| !is_ball(d));
                add_detection(buf, det, &[]);
            }
            Outcome::None => {}
        }
        if !matches!(outcome, Outcome::Filled { .. }) {
            let balls_at: Vec<usize> = balls.iter().map(|b| b.0).collect();
            let removed =
                retain_detections(buf, |at, _| !balls_at.contains(&at) || Some(at) == keep);
            gst::trace!(
                CAT,
                imp = self,
                "frame {frame}: {outcome:?}, {removed} removed"
            );
        }
        let min_score = trajectory.params().min_score;
        let others: Vec<[f64; 2]> = cands
            .iter()
            .filter(|c| c.score >= min_score)
            .map(|c| [c.x as f64, c.y as f64])
            .collect();
        let events = self.shots(buf, st, seen, &others, &is_ball);
        // Upstream hears of every frame of a flight and of its end.
        let in_flight = !matches!(outcome, Outcome::None);
        let changed = in_flight != st.in_flight;
        st.in_flight = in_flight;
        drop(guard);
        if in_flight || changed {
            let s = gst::Structure::builder(FEEDBACK_EVENT)
                .field("objects", in_flight as u32)
                .field("max-speed", speed as f64)
                .field("in-flight", in_flight)
                .field("source", self.obj().name().as_str())
                .build();
            self.obj()
                .static_pad("sink")
                .expect("a sink pad")
                .push_event(gst::event::CustomUpstream::new(s));
        }
        for e in events {
            let mut s = gst::Structure::builder("courtvision-event")
                .field("kind", e.kind.as_str())
                .build();
            if let Some(v) = e.pts {
                s.set("pts", v);
            }
            if let Some(v) = e.track_id {
                s.set("track-id", v);
            }
            if let Some(v) = e.speed_kmh {
                s.set("speed-kmh", v as f64);
            }
            if let Some([x, y, z]) = e.pos {
                s.set("x", x as f64);
                s.set("y", y as f64);
                s.set("z", z as f64);
            }
            if let Some(v) = e.inside {
                s.set("inside", v);
            }
            if let Some(v) = e.rally {
                s.set("rally", v);
            }
            let _ = self
                .obj()
                .post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
        }
        Ok(gst::FlowSuccess::Ok)
    }

    /// With the court's camera (a court meta from courtcalib): the shuttle in 3D and the
    /// frame's events into the court meta; the events are returned for the bus.
    fn shots(
        &self,
        buf: &mut gst::BufferRef,
        st: &mut State,
        seen: Option<[f64; 2]>,
        others: &[[f64; 2]],
        is_ball: &dyn Fn(&Detection) -> bool,
    ) -> Vec<CourtEvent> {
        let Some(meta) = buf.meta::<CourtMeta>() else {
            return Vec::new();
        };
        let court = meta.data();
        if court.camera.is_none() || &*court.sport != "badminton" {
            return Vec::new();
        }
        let players: Vec<PlayerAt> = buf
            .meta::<DetectionsMeta>()
            .map(|m| {
                m.detections()
                    .iter()
                    .filter(|d| !is_ball(d))
                    .filter_map(|d| {
                        let id = d.track_id?;
                        let p = court.position(id)?;
                        let b = d.bbox;
                        Some(PlayerAt {
                            track_id: id,
                            bbox: [b.x, b.y, b.x + b.w, b.y + b.h],
                            feet: [p.xy[0] as f64, p.xy[1] as f64],
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let pts = buf.pts().map_or(0, |t| t.nseconds());
        let height = st.trajectory.as_ref().map_or(720.0, |t| t.size().1 as f64);
        let (shuttle, events) =
            st.shots
                .step(pts as f64 / 1e9, pts, seen, others, &players, court, height);
        if let Some(mut m) = buf.meta_mut::<CourtMeta>() {
            let d = m.data_mut();
            d.shuttle = shuttle;
            d.events.extend(events.iter().cloned());
        }
        events
    }
}
