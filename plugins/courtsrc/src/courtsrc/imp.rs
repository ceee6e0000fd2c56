// SPDX-License-Identifier: MIT OR Apache-2.0
//! courtsrc: renders a badminton (or netball) match the way videotestsrc renders test patterns,
//! so that the project has video with known content without downloading any: a court under a
//! perspective camera, two to four articulated players (17 COCO keypoints) that run, lunge,
//! jump and swing, a shuttle in flight with motion blur, lighting drift and sensor noise. Each
//! buffer carries the ground truth (players with keypoints, shuttle) as a courtvision
//! GroundTruthMeta, and `dataset-dir` writes the frames as YOLO detection and pose datasets.
//! Deterministic: the same seed, size and framerate give the same frames and ground truth.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;

use courtvision_analytics::court::CourtModel;
use courtvision_analytics::geometry;
use courtvision_meta::{
    BBox, CameraInfo, CourtData, CourtEvent, CourtPosition, CourtTruthMeta, Detection,
    DetectionList, EventKind, GroundTruthMeta, Keypoint, Shuttle3d,
};
use glam::Vec2;
use nalgebra::{Matrix3, Vector3};

use super::dataset::DatasetWriter;
use super::render::{write_frame, Layout, Renderer, Truth};
use super::scene::{Camera, CameraSetup, Scene, SceneEvent, Sport, L_ANKLE, R_ANKLE};
use super::SportKind;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "courtsrc",
        gst::DebugColorFlags::empty(),
        Some("courtvision synthetic match source"),
    )
});

const FORMATS: [gst_video::VideoFormat; 6] = [
    gst_video::VideoFormat::Rgbx,
    gst_video::VideoFormat::Bgrx,
    gst_video::VideoFormat::Rgba,
    gst_video::VideoFormat::Bgra,
    gst_video::VideoFormat::Rgb,
    gst_video::VideoFormat::Bgr,
];

#[derive(Debug, Clone)]
struct Settings {
    seed: u64,
    sport: SportKind,
    players: u32,
    noise: u32,
    lighting: f64,
    motion_blur: bool,
    ground_truth: bool,
    dataset_dir: Option<String>,
    dataset_interval: u32,
    is_live: bool,
    camera: Option<gst::Structure>,
    camera_interval: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: 0,
            sport: SportKind::Badminton,
            players: 2,
            noise: 6,
            lighting: 0.08,
            motion_blur: true,
            ground_truth: true,
            dataset_dir: None,
            dataset_interval: 1,
            is_live: false,
            camera: None,
            camera_interval: 0.0,
        }
    }
}

struct Stream {
    info: gst_video::VideoInfo,
    layout: Layout,
    scene: Scene,
    renderer: Renderer,
    settings: Settings,
    dataset: Option<DatasetWriter>,
    rgb: Vec<u8>,
    /// Frames given since start (offsets and noise keep counting over caps changes).
    frame: u64,
    /// Timestamp and frame count at the last caps change: timestamps go on from where the
    /// previous caps left them, in the same segment, at the new frame rate.
    base: (gst::ClockTime, u64),
    source: Arc<str>,
    player: Arc<str>,
    ball: Arc<str>,
    setup: CameraSetup,
    /// The camera shot (0 the first; a cut every camera-interval seconds).
    cut: u64,
    court: CourtModel,
    sport_name: Arc<str>,
    keypoint_names: Vec<Arc<str>>,
    /// Distance each player has covered, metres, and where it was last frame.
    covered: Vec<(u64, f32, Vec2)>,
    /// Counts shots (flights) and rallies for the ground truth.
    flights: u64,
    rallies: u64,
}

impl Stream {
    /// Timestamp of frame `n` (counted from start) at the current frame rate.
    fn pts(&self, n: u64) -> gst::ClockTime {
        let fps = self.info.fps();
        let (num, den) = (fps.numer() as u64, fps.denom() as u64);
        self.base.0
            + gst::ClockTime::SECOND
                .mul_div_floor((n - self.base.1) * den, num)
                .unwrap_or(gst::ClockTime::ZERO)
    }
}

