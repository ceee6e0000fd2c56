// SPDX-License-Identifier: MIT OR Apache-2.0
//! courtcalib: an in-place pass-through element that finds the court in the frame from its
//! painted lines (courtvision-analytics' `calib`: line pixels, Hough lines, model fitting,
//! sub-pixel refinement), estimates the camera (focal length and pose, principal point at the
//! frame's centre) and attaches a [`CourtMeta`] to every frame where a court is found: the
//! homography between the image and the court in metres, the camera, the court's keypoints in
//! the image and a confidence. Frames without a court get none.
//!
//! A view, once found, is kept: each frame only checks (about a hundred pixel reads) that the
//! court's lines are still where the estimate puts them. A sharp drop (a cut, the camera
//! turned) makes it look again, first near the old estimate, then anywhere; a slow one is
//! followed by refitting; every `refine-interval` frames the estimate is refitted anyway. With
//! no court in view it searches every `search-interval` frames. A new view posts a
//! `courtvision-court` element message (view, confidence, focal length); losing the court
//! posts one with `found=false`.

use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;

use courtvision_analytics::calib::{Calibration, CourtFinder, Gray, Luma, PackedRgb};
use courtvision_analytics::court::CourtModel;
use courtvision_analytics::geometry::Homography;
use courtvision_meta::{record_stage, wall_clock_ns, CameraInfo, CourtData, CourtMeta};

use super::CalibSport;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "courtcalib",
        gst::DebugColorFlags::empty(),
        Some("courtvision court and camera calibration"),
    )
});

#[derive(Debug, Clone)]
struct Settings {
    sport: CalibSport,
    search_interval: u32,
    refine_interval: u32,
    contrast: f64,
    /// A court estimate to try first (row-major homography as the court meta gives it).
    initial: Option<[f64; 9]>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sport: CalibSport::Badminton,
            search_interval: 15,
            refine_interval: 150,
            contrast: 25.0,
            initial: None,
        }
    }
}

/// How far (median over the court's keypoints, pixels) a refit may move an initial
/// homography's court: further, the camera has moved and the seed is not this view.
const SEED_MOVE_PX: f64 = 8.0;

/// The view being kept.
struct View {
    calib: Calibration,
    /// What every frame of the view carries, made when the estimate changes.
    meta: CourtData,
    /// Its check score when found (what later checks compare with).
    reference: f64,
    /// Consecutive checks well under the reference.
    weak: u32,
    since_refine: u32,
    id: u64,
}

struct State {
    finder: CourtFinder,
    settings: Settings,
    info: Option<gst_video::VideoInfo>,
    view: Option<View>,
    views: u64,
    since_search: u32,
    sport: Arc<str>,
    names: Vec<Arc<str>>,
}

