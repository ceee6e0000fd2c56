// SPDX-License-Identifier: MIT OR Apache-2.0
//! gst-plugin-courtsrc: `courtsrc`, a source of synthetic badminton and netball match video
//! with ground truth, for tests, demos and training data. A plugin of its own so that the
//! analysis plugin carries only what analysis needs.

use gst::glib;

pub mod courtsrc;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    courtsrc::register(plugin)
}

gst::plugin_define!(
    courtsrc,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
