// SPDX-License-Identifier: MIT OR Apache-2.0
//! The pipelines the command runs, spelled as gst-launch descriptions of the courtvision
//! elements (the same chain as pipelines/common.sh): sources by URI, the analysis chain with
//! engines shared by name across every stream of the process, and the outputs.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

/// Where inference runs (the detectors' `execution-provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Device {
    Cpu,
    Cuda,
    /// CUDA where ONNX Runtime has it and a GPU answers, else the CPU.
    Auto,
}

impl Device {
    pub fn provider(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
            Device::Auto => "auto",
        }
    }
}

/// Options of the analysis shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct Analysis {
    /// Where inference runs.
    #[arg(long, value_enum, default_value = "auto")]
    pub device: Device,
    /// Detector model (players and shuttle) [default: courtvision-det.onnx of the models folder].
    #[arg(long, value_name = "ONNX")]
    pub det_model: Option<PathBuf>,
    /// Pose model (players with skeletons) [default: courtvision-pose.onnx of the models folder].
    #[arg(long, value_name = "ONNX")]
    pub pose_model: Option<PathBuf>,
    /// Detect the shuttle only, without the pose model.
    #[arg(long)]
    pub no_pose: bool,
}

/// The models folder: $COURTVISION_MODELS, else <prefix>/share/courtvision/models next to an
/// installed binary, else the source tree's models/.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("COURTVISION_MODELS") {
        return dir.into();
    }
    let installed = std::env::current_exe().ok().and_then(|exe| {
        let dir = exe.parent()?.parent()?.join("share/courtvision/models");
        dir.is_dir().then_some(dir)
    });
    installed.unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models")))
}

/// The model file a setting names (or the default of the models folder), made absolute.
pub fn model_path(given: &Option<PathBuf>, name: &str) -> Result<PathBuf, String> {
    let path = given.clone().unwrap_or_else(|| models_dir().join(name));
    if !path.is_file() {
        return Err(format!(
            "model {} not found (--det-model/--pose-model, or COURTVISION_MODELS)",
            path.display()
        ));
    }
    Ok(path.canonicalize().unwrap_or(path))
}

fn model(given: &Option<PathBuf>, name: &str) -> Result<String, String> {
    model_path(given, name).map(|p| gst_quote(&p.display().to_string()))
}

/// Quotes a value for a gst-launch description.
pub fn gst_quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// How a chain runs: files as fast as they decode, or a live source in real time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    File,
    /// Live: a queue of this many frames in front of the detectors (named `inqueue`: the live
    /// command makes it leaky once the source says it is live, so it bounds the lag by dropping
    /// the oldest frames; a file played in `live` loses none), and timingmeta warns past
    /// `max_lag_ms`. `min_skip` > 0 starts motionskip skipping at least that many frames in
    /// a row (the live policy's level).
    Live {
        queue: u32,
        max_lag_ms: u32,
        min_skip: u32,
    },
}

/// motionskip's `max-skip` for a `min-skip` the live policy asks for: its default (4), or more
/// where `min-skip` is higher (it may not pass `max-skip`).
pub fn max_skip(min_skip: u32) -> u32 {
    min_skip.max(4)
}

impl Analysis {
    /// Checks the models, so a bad path is one clear error before any stream starts.
    pub fn check(&self) -> Result<(), String> {
        model(&self.det_model, "courtvision-det.onnx")?;
        if !self.no_pose {
            model(&self.pose_model, "courtvision-pose.onnx")?;
        }
        Ok(())
    }

    /// The analysis chain from decoded video to annotated video with metadata: the elements
    /// are named (skip, det, pose, egress) so the command can read and steer them.
    pub fn chain(&self, pace: Pace) -> Result<String, String> {
        let provider = self.device.provider();
        let det = model(&self.det_model, "courtvision-det.onnx")?;
        // Files: interpolate skipped frames between inferred ones (exact, a few frames of
        // latency); live: hold the last results, one frame a batch (frames of several streams
        // still batch together in the shared engine).
        // Files: motionskip decides in the decoding thread and the queue feeds the detectors.
        // Live: the queue comes first, so the frames it drops are dropped before motionskip
        // decides which of the rest to infer.
        let skip = "motionskip name=skip mode=adaptive";
        let (front, fill, egress) = match pace {
            Pace::File => (
                format!("{skip} ! queue max-size-buffers=8"),
                "fill=interpolate".to_string(),
                "timingmeta name=egress mode=egress".to_string(),
            ),
            Pace::Live {
                queue,
                max_lag_ms,
                min_skip,
            } => (
                // Live streams keep to the lag-driven policy: every frame of a rally
                // (keep-flights) is more than a small CPU analyses in real time.
                format!(
                    "queue name=inqueue max-size-buffers={queue} max-size-bytes=0 max-size-time=0 \
                     ! {skip}{} keep-flights=false",
                    if min_skip > 0 {
                        format!(" min-skip={min_skip} max-skip={}", max_skip(min_skip))
                    } else {
                        String::new()
                    }
                ),
                "fill=hold batch-size=1".to_string(),
                format!("timingmeta name=egress mode=egress max-lag={max_lag_ms}"),
            ),
        };
        let mut c = format!(
            "videoconvert ! timingmeta mode=ingress ! {front} \
             ! yolodetect name=det model={det} classes=shuttle {fill} execution-provider={provider} \
             engine-name=courtvision-det-{provider}"
        );
        if !self.no_pose {
            let pose = model(&self.pose_model, "courtvision-pose.onnx")?;
            c += &format!(
                " ! posedetect name=pose model={pose} {fill} execution-provider={provider} \
                 engine-name=courtvision-pose-{provider}"
            );
        }
        c += &format!(" ! courtcalib name=court ! objecttrack name=players ! shuttletrack name=shuttle ! overlayrender hud=true ! {egress}");
        Ok(c)
    }
}

