// SPDX-License-Identifier: MIT OR Apache-2.0
//! metaexport: a pass-through element that writes one JSON object per frame (JSON Lines) to a
//! file or stdout: frame number, timestamp, players with keypoints, the ball/shuttle position and
//! every detection (schema: courtvision_meta::ExportRecord, documented in the README). Buffers
//! pass untouched; the file is flushed at EOS and when the element stops.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use courtvision_meta::{export_json, CourtMeta, Roles};

use super::summary::Summary;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "metaexport",
        gst::DebugColorFlags::empty(),
        Some("courtvision JSON Lines export"),
    )
});

const DEFAULT_LOCATION: &str = "-";

#[derive(Debug, Clone)]
struct Settings {
    location: String,
    append: bool,
    player_labels: String,
    ball_labels: String,
    summary_location: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        let roles = Roles::default();
        Settings {
            location: DEFAULT_LOCATION.into(),
            append: false,
            player_labels: roles.players.join(","),
            ball_labels: roles.balls.join(","),
            summary_location: None,
        }
    }
}

struct State {
    out: Box<dyn Write + Send>,
    roles: Roles,
    frame: u64,
    size: (u32, u32),
    summary: Summary,
}

#[derive(Default)]
pub struct MetaExport {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

impl MetaExport {
    /// The match summary, at the end of the stream, where `summary-location` asks for it.
    fn write_summary(&self) {
        let Some(path) = self.settings.lock().unwrap().summary_location.clone() else {
            return;
        };
        let Some(json) = self.state.lock().unwrap().as_mut().map(|s| {
            s.summary.schema = courtvision_meta::SCHEMA_VERSION;
            serde_json::to_string_pretty(&s.summary).expect("summary serializes")
        }) else {
            return;
        };
        if let Err(e) = std::fs::write(&path, json + "\n") {
            gst::element_imp_error!(
                self,
                gst::ResourceError::Write,
                ("cannot write the summary to {}: {}", path, e)
            );
        }
    }

    fn flush(&self) -> Result<(), std::io::Error> {
        match self.state.lock().unwrap().as_mut() {
            Some(s) => s.out.flush(),
            None => Ok(()),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for MetaExport {
    const NAME: &'static str = "GstMetaExport";
    type Type = super::MetaExport;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for MetaExport {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut props = vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb("File to write JSON Lines to ('-' = standard output)")
                    .default_value(Some(DEFAULT_LOCATION))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("append")
                    .nick("Append")
                    .blurb("Append to the file instead of replacing it (a stream that is restarted goes on in one file)")
                    .default_value(false)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("summary-location")
                    .nick("Summary location")
                    .blurb("At the end of the stream, write the match summary here as JSON: rallies, shots, the fastest shot, distance per player (from the court elements' meta)")
                    .mutable_ready()
                    .build(),
            ];
            props.extend(crate::role_properties());
            props
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        gst::info!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
        let mut s = self.settings.lock().unwrap();
        if pspec.name() == "append" {
            s.append = value.get().expect("type checked upstream");
            return;
        }
        let v: String = value
            .get::<Option<String>>()
            .expect("type checked upstream")
            .unwrap_or_default();
        match pspec.name() {
            "location" => {
                s.location = if v.is_empty() {
                    DEFAULT_LOCATION.into()
                } else {
                    v
                }
            }
            "player-labels" => s.player_labels = v,
            "summary-location" => s.summary_location = Some(v).filter(|v| !v.is_empty()),
            "ball-labels" => s.ball_labels = v,
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "location" => s.location.to_value(),
            "append" => s.append.to_value(),
            "player-labels" => s.player_labels.to_value(),
            "ball-labels" => s.ball_labels.to_value(),
            "summary-location" => s.summary_location.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for MetaExport {}

impl ElementImpl for MetaExport {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "courtvision metadata export",
                "Filter/Analyzer/Video",
                "Writes each frame's detections, keypoints and ball position as JSON Lines",
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

impl BaseTransformImpl for MetaExport {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings.lock().unwrap().clone();
        let out: Box<dyn Write + Send> = if s.location == "-" {
            Box::new(std::io::stdout())
        } else {
            let f = File::options()
                .write(true)
                .create(true)
                .append(s.append)
                .truncate(!s.append)
                .open(&s.location)
                .map_err(|e| {
                    gst::error_msg!(
                        gst::ResourceError::OpenWrite,
                        ("cannot write {}: {}", s.location, e)
                    )
                })?;
            Box::new(BufWriter::new(f))
        };
        let roles = crate::roles(&s.player_labels, &s.ball_labels);
        *self.state.lock().unwrap() = Some(State {
            out,
            roles,
            frame: 0,
            size: (0, 0),
            summary: Summary::default(),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        let result = self.flush();
        *self.state.lock().unwrap() = None;
        result.map_err(|e| gst::error_msg!(gst::ResourceError::Write, ("cannot write: {}", e)))
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        gst::debug!(CAT, imp = self, "caps {incaps}");
        let size = gst_video::VideoInfo::from_caps(incaps)
            .map(|i| (i.width(), i.height()))
            .unwrap_or((0, 0));
        if let Some(s) = self.state.lock().unwrap().as_mut() {
            s.size = size;
        }
        self.parent_set_caps(incaps, outcaps)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if event.type_() == gst::EventType::Eos {
            if let Err(e) = self.flush() {
                gst::element_imp_error!(self, gst::ResourceError::Write, ("cannot write: {}", e));
            }
            self.write_summary();
        }
        self.parent_sink_event(event)
    }

    fn transform_ip_passthrough(
        &self,
        buf: &gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut guard = self.state.lock().unwrap();
        let s = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let line = export_json(buf, s.frame, s.size.0, s.size.1, &s.roles);
        s.summary.add(
            buf.pts().map(|t| t.nseconds() as f64 / 1e9),
            buf.meta::<CourtMeta>().as_ref().map(|m| m.data()),
        );
        s.frame += 1;
        if let Err(e) = writeln!(s.out, "{line}") {
            gst::error!(CAT, imp = self, "write failed: {e}");
            gst::element_imp_error!(self, gst::ResourceError::Write, ("cannot write: {}", e));
            return Err(gst::FlowError::Error);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
