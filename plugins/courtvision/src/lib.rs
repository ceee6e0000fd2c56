// SPDX-License-Identifier: MIT OR Apache-2.0
//! gst-plugin-courtvision: GStreamer elements for real-time sports video analysis.
//!
//! This file only registers the elements; each lives in its own folder (mod.rs + imp.rs).
#![allow(clippy::non_send_fields_in_send_ty)]

use gst::glib;

mod caps;
pub mod courtcalib;
pub mod detector;
pub mod metaexport;
pub mod metapublish;
pub mod motionskip;
pub mod objecttrack;
pub mod overlayrender;
pub mod posedetect;
pub mod shuttletrack;
pub mod timingmeta;
pub mod yolodetect;

pub use detector::{Detector, DetectorImpl, ExecutionProvider};

/// The items of a comma-separated property (labels), trimmed, empty ones left out.
pub(crate) fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The `player-labels` and `ball-labels` properties of the elements that write frame records
/// (metaexport, metapublish).
pub(crate) fn role_properties() -> [glib::ParamSpec; 2] {
    use gst::prelude::*;
    let d = courtvision_meta::Roles::default();
    [
        glib::ParamSpecString::builder("player-labels")
            .nick("Player labels")
            .blurb("Comma-separated labels written as players")
            .default_value(Some(d.players.join(",").as_str()))
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("ball-labels")
            .nick("Ball labels")
            .blurb("Comma-separated labels whose most confident detection is the ball/shuttle")
            .default_value(Some(d.balls.join(",").as_str()))
            .mutable_ready()
            .build(),
    ]
}

/// The roles those properties give.
pub(crate) fn roles(player_labels: &str, ball_labels: &str) -> courtvision_meta::Roles {
    courtvision_meta::Roles {
        players: split_list(player_labels),
        balls: split_list(ball_labels),
    }
}

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    detector::mark_plugin_api();
    yolodetect::register(plugin)?;
    metaexport::register(plugin)?;
    metapublish::register(plugin)?;
    motionskip::register(plugin)?;
    timingmeta::register(plugin)?;
    overlayrender::register(plugin)?;
    posedetect::register(plugin)?;
    objecttrack::register(plugin)?;
    shuttletrack::register(plugin)?;
    courtcalib::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    courtvision,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
