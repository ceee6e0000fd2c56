// SPDX-License-Identifier: MIT OR Apache-2.0
//! `motionskip`: decides per frame whether the detectors infer or skip it (see imp.rs).

use gst::glib;
use gst::prelude::*;

pub mod decide;
mod imp;

glib::wrapper! {
    pub struct MotionSkip(ObjectSubclass<imp::MotionSkip>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// `mode` property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstCourtvisionSkipMode")]
pub enum Mode {
    /// Infer every `interval`-th frame (DeepStream's interval, DL Streamer's inference-interval).
    #[enum_value(name = "Fixed: infer every interval-th frame", nick = "fixed")]
    Fixed = 0,
    /// Skip between min-skip and max-skip frames, fewer when motion is high or downstream
    /// reports fast or many objects.
    #[default]
    #[enum_value(name = "Adaptive: skip more in static scenes", nick = "adaptive")]
    Adaptive = 1,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "motionskip",
        gst::Rank::NONE,
        MotionSkip::static_type(),
    )
}
