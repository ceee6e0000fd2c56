// SPDX-License-Identifier: MIT OR Apache-2.0
//! `courtcalib`: finds the court and the camera in the frame and attaches the court meta (see
//! imp.rs).

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct CourtCalib(ObjectSubclass<imp::CourtCalib>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Which court to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstCourtCalibSport")]
pub enum CalibSport {
    #[default]
    #[enum_value(name = "Badminton: 13.40 x 6.10 m doubles court", nick = "badminton")]
    Badminton = 0,
    #[enum_value(name = "Netball: 30.5 x 15.25 m court in thirds", nick = "netball")]
    Netball = 1,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "courtcalib",
        gst::Rank::NONE,
        CourtCalib::static_type(),
    )
}
