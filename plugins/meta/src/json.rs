// SPDX-License-Identifier: MIT OR Apache-2.0
//! One JSON object per frame: the stable, documented serialization of a buffer's metadata.

use serde::Serialize;

use crate::{
    CourtData, CourtMeta, CourtTruthMeta, Detection, DetectionsMeta, GroundTruthMeta, Keypoint,
    MotionData, MotionMeta, TimingData, TimingMeta,
};

/// Schema version of [`FrameRecord`]; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// One detection as serialized: the [`Detection`] fields plus its keypoints.
#[derive(Debug, Serialize)]
pub struct DetectionRecord<'a> {
    #[serde(flatten)]
    pub detection: &'a Detection,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub keypoints: &'a [Keypoint],
}

/// A frame's metadata as serialized.
#[derive(Debug, Serialize)]
pub struct FrameRecord<'a> {
    pub schema: u32,
    /// Frame number (the buffer offset) where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    /// Presentation timestamp in nanoseconds, where known.
    pub pts: Option<u64>,
    pub duration: Option<u64>,
    pub width: u32,
    pub height: u32,
    pub detections: Vec<DetectionRecord<'a>>,
    /// What a synthetic source knows is in the frame (courtsrc), where attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<Vec<DetectionRecord<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motion: Option<MotionData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<&'a TimingData>,
    /// The court as estimated (courtcalib and the elements after it), where found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub court: Option<&'a CourtData>,
    /// The court as a synthetic source built it (courtsrc), where attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ground_truth_court: Option<&'a CourtData>,
}

fn records<'a>(
    list: impl Iterator<Item = (&'a Detection, &'a [Keypoint])>,
) -> Vec<DetectionRecord<'a>> {
    list.map(|(detection, keypoints)| DetectionRecord {
        detection,
        keypoints,
    })
    .collect()
}

/// Serializes a buffer's metadata as one JSON object (one line, no trailing newline).
pub fn frame_json(buffer: &gst::BufferRef, width: u32, height: u32) -> String {
    let meta = buffer.meta::<DetectionsMeta>();
    let truth = buffer.meta::<GroundTruthMeta>();
    let timing = buffer.meta::<TimingMeta>();
    let court = buffer.meta::<CourtMeta>();
    let court_truth = buffer.meta::<CourtTruthMeta>();
    let detections = meta.as_ref().map(|m| records(m.iter())).unwrap_or_default();
    let offset = buffer.offset();
    let record = FrameRecord {
        schema: SCHEMA_VERSION,
        frame: (offset != gst::ffi::GST_BUFFER_OFFSET_NONE).then_some(offset),
        pts: buffer.pts().map(|t| t.nseconds()),
        duration: buffer.duration().map(|t| t.nseconds()),
        width,
        height,
        detections,
        ground_truth: truth.as_ref().map(|t| records(t.list().iter())),
        motion: buffer.meta::<MotionMeta>().map(|m| m.data()),
        timing: timing.as_ref().map(|t| t.data()),
        court: court.as_ref().map(|c| c.data()),
        ground_truth_court: court_truth.as_ref().map(|c| c.data()),
    };
    serde_json::to_string(&record).expect("frame record serializes")
}

/// Which labels count as players and which as the ball/shuttle in [`export_json`].
#[derive(Debug, Clone, PartialEq)]
pub struct Roles {
    pub players: Vec<String>,
    pub balls: Vec<String>,
}

impl Default for Roles {
    fn default() -> Self {
        Roles {
            players: vec!["person".into(), "player".into()],
            balls: vec![
                "ball".into(),
                "sports ball".into(),
                "shuttle".into(),
                "shuttlecock".into(),
            ],
        }
    }
}

/// A player as exported: box, score, track and keypoints.
#[derive(Debug, Serialize)]
pub struct PlayerRecord<'a> {
    #[serde(rename = "box")]
    pub bbox: crate::BBox,
    pub confidence: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_id: Option<u64>,
    /// Image velocity of the box centre, pixels a second (objecttrack).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub velocity: Option<[f32; 2]>,
    pub filled: bool,
    /// Feet point on the court (metres), speed (m/s) and distance covered (m), where the
    /// court is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub court: Option<[f32; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub court_speed: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub keypoints: &'a [Keypoint],
}

/// The ball/shuttle as exported: centre of the tracked ball detection (shuttletrack's), else
/// of the most confident one.
#[derive(Debug, Serialize)]
pub struct BallRecord {
    pub x: f32,
    pub y: f32,
    pub confidence: f32,
    #[serde(rename = "box")]
    pub bbox: crate::BBox,
    pub filled: bool,
    /// The flight (trajectory between two hits) it belongs to (shuttletrack).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flight: Option<u64>,
    /// Image velocity, pixels a second, and its magnitude (shuttletrack).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub velocity: Option<[f32; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f32>,
    /// In 3D (metres, m/s) and its speed in km/h, where the court's camera is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pos3d: Option<[f32; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vel3d: Option<[f32; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f32>,
}