#[derive(Default)]
pub struct CourtSrc {
    settings: Mutex<Settings>,
    stream: Mutex<Option<Stream>>,
}

#[glib::object_subclass]
impl ObjectSubclass for CourtSrc {
    const NAME: &'static str = "GstCourtSrc";
    type Type = super::CourtSrc;
    type ParentType = gst_base::PushSrc;
}

impl ObjectImpl for CourtSrc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt64::builder("seed")
                    .nick("Seed")
                    .blurb("Match to render: the same seed, size and framerate give the same frames and ground truth")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder::<SportKind>("sport")
                    .nick("Sport")
                    .blurb("Court and ball")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("players")
                    .nick("Players")
                    .blurb("Players on court: badminton 2 (singles) to 4 (doubles), netball 2 to 14 (7 a side, each team in one kit)")
                    .minimum(2)
                    .maximum(14)
                    .default_value(2)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("noise")
                    .nick("Noise")
                    .blurb("Sensor noise amplitude in 8-bit levels (0 = clean)")
                    .maximum(64)
                    .default_value(6)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("lighting")
                    .nick("Lighting")
                    .blurb("Amplitude of the hall lights' brightness drift and flicker (0 = steady)")
                    .minimum(0.0)
                    .maximum(0.5)
                    .default_value(0.08)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("motion-blur")
                    .nick("Motion blur")
                    .blurb("Smear the shuttle over half a frame interval (a 180-degree shutter)")
                    .default_value(true)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("ground-truth")
                    .nick("Ground truth")
                    .blurb("Attach what is in each frame as a courtvision GroundTruthMeta")
                    .default_value(true)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("dataset-dir")
                    .nick("Dataset directory")
                    .blurb("Write frames and labels here as YOLO detection (detect/, detect.yaml) and pose (pose/, pose.yaml) datasets")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("dataset-interval")
                    .nick("Dataset interval")
                    .blurb("Write every n-th frame to dataset-dir (neighbouring frames are near copies)")
                    .minimum(1)
                    .maximum(100_000)
                    .default_value(1)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("camera")
                    .nick("Camera")
                    .blurb("Where the camera stands, as a structure with any of height, distance (behind the near baseline), offset (across), aim (along, from the net), all metres, and zoom (share of the focal length that fits the court, 0.2-1); unset fields vary with the seed. E.g. \"camera, height=5.0, distance=4.0\"")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("camera-interval")
                    .nick("Camera interval")
                    .blurb("Cut to another camera (seeded, as the camera property leaves it) every this many seconds (0 = one camera)")
                    .minimum(0.0)
                    .maximum(3600.0)
                    .default_value(0.0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("is-live")
                    .nick("Is live")
                    .blurb("Act as a live source: frames are produced at the framerate, on the clock")
                    .default_value(false)
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
            "seed" => s.seed = value.get().expect("type checked upstream"),
            "sport" => s.sport = value.get().expect("type checked upstream"),
            "players" => s.players = value.get().expect("type checked upstream"),
            "noise" => s.noise = value.get().expect("type checked upstream"),
            "lighting" => s.lighting = value.get().expect("type checked upstream"),
            "motion-blur" => s.motion_blur = value.get().expect("type checked upstream"),
            "ground-truth" => s.ground_truth = value.get().expect("type checked upstream"),
            "dataset-dir" => {
                s.dataset_dir = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .filter(|d| !d.is_empty())
            }
            "dataset-interval" => s.dataset_interval = value.get().expect("type checked upstream"),
            "camera" => s.camera = value.get().expect("type checked upstream"),
            "camera-interval" => s.camera_interval = value.get().expect("type checked upstream"),
            "is-live" => {
                s.is_live = value.get().expect("type checked upstream");
                let live = s.is_live;
                drop(s);
                self.obj().set_live(live);
            }
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "seed" => s.seed.to_value(),
            "sport" => s.sport.to_value(),
            "players" => s.players.to_value(),
            "noise" => s.noise.to_value(),
            "lighting" => s.lighting.to_value(),
            "motion-blur" => s.motion_blur.to_value(),
            "ground-truth" => s.ground_truth.to_value(),
            "dataset-dir" => s.dataset_dir.to_value(),
            "dataset-interval" => s.dataset_interval.to_value(),
            "is-live" => s.is_live.to_value(),
            "camera" => s.camera.to_value(),
            "camera-interval" => s.camera_interval.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.set_format(gst::Format::Time);
        obj.set_live(false);
    }
}

