// SPDX-License-Identifier: MIT OR Apache-2.0
//! What the measuring programs share: registering the plugins of this build, starting a
//! pipeline and running it to EOS with the failing element's error as the message.

use gst::prelude::*;

/// Initialises GStreamer and registers courtvision and courtsrc from this build.
pub fn register_plugins() -> Result<(), String> {
    gst::init().map_err(|e| e.to_string())?;
    gstcourtvision::plugin_register_static().map_err(|e| e.to_string())?;
    gstcourtsrc::plugin_register_static().map_err(|e| e.to_string())
}

/// Sets `pipeline` playing; when it cannot start, the error the failing element posted.
pub fn start(pipeline: &gst::Pipeline) -> Result<(), String> {
    if pipeline.set_state(gst::State::Playing).is_ok() {
        return Ok(());
    }
    let why = pipeline
        .bus()
        .and_then(|bus| {
            bus.timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])
        })
        .and_then(|m| match m.view() {
            gst::MessageView::Error(e) => Some(format!(
                "{}: {}",
                e.src().map(|s| s.name().to_string()).unwrap_or_default(),
                e.error()
            )),
            _ => None,
        });
    pipeline.set_state(gst::State::Null).ok();
    Err(format!(
        "could not start the pipeline: {}",
        why.unwrap_or_else(|| "no error message".into())
    ))
}

/// Waits for EOS (Ok) or the first error ("element: message (debug)"); every other message
/// goes to `other`.
pub fn run_to_eos(
    pipeline: &gst::Pipeline,
    mut other: impl FnMut(&gst::Message),
) -> Result<(), String> {
    let bus = pipeline.bus().expect("a pipeline has a bus");
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(_) => return Ok(()),
            gst::MessageView::Error(e) => {
                return Err(format!(
                    "{}: {} ({})",
                    e.src().map(|s| s.name().to_string()).unwrap_or_default(),
                    e.error(),
                    e.debug().map(|d| d.to_string()).unwrap_or_default()
                ))
            }
            _ => other(&msg),
        }
    }
    Ok(())
}