/// One line of metaexport's JSON Lines: what a video-player front end needs to draw a frame.
#[derive(Debug, Serialize)]
pub struct ExportRecord<'a> {
    pub schema: u32,
    /// Frame number counted by the exporter from 0.
    pub frame: u64,
    /// Presentation timestamp in nanoseconds (null when unknown) and in seconds.
    pub pts: Option<u64>,
    pub time: Option<f64>,
    pub width: u32,
    pub height: u32,
    pub players: Vec<PlayerRecord<'a>>,
    pub ball: Option<BallRecord>,
    /// The court (null where none is found): homography, camera, keypoints, confidence.
    pub court: Option<CourtRecord<'a>>,
    /// Hits, landings, rally starts and ends of this frame.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub events: &'a [crate::CourtEvent],
    /// Every detection, as in [`frame_json`].
    pub detections: Vec<DetectionRecord<'a>>,
    /// Ground truth, as in [`frame_json`], where attached (courtsrc).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<Vec<DetectionRecord<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motion: Option<MotionData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<&'a TimingData>,
    /// The court as a synthetic source built it (courtsrc), where attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ground_truth_court: Option<&'a CourtData>,
}

/// The court in metaexport's line: what locates it (positions, shuttle and events are given
/// with the players, the ball and at the top level).
#[derive(Debug, Serialize)]
pub struct CourtRecord<'a> {
    pub sport: &'a str,
    pub homography: [f64; 9],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera: Option<crate::CameraInfo>,
    pub keypoints: &'a [crate::CourtKeypoint],
    pub confidence: f32,
    pub view: u64,
}

/// Serializes a buffer's metadata as one metaexport line (no trailing newline).
pub fn export_json(
    buffer: &gst::BufferRef,
    frame: u64,
    width: u32,
    height: u32,
    roles: &Roles,
) -> String {
    let timing = buffer.meta::<TimingMeta>();
    let meta = buffer.meta::<DetectionsMeta>();
    let truth = buffer.meta::<GroundTruthMeta>();
    let court = buffer.meta::<CourtMeta>();
    let court = court.as_ref().map(|c| c.data());
    let court_truth = buffer.meta::<CourtTruthMeta>();
    let mut players = Vec::new();
    let mut ball: Option<BallRecord> = None;
    let mut detections = Vec::new();
    if let Some(m) = meta.as_ref() {
        for (d, keypoints) in m.iter() {
            let label = d.label.as_ref();
            if roles.players.iter().any(|p| p == label) {
                let pos = court.zip(d.track_id).and_then(|(c, id)| c.position(id));
                players.push(PlayerRecord {
                    bbox: d.bbox,
                    confidence: d.confidence,
                    track_id: d.track_id,
                    velocity: d.velocity,
                    filled: d.filled,
                    court: pos.map(|p| p.xy),
                    court_speed: pos.map(|p| p.speed),
                    distance: pos.map(|p| p.distance),
                    keypoints,
                });
            } else if roles.balls.iter().any(|b| b == label)
                && ball.as_ref().is_none_or(|b| {
                    (d.track_id.is_some(), d.confidence) > (b.flight.is_some(), b.confidence)
                })
            {
                ball = Some(BallRecord {
                    x: d.bbox.x + d.bbox.w / 2.0,
                    y: d.bbox.y + d.bbox.h / 2.0,
                    confidence: d.confidence,
                    bbox: d.bbox,
                    filled: d.filled,
                    flight: d.track_id,
                    velocity: d.velocity,
                    speed: d.velocity.map(|[x, y]| x.hypot(y)),
                    pos3d: None,
                    vel3d: None,
                    speed_kmh: None,
                });
            }
            detections.push(DetectionRecord {
                detection: d,
                keypoints,
            });
        }
    }
    // The shuttle in 3D is the tracked ball's (shuttletrack sets both).
    if let (Some(b), Some(s)) = (ball.as_mut(), court.and_then(|c| c.shuttle.as_ref())) {
        b.pos3d = Some(s.pos);
        b.vel3d = Some(s.vel);
        b.speed_kmh = Some(s.speed_kmh);
    }
    let pts = buffer.pts();
    let record = ExportRecord {
        schema: SCHEMA_VERSION,
        frame,
        pts: pts.map(|t| t.nseconds()),
        time: pts.map(|t| t.nseconds() as f64 / 1e9),
        width,
        height,
        players,
        ball,
        court: court.map(|c| CourtRecord {
            sport: &c.sport,
            homography: c.homography,
            camera: c.camera,
            keypoints: &c.keypoints,
            confidence: c.confidence,
            view: c.view,
        }),
        events: court.map_or(&[][..], |c| &c.events),
        detections,
        ground_truth: truth.as_ref().map(|t| records(t.list().iter())),
        motion: buffer.meta::<MotionMeta>().map(|m| m.data()),
        timing: timing.as_ref().map(|t| t.data()),
        ground_truth_court: court_truth.as_ref().map(|c| c.data()),
    };
    serde_json::to_string(&record).expect("export record serializes")
}
