// SPDX-License-Identifier: MIT OR Apache-2.0
//! The detector base class's properties: their values ([`Settings`]), their specs with
//! one-sentence blurbs (details in docs/elements/yolodetect.md), and the enums behind them.

use std::path::PathBuf;
use std::sync::Arc;

use gst::glib;
use gst::prelude::*;

use courtvision_infer::Provider;

use super::fill::Fill;

/// Execution provider of an element (`execution-provider` property).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstCourtvisionExecutionProvider")]
pub enum ExecutionProvider {
    #[default]
    #[enum_value(name = "CPU", nick = "cpu")]
    Cpu = 0,
    #[enum_value(name = "CUDA (NVIDIA GPU)", nick = "cuda")]
    Cuda = 1,
    #[enum_value(
        name = "TensorRT (NVIDIA GPU, engine built on first use)",
        nick = "tensorrt"
    )]
    TensorRt = 2,
    #[enum_value(name = "Best available: CUDA, else CPU with a warning", nick = "auto")]
    Auto = 3,
}

impl From<ExecutionProvider> for Provider {
    fn from(p: ExecutionProvider) -> Self {
        match p {
            ExecutionProvider::Cpu => Provider::Cpu,
            ExecutionProvider::Cuda => Provider::Cuda,
            ExecutionProvider::TensorRt => Provider::TensorRt,
            ExecutionProvider::Auto => Provider::Auto,
        }
    }
}

/// Where letterbox + normalise run (`preprocess` property).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstCourtvisionPreprocess")]
pub enum Preprocess {
    #[default]
    #[enum_value(
        name = "Device with the cuda and tensorrt providers, host with cpu",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "On the CPU, into a float batch", nick = "host")]
    Host = 1,
    #[enum_value(
        name = "On the GPU, by courtvision's letterbox kernel",
        nick = "device"
    )]
    Device = 2,
}

pub const DEFAULT_CONF: f64 = 0.25;
/// Ultralytics' predict default.
pub const DEFAULT_IOU: f64 = 0.7;
pub const DEFAULT_MAX_DET: u32 = 300;
/// Batch size when the property is 0 (auto) and the model's batch is dynamic.
pub const DEFAULT_DYNAMIC_BATCH: usize = 4;
/// With batch-size=0, the batch is cut to the frames whose video fits in this: four 1080p
/// frames, one 4K frame (a 4K batch of four held 200 MB more for no gain in speed).
pub const DEFAULT_MAX_BATCH_BYTES: u64 = 48 << 20;

#[derive(Debug, Clone)]
pub struct Settings {
    pub model: Option<PathBuf>,
    pub labels: Option<PathBuf>,
    pub ort_library: Option<PathBuf>,
    pub provider: ExecutionProvider,
    pub device_id: u32,
    pub intra_threads: u32,
    pub batch_size: u32,
    pub max_batch_bytes: u64,
    pub max_batch_latency_ms: u32,
    pub conf_threshold: f64,
    pub iou_threshold: f64,
    pub max_detections: u32,
    pub classes: Option<String>,
    pub agnostic_nms: bool,
    pub input_size: u32,
    pub trt_cache_dir: Option<PathBuf>,
    pub fill: Fill,
    pub preprocess_threads: u32,
    pub preprocess: Preprocess,
    pub cuda_graph: bool,
    pub engine_name: Option<String>,
    pub engine_instances: u32,
    pub engine_batch_size: u32,
    pub engine_batch_latency_ms: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: None,
            labels: None,
            ort_library: None,
            provider: ExecutionProvider::Cpu,
            device_id: 0,
            intra_threads: 0,
            batch_size: 0,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            max_batch_latency_ms: 0,
            conf_threshold: DEFAULT_CONF,
            iou_threshold: DEFAULT_IOU,
            max_detections: DEFAULT_MAX_DET,
            classes: None,
            agnostic_nms: false,
            input_size: 0,
            trt_cache_dir: None,
            fill: Fill::None,
            preprocess_threads: 0,
            preprocess: Preprocess::Auto,
            cuda_graph: false,
            engine_name: None,
            engine_instances: 0,
            engine_batch_size: 0,
            engine_batch_latency_ms: 0,
        }
    }
}

