//! What yolodetect and posedetect share: settings and properties, the execution-provider enum,
//! and the batching runtime ([`runtime::Detector`]). Not an element itself: each element's
//! imp.rs is a thin GObject wrapper around a [`runtime::Detector`].

pub mod cudamem;
pub mod fill;
pub mod runtime;

use std::path::PathBuf;

use gst::glib;
use gst::prelude::*;

use courtvision_infer::Provider;

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
        name = "Auto: on the device with the cuda and tensorrt providers, on the host with cpu",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(
        name = "Host: letterboxed into a float batch on the CPU (preprocess-threads workers)",
        nick = "host"
    )]
    Host = 1,
    #[enum_value(
        name = "Device: frames letterboxed into the model's batch by courtvision's CUDA kernel, read where they lie in CUDA memory, or from system memory uploaded as uint8 one at a time (an ONNX Runtime graph on the execution provider where the kernel cannot load)",
        nick = "device"
    )]
    Device = 2,
}

/// Which element a detector runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// yolodetect: any detection (or pose) export; boxes.
    Detect,
    /// posedetect: pose exports only; boxes with keypoints.
    Pose,
}

pub const DEFAULT_CONF: f64 = 0.25;
/// Ultralytics' predict default.
pub const DEFAULT_IOU: f64 = 0.7;
pub const DEFAULT_MAX_DET: u32 = 300;
/// Batch size when the property is 0 (auto) and the model's batch is dynamic.
pub const DEFAULT_DYNAMIC_BATCH: usize = 4;

