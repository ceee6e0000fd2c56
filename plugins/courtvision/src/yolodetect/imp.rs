//! yolodetect: runs an ultralytics YOLO detection export (raw `[B, 4+nc, A]` heads with NMS, or
//! NMS/end-to-end `[B, N, 6]` outputs) on batches of frames and attaches the boxes to each
//! buffer as courtvision detections and GstVideoRegionOfInterestMeta.

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use crate::detector::{detector_element_impl, new_detector, runtime::Detector, Kind};

pub struct YoloDetect {
    detector: Detector,
}

impl AsRef<Detector> for YoloDetect {
    fn as_ref(&self) -> &Detector {
        &self.detector
    }
}

#[glib::object_subclass]
impl ObjectSubclass for YoloDetect {
    const NAME: &'static str = "GstYoloDetect";
    type Type = super::YoloDetect;
    type ParentType = gst::Element;

    fn with_class(_klass: &Self::Class) -> Self {
        YoloDetect {
            detector: new_detector::<Self>(Kind::Detect),
        }
    }
}

detector_element_impl!(
    YoloDetect,
    "YOLO object detector",
    "Detects objects with an ultralytics YOLO ONNX model (batched, ONNX Runtime) and attaches \
     them as metadata"
);