/// Properties of every detector element, installed on the base class.
pub fn properties() -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecString::builder("model")
            .nick("Model")
            .blurb("Path of the ONNX model, an ultralytics YOLO export.")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("labels")
            .nick("Labels file")
            .blurb("Text file with one class name per line, overriding the model's names.")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("ort-library")
            .nick("ONNX Runtime library")
            .blurb("Path of libonnxruntime.so (default: ORT_DYLIB_PATH, else the onnxruntime Python package).")
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("execution-provider", ExecutionProvider::Cpu)
            .nick("Execution provider")
            .blurb("Where inference runs.")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("device-id")
            .nick("Device id")
            .blurb("GPU index for the cuda and tensorrt providers.")
            .maximum(63)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("intra-threads")
            .nick("Intra-op threads")
            .blurb("ONNX Runtime intra-op threads (0 = one per core).")
            .maximum(256)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("batch-size")
            .nick("Batch size")
            .blurb("Frames per inference batch (0 = the model's static batch, else 4).")
            .maximum(64)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("max-batch-bytes")
            .nick("Max batch bytes")
            .blurb("With batch-size=0: fewer frames per batch where the default would hold more video than this (0 = no bound).")
            .default_value(DEFAULT_MAX_BATCH_BYTES)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("max-batch-latency")
            .nick("Max batch latency")
            .blurb("Longest wait in ms before a partial batch runs (0 = until it is full).")
            .maximum(10_000)
            .default_value(0)
            .mutable_playing()
            .build(),
        glib::ParamSpecDouble::builder("conf-threshold")
            .nick("Confidence threshold")
            .blurb("Minimum class score of a detection.")
            .minimum(0.0)
            .maximum(1.0)
            .default_value(DEFAULT_CONF)
            .mutable_playing()
            .build(),
        glib::ParamSpecDouble::builder("iou-threshold")
            .nick("IoU threshold")
            .blurb("Overlap above which NMS suppresses the weaker box.")
            .minimum(0.0)
            .maximum(1.0)
            .default_value(DEFAULT_IOU)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("max-detections")
            .nick("Max detections")
            .blurb("Most detections kept per frame.")
            .minimum(1)
            .maximum(10_000)
            .default_value(DEFAULT_MAX_DET)
            .mutable_playing()
            .build(),
        glib::ParamSpecString::builder("classes")
            .nick("Classes")
            .blurb("Comma-separated class ids or names to keep (empty = all).")
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder("agnostic-nms")
            .nick("Class-agnostic NMS")
            .blurb("Suppress overlapping boxes across classes, not only within a class.")
            .default_value(false)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("input-size")
            .nick("Input size")
            .blurb("Long side in pixels for dynamic-size models (0 = the model's imgsz).")
            .maximum(8192)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("fill", Fill::None)
            .nick("Fill")
            .blurb("Results for the frames motionskip skipped.")
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("preprocess", Preprocess::Auto)
            .nick("Preprocess")
            .blurb("Where letterbox and normalisation run.")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("preprocess-threads")
            .nick("Preprocess threads")
            .blurb("Threads that letterbox or copy frames (0 = auto).")
            .maximum(64)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("cuda-graph")
            .nick("CUDA graph")
            .blurb("Replay the model as a CUDA graph (cuda provider, device preprocessing).")
            .default_value(false)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("trt-cache-dir")
            .nick("TensorRT cache directory")
            .blurb("Directory for TensorRT engine and timing caches.")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("engine-name")
            .nick("Engine name")
            .blurb("Elements of one process with the same name share one loaded model.")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("engine-instances")
            .nick("Engine instances")
            .blurb("Sessions of a shared model (0 = two on a GPU, one on the CPU).")
            .maximum(16)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("engine-batch-size")
            .nick("Engine batch size")
            .blurb("Most frames of a shared model's run (0 = 32 on a GPU, 1 on the CPU).")
            .maximum(1024)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("engine-batch-latency")
            .nick("Engine batch latency")
            .blurb("How long in ms a shared model's free session waits for more batches.")
            .maximum(10_000)
            .default_value(0)
            .mutable_ready()
            .build(),
    ]
}