impl GstObjectImpl for CourtSrc {}

impl ElementImpl for CourtSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Court match source",
                "Source/Video",
                "Renders a synthetic badminton/netball match (perspective court, articulated players with 17 keypoints, shuttle with motion blur) with ground-truth metadata and optional YOLO dataset export",
                "courtvision developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list(FORMATS)
                .width_range(64..=7680)
                .height_range(64..=4320)
                .framerate_range(gst::Fraction::new(1, 1)..=gst::Fraction::new(240, 1))
                .build();
            vec![gst::PadTemplate::new(
                "src",
                gst::PadDirection::Src,
                gst::PadPresence::Always,
                &caps,
            )
            .expect("valid template")]
        });
        TEMPLATES.as_ref()
    }
}

fn layout(format: gst_video::VideoFormat) -> Option<Layout> {
    use gst_video::VideoFormat as F;
    // The x of RGBx/BGRx is written too (255, like alpha): a frame has no uninitialised byte.
    let (r, g, b, alpha, bpp) = match format {
        F::Rgbx => (0, 1, 2, Some(3), 4),
        F::Rgba => (0, 1, 2, Some(3), 4),
        F::Bgrx => (2, 1, 0, Some(3), 4),
        F::Bgra => (2, 1, 0, Some(3), 4),
        F::Rgb => (0, 1, 2, None, 3),
        F::Bgr => (2, 1, 0, None, 3),
        _ => return None,
    };
    Some(Layout {
        r,
        g,
        b,
        alpha,
        bpp,
    })
}

const RGB: Layout = Layout {
    r: 0,
    g: 1,
    b: 2,
    alpha: None,
    bpp: 3,
};

