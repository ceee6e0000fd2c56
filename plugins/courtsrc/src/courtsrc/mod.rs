// SPDX-License-Identifier: MIT OR Apache-2.0
//! `courtsrc`: a source of synthetic match video with ground truth (see imp.rs).

use gst::glib;
use gst::prelude::*;

pub mod dataset;
mod imp;
pub mod render;
pub mod scene;

glib::wrapper! {
    pub struct CourtSrc(ObjectSubclass<imp::CourtSrc>) @extends gst_base::PushSrc, gst_base::BaseSrc, gst::Element, gst::Object;
}

/// `sport` property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstCourtvisionSport")]
pub enum SportKind {
    #[default]
    #[enum_value(
        name = "Badminton: 13.4 x 6.1 m court, net, shuttle",
        nick = "badminton"
    )]
    Badminton = 0,
    #[enum_value(name = "Netball: 30.5 x 15.25 m court, ball", nick = "netball")]
    Netball = 1,
}

impl From<SportKind> for scene::Sport {
    fn from(s: SportKind) -> Self {
        match s {
            SportKind::Badminton => scene::Sport::Badminton,
            SportKind::Netball => scene::Sport::Netball,
        }
    }
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "courtsrc",
        gst::Rank::NONE,
        CourtSrc::static_type(),
    )
}
