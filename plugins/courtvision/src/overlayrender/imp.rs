// SPDX-License-Identifier: MIT OR Apache-2.0
//! overlayrender: draws boxes, labels with scores, keypoints and skeleton edges, track ids, the
//! tracked shuttle's recent path (and optionally the players' feet) and an optional HUD onto
//! each frame, in place, in RGB, RGBA, BGR, BGRx, I420 or NV12. Each layer can be switched off;
//! colours follow ultralytics (class palette, pose palette).

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use courtvision_analytics::court::CourtModel;
use courtvision_meta::{
    record_stage, wall_clock_ns, CourtMeta, DetectionsMeta, EventKind, MotionMeta, TimingMeta,
};

use super::draw::{self, FrameMut, Style, Target};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "overlayrender",
        gst::DebugColorFlags::empty(),
        Some("courtvision overlay"),
    )
});

#[derive(Debug, Clone)]
struct Settings {
    style: Style,
    hud: bool,
    trail_length: u32,
    feet_trails: bool,
    ball_labels: Vec<String>,
    draw_court: bool,
    minimap: bool,
    shot_speed: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            style: Style::default(),
            hud: false,
            trail_length: 30,
            feet_trails: false,
            draw_court: true,
            minimap: false,
            shot_speed: true,
            ball_labels: ["shuttle", "ball", "sports ball", "shuttlecock"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// A tracked player's feet: the frame it was last seen, its class, its recent points.
type Feet = (u64, u32, VecDeque<(f32, f32)>);

/// Recent positions of tracked objects: the ball (one path over its flights) and players' feet
/// by track id.
#[derive(Default)]
struct Trails {
    /// The last shot's speed, km/h.
    last_shot: Option<f32>,
    frame: u64,
    ball: VecDeque<(f32, f32)>,
    feet: HashMap<u64, Feet>,
}

#[derive(Default)]
struct HudState {
    frames: u64,
    last: Option<Instant>,
    fps: f64,
}

pub struct OverlayRender {
    settings: Mutex<Settings>,
    hud: Mutex<HudState>,
    trails: Mutex<Trails>,
    font: ab_glyph::FontRef<'static>,
}

impl Default for OverlayRender {
    fn default() -> Self {
        OverlayRender {
            settings: Mutex::default(),
            hud: Mutex::default(),
            trails: Mutex::default(),
            font: draw::font(),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for OverlayRender {
    const NAME: &'static str = "GstOverlayRender";
    type Type = super::OverlayRender;
    type ParentType = gst_video::VideoFilter;
}

fn bool_prop(name: &str, nick: &str, blurb: &str, default: bool) -> glib::ParamSpec {
    glib::ParamSpecBoolean::builder(name)
        .nick(nick)
        .blurb(blurb)
        .default_value(default)
        .mutable_playing()
        .build()
}

impl ObjectImpl for OverlayRender {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                bool_prop("draw-boxes", "Boxes", "Draw detection boxes", true),
                bool_prop("draw-labels", "Labels", "Draw labels with scores", true),
                bool_prop("draw-keypoints", "Keypoints", "Draw keypoints", true),
                bool_prop(
                    "draw-skeleton",
                    "Skeleton",
                    "Draw skeleton edges between keypoints",
                    true,
                ),
                bool_prop(
                    "draw-track-ids",
                    "Track ids",
                    "Put track ids in the labels when present",
                    true,
                ),
                bool_prop(
                    "hud",
                    "HUD",
                    "Draw a heads-up display: frame, fps, detections",
                    false,
                ),
                glib::ParamSpecUInt::builder("trail-length")
                    .nick("Trail length")
                    .blurb("Frames of the tracked shuttle's (ball's) recent path to draw (0: none); shuttletrack gives its track")
                    .maximum(600)
                    .default_value(30)
                    .mutable_playing()
                    .build(),
                bool_prop(
                    "feet-trails",
                    "Feet trails",
                    "Draw each tracked player's recent path on the floor (the bottom centre of the box), as long as trail-length",
                    false,
                ),
                bool_prop(
                    "draw-court",
                    "Court",
                    "Draw the court's lines where courtcalib's estimate puts them (frames with a court meta)",
                    true,
                ),
                bool_prop(
                    "minimap",
                    "Mini-map",
                    "Draw a map of the court (top right) with the players and the shuttle on it (frames with a court meta)",
                    false,
                ),
                bool_prop(
                    "shot-speed",
                    "Shot speed",
                    "Write the last shot's speed off the racket in km/h (shuttletrack's hits)",
                    true,
                ),
                glib::ParamSpecFloat::builder("line-width")
                    .nick("Line width")
                    .blurb("Line width in pixels (0 = from the frame size, as ultralytics)")
                    .minimum(0.0)
                    .maximum(64.0)
                    .default_value(0.0)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecFloat::builder("font-size")
                    .nick("Font size")
                    .blurb("Text height in pixels (0 = from the line width)")
                    .minimum(0.0)
                    .maximum(256.0)
                    .default_value(0.0)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecFloat::builder("min-keypoint-score")
                    .nick("Min keypoint score")
                    .blurb("Keypoints (and their edges) under this score are not drawn")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(0.5)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        gst::info!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
        let mut s = self.settings.lock().unwrap();
        let st = &mut s.style;
        match pspec.name() {
            "draw-boxes" => st.boxes = value.get().expect("type checked upstream"),
            "draw-labels" => st.labels = value.get().expect("type checked upstream"),
            "draw-keypoints" => st.keypoints = value.get().expect("type checked upstream"),
            "draw-skeleton" => st.skeleton = value.get().expect("type checked upstream"),
            "draw-track-ids" => st.track_ids = value.get().expect("type checked upstream"),
            "line-width" => st.line_width = value.get().expect("type checked upstream"),
            "font-size" => st.font_size = value.get().expect("type checked upstream"),
            "min-keypoint-score" => {
                st.min_keypoint_score = value.get().expect("type checked upstream")
            }
            "hud" => s.hud = value.get().expect("type checked upstream"),
            "trail-length" => s.trail_length = value.get().expect("type checked upstream"),
            "feet-trails" => s.feet_trails = value.get().expect("type checked upstream"),
            "draw-court" => s.draw_court = value.get().expect("type checked upstream"),
            "minimap" => s.minimap = value.get().expect("type checked upstream"),
            "shot-speed" => s.shot_speed = value.get().expect("type checked upstream"),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        let st = &s.style;
        match pspec.name() {
            "draw-boxes" => st.boxes.to_value(),
            "draw-labels" => st.labels.to_value(),
            "draw-keypoints" => st.keypoints.to_value(),
            "draw-skeleton" => st.skeleton.to_value(),
            "draw-track-ids" => st.track_ids.to_value(),
            "line-width" => st.line_width.to_value(),
            "font-size" => st.font_size.to_value(),
            "min-keypoint-score" => st.min_keypoint_score.to_value(),
            "hud" => s.hud.to_value(),
            "trail-length" => s.trail_length.to_value(),
            "feet-trails" => s.feet_trails.to_value(),
            "draw-court" => s.draw_court.to_value(),
            "minimap" => s.minimap.to_value(),
            "shot-speed" => s.shot_speed.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for OverlayRender {}

impl ElementImpl for OverlayRender {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "courtvision overlay",
                "Filter/Effect/Video",
                "Draws detections, keypoints, skeletons and a HUD onto the video",
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

impl BaseTransformImpl for OverlayRender {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn sink_event(&self, event: gst::Event) -> bool {
        // A new stream: the paths start again.
        if matches!(
            event.type_(),
            gst::EventType::StreamStart | gst::EventType::FlushStop
        ) {
            *self.trails.lock().unwrap() = Trails::default();
        }
        self.parent_sink_event(event)
    }

    /// The video filter maps the frame and draws (transform_frame_ip); around it, the stage time.
    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let start = wall_clock_ns();
        let result = self.parent_transform_ip(buf);
        let name: std::sync::Arc<str> = std::sync::Arc::from(self.obj().name().as_str());
        record_stage(buf, &name, start, wall_clock_ns(), 1);
        result
    }
}

impl VideoFilterImpl for OverlayRender {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        gst::debug!(CAT, imp = self, "caps {incaps}");
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }

    fn transform_frame_ip(
        &self,
        frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings.lock().unwrap().clone();
        let (w, h) = (frame.width(), frame.height());
        let hud = if settings.hud {
            self.hud_lines(frame.buffer())
        } else {
            Vec::new()
        };
        let trails = self.trails(frame.buffer(), &settings);
        let court = self.court(frame.buffer(), &settings, w as f32, h as f32);
        let layer = draw::render(
            frame.buffer().meta::<DetectionsMeta>().as_deref(),
            &hud,
            &trails,
            &court,
            w,
            h,
            &settings.style,
            &self.font,
        );
        let Some(layer) = layer else {
            return Ok(gst::FlowSuccess::Ok);
        };

        let info = frame.info().clone();
        let target = match info.format() {
            gst_video::VideoFormat::Rgb => Target::Packed {
                bpp: 3,
                order: [0, 1, 2],
            },
            gst_video::VideoFormat::Bgr => Target::Packed {
                bpp: 3,
                order: [2, 1, 0],
            },
            gst_video::VideoFormat::Rgba => Target::Packed {
                bpp: 4,
                order: [0, 1, 2],
            },
            gst_video::VideoFormat::Bgrx => Target::Packed {
                bpp: 4,
                order: [2, 1, 0],
            },
            gst_video::VideoFormat::I420 => Target::I420,
            gst_video::VideoFormat::Nv12 => Target::Nv12,
            other => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("unsupported format {}", other.to_str())
                );
                return Err(gst::FlowError::NotNegotiated);
            }
        };
        let colorimetry = info.colorimetry();
        let kr_kb = if colorimetry.matrix() == gst_video::VideoColorMatrix::Bt709 {
            (0.2126, 0.0722)
        } else {
            (0.299, 0.114)
        };
        let strides: Vec<usize> = frame
            .plane_stride()
            .iter()
            .map(|&s| s.max(0) as usize)
            .collect();
        let planes: Vec<&mut [u8]> = frame.planes_data_mut().into_iter().collect();
        let mut target_frame = FrameMut {
            target,
            width: w as usize,
            height: h as usize,
            planes,
            strides,
            kr_kb,
            limited: colorimetry.range() != gst_video::VideoColorRange::Range0_255,
        };
        draw::blend(&layer, &mut target_frame);
        gst::trace!(
            CAT,
            imp = self,
            "drew a {}x{} layer",
            layer.pixmap.width(),
            layer.pixmap.height()
        );
        Ok(gst::FlowSuccess::Ok)
    }
}

impl OverlayRender {
    /// Adds this frame's tracked positions to the paths and returns the paths to draw: the
    /// ball's (its tracked detection, shuttletrack's), and with `feet-trails` each tracked
    /// player's feet; a player not seen for `trail-length` frames is forgotten.
    fn trails(&self, buffer: &gst::BufferRef, s: &Settings) -> Vec<draw::Trail> {
        let len = s.trail_length as usize;
        let mut t = self.trails.lock().unwrap();
        t.frame += 1;
        let frame = t.frame;
        if len == 0 {
            return Vec::new();
        }
        let mut ball_class = None;
        if let Some(m) = buffer.meta::<DetectionsMeta>() {
            for d in m.detections() {
                let Some(id) = d.track_id else { continue };
                let b = d.bbox;
                if s.ball_labels.iter().any(|l| **l == *d.label) {
                    t.ball.push_back((b.x + b.w / 2.0, b.y + b.h / 2.0));
                    ball_class = Some(d.class_id);
                } else if s.feet_trails {
                    let e = t
                        .feet
                        .entry(id)
                        .or_insert((frame, d.class_id, VecDeque::new()));
                    e.0 = frame;
                    e.2.push_back((b.x + b.w / 2.0, b.y + b.h));
                    while e.2.len() > len {
                        e.2.pop_front();
                    }
                }
            }
        }
        if ball_class.is_none() {
            // No tracked ball in this frame: the path shortens until it is gone.
            t.ball.pop_front();
        }
        while t.ball.len() > len {
            t.ball.pop_front();
        }
        t.feet.retain(|_, e| frame - e.0 < len as u64);
        let mut out: Vec<draw::Trail> = t
            .feet
            .iter()
            .map(|(id, e)| draw::Trail {
                points: e.2.iter().copied().collect(),
                color: draw::class_color(*id as u32 + e.1),
            })
            .collect();
        out.push(draw::Trail {
            points: t.ball.iter().copied().collect(),
            color: draw::class_color(ball_class.unwrap_or(1)),
        });
        out
    }

    /// The court's lines through the court meta's homography, the mini-map and the last
    /// shot's speed, as the settings ask.
    fn court(&self, buffer: &gst::BufferRef, s: &Settings, w: f32, h: f32) -> draw::CourtDrawing {
        let mut out = draw::CourtDrawing::default();
        let meta = buffer.meta::<CourtMeta>();
        let court = meta.as_ref().map(|m| m.data());
        if let Some(c) = court {
            if let Some(speed) = c
                .events
                .iter()
                .rev()
                .find(|e| e.kind == EventKind::Hit)
                .and_then(|e| e.speed_kmh)
            {
                self.trails.lock().unwrap().last_shot = Some(speed);
            }
        }
        if s.shot_speed {
            if let Some(speed) = self.trails.lock().unwrap().last_shot {
                out.text
                    .push(((0.01 * w, 0.93 * h), format!("shot {speed:.0} km/h")));
            }
        }
        let Some(c) = court else { return out };
        let model = CourtModel::named(&c.sport).unwrap_or_else(CourtModel::badminton);
        // Lines and arcs as polylines of points 25 cm apart.
        let polylines: Vec<Vec<[f64; 2]>> = model
            .paths(0.25)
            .into_iter()
            .map(|path| path.into_iter().map(|(p, _)| p).collect())
            .collect();
        if s.draw_court {
            for line in &polylines {
                let pts: Vec<(f32, f32)> = line
                    .iter()
                    .filter_map(|p| c.to_image(*p))
                    .map(|q| (q[0] as f32, q[1] as f32))
                    .collect();
                if pts.len() > 1 {
                    out.lines.push(pts);
                }
            }
        }
        if s.minimap {
            // The far end at the top; as tall as a third of the frame, with a margin.
            let (hw, hl) = (model.width / 2.0 + 0.5, model.length / 2.0 + 0.5);
            let ph = h / 3.0;
            let pw = ph * (hw / hl) as f32;
            let (x0, y0) = (w - pw - 0.01 * w, 0.01 * h);
            let map = |p: [f64; 2]| -> (f32, f32) {
                (
                    x0 + ((p[0] + hw) / (2.0 * hw)) as f32 * pw,
                    y0 + ((hl - p[1]) / (2.0 * hl)) as f32 * ph,
                )
            };
            out.panel = Some([x0, y0, x0 + pw, y0 + ph]);
            out.map_lines = polylines
                .iter()
                .map(|l| l.iter().map(|p| map(*p)).collect())
                .collect();
            let r = (ph / 40.0).max(2.0);
            for p in &c.positions {
                out.dots.push((
                    map([p.xy[0] as f64, p.xy[1] as f64]),
                    r,
                    draw::class_color(p.track_id as u32 + p.class_id),
                ));
            }
            if let Some(b) = &c.shuttle {
                out.dots.push((
                    map([b.pos[0] as f64, b.pos[1] as f64]),
                    r * 0.6,
                    [255, 230, 0],
                ));
            }
        }
        out
    }

    fn hud_lines(&self, buffer: &gst::BufferRef) -> Vec<String> {
        let mut hud = self.hud.lock().unwrap();
        let now = Instant::now();
        if let Some(last) = hud.last {
            let dt = now.duration_since(last).as_secs_f64();
            if dt > 0.0 {
                hud.fps = if hud.fps == 0.0 {
                    1.0 / dt
                } else {
                    hud.fps * 0.9 + 0.1 / dt
                };
            }
        }
        hud.last = Some(now);
        hud.frames += 1;
        let dets = buffer.meta::<DetectionsMeta>().map_or(0, |m| m.len());
        let mut lines = vec![
            format!("frame {}  {:.1} fps", hud.frames, hud.fps),
            format!("detections {dets}"),
        ];
        if let Some(ingress) = buffer.meta::<TimingMeta>().and_then(|t| t.ingress()) {
            let ms = wall_clock_ns().saturating_sub(ingress) as f64 / 1e6;
            lines.push(format!("latency {ms:.1} ms"));
        }
        if let Some(m) = buffer.meta::<MotionMeta>() {
            let m = m.data();
            lines.push(format!("motion {:.1}  {:?}", m.score, m.decision));
        }
        lines
    }
}