#[derive(Default)]
pub struct CourtCalib {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for CourtCalib {
    const NAME: &'static str = "GstCourtCalib";
    type Type = super::CourtCalib;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for CourtCalib {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecEnum::builder::<CalibSport>("sport")
                    .nick("Sport")
                    .blurb("Which court to look for")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("search-interval")
                    .nick("Search interval")
                    .blurb("While no court is in view, look for one every this many frames")
                    .minimum(1)
                    .maximum(100_000)
                    .default_value(15)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("refine-interval")
                    .nick("Refine interval")
                    .blurb(
                        "Refit a kept view every this many frames (0 = only when its lines move)",
                    )
                    .maximum(100_000)
                    .default_value(150)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("contrast")
                    .nick("Contrast")
                    .blurb("Grey levels (0-255) a line must stand above the floor beside it")
                    .minimum(2.0)
                    .maximum(200.0)
                    .default_value(25.0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("initial-homography")
                    .nick("Initial homography")
                    .blurb("A court estimate of this camera from an earlier analysis (the court meta's homography, 9 comma-separated numbers, row-major): refined on the first frame instead of a full search, which runs only if it does not fit")
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "sport" => s.sport = value.get().expect("type checked upstream"),
            "search-interval" => s.search_interval = value.get().expect("type checked upstream"),
            "refine-interval" => s.refine_interval = value.get().expect("type checked upstream"),
            "contrast" => s.contrast = value.get().expect("type checked upstream"),
            "initial-homography" => {
                let text: Option<String> = value.get().expect("type checked upstream");
                s.initial = text.as_deref().and_then(|t| {
                    let v: Vec<f64> = t
                        .trim_matches(|c| c == '[' || c == ']')
                        .split(',')
                        .filter_map(|x| x.trim().parse().ok())
                        .collect();
                    let h: Option<[f64; 9]> = v.try_into().ok();
                    if h.is_none() && !t.trim().is_empty() {
                        gst::warning!(
                            CAT,
                            imp = self,
                            "initial-homography '{t}' is not 9 numbers: ignored"
                        );
                    }
                    h
                });
            }
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "sport" => s.sport.to_value(),
            "search-interval" => s.search_interval.to_value(),
            "refine-interval" => s.refine_interval.to_value(),
            "contrast" => s.contrast.to_value(),
            "initial-homography" => s
                .initial
                .map(|h| h.map(|v| v.to_string()).join(","))
                .to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for CourtCalib {}

impl ElementImpl for CourtCalib {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "courtvision court calibration",
                "Filter/Analyzer/Video",
                "Finds the court from its lines, estimates the camera, and attaches the image-to-court homography, camera and court keypoints as a court meta",
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

impl BaseTransformImpl for CourtCalib {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let model = match settings.sport {
            CalibSport::Badminton => CourtModel::badminton(),
            CalibSport::Netball => CourtModel::netball(),
        };
        let names = model
            .keypoints
            .iter()
            .map(|(n, _)| Arc::from(n.as_str()))
            .collect();
        let sport = Arc::from(model.name);
        let mut finder = CourtFinder::new(model);
        finder.contrast = settings.contrast;
        *self.state.lock().unwrap() = Some(State {
            finder,
            info: None,
            view: None,
            views: 0,
            since_search: u32::MAX,
            sport,
            names,
            settings,
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
        if let Some(s) = self.state.lock().unwrap().as_mut() {
            // Another frame size: the view is found again.
            if s.info
                .as_ref()
                .is_some_and(|i| (i.width(), i.height()) != (info.width(), info.height()))
            {
                s.view = None;
                s.since_search = u32::MAX;
            }
            s.info = Some(info);
        }
        self.parent_set_caps(incaps, outcaps)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let start = wall_clock_ns();
        let result = self.calibrate(buf);
        let name: Arc<str> = Arc::from(self.obj().name().as_str());
        record_stage(buf, &name, start, wall_clock_ns(), 1);
        result
    }
}

/// What changed about the view in a frame, for the bus.
enum Change {
    None,
    /// A new view: id, confidence, focal length, taken from `initial-homography`.
    Found(u64, f64, Option<f64>, bool),
    Lost(u64),
}

impl CourtCalib {
    fn calibrate(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut guard = self.state.lock().unwrap();
        let st = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let Some(info) = st.info.clone() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("no caps"));
            return Err(gst::FlowError::NotNegotiated);
        };
        let change = {
            let frame =
                gst_video::VideoFrameRef::from_buffer_ref_readable(buf, &info).map_err(|_| {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Failed,
                        ("cannot map the frame for reading")
                    );
                    gst::FlowError::Error
                })?;
            let (w, h) = (info.width() as usize, info.height() as usize);
            let stride = frame.plane_stride()[0] as usize;
            let data = frame.plane_data(0).map_err(|_| gst::FlowError::Error)?;
            use gst_video::VideoFormat as F;
            match info.format() {
                F::I420 | F::Nv12 => {
                    let img = Luma {
                        data,
                        width: w,
                        height: h,
                        stride,
                    };
                    st.step(&img, || img.data.to_vec(), stride)
                }
                f => {
                    let (bpp, rgb) = match f {
                        F::Rgb => (3, [0, 1, 2]),
                        F::Bgr => (3, [2, 1, 0]),
                        F::Rgba | F::Rgbx => (4, [0, 1, 2]),
                        _ => (4, [2, 1, 0]),
                    };
                    let img = PackedRgb {
                        data,
                        width: w,
                        height: h,
                        stride,
                        bpp,
                        rgb,
                    };
                    st.step(&img, || img.to_luma(), w)
                }
            }
        };
        if let Some(v) = &st.view {
            CourtMeta::add(buf, v.meta.clone());
        }
        drop(guard);
        match change {
            Change::None => {}
            Change::Found(view, confidence, focal, initial) => {
                gst::info!(
                    CAT,
                    imp = self,
                    "court found: view {view}, confidence {confidence:.2}, focal {focal:?}, from the initial homography: {initial}"
                );
                self.post(view, true, confidence, focal, initial);
            }
            Change::Lost(view) => {
                gst::info!(CAT, imp = self, "court lost (view {view})");
                self.post(view, false, 0.0, None, false);
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn post(&self, view: u64, found: bool, confidence: f64, focal: Option<f64>, initial: bool) {
        let mut s = gst::Structure::builder("courtvision-court")
            .field("view", view)
            .field("found", found)
            .field("confidence", confidence)
            .field("initial", initial)
            .build();
        if let Some(f) = focal {
            s.set("focal", f);
        }
        let _ = self
            .obj()
            .post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
    }
}

impl State {
    /// One frame: check the kept view, refit or look again as needed. `luma` gives the whole
    /// frame's luma (rows of `luma_stride` bytes) when a search needs it.
    fn step(
        &mut self,
        img: &impl Gray,
        luma: impl FnOnce() -> Vec<u8>,
        luma_stride: usize,
    ) -> Change {
        let search = |finder: &CourtFinder, luma: Vec<u8>| {
            let l = Luma {
                data: &luma,
                width: img.width(),
                height: img.height(),
                stride: luma_stride,
            };
            finder.find(&l)
        };
        if let Some(v) = self.view.as_mut() {
            let score = self.finder.score(img, &v.calib.homography);
            v.since_refine += 1;
            let sharp = score < 0.5 * v.reference;
            v.weak = if score < 0.8 * v.reference {
                v.weak + 1
            } else {
                0
            };
            let due = self.settings.refine_interval > 0
                && v.since_refine >= self.settings.refine_interval;
            if !(sharp || v.weak >= 3 || due) {
                return Change::None;
            }
            // Refit near the estimate: the same view moved a little.
            if let Some(c) = self.finder.track(img, &v.calib.homography) {
                let reference = self.finder.score(img, &c.homography);
                if !sharp || reference >= 0.8 * v.reference {
                    v.meta = court_data(&self.sport, &self.names, self.finder.model(), &c, v.id);
                    v.calib = c;
                    v.reference = reference;
                    v.weak = 0;
                    v.since_refine = 0;
                    return Change::None;
                }
            }
            if !sharp && v.weak < 3 {
                // A scheduled refit that did not hold: keep the view.
                v.since_refine = 0;
                return Change::None;
            }
            let old = v.id;
            match search(&self.finder, luma()) {
                Some(c) => self.found(img, c),
                None => {
                    self.view = None;
                    self.since_search = 0;
                    Change::Lost(old)
                }
            }
        } else {
            self.since_search = self.since_search.saturating_add(1);
            if self.since_search < self.settings.search_interval {
                return Change::None;
            }
            self.since_search = 0;
            // The camera's earlier court, once: a refit near it costs a fraction of a search.
            // Taken where the refit is accepted as a search's would be and the court stayed
            // where the seed put it (the camera has not moved), else searched for.
            if let Some(h) = self.settings.initial.take() {
                let h = Homography(nalgebra::Matrix3::from_row_slice(&h));
                let fit = self.finder.track(img, &h).filter(|c| {
                    let mut moved: Vec<f64> = self
                        .finder
                        .model()
                        .keypoints
                        .iter()
                        .filter_map(|(_, p)| Some((h.apply(*p)?, c.homography.apply(*p)?)))
                        .map(|(a, b)| (a[0] - b[0]).hypot(a[1] - b[1]))
                        .collect();
                    moved.sort_by(f64::total_cmp);
                    moved
                        .get(moved.len() / 2)
                        .is_some_and(|m| *m <= SEED_MOVE_PX)
                });
                if let Some(c) = fit {
                    return match self.found(img, c) {
                        Change::Found(v, conf, f, _) => Change::Found(v, conf, f, true),
                        other => other,
                    };
                }
            }
            match search(&self.finder, luma()) {
                Some(c) => self.found(img, c),
                None => Change::None,
            }
        }
    }

    fn found(&mut self, img: &impl Gray, c: Calibration) -> Change {
        self.views += 1;
        let reference = self.finder.score(img, &c.homography);
        let change = Change::Found(self.views, c.score, c.camera.map(|cam| cam.f), false);
        self.view = Some(View {
            meta: court_data(
                &self.sport,
                &self.names,
                self.finder.model(),
                &c,
                self.views,
            ),
            calib: c,
            reference,
            weak: 0,
            since_refine: 0,
            id: self.views,
        });
        change
    }
}

/// The court meta of a calibration.
fn court_data(
    sport: &Arc<str>,
    names: &[Arc<str>],
    model: &CourtModel,
    calib: &Calibration,
    view: u64,
) -> CourtData {
    let h = calib.homography.normalised().unwrap_or(calib.homography).0;
    let mut data = CourtData {
        sport: sport.clone(),
        homography: std::array::from_fn(|i| h[(i / 3, i % 3)]),
        camera: calib.camera.map(|c| CameraInfo {
            focal: c.f,
            principal: [c.cx, c.cy],
            position: c.position(),
            rotation: std::array::from_fn(|i| c.r[(i / 3, i % 3)]),
        }),
        confidence: calib.score as f32,
        view,
        ..Default::default()
    };
    data.place_keypoints(
        names
            .iter()
            .zip(&model.keypoints)
            .map(|(n, (_, p))| (n, *p)),
    );
    data
}
