// SPDX-License-Identifier: MIT OR Apache-2.0
//! What can go wrong setting up a detector, typed until it is posted on the bus, where each
//! kind goes out in the GStreamer error domain an application would look for.

use std::path::{Path, PathBuf};

use courtvision_infer::InferError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum DetectorError {
    #[error("no model set (set the 'model' property to an ONNX file)")]
    NoModel,
    #[error("model file not found: {}", .0.display())]
    ModelNotFound(PathBuf),
    #[error("model path is a directory, not an ONNX file: {}", .0.display())]
    ModelIsDirectory(PathBuf),
    #[error("model file cannot be read: {}: {}", .0.display(), .1)]
    ModelUnreadable(PathBuf, String),
    #[error("labels file {}: {}", .0.display(), .1)]
    Labels(PathBuf, String),
    /// The model loads but is not one this element runs (a detection model in posedetect).
    #[error("{0}")]
    WrongModel(String),
    #[error("classes: {0}")]
    Classes(String),
    /// From loading or running the model.
    #[error("{0}")]
    Infer(#[from] InferError),
    #[error("{0}")]
    Other(String),
}

impl DetectorError {
    /// Checks that `path` names a readable file before any library is asked to load it.
    pub fn check_model_file(path: &Path) -> Result<(), DetectorError> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(DetectorError::ModelNotFound(path.into()))
            }
            Err(e) => Err(DetectorError::ModelUnreadable(path.into(), e.to_string())),
            Ok(m) if m.is_dir() => Err(DetectorError::ModelIsDirectory(path.into())),
            Ok(_) => std::fs::File::open(path)
                .map(drop)
                .map_err(|e| DetectorError::ModelUnreadable(path.into(), e.to_string())),
        }
    }

    /// The error as a GStreamer error message of the right domain.
    pub fn to_error_message(&self) -> gst::ErrorMessage {
        use gst::{LibraryError as L, ResourceError as R};
        let msg = self.to_string();
        match self {
            DetectorError::NoModel
            | DetectorError::ModelNotFound(_)
            | DetectorError::Infer(InferError::ModelNotFound(_)) => {
                gst::error_msg!(R::NotFound, ("{}", msg))
            }
            DetectorError::ModelIsDirectory(_)
            | DetectorError::ModelUnreadable(..)
            | DetectorError::Labels(..) => gst::error_msg!(R::OpenRead, ("{}", msg)),
            DetectorError::Infer(InferError::BadModel(_) | InferError::UnsupportedModel(_))
            | DetectorError::WrongModel(_) => gst::error_msg!(R::Read, ("{}", msg)),
            DetectorError::Infer(InferError::LibraryNotFound(_) | InferError::Provider(_)) => {
                gst::error_msg!(L::Init, ("{}", msg))
            }
            DetectorError::Classes(_) | DetectorError::Infer(InferError::SharedEngine(_)) => {
                gst::error_msg!(L::Settings, ("{}", msg))
            }
            DetectorError::Infer(InferError::Runtime(_)) | DetectorError::Other(_) => {
                gst::error_msg!(L::Failed, ("{}", msg))
            }
        }
    }
}
