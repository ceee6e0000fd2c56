// SPDX-License-Identifier: MIT OR Apache-2.0
//! Reads courtvision's results in Rust: the typed `DetectionsMeta` of the buffers an appsink
//! receives (courtvision-meta), with the plugin linked into the program.
//!
//!     cargo run -p gst-plugin-courtvision --example read_detections -- DET.onnx POSE.onnx [FRAMES]
use courtvision_meta::DetectionsMeta;
use gst::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [det, pose, rest @ ..] = &args[..] else {
        return Err("usage: read_detections DET.onnx POSE.onnx [FRAMES]".into());
    };
    let frames: u32 = rest.first().map_or(Ok(30), |n| n.parse())?;
    gst::init()?;
    gstcourtvision::plugin_register_static()?;
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={frames} ! video/x-raw,width=640,height=360 ! videoconvert \
         ! yolodetect model={det} ! posedetect model={pose} ! appsink name=sink sync=false"
    ))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline")?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
        .ok_or("no appsink")?;
    pipeline.set_state(gst::State::Playing)?;
    let mut frame = 0;
    while let Ok(sample) = sink.pull_sample() {
        let buffer = sample.buffer().ok_or("a sample without a buffer")?;
        let Some(meta) = buffer.meta::<DetectionsMeta>() else {
            println!("frame {frame}: no detections");
            frame += 1;
            continue;
        };
        println!("frame {frame}: {} detections", meta.len());
        for (d, keypoints) in meta.iter() {
            let b = &d.bbox;
            print!(
                "  {} {:.3} box ({:.0}, {:.0}, {:.0}, {:.0}) from {}",
                d.label, d.confidence, b.x, b.y, b.w, b.h, d.source
            );
            for k in keypoints {
                print!(" ({:.1},{:.1},{:.2})", k.x, k.y, k.score);
            }
            println!();
        }
        frame += 1;
    }
    let error = pipeline
        .bus()
        .and_then(|bus| bus.pop_filtered(&[gst::MessageType::Error]));
    pipeline.set_state(gst::State::Null)?;
    match error.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Error(e)) => Err(e.error().to_string().into()),
        _ => Ok(()),
    }
}
