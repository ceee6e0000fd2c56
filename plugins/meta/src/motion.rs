// SPDX-License-Identifier: MIT OR Apache-2.0
//! Motion meta: a frame's motion score and the decision motionskip took for it.

use std::ffi::CStr;

use gst::glib;
use serde::Serialize;

use crate::raw::{self, meta_statics, MetaData, RawMeta};

/// Whether the detectors run on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    #[default]
    Infer,
    Skip,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MotionData {
    /// Mean absolute luma difference to the previous frame, 0..255 (downscaled).
    pub score: f32,
    pub decision: Decision,
}

impl MetaData for MotionData {
    const API_NAME: &'static CStr = c"CourtvisionMotionMetaAPI";
    const IMPL_NAME: &'static CStr = c"CourtvisionMotionMeta";
    const TAGS: &'static [&'static CStr] = &[];

    /// One decision per frame: a copy onto a frame that has one keeps the destination's.
    fn merge(&mut self, _other: &Self) {}

    meta_statics!(MotionData);
}

/// Per-buffer motion meta.
#[repr(transparent)]
pub struct MotionMeta(RawMeta<MotionData>);

unsafe impl Send for MotionMeta {}
unsafe impl Sync for MotionMeta {}

unsafe impl gst::MetaAPI for MotionMeta {
    type GstType = RawMeta<MotionData>;

    fn meta_api() -> glib::Type {
        MotionData::api_type()
    }
}

impl MotionMeta {
    /// Sets the buffer's motion score and decision (replacing an earlier one).
    pub fn set(buffer: &mut gst::BufferRef, data: MotionData) {
        match buffer.meta_mut::<Self>() {
            Some(mut m) => m.0.data = data,
            None => raw::add(buffer, data),
        }
    }

    pub fn data(&self) -> MotionData {
        self.0.data
    }

    /// Whether the buffer was marked to be skipped by the detectors.
    pub fn is_skip(buffer: &gst::BufferRef) -> bool {
        buffer
            .meta::<Self>()
            .is_some_and(|m| m.0.data.decision == Decision::Skip)
    }
}

impl std::fmt::Debug for MotionMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("MotionMeta")
            .field("data", &self.0.data)
            .finish()
    }
}