impl BaseSrcImpl for CourtSrc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        *self.stream.lock().unwrap() = None;
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.stream.lock().unwrap() = None;
        Ok(())
    }

    fn fixate(&self, mut caps: gst::Caps) -> gst::Caps {
        caps.truncate();
        {
            let caps = caps.make_mut();
            if let Some(s) = caps.structure_mut(0) {
                s.fixate_field_nearest_int("width", 1280);
                s.fixate_field_nearest_int("height", 720);
                s.fixate_field_nearest_fraction("framerate", gst::Fraction::new(30, 1));
            }
        }
        self.parent_fixate(caps)
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        gst::debug!(CAT, imp = self, "caps {caps}");
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|_| gst::loggable_error!(CAT, "invalid caps {caps}"))?;
        let layout = layout(info.format())
            .ok_or_else(|| gst::loggable_error!(CAT, "unsupported format {:?}", info.format()))?;
        if info.fps().numer() <= 0 {
            return Err(gst::loggable_error!(
                CAT,
                "courtsrc needs a fixed framerate"
            ));
        }
        let settings = self.settings.lock().unwrap().clone();
        let sport = settings.sport.into();
        let most = Scene::max_players(sport);
        if settings.players as usize > most {
            gst::element_imp_error!(
                self,
                gst::LibraryError::Settings,
                (
                    "{:?} takes at most {most} players, not {}",
                    settings.sport,
                    settings.players
                )
            );
            return Err(gst::loggable_error!(CAT, "too many players"));
        }
        let setup = match camera_setup(settings.camera.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                gst::element_imp_error!(self, gst::LibraryError::Settings, ("camera: {e}"));
                return Err(gst::loggable_error!(CAT, "camera: {e}"));
            }
        };
        let scene = Scene::new(
            sport,
            settings.players as usize,
            settings.seed,
            info.width(),
            info.height(),
            setup,
        );
        let court = match sport {
            Sport::Badminton => CourtModel::badminton(),
            Sport::Netball => CourtModel::netball(),
        };
        let renderer = Renderer::new(&scene, info.width(), info.height());
        let dataset = match &settings.dataset_dir {
            Some(dir) => match DatasetWriter::create(
                &PathBuf::from(dir),
                settings.seed,
                scene.sport.ball_label(),
            ) {
                Ok(w) => Some(w),
                Err(e) => {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::OpenWrite,
                        ("cannot create dataset-dir {dir}: {e}")
                    );
                    return Err(gst::loggable_error!(CAT, "dataset-dir {dir}: {e}"));
                }
            },
            None => None,
        };
        gst::info!(
            CAT,
            imp = self,
            "rendering {}x{} seed {} ({} players, {:?})",
            info.width(),
            info.height(),
            settings.seed,
            settings.players,
            settings.sport
        );
        let (w, h) = (info.width() as usize, info.height() as usize);
        let mut stream = self.stream.lock().unwrap();
        // A renegotiation mid-stream: carry on from the end of the last frame given.
        let (frame, base) = stream.as_ref().map_or((0, (gst::ClockTime::ZERO, 0)), |s| {
            (s.frame, (s.pts(s.frame), s.frame))
        });
        *stream = Some(Stream {
            layout,
            rgb: if dataset.is_some() {
                vec![0; w * h * 3]
            } else {
                Vec::new()
            },
            scene,
            renderer,
            dataset,
            frame,
            base,
            source: Arc::from(self.obj().name().as_str()),
            player: Arc::from("player"),
            ball: Arc::from(sport.ball_label()),
            setup,
            cut: 0,
            sport_name: Arc::from(court.name),
            keypoint_names: court
                .keypoints
                .iter()
                .map(|(n, _)| Arc::from(n.as_str()))
                .collect(),
            court,
            covered: Vec::new(),
            flights: 0,
            rallies: 0,
            info,
            settings,
        });
        Ok(())
    }

    fn is_seekable(&self) -> bool {
        false
    }

    fn times(&self, buffer: &gst::BufferRef) -> (Option<gst::ClockTime>, Option<gst::ClockTime>) {
        if self.obj().is_live() {
            let pts = buffer.pts();
            (pts, pts.zip(buffer.duration()).map(|(p, d)| p + d))
        } else {
            (None, None)
        }
    }
}

/// The ground truth's identity of the shuttle (ball); players are 1, 2, ... (at most 14).
pub const BALL_ID: u64 = 100;

/// The ground truth as courtvision detections: class 0 player (17 keypoints, score 1 inside the
/// frame, 0 outside; `track_id` the player's identity for the match), class 1 shuttle/ball
/// (`track_id` [`BALL_ID`]); confidence 1.
fn truth_list(truth: &Truth, s: &Stream) -> DetectionList {
    let mut list = DetectionList::default();
    list.reserve(truth.players.len() + 1, 17);
    for p in &truth.players {
        let mut det = Detection::new(
            0,
            s.player.clone(),
            1.0,
            BBox::from_corners(p.bbox),
            s.source.clone(),
        );
        det.track_id = Some(p.id);
        let k: Vec<Keypoint> = p
            .kpts
            .iter()
            .map(|&(x, y, v)| Keypoint {
                x,
                y,
                score: if v { 1.0 } else { 0.0 },
            })
            .collect();
        list.push(det, &k);
    }
    if let Some(b) = &truth.ball {
        let mut det = Detection::new(
            1,
            s.ball.clone(),
            1.0,
            BBox::from_corners(*b),
            s.source.clone(),
        );
        det.track_id = Some(BALL_ID);
        list.push(det, &[]);
    }
    list
}

