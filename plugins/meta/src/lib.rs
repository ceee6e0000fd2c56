// SPDX-License-Identifier: MIT OR Apache-2.0
//! courtvision-meta: the metadata courtvision attaches to video buffers, and its safe API.
//!
//! Applications embed this crate to read results:
//!
//! ```no_run
//! # fn f(buffer: &gst::BufferRef) {
//! use courtvision_meta::DetectionsMeta;
//! if let Some(meta) = buffer.meta::<DetectionsMeta>() {
//!     for (det, keypoints) in meta.iter() {
//!         println!("{} {:.2} at {:?} with {} keypoints", det.label, det.confidence, det.bbox, keypoints.len());
//!     }
//! }
//! # }
//! ```
//!
//! Every detection is mirrored as a `GstVideoRegionOfInterestMeta` (see [`add_detection`]), so C
//! and Python applications can read the same results with stock GStreamer API, and
//! [`frame_json`] gives one JSON object per frame (schema in the README).

mod court;
mod detections;
mod groundtruth;
mod json;
mod motion;
mod raw;
mod timing;

pub use court::{
    CameraInfo, CourtData, CourtEvent, CourtKeypoint, CourtMeta, CourtPosition, CourtTruthMeta,
    EventKind, Shuttle3d,
};
pub use detections::{
    add_detection, retain_detections, set_track, BBox, Detection, DetectionList, DetectionsMeta,
    Keypoint, Skeleton, COCO17_EDGES, COCO17_KEYPOINTS, ROI_PARAM,
};
pub use groundtruth::{GroundTruthList, GroundTruthMeta};
pub use json::{export_json, frame_json, ExportRecord, FrameRecord, Roles, SCHEMA_VERSION};
pub use motion::{Decision, MotionData, MotionMeta};
pub use timing::{record_stage, wall_clock_ns, Stage, TimingData, TimingMeta};
