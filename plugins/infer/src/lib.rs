// SPDX-License-Identifier: MIT OR Apache-2.0
//! courtvision-infer: YOLO inference on ONNX Runtime, without GStreamer.
//!
//! - [`cuda`]: the CUDA driver calls for frames already in device memory (loaded at run time);
//! - [`engine`]: finding libonnxruntime, execution providers, sessions, the batch tensor;
//! - [`pool`]: engines several elements share by name, their batches combined into one run;
//! - [`model`]: what an ultralytics export says about itself (task, names, layout, sizes);
//! - [`preprocess`]: letterbox straight from a video frame into a batch slot;
//! - [`decode`]: output tensors to objects in frame pixels, NMS;
//! - [`eval`]: accuracy against ground truth (mAP per class, keypoint PCK).

pub mod augment;
pub mod cuda;
pub mod decode;
pub mod engine;
pub mod eval;
pub mod graph;
pub mod model;
pub mod pool;
pub mod preprocess;
pub mod track_eval;

pub use decode::{DecodeParams, FrameObjects, Object, Point};
pub use engine::{BatchTensor, Engine, EngineConfig, FramesIn, Provider, ResidentBatch};
pub use model::{ModelInfo, OutputLayout, Precision, Task};
pub use preprocess::{FrameView, Letterbox, PixelFormat, YuvMatrix};

/// Errors of loading and running models, each with a message fit for a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InferError {
    #[error("model file not found: {0}")]
    ModelNotFound(String),
    #[error("model could not be loaded (not a valid ONNX model?): {0}")]
    BadModel(String),
    #[error("unsupported model: {0}")]
    UnsupportedModel(String),
    #[error("{0}")]
    LibraryNotFound(String),
    #[error("{0}")]
    Provider(String),
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// An engine shared by name (see [`pool::load_shared`]) asked for with other settings.
    #[error("{0}")]
    SharedEngine(String),
}