/// The camera property's fields.
fn camera_setup(s: Option<&gst::Structure>) -> Result<CameraSetup, String> {
    let Some(s) = s else {
        return Ok(CameraSetup::default());
    };
    let field = |name: &str| -> Result<Option<f32>, String> {
        if !s.has_field(name) {
            return Ok(None);
        }
        let v = s
            .value(name)
            .map_err(|e| e.to_string())?
            .transform::<f64>()
            .map_err(|_| format!("{name} is not a number"))?
            .get::<f64>()
            .map_err(|e| e.to_string())?;
        Ok(Some(v as f32))
    };
    for (name, _) in s.iter() {
        if !["height", "distance", "offset", "aim", "zoom"].contains(&name.as_str()) {
            return Err(format!(
                "unknown field {name} (height, distance, offset, aim, zoom)"
            ));
        }
    }
    let setup = CameraSetup {
        height: field("height")?,
        distance: field("distance")?,
        offset: field("offset")?,
        aim: field("aim")?,
        zoom: field("zoom")?,
    };
    if setup.height.is_some_and(|h| !(0.5..=40.0).contains(&h)) {
        return Err("height must be 0.5-40 m".into());
    }
    if setup.distance.is_some_and(|d| !(0.0..=60.0).contains(&d)) {
        return Err("distance must be 0-60 m".into());
    }
    if setup.zoom.is_some_and(|z| !(0.2..=1.0).contains(&z)) {
        return Err("zoom must be 0.2-1".into());
    }
    Ok(setup)
}

/// The court as built: the camera and its homography, the court's keypoints in the image,
/// the players' feet points, the shuttle in 3D and this frame's events.
fn court_truth(s: &mut Stream, events: &[SceneEvent], pts: gst::ClockTime) -> CourtData {
    let cam = &s.scene.camera;
    let rotation = cam
        .rotation()
        .map(|r| [r.x as f64, r.y as f64, r.z as f64])
        .concat();
    let r = Matrix3::from_row_slice(&rotation);
    let position = [cam.pos.x as f64, cam.pos.y as f64, cam.pos.z as f64];
    let centre = cam.centre();
    let camera = geometry::Camera {
        f: cam.f as f64,
        cx: centre.x as f64,
        cy: centre.y as f64,
        r,
        t: -(r * Vector3::from(position)),
    };
    let h = camera.homography();
    let h = h.normalised().unwrap_or(h).0;
    let mut data = CourtData {
        sport: s.sport_name.clone(),
        homography: std::array::from_fn(|i| h[(i / 3, i % 3)]),
        camera: Some(CameraInfo {
            focal: camera.f,
            principal: [camera.cx, camera.cy],
            position,
            rotation: rotation.try_into().expect("nine entries"),
        }),
        confidence: 1.0,
        view: s.cut + 1,
        ..Default::default()
    };
    data.place_keypoints(
        s.keypoint_names
            .iter()
            .zip(&s.court.keypoints)
            .map(|(n, (_, p))| (n, *p)),
    );
    let fps = s.info.fps();
    let dt = fps.denom() as f32 / fps.numer() as f32;
    for p in &s.scene.players {
        let body = p.body(s.scene.t);
        let feet = ((body.kpts[L_ANKLE] + body.kpts[R_ANKLE]) / 2.0).truncate();
        let entry = match s.covered.iter_mut().find(|e| e.0 == p.id) {
            Some(e) => e,
            None => {
                s.covered.push((p.id, 0.0, feet));
                s.covered.last_mut().expect("just pushed")
            }
        };
        let step = feet.distance(entry.2);
        entry.1 += step;
        entry.2 = feet;
        data.positions.push(CourtPosition {
            track_id: p.id,
            class_id: 0,
            xy: feet.to_array(),
            speed: step / dt,
            distance: entry.1,
        });
    }
    for e in events {
        match *e {
            SceneEvent::Hit {
                id,
                pos,
                speed,
                serve,
            } => {
                s.flights += 1;
                if serve {
                    s.rallies += 1;
                    data.events.push(CourtEvent {
                        kind: EventKind::RallyStart,
                        pts: Some(pts.nseconds()),
                        track_id: Some(id),
                        pos: Some(pos.to_array()),
                        speed_kmh: None,
                        inside: None,
                        rally: Some(s.rallies),
                    });
                }
                data.events.push(CourtEvent {
                    kind: EventKind::Hit,
                    pts: Some(pts.nseconds()),
                    track_id: Some(id),
                    pos: Some(pos.to_array()),
                    speed_kmh: Some(speed * 3.6),
                    inside: None,
                    rally: Some(s.rallies),
                });
            }
            SceneEvent::Landing { pos } => {
                let inside = s.court.contains([pos.x as f64, pos.y as f64]);
                for kind in [EventKind::Landing, EventKind::RallyEnd] {
                    data.events.push(CourtEvent {
                        kind,
                        pts: Some(pts.nseconds()),
                        track_id: None,
                        pos: Some(pos.to_array()),
                        speed_kmh: None,
                        inside: (kind == EventKind::Landing).then_some(inside),
                        rally: Some(s.rallies),
                    });
                }
            }
        }
    }
    if s.scene.sport == Sport::Badminton {
        let pos = s.scene.shuttle_at(s.scene.t).pos;
        let vel = s.scene.shuttle_velocity();
        data.shuttle = Some(Shuttle3d {
            flight: s.flights,
            pos: pos.to_array(),
            vel: vel.to_array(),
            speed_kmh: vel.length() * 3.6,
        });
    }
    data
}

