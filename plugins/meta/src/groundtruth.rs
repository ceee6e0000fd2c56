// SPDX-License-Identifier: MIT OR Apache-2.0
//! The ground-truth meta: what a synthetic source (courtsrc) knows is in the frame. Same content
//! as the detections meta, under its own API type, so that detectors, overlays and exporters
//! never mistake it for a prediction, and an evaluator can read both from one buffer.

use std::ffi::CStr;
use std::fmt;

use gst::glib;

use crate::detections::DetectionList;
use crate::raw::{self, meta_statics, MetaData, RawMeta};

/// The list behind [`GroundTruthMeta`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroundTruthList(pub DetectionList);

/// Per-buffer ground truth: boxes, classes and keypoints (score > 0: labelled, 0: not labelled,
/// for courtsrc outside the frame); confidence 1. Read it with `buffer.meta::<GroundTruthMeta>()`.
#[repr(transparent)]
pub struct GroundTruthMeta(RawMeta<GroundTruthList>);

unsafe impl Send for GroundTruthMeta {}
unsafe impl Sync for GroundTruthMeta {}

impl GroundTruthMeta {
    /// Attaches `list` as the buffer's ground truth (merged into an existing one).
    pub fn add(buffer: &mut gst::BufferRef, list: DetectionList) {
        match buffer.meta_mut::<Self>() {
            Some(mut m) => MetaData::merge(&mut m.0.data.0, &list),
            None => raw::add(buffer, GroundTruthList(list)),
        }
    }

    pub fn list(&self) -> &DetectionList {
        &self.0.data.0
    }
}

unsafe impl gst::MetaAPI for GroundTruthMeta {
    type GstType = RawMeta<GroundTruthList>;

    fn meta_api() -> glib::Type {
        GroundTruthList::api_type()
    }
}

impl MetaData for GroundTruthList {
    const API_NAME: &'static CStr = c"CourtvisionGroundTruthMetaAPI";
    const IMPL_NAME: &'static CStr = c"CourtvisionGroundTruthMeta";
    const TAGS: &'static [&'static CStr] = &[c"video", c"size", c"orientation"];

    fn merge(&mut self, other: &Self) {
        MetaData::merge(&mut self.0, &other.0)
    }

    fn scale(&mut self, sx: f32, sy: f32) {
        MetaData::scale(&mut self.0, sx, sy)
    }

    meta_statics!(GroundTruthList);
}

impl fmt::Debug for GroundTruthMeta {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("GroundTruthMeta")
            .field("objects", &self.list().detections())
            .finish()
    }
}