fn path(value: &glib::Value) -> Option<PathBuf> {
    value
        .get::<Option<String>>()
        .expect("type checked upstream")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

fn path_str(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
}

fn get<T: for<'a> glib::value::FromValue<'a> + 'static>(value: &glib::Value) -> T {
    value.get().expect("type checked upstream")
}

fn non_blank(value: &glib::Value) -> Option<String> {
    value
        .get::<Option<String>>()
        .expect("type checked upstream")
        .filter(|s| !s.trim().is_empty())
}

impl Settings {
    pub fn set_property(&mut self, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "model" => self.model = path(value),
            "labels" => self.labels = path(value),
            "ort-library" => self.ort_library = path(value),
            "execution-provider" => self.provider = get(value),
            "device-id" => self.device_id = get(value),
            "intra-threads" => self.intra_threads = get(value),
            "batch-size" => self.batch_size = get(value),
            "max-batch-bytes" => self.max_batch_bytes = get(value),
            "max-batch-latency" => self.max_batch_latency_ms = get(value),
            "conf-threshold" => self.conf_threshold = get(value),
            "iou-threshold" => self.iou_threshold = get(value),
            "max-detections" => self.max_detections = get(value),
            "classes" => self.classes = non_blank(value),
            "agnostic-nms" => self.agnostic_nms = get(value),
            "input-size" => self.input_size = get(value),
            "trt-cache-dir" => self.trt_cache_dir = path(value),
            "fill" => self.fill = get(value),
            "preprocess-threads" => self.preprocess_threads = get(value),
            "preprocess" => self.preprocess = get(value),
            "cuda-graph" => self.cuda_graph = get(value),
            "engine-name" => self.engine_name = non_blank(value),
            "engine-instances" => self.engine_instances = get(value),
            "engine-batch-size" => self.engine_batch_size = get(value),
            "engine-batch-latency" => self.engine_batch_latency_ms = get(value),
            other => unreachable!("unknown property {other}"),
        }
    }

    pub fn property(&self, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "model" => path_str(&self.model).to_value(),
            "labels" => path_str(&self.labels).to_value(),
            "ort-library" => path_str(&self.ort_library).to_value(),
            "execution-provider" => self.provider.to_value(),
            "device-id" => self.device_id.to_value(),
            "intra-threads" => self.intra_threads.to_value(),
            "batch-size" => self.batch_size.to_value(),
            "max-batch-bytes" => self.max_batch_bytes.to_value(),
            "max-batch-latency" => self.max_batch_latency_ms.to_value(),
            "conf-threshold" => self.conf_threshold.to_value(),
            "iou-threshold" => self.iou_threshold.to_value(),
            "max-detections" => self.max_detections.to_value(),
            "classes" => self.classes.to_value(),
            "agnostic-nms" => self.agnostic_nms.to_value(),
            "input-size" => self.input_size.to_value(),
            "trt-cache-dir" => path_str(&self.trt_cache_dir).to_value(),
            "fill" => self.fill.to_value(),
            "preprocess-threads" => self.preprocess_threads.to_value(),
            "preprocess" => self.preprocess.to_value(),
            "cuda-graph" => self.cuda_graph.to_value(),
            "engine-name" => self.engine_name.to_value(),
            "engine-instances" => self.engine_instances.to_value(),
            "engine-batch-size" => self.engine_batch_size.to_value(),
            "engine-batch-latency" => self.engine_batch_latency_ms.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

/// Resolves the `classes` property ("0, 2" or "person,ball") against the class names.
pub fn resolve_classes(
    spec: Option<&str>,
    names: &[Arc<str>],
) -> Result<Option<Vec<usize>>, String> {
    let Some(spec) = spec else { return Ok(None) };
    let mut ids = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let id = match part.parse::<usize>() {
            Ok(id) if id < names.len() => id,
            Ok(id) => {
                return Err(format!(
                    "class id {id} is out of range (the model has {} classes)",
                    names.len()
                ))
            }
            Err(_) => names
                .iter()
                .position(|n| n.as_ref() == part)
                .ok_or_else(|| format!("no class named '{part}' in the model"))?,
        };
        ids.push(id);
    }
    Ok(Some(ids))
}
