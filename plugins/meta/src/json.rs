//! One JSON object per frame: the stable, documented serialization of a buffer's metadata.

use serde::Serialize;

use crate::{Detection, DetectionsMeta, Keypoint};

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
}

/// Serializes a buffer's metadata as one JSON object (one line, no trailing newline).
pub fn frame_json(buffer: &gst::BufferRef, width: u32, height: u32) -> String {
    let meta = buffer.meta::<DetectionsMeta>();
    let detections = meta
        .as_ref()
        .map(|m| {
            m.iter()
                .map(|(detection, keypoints)| DetectionRecord {
                    detection,
                    keypoints,
                })
                .collect()
        })
        .unwrap_or_default();
    let offset = buffer.offset();
    let record = FrameRecord {
        schema: SCHEMA_VERSION,
        frame: (offset != gst::ffi::GST_BUFFER_OFFSET_NONE).then_some(offset),
        pts: buffer.pts().map(|t| t.nseconds()),
        duration: buffer.duration().map(|t| t.nseconds()),
        width,
        height,
        detections,
    };
    serde_json::to_string(&record).expect("frame record serializes")
}