#[derive(Debug, Clone)]
pub struct Settings {
    pub model: Option<PathBuf>,
    pub labels: Option<PathBuf>,
    pub ort_library: Option<PathBuf>,
    pub provider: ExecutionProvider,
    pub device_id: u32,
    pub intra_threads: u32,
    pub batch_size: u32,
    pub max_batch_latency_ms: u32,
    pub conf_threshold: f64,
    pub iou_threshold: f64,
    pub max_detections: u32,
    pub classes: Option<String>,
    pub agnostic_nms: bool,
    pub input_size: u32,
    pub trt_cache_dir: Option<PathBuf>,
    pub fill: fill::Fill,
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
            max_batch_latency_ms: 0,
            conf_threshold: DEFAULT_CONF,
            iou_threshold: DEFAULT_IOU,
            max_detections: DEFAULT_MAX_DET,
            classes: None,
            agnostic_nms: false,
            input_size: 0,
            trt_cache_dir: None,
            fill: fill::Fill::None,
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

/// Properties of both detector elements.
pub fn properties() -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecString::builder("model")
            .nick("Model")
            .blurb("Path of the ONNX model (an ultralytics YOLO export)")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("engine-name")
            .nick("Engine name")
            .blurb(
                "Elements of one process with the same engine name share one loaded model \
                 (engine-instances sessions of it, loaded and warmed up once, the weights in \
                 memory once); batches that queue up while every session is busy run together, \
                 up to engine-batch-size frames. They must agree on model, ort-library, \
                 execution-provider, device-id, intra-threads, trt-cache-dir, cuda-graph and \
                 the engine-* properties. Unset: the element has a model of its own",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("engine-instances")
            .nick("Engine instances")
            .blurb(
                "With engine-name: sessions of the shared model, each running one batch at a \
                 time (more overlap runs on the GPU, each costs a first run and the weights' \
                 memory); 0: two on a GPU provider, one on the CPU",
            )
            .maximum(16)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("engine-batch-size")
            .nick("Engine batch size")
            .blurb(
                "With engine-name: the most frames one run takes from the sharers' batches that \
                 queued up together (dynamic-batch models; a static-batch model's runs take its \
                 batch; no run with cuda-graph; on a GPU every run has this many frames, so \
                 at least the sharers' batch-size); 1: every batch runs alone; 0: 32 on a GPU \
                 provider, 1 on the CPU",
            )
            .maximum(1024)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("engine-batch-latency")
            .nick("Engine batch latency")
            .blurb(
                "With engine-name: how long (ms) a free session may wait for more of the \
                 sharers' batches to run together with the oldest queued one, until \
                 engine-batch-size frames are there; 0: it runs what queued at once",
            )
            .maximum(10_000)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("labels")
            .nick("Labels file")
            .blurb("Text file with one class name per line, overriding the model's names")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("ort-library")
            .nick("ONNX Runtime library")
            .blurb(
                "Path of libonnxruntime.so; default: ORT_DYLIB_PATH, else the onnxruntime(-gpu) \
                 Python package",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("execution-provider", ExecutionProvider::Cpu)
            .nick("Execution provider")
            .blurb("Where inference runs")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("device-id")
            .nick("Device id")
            .blurb("GPU index for the cuda and tensorrt providers")
            .maximum(63)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("intra-threads")
            .nick("Intra-op threads")
            .blurb("ONNX Runtime intra-op threads (0 = one per core)")
            .maximum(256)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("batch-size")
            .nick("Batch size")
            .blurb(
                "Frames per inference batch (0 = the model's static batch, else 4). A model with \
                 a static batch always runs its own batch size",
            )
            .maximum(64)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("max-batch-latency")
            .nick("Max batch latency")
            .blurb(
                "Longest wait in ms for a batch to fill before a partial batch runs (0 = wait \
                 until full; set it for live sources)",
            )
            .maximum(10_000)
            .default_value(0)
            .mutable_playing()
            .build(),
        glib::ParamSpecDouble::builder("conf-threshold")
            .nick("Confidence threshold")
            .blurb("Minimum class score of a detection")
            .minimum(0.0)
            .maximum(1.0)
            .default_value(DEFAULT_CONF)
            .mutable_playing()
            .build(),
        glib::ParamSpecDouble::builder("iou-threshold")
            .nick("IoU threshold")
            .blurb("NMS overlap above which the weaker box is suppressed (raw outputs only)")
            .minimum(0.0)
            .maximum(1.0)
            .default_value(DEFAULT_IOU)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("max-detections")
            .nick("Max detections")
            .blurb("Most detections kept per frame")
            .minimum(1)
            .maximum(10_000)
            .default_value(DEFAULT_MAX_DET)
            .mutable_playing()
            .build(),
        glib::ParamSpecString::builder("classes")
            .nick("Classes")
            .blurb("Comma-separated class ids or names to keep (empty = all)")
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder("agnostic-nms")
            .nick("Class-agnostic NMS")
            .blurb("Suppress overlapping boxes across classes, not only within a class")
            .default_value(false)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("input-size")
            .nick("Input size")
            .blurb(
                "Inference size (long side, pixels) for dynamic-size models (0 = the model's \
                 imgsz); frames are padded only to the stride (rectangular inference)",
            )
            .maximum(8192)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("fill", fill::Fill::None)
            .nick("Fill")
            .blurb(
                "Results for frames motionskip skipped: none, hold the last inferred frame's, or \
                 interpolate between the inferred frames around them (adds motionskip's max-skip \
                 frames of latency)",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("preprocess-threads")
            .nick("Preprocess threads")
            .blurb(
                "Threads that letterbox (host) or copy (device) one frame (0 = auto: 1 with the \
                 cpu provider, whose inference uses the cores, else up to half the cores, at \
                 most 8)",
            )
            .maximum(64)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("preprocess", Preprocess::Auto)
            .nick("Preprocess")
            .blurb(
                "Where letterbox + normalise run: host (CPU, into a float batch) or device (frames \
                 in CUDA memory letterboxed straight into the model's batch by courtvision's \
                 CUDA kernel; frames in system memory copied as uint8 into pinned memory, \
                 uploaded per batch and letterboxed by ONNX Runtime on the execution provider); \
                 auto = device on GPU providers",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("cuda-graph")
            .nick("CUDA graph")
            .blurb(
                "Record the model's kernel launches once and replay them (cuda provider, device \
                 preprocessing, raw-output models; the frame size may not change afterwards)",
            )
            .default_value(false)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("trt-cache-dir")
            .nick("TensorRT cache directory")
            .blurb("Directory for TensorRT engine and timing caches (tensorrt provider)")
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

impl Settings {
    pub fn set_property(&mut self, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "model" => self.model = path(value),
            "labels" => self.labels = path(value),
            "ort-library" => self.ort_library = path(value),
            "execution-provider" => self.provider = value.get().expect("type checked upstream"),
            "device-id" => self.device_id = value.get().expect("type checked upstream"),
            "intra-threads" => self.intra_threads = value.get().expect("type checked upstream"),
            "batch-size" => self.batch_size = value.get().expect("type checked upstream"),
            "max-batch-latency" => {
                self.max_batch_latency_ms = value.get().expect("type checked upstream")
            }
            "conf-threshold" => self.conf_threshold = value.get().expect("type checked upstream"),
            "iou-threshold" => self.iou_threshold = value.get().expect("type checked upstream"),
            "max-detections" => self.max_detections = value.get().expect("type checked upstream"),
            "classes" => {
                self.classes = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .filter(|s| !s.trim().is_empty())
            }
            "agnostic-nms" => self.agnostic_nms = value.get().expect("type checked upstream"),
            "input-size" => self.input_size = value.get().expect("type checked upstream"),
            "trt-cache-dir" => self.trt_cache_dir = path(value),
            "fill" => self.fill = value.get().expect("type checked upstream"),
            "preprocess-threads" => {
                self.preprocess_threads = value.get().expect("type checked upstream")
            }
            "preprocess" => self.preprocess = value.get().expect("type checked upstream"),
            "cuda-graph" => self.cuda_graph = value.get().expect("type checked upstream"),
            "engine-instances" => {
                self.engine_instances = value.get().expect("type checked upstream")
            }
            "engine-batch-size" => {
                self.engine_batch_size = value.get().expect("type checked upstream")
            }
            "engine-batch-latency" => {
                self.engine_batch_latency_ms = value.get().expect("type checked upstream")
            }
            "engine-name" => {
                self.engine_name = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .filter(|s| !s.trim().is_empty())
            }
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
    names: &[std::sync::Arc<str>],
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

/// Implements ObjectImpl, GstObjectImpl and ElementImpl for a detector element's imp struct,
/// which must have a `detector: runtime::Detector` field and implement `ObjectSubclass` with
/// `ParentType = gst::Element`. Both elements are the same runtime with different metadata and
/// [`Kind`], so the GObject glue is written once here.
macro_rules! detector_element_impl {
    ($imp:ty, $longname:expr, $description:expr) => {
        impl gst::subclass::prelude::ObjectImpl for $imp {
            fn properties() -> &'static [gst::glib::ParamSpec] {
                static PROPS: std::sync::LazyLock<Vec<gst::glib::ParamSpec>> =
                    std::sync::LazyLock::new($crate::detector::properties);
                PROPS.as_ref()
            }

            fn set_property(
                &self,
                _id: usize,
                value: &gst::glib::Value,
                pspec: &gst::glib::ParamSpec,
            ) {
                self.detector.set_property(value, pspec);
            }

            fn property(&self, _id: usize, pspec: &gst::glib::ParamSpec) -> gst::glib::Value {
                self.detector.property(pspec)
            }

            fn constructed(&self) {
                self.parent_constructed();
                let obj = self.obj();
                obj.add_pad(self.detector.sinkpad()).unwrap();
                obj.add_pad(self.detector.srcpad()).unwrap();
            }
        }

        impl gst::subclass::prelude::GstObjectImpl for $imp {}

        impl gst::subclass::prelude::ElementImpl for $imp {
            fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
                static META: std::sync::LazyLock<gst::subclass::ElementMetadata> =
                    std::sync::LazyLock::new(|| {
                        gst::subclass::ElementMetadata::new(
                            $longname,
                            "Filter/Analyzer/Video",
                            $description,
                            "courtvision developers",
                        )
                    });
                Some(&*META)
            }

            fn pad_templates() -> &'static [gst::PadTemplate] {
                static TEMPLATES: std::sync::LazyLock<Vec<gst::PadTemplate>> =
                    std::sync::LazyLock::new($crate::caps::detector_templates);
                TEMPLATES.as_ref()
            }

            fn change_state(
                &self,
                transition: gst::StateChange,
            ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
                let element = self.obj();
                let element = element.upcast_ref::<gst::Element>();
                self.detector.before_state_change(element, transition)?;
                let result = self.parent_change_state(transition)?;
                self.detector.after_state_change(element, transition);
                Ok(result)
            }
        }
    };
}
pub(crate) use detector_element_impl;

/// Builds the pads of a detector element of subclass `T` and its runtime.
pub fn new_detector<T>(kind: Kind) -> runtime::Detector
where
    T: gst::subclass::prelude::ElementImpl + AsRef<runtime::Detector>,
    <T as gst::subclass::prelude::ObjectSubclass>::Type: IsA<gst::Element>,
{
    use gst::subclass::prelude::*;
    let template = |name: &str| {
        T::pad_templates()
            .iter()
            .find(|t| t.name_template() == name)
            .expect("template exists")
            .clone()
    };
    let sinkpad = gst::Pad::builder_from_template(&template("sink"))
        .chain_function(|pad, parent, buffer| {
            T::catch_panic_pad_function(
                parent,
                || Err(gst::FlowError::Error),
                |imp| imp.as_ref().chain(pad, &imp.obj().clone().upcast(), buffer),
            )
        })
        .event_function(|pad, parent, event| {
            T::catch_panic_pad_function(
                parent,
                || false,
                |imp| {
                    imp.as_ref()
                        .sink_event(pad, &imp.obj().clone().upcast(), event)
                },
            )
        })
        .query_function(|pad, parent, query| {
            T::catch_panic_pad_function(
                parent,
                || false,
                |imp| {
                    imp.as_ref()
                        .sink_query(pad, &imp.obj().clone().upcast(), query)
                },
            )
        })
        .activatemode_function(|pad, parent, mode, active| {
            T::catch_panic_pad_function(
                parent,
                || Err(gst::loggable_error!(runtime::CAT, "panic in activation")),
                |imp| imp.as_ref().sink_activate(pad, mode, active),
            )
        })
        .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
        .build();
    let srcpad = gst::Pad::builder_from_template(&template("src"))
        .query_function(|pad, parent, query| {
            T::catch_panic_pad_function(
                parent,
                || false,
                |imp| {
                    imp.as_ref()
                        .src_query(pad, &imp.obj().clone().upcast(), query)
                },
            )
        })
        .activatemode_function(|pad, parent, mode, active| {
            T::catch_panic_pad_function(
                parent,
                || Err(gst::loggable_error!(runtime::CAT, "panic in activation")),
                |imp| {
                    imp.as_ref()
                        .src_activate(pad, &imp.obj().clone().upcast(), mode, active)
                },
            )
        })
        .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
        .build();
    runtime::Detector::new(kind, sinkpad, srcpad)
}
