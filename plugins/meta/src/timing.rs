// SPDX-License-Identifier: MIT OR Apache-2.0
//! Timing meta: wall-clock ingress time of a frame and one entry per courtvision stage it went
//! through (element, start, end, batch size), for end-to-end latency and per-stage times.

use std::ffi::CStr;
use std::sync::Arc;

use gst::glib;
use serde::Serialize;

use crate::raw::{self, meta_statics, MetaData, RawMeta};

/// Wall-clock time (CLOCK_REALTIME) in nanoseconds since the Unix epoch.
pub fn wall_clock_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One element's work on a frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    pub element: Arc<str>,
    /// Wall-clock ns when the frame entered the element.
    pub start: u64,
    /// Wall-clock ns when it left (was pushed on).
    pub end: u64,
    /// Frames processed together with it (1 for per-frame elements).
    pub batch_size: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TimingData {
    /// Wall-clock ns stamped by `timingmeta mode=ingress`.
    pub ingress: Option<u64>,
    pub stages: Vec<Stage>,
}

impl MetaData for TimingData {
    const API_NAME: &'static CStr = c"CourtvisionTimingMetaAPI";
    const IMPL_NAME: &'static CStr = c"CourtvisionTimingMeta";
    // No tags: timing stays valid through any transform.
    const TAGS: &'static [&'static CStr] = &[];

    fn merge(&mut self, other: &Self) {
        self.ingress = self.ingress.or(other.ingress);
        self.stages.extend(other.stages.iter().cloned());
    }

    meta_statics!(TimingData);
}

/// Per-buffer timing meta.
#[repr(transparent)]
pub struct TimingMeta(RawMeta<TimingData>);

unsafe impl Send for TimingMeta {}
unsafe impl Sync for TimingMeta {}

unsafe impl gst::MetaAPI for TimingMeta {
    type GstType = RawMeta<TimingData>;

    fn meta_api() -> glib::Type {
        TimingData::api_type()
    }
}

impl TimingMeta {
    /// The buffer's timing meta, added (empty) if it has none.
    pub fn get_or_add(
        buffer: &mut gst::BufferRef,
    ) -> gst::MetaRefMut<'_, Self, gst::meta::Standalone> {
        if buffer.meta::<Self>().is_none() {
            raw::add(buffer, TimingData::default());
        }
        buffer.meta_mut::<Self>().expect("meta was just added")
    }

    pub fn data(&self) -> &TimingData {
        &self.0.data
    }

    pub fn ingress(&self) -> Option<u64> {
        self.0.data.ingress
    }

    pub fn set_ingress(&mut self, ns: u64) {
        self.0.data.ingress = Some(ns);
    }

    pub fn stages(&self) -> &[Stage] {
        &self.0.data.stages
    }

    pub fn push_stage(&mut self, stage: Stage) {
        self.0.data.stages.push(stage);
    }
}

/// Records that `element` worked on the buffer from `start` to `end` (wall-clock ns).
pub fn record_stage(
    buffer: &mut gst::BufferRef,
    element: &Arc<str>,
    start: u64,
    end: u64,
    batch_size: u32,
) {
    TimingMeta::get_or_add(buffer).push_stage(Stage {
        element: element.clone(),
        start,
        end,
        batch_size,
    });
}

impl std::fmt::Debug for TimingMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("TimingMeta")
            .field("data", &self.0.data)
            .finish()
    }
}