impl PushSrcImpl for CourtSrc {
    fn create(
        &self,
        _buffer: Option<&mut gst::BufferRef>,
    ) -> Result<CreateSuccess, gst::FlowError> {
        let mut guard = self.stream.lock().unwrap();
        let Some(s) = guard.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("no caps negotiated"));
            return Err(gst::FlowError::NotNegotiated);
        };
        let fps = s.info.fps();
        let (num, den) = (fps.numer() as u64, fps.denom() as u64);
        let n = s.frame;
        if n > s.base.1 {
            s.scene.step(den as f32 / num as f32);
        }
        if s.settings.camera_interval > 0.0 {
            let cut = (s.scene.t as f64 / s.settings.camera_interval).floor() as u64;
            if cut != s.cut {
                s.cut = cut;
                let (w, h) = (s.info.width(), s.info.height());
                s.scene.camera = Camera::seeded(s.scene.sport, w, h, s.setup, s.settings.seed, cut);
                s.renderer = Renderer::new(&s.scene, w, h);
                gst::debug!(CAT, imp = self, "camera cut {cut} at {:.2} s", s.scene.t);
            }
        }
        let events = s.scene.take_events();
        let exposure = if s.settings.motion_blur {
            0.5 * den as f32 / num as f32
        } else {
            0.0
        };
        let truth = s.renderer.render(&s.scene, exposure);
        let gain = s.scene.light(s.settings.lighting as f32);
        let noise_seed = s.settings.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ n;
        let (w, h) = (s.info.width(), s.info.height());
        let mut buffer =
            gst::Buffer::with_size(s.info.size()).map_err(|_| gst::FlowError::Error)?;
        {
            let buf = buffer.get_mut().expect("new buffer is writable");
            let (pts, next) = (s.pts(n), s.pts(n + 1));
            buf.set_pts(pts);
            buf.set_duration(next - pts);
            buf.set_offset(n);
            buf.set_offset_end(n + 1);
            {
                let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &s.info)
                    .map_err(|_| gst::FlowError::Error)?;
                let stride = frame.plane_stride()[0] as usize;
                let data = frame.plane_data_mut(0).map_err(|_| gst::FlowError::Error)?;
                write_frame(
                    s.renderer.rgba(),
                    w as usize,
                    data,
                    stride,
                    s.layout,
                    gain,
                    s.settings.noise,
                    noise_seed,
                );
            }
            if s.settings.ground_truth {
                GroundTruthMeta::add(buf, truth_list(&truth, s));
                let court = court_truth(s, &events, pts);
                CourtTruthMeta::add(buf, court);
            }
        }
        if let Some(writer) = &s.dataset {
            if n % s.settings.dataset_interval as u64 == 0 {
                write_frame(
                    s.renderer.rgba(),
                    w as usize,
                    &mut s.rgb,
                    w as usize * 3,
                    RGB,
                    gain,
                    s.settings.noise,
                    noise_seed,
                );
                if let Err(e) = writer.write(n, &s.rgb, w, h, &truth) {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Write,
                        ("writing frame {n} to dataset-dir: {e}")
                    );
                    return Err(gst::FlowError::Error);
                }
            }
        }
        s.frame += 1;
        Ok(CreateSuccess::NewBuffer(buffer))
    }
}