/// The source part for a URI: file:// through filesrc and decodebin (push mode, see below),
/// rtsp://, http(s):// through uridecodebin (only
/// the video stream is linked, an audio stream left unlinked), /dev/videoN and v4l2:// through v4l2src, and courtsrc://
/// (a rendered live match: courtsrc://?seed=7&players=4&width=640&height=360).
pub fn source(uri: &str, live: bool) -> Result<String, String> {
    if let Some(dev) = uri
        .strip_prefix("v4l2://")
        .or_else(|| uri.starts_with("/dev/video").then_some(uri))
    {
        let dev = if dev.is_empty() { "/dev/video0" } else { dev };
        return Ok(format!("v4l2src device={} ! decodebin", gst_quote(dev)));
    }
    if let Some(rest) = uri.strip_prefix("courtsrc://") {
        let mut props = Vec::new();
        let (mut w, mut h) = (1280u32, 720u32);
        for kv in rest
            .trim_start_matches('/')
            .trim_start_matches('?')
            .split('&')
        {
            if kv.is_empty() {
                continue;
            }
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("{uri}: expected key=value, got {kv}"))?;
            let size = |v: &str| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (16..=7680).contains(n))
                    .ok_or_else(|| format!("{uri}: {k} must be 16..7680"))
            };
            match k {
                "width" => w = size(v)?,
                "height" => h = size(v)?,
                "seed" | "players" | "sport" | "num-buffers" | "noise" => {
                    props.push(format!("{k}={}", gst_quote(v)))
                }
                _ => return Err(format!("{uri}: courtsrc has no setting {k}")),
            }
        }
        return Ok(format!(
            "courtsrc is-live={live} {} ! video/x-raw,width={w},height={h},framerate=30/1",
            props.join(" ")
        ));
    }
    let scheme = uri.split_once("://").map(|(s, _)| s).unwrap_or("");
    match scheme {
        // Files are read in push mode (the queue answers no pull): decodebin hides the errors
        // of an element it is bringing up until that element reaches PAUSED, and a demuxer in
        // pull mode starts its own thread there, which can fail (a truncated MP4) before
        // decodebin lifts the filter; the error is then dropped and the pipeline prerolls for
        // ever. In push mode the demuxer runs in the thread that brings it up, after the
        // filter is lifted, so its error always reaches the bus.
        "file" => {
            let path = gst::glib::filename_from_uri(uri)
                .map_err(|e| format!("{uri}: {e}"))?
                .0;
            Ok(format!(
                "filesrc location={} ! queue name=filequeue ! decodebin",
                gst_quote(&path.display().to_string())
            ))
        }
        "rtsp" | "rtsps" | "http" | "https" => Ok(format!("uridecodebin uri={}", gst_quote(uri))),
        _ => Err(format!(
            "{uri}: not a source courtvision reads (file://, rtsp://, http(s)://, /dev/videoN, \
             v4l2://DEVICE, courtsrc://)"
        )),
    }
}

/// A file URI for a path.
pub fn file_uri(path: &Path) -> Result<String, String> {
    let abs = path
        .canonicalize()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    gst::glib::filename_to_uri(&abs, None)
        .map(|u| u.to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The annotated MP4 output (H.264, the encoder and muxer of GStreamer's plugins).
pub fn mp4_output(path: &Path) -> String {
    format!(
        "videoconvert ! video/x-raw,format=I420 ! queue max-size-buffers=8 \
         ! x264enc speed-preset=veryfast ! mp4mux \
         ! filesink location={}",
        gst_quote(&path.display().to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_by_uri() {
        assert!(source("rtsp://127.0.0.1:8554/cam", true)
            .unwrap()
            .starts_with("uridecodebin uri=\"rtsp://127.0.0.1:8554/cam\""));
        assert!(source("/dev/video2", true)
            .unwrap()
            .starts_with("v4l2src device=\"/dev/video2\""));
        let c = source("courtsrc://?seed=7&players=2", true).unwrap();
        assert!(
            c.contains("seed=\"7\"") && c.contains("players=\"2\""),
            "{c}"
        );
        assert!(source("courtsrc://?bogus=1", true).is_err());
        let c = source("courtsrc://?width=320&height=180", true).unwrap();
        assert!(c.ends_with("width=320,height=180,framerate=30/1"), "{c}");
        assert!(source("courtsrc://?width=0", true).is_err());
        assert!(source("ftp://host/x.mp4", true)
            .unwrap_err()
            .contains("not a source"));
        assert!(source("match.mp4", false).is_err(), "a path is not a URI");
    }

    #[test]
    fn the_live_chain_starts_at_the_policy_level() {
        let a = Analysis {
            device: Device::Cpu,
            det_model: None,
            pose_model: None,
            no_pose: true,
        };
        let live = |min_skip| {
            a.chain(Pace::Live {
                queue: 8,
                max_lag_ms: 500,
                min_skip,
            })
            .unwrap()
        };
        assert!(live(6).contains("motionskip name=skip mode=adaptive min-skip=6 max-skip=6"));
        assert!(live(2).contains("min-skip=2 max-skip=4"));
        assert!(!live(0).contains("min-skip"));
        assert!(
            live(0).contains("keep-flights=false"),
            "the lag-driven policy alone"
        );
        assert!(
            live(0).find("inqueue") < live(0).find("motionskip"),
            "queue first"
        );
    }

    #[test]
    fn quoting_survives_spaces_and_quotes() {
        assert_eq!(gst_quote("a b\"c"), "\"a b\\\"c\"");
    }
}
