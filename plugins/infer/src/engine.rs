// SPDX-License-Identifier: MIT OR Apache-2.0
//! ONNX Runtime: finding and loading the shared library, execution providers, sessions, and the
//! reusable batch tensor that frames are letterboxed into.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use half::f16;
use half::slice::HalfFloatSliceExt as _;
use ort::ep::{self, ExecutionProvider as _};
use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{builder::GraphOptimizationLevel, Session};
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::augment::{self, BEST_OUTPUT};
use crate::cuda::{tight_frame, DeviceFrame, FrameCopier, LetterboxTarget};
use crate::decode::ClassRows;
use crate::graph::{copy_tight_threads, tight_len, GraphPreprocess, GraphSpec};
use crate::model::{self, GraphSignature, ModelInfo, Precision};
use crate::preprocess::{
    check_frame, letterbox_into_threads, FrameError, FrameView, Letterbox, PixelFormat,
};
use crate::InferError;

/// Execution provider selection of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provider {
    #[default]
    Cpu,
    Cuda,
    TensorRt,
    /// The best available (TensorRT is never picked automatically: its engine build takes
    /// minutes; CUDA, else CPU with a warning).
    Auto,
}

/// Everything needed to open a model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineConfig {
    pub model: PathBuf,
    /// Explicit path of libonnxruntime (the `ort-library` property).
    pub ort_library: Option<PathBuf>,
    pub provider: Provider,
    pub device_id: i32,
    /// Intra-op threads; 0 lets ONNX Runtime choose (one per core).
    pub intra_threads: usize,
    /// TensorRT engine cache directory.
    pub trt_cache_dir: Option<PathBuf>,
    /// CUDA graphs (CUDA provider, raw-output models): the model's kernel launches recorded
    /// once and replayed. ONNX Runtime needs every input and output at fixed device addresses:
    /// frames batches ([`Engine::new_frames_batch`]) get fixed buffers, float batches from the
    /// host cannot run, and the input size may not change after the first run.
    pub cuda_graph: bool,
    /// Keeps the model's outputs as exported, without the best-class output appended to raw
    /// multi-class heads (see [`crate::augment`]): for model-only timing.
    pub plain_output: bool,
}

/// The library loaded into this process (ONNX Runtime can be loaded once per process).
static LOADED: Mutex<Option<PathBuf>> = Mutex::new(None);
static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// Where the ONNX Runtime library is looked for, in order, with the path each place gave.
pub fn library_candidates(explicit: Option<&Path>) -> Vec<(String, Option<PathBuf>)> {
    if let Some(p) = explicit {
        return vec![("the ort-library property".into(), Some(p.to_path_buf()))];
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return vec![("ORT_DYLIB_PATH".into(), Some(PathBuf::from(p)))];
    }
    vec![(
        "the onnxruntime Python package (python3)".into(),
        python_package_library(),
    )]
}

/// Asks python3 where the onnxruntime (or onnxruntime-gpu: same module) package lives, without
/// importing it, and picks the newest `capi/libonnxruntime.so.*` inside.
fn python_package_library() -> Option<PathBuf> {
    let script = "import importlib.util as u\ns=u.find_spec('onnxruntime')\n\
                  print(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("capi");
    let mut libs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so") || n == "onnxruntime.dll")
        })
        .collect();
    libs.sort_by_key(|p| p.as_os_str().len());
    libs.pop()
}

/// Loads ONNX Runtime (once per process) and creates the process' environment.
/// Returns the library path in use and, when a different one was asked for after the first
/// load, a warning saying so.
pub fn ensure_runtime(explicit: Option<&Path>) -> Result<(PathBuf, Option<String>), InferError> {
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    let candidates = library_candidates(explicit);
    if let Some(p) = explicit.filter(|p| !p.exists()) {
        return Err(InferError::LibraryNotFound(format!(
            "ONNX Runtime library not found: the ort-library property names {}, which does not exist",
            p.display()
        )));
    }
    if let Some(path) = loaded.as_ref() {
        let wanted = candidates.first().and_then(|(_, p)| p.clone());
        let warning = match wanted {
            Some(w) if explicit.is_some() && w != *path => Some(format!(
                "ONNX Runtime is already loaded from {} in this process; {} is not used",
                path.display(),
                w.display()
            )),
            _ => None,
        };
        return Ok((path.clone(), warning));
    }
    let mut tried = Vec::new();
    for (source, path) in &candidates {
        let Some(path) = path else {
            tried.push(format!("{source}: not found"));
            continue;
        };
        if !path.exists() {
            tried.push(format!("{source}: {} does not exist", path.display()));
            continue;
        }
        match ort::init_from(path) {
            Ok(builder) => {
                let env = ENVIRONMENT.get_or_init(|| {
                    builder
                        .with_name("courtvision")
                        .build()
                        .map_err(|e| e.to_string())
                });
                if let Err(e) = env {
                    return Err(InferError::Runtime(format!(
                        "ONNX Runtime environment could not be created: {e}"
                    )));
                }
                *loaded = Some(path.clone());
                return Ok((path.clone(), None));
            }
            Err(e) => tried.push(format!("{source}: {e}")),
        }
    }
    Err(InferError::LibraryNotFound(format!(
        "ONNX Runtime library (1.{}.x or newer) not found; tried {}. Install it with \
         `pip install onnxruntime==1.31.1`, or set ORT_DYLIB_PATH or the ort-library property \
         to libonnxruntime.so",
        ort::MINOR_VERSION,
        tried.join("; ")
    )))
}

/// The process' ONNX Runtime environment (after [`ensure_runtime`]).
pub fn environment() -> Result<&'static ort::environment::Environment, InferError> {
    match ENVIRONMENT.get() {
        Some(Ok(env)) => Ok(env),
        Some(Err(e)) => Err(InferError::Runtime(e.clone())),
        None => Err(InferError::Runtime("ONNX Runtime is not loaded".into())),
    }
}

fn precision(ty: &ValueType, what: &str) -> Result<(Vec<i64>, Precision), InferError> {
    match ty {
        ValueType::Tensor { ty, shape, .. } => {
            let p = match ty {
                TensorElementType::Float32 => Precision::F32,
                TensorElementType::Float16 => Precision::F16,
                other => {
                    return Err(InferError::UnsupportedModel(format!(
                        "{what} is {other:?}; float32 and float16 are supported"
                    )))
                }
            };
            Ok((shape.iter().copied().collect(), p))
        }
        other => Err(InferError::UnsupportedModel(format!(
            "{what} is not a tensor ({other:?})"
        ))),
    }
}

/// A loaded model: its session and what it says about itself.
pub struct Engine {
    session: Session,
    pub info: ModelInfo,
    /// The provider actually in use (Auto resolved).
    pub provider: Provider,
    output: Vec<f32>,
    device_id: i32,
    /// The preprocessing graphs of the latest frames layouts run (see
    /// [`Engine::new_frames_batch`]), the latest last: a few, for engines shared by streams of
    /// different layouts, at most [`PRE_GRAPHS`].
    pre: Vec<GraphPreprocess>,
    cuda_graph: bool,
    /// The session has the best-class output appended (see [`crate::augment`]).
    best: bool,
    /// Runs per batch layout (see [`GPU_RUNS`]).
    warm: HashMap<String, u32>,
    /// Fixed device buffers of CUDA-graph replay.
    replay: Option<Replay>,
    /// The preprocessing graph captured as a CUDA graph too, for one stream layout.
    pre_replay: Option<PreReplay>,
    /// The CUDA driver's copies into and out of the replay buffers (set with `replay`) and
    /// into combined batches.
    copier: Option<FrameCopier>,
    /// The input tensors of combined runs ([`Engine::run_combined`]) on the model's device,
    /// one per shape run.
    combined: HashMap<[usize; 4], ort::value::DynTensor>,
    /// The host batch of combined runs of batches letterboxed on the host.
    combined_host: Option<BatchTensor>,
}

/// The buffers a captured CUDA graph reads and writes, for one input size: the letterboxed
/// batch (copied in from the preprocessing graph's output) and the outputs on the device.
struct Replay {
    dims: [usize; 4],
    images: ort::value::DynTensor,
    /// The session's outputs, in its order.
    outputs: Vec<ReplayOutput>,
    binding: ort::session::IoBinding,
}

/// A preprocessing graph replayed as a CUDA graph (one kernel-graph launch instead of a run
/// launching each node: 0.46 ms of a batch-1 frame's 1.9 ms on the H100 went to that run) from
/// fixed buffers: frames batches are copied into `frames`, `images` is copied into the model's
/// replay input.
struct PreReplay {
    pre: GraphPreprocess,
    frames: ort::value::Tensor<u8>,
    images: ort::value::DynTensor,
    binding: ort::session::IoBinding,
}

/// What a replay starts from: uint8 frames for the preprocessing graph, or the letterboxed
/// batch.
enum ReplayInput<'a> {
    Frames(&'a ort::value::Tensor<u8>),
    Images(&'a ort::value::DynTensor),
}

/// One output of a captured CUDA graph.
struct ReplayOutput {
    name: String,
    precision: Precision,
    shape: Vec<usize>,
    device: ort::value::DynTensor,
    /// Pinned host memory the driver copies `device` into (made on first use).
    host: Option<ort::value::DynTensor>,
}

/// An uninitialised tensor of `shape` in `precision` from `alloc`.
fn typed_tensor(
    alloc: &ort::memory::Allocator,
    precision: Precision,
    shape: &[usize],
) -> Result<ort::value::DynTensor, ort::Error> {
    Ok(match precision {
        Precision::F32 => ort::value::Tensor::<f32>::new(alloc, shape.to_vec())?.upcast(),
        Precision::F16 => ort::value::Tensor::<f16>::new(alloc, shape.to_vec())?.upcast(),
    })
}

/// A raw YOLO head's anchors for an `h` x `w` input: the cells of the stride 8, 16 and 32 grids.
fn anchors(h: usize, w: usize) -> usize {
    [8, 16, 32].iter().map(|s| (h / s) * (w / s)).sum()
}

/// A GPU session's first run of an input shape captures CUDA streams in global mode (cuDNN's
/// algorithm search, most likely; ONNX Runtime's own CUDA-graph capture with `cuda_graph`);
/// meanwhile any other thread's CUDA call in the process fails with "operation not permitted
/// when stream is capturing", as four streams starting at once on the H100 did. First runs
/// take this lock exclusively, every other GPU run shares it, so warm engines run side by side.
static GPU_RUNS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// The process-wide GPU lock an engine's run holds (see [`GPU_RUNS`]): exclusive or shared.
type RunGuard = (
    Option<std::sync::RwLockWriteGuard<'static, ()>>,
    Option<std::sync::RwLockReadGuard<'static, ()>>,
);

/// Preprocessing graphs an engine keeps (one per frames layout: size, format, batch).
const PRE_GRAPHS: usize = 4;

/// Output of one batch run, copied once into host memory as f32.
pub struct BatchOutput<'a> {
    pub data: &'a [f32],
    /// `[batch, d1, d2]` as run.
    pub shape: [usize; 3],
    /// What a raw head's class rows hold.
    pub rows: ClassRows,
}

impl BatchOutput<'_> {
    /// The slice of frame `i`, its (d1, d2) and class rows, as [`crate::decode::decode_frame`]
    /// takes them.
    pub fn frame(&self, i: usize) -> (&[f32], ((usize, usize), ClassRows)) {
        let per = self.shape[1] * self.shape[2];
        (
            &self.data[i * per..(i + 1) * per],
            ((self.shape[1], self.shape[2]), self.rows),
        )
    }
}

impl Engine {
    /// Loads the runtime and the model. Warnings (fallbacks) are returned for the caller to log.
    pub fn load(cfg: &EngineConfig) -> Result<(Engine, Vec<String>), InferError> {
        let mut warnings = Vec::new();
        if !cfg.model.is_file() {
            return Err(InferError::ModelNotFound(cfg.model.display().to_string()));
        }
        let (_, warning) = ensure_runtime(cfg.ort_library.as_deref())?;
        warnings.extend(warning);
        let env = environment()?;

        let provider = match cfg.provider {
            Provider::Auto => {
                if ep::CUDA::is_available().unwrap_or(false) {
                    Provider::Cuda
                } else {
                    warnings.push(
                        "execution-provider=auto: CUDA is not available in this ONNX Runtime, \
                         running on the CPU"
                            .into(),
                    );
                    Provider::Cpu
                }
            }
            p => p,
        };
        let ort_err = |e: ort::Error| InferError::Runtime(e.to_string());
        let mut builder = Session::builder(env)
            .map_err(ort_err)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| ort_err(e.into()))?;
        if cfg.intra_threads > 0 {
            builder = builder
                .with_intra_threads(cfg.intra_threads)
                .map_err(|e| ort_err(e.into()))?;
        }
        builder = profiling(builder, "model")?;
        if provider != Provider::Cpu {
            warnings.extend(sync_mode(cfg.device_id));
        }
        let mut provider = provider;
        if let Err(e) = register_provider(&mut builder, provider, cfg) {
            if cfg.provider == Provider::Auto {
                warnings.push(format!("execution-provider=auto: {e}; running on the CPU"));
                provider = Provider::Cpu;
            } else {
                return Err(e);
            }
        }

        let bad = |e: ort::Error| InferError::BadModel(format!("{}: {e}", cfg.model.display()));
        // What the model says about itself, from a session that only reads it (no provider,
        // no optimisation): the best-class nodes depend on it and go in before the real one.
        let probe = Session::builder(env)
            .map_err(ort_err)?
            .with_optimization_level(GraphOptimizationLevel::Disable)
            .map_err(|e| ort_err(e.into()))?
            .with_intra_threads(1)
            .map_err(|e| ort_err(e.into()))?
            .commit_from_file(&cfg.model)
            .map_err(bad)?;
        let (info, output_dims) = Self::introspect(&probe)?;
        drop(probe);
        // With one or two classes the best-class rows are no fewer than the class rows.
        let best =
            !cfg.plain_output && info.layout == model::OutputLayout::Raw && info.num_classes() > 2;
        let mut session = None;
        if best {
            let bytes = std::fs::read(&cfg.model)
                .map_err(|e| InferError::BadModel(format!("{}: {e}", cfg.model.display())))?;
            let bytes = augment::with_best_class(
                &bytes,
                &info.output_name,
                info.output_precision == Precision::F16,
                output_dims,
                info.num_classes(),
                info.keypoint_values(),
            );
            match builder.commit_from_memory(&bytes) {
                Ok(s) => session = Some(s),
                Err(e) => warnings.push(format!(
                    "the best-class output could not be added ({e}); every class score is \
                     copied to the host and scanned there"
                )),
            }
        }
        let best = session.is_some();
        let session = match session {
            Some(s) => s,
            None => builder.commit_from_file(&cfg.model).map_err(bad)?,
        };

        let cuda_graph = cfg.cuda_graph && provider == Provider::Cuda;
        if cfg.cuda_graph && !cuda_graph {
            warnings.push("cuda-graph is for the cuda provider; running without".into());
        }
        if cuda_graph && info.layout != model::OutputLayout::Raw {
            return Err(InferError::UnsupportedModel(
                "cuda-graph needs a raw-output export (no embedded NMS, no end-to-end head): its \
                 output size must be known before the first run"
                    .into(),
            ));
        }
        Ok((
            Engine {
                session,
                info,
                provider,
                output: Vec::new(),
                device_id: cfg.device_id,
                pre: Vec::new(),
                cuda_graph,
                best,
                warm: HashMap::new(),
                replay: None,
                pre_replay: None,
                copier: None,
                combined: HashMap::new(),
                combined_host: None,
            },
            warnings,
        ))
    }

    /// The model's [`ModelInfo`] from its signature and metadata, and its output's dimensions
    /// (`-1` where dynamic).
    fn introspect(session: &Session) -> Result<(ModelInfo, [i64; 3]), InferError> {
        let meta: HashMap<String, String> = match session.metadata() {
            Ok(m) => m
                .custom_keys()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|k| m.custom(&k).map(|v| (k, v)))
                .collect(),
            Err(_) => HashMap::new(),
        };
        let (input, output) = match (session.inputs(), session.outputs()) {
            ([i], [o, ..]) => (i, o),
            (ins, outs) => {
                return Err(InferError::UnsupportedModel(format!(
                    "{} inputs and {} outputs; a YOLO export has one image input and one output",
                    ins.len(),
                    outs.len()
                )))
            }
        };
        let (input_shape, input_precision) = precision(input.dtype(), "the input")?;
        let (output_shape, output_precision) = precision(output.dtype(), "the output")?;
        let sig = GraphSignature {
            input_name: input.name().to_string(),
            input_shape,
            input_precision,
            output_name: output.name().to_string(),
            output_shape,
            output_precision,
        };
        let info = model::introspect(&sig, &meta)?;
        let dims = match sig.output_shape[..] {
            [b, c, a] => [b, c, a],
            _ => [-1, -1, -1],
        };
        Ok((info, dims))
    }

    /// A batch tensor for this model: `batch` slots letterboxed as `lb` says.
    pub fn new_batch(&self, batch: usize, lb: Letterbox) -> BatchTensor {
        BatchTensor::new(self.info.input_precision, batch, lb)
    }

    /// Runs one batch and copies the output once into host f32.
    /// `rows`: [`ClassRows::Best`] where the caller takes each anchor's best class (no class
    /// filter); the output says what it holds (every class where the model has no best-class
    /// output).
    pub fn run(
        &mut self,
        batch: &BatchTensor,
        rows: ClassRows,
    ) -> Result<BatchOutput<'_>, InferError> {
        let _guard = self.run_guard(format!(
            "{:?} {:?} {}",
            batch.lb,
            batch.graph_spec(),
            batch.slots
        ));
        let shape = [
            batch.slots as i64,
            3,
            batch.lb.dst_h as i64,
            batch.lb.dst_w as i64,
        ];
        let err = |e: ort::Error| InferError::Runtime(format!("inference failed: {e}"));
        if self.cuda_graph && batch.graph_spec().is_none() {
            return Err(InferError::Runtime(
                "cuda-graph runs frames batches (device preprocessing) only".into(),
            ));
        }
        let (out, precision, rows) = self.pick(rows);
        let name = self.info.input_name.as_str();
        // Only the output read is fetched (and copied off the device).
        let options = ort::session::RunOptions::new()
            .map_err(err)?
            .with_outputs(ort::session::OutputSelector::no_default().with(out.as_str()));
        let outputs = match &batch.data {
            BatchData::F32(v) => self.session.run_with_options(
                ort::inputs![name => TensorRef::from_array_view((shape, &v[..])).map_err(err)?],
                &options,
            ),
            BatchData::F16(v) => self.session.run_with_options(
                ort::inputs![name => TensorRef::from_array_view((shape, &v[..])).map_err(err)?],
                &options,
            ),
            BatchData::Frames(f) => return self.run_frames(f, rows),
        }
        .map_err(err)?;
        let dims = Self::copy_output(&mut self.output, precision, &outputs[out.as_str()])?;
        drop(outputs);
        self.checked_output(dims, batch.slots, rows)
    }

    /// See [`GPU_RUNS`]: a GPU session's first run of a batch layout (`key`) runs alone in the
    /// process, later ones side by side with other engines' runs.
    fn run_guard(&mut self, key: String) -> RunGuard {
        if self.provider == Provider::Cpu {
            return (None, None);
        }
        let runs = self.warm.entry(key).or_insert(0);
        *runs += 1;
        // ONNX Runtime captures a CUDA graph on one of the first runs, also globally.
        if *runs <= if self.cuda_graph { 4 } else { 1 } {
            (
                Some(GPU_RUNS.write().unwrap_or_else(|e| e.into_inner())),
                None,
            )
        } else {
            (
                None,
                Some(GPU_RUNS.read().unwrap_or_else(|e| e.into_inner())),
            )
        }
    }

    /// Runs the first `n` frames of each batch of `parts` as one batch of `slots` (at least
    /// their sum; slots after them run on whatever they hold): each part's letterboxed images,
    /// copied one after another into an input batch of the engine's own on the model's device
    /// (batches letterboxed on the host: into a host batch). For engines several streams share
    /// (see [`crate::pool`]): one run of many frames instead of one run per stream. The parts
    /// must agree on [`BatchTensor::combine_key`]; not with `cuda_graph` (a captured graph
    /// replays one input size). The output, frame after frame in the parts' order, is read
    /// with [`Engine::output`]; returns its shape and what its class rows hold.
    pub fn run_combined(
        &mut self,
        parts: &[(&BatchTensor, usize)],
        slots: usize,
        rows: ClassRows,
    ) -> Result<([usize; 3], ClassRows), InferError> {
        let refuse = |why: String| Err(InferError::Runtime(format!("combined batch: {why}")));
        let Some(&(first, _)) = parts.first() else {
            return refuse("nothing to run".into());
        };
        let key = first.combine_key();
        if parts.iter().any(|(t, _)| t.combine_key() != key) {
            return refuse("the batches differ in input size, precision or preprocessing".into());
        }
        if self.cuda_graph {
            return refuse("not with cuda-graph (a captured graph replays one input size)".into());
        }
        let total: usize = parts.iter().map(|&(_, n)| n).sum();
        if total > slots || parts.iter().any(|&(t, n)| n > t.slots) {
            return refuse(format!("{total} frames for {slots} slots"));
        }
        let lb = first.lb;
        let per = lb.slot_len();
        if matches!(first.data, BatchData::F32(_) | BatchData::F16(_)) {
            // Any source size: the parts are letterboxed already, only the input size counts.
            let same = |t: &BatchTensor| (t.lb.dst_w, t.lb.dst_h) == (lb.dst_w, lb.dst_h);
            let mut combined = match self.combined_host.take() {
                Some(t) if t.slots == slots && same(&t) => t,
                _ => BatchTensor::new(self.info.input_precision, slots, lb),
            };
            combined.lb = lb;
            let mut at = 0;
            for &(t, n) in parts {
                let (from, to) = (..n * per, at * per..(at + n) * per);
                match (&t.data, &mut combined.data) {
                    (BatchData::F32(s), BatchData::F32(d)) => d[to].copy_from_slice(&s[from]),
                    (BatchData::F16(s), BatchData::F16(d)) => d[to].copy_from_slice(&s[from]),
                    _ => return refuse("a batch of another precision than the model's".into()),
                }
                at += n;
            }
            let ran = self.run(&combined, rows).map(|o| (o.shape, o.rows));
            self.combined_host = Some(combined);
            return ran;
        }
        let _guard = self.run_guard(format!("combined {slots} {}x{}", lb.dst_h, lb.dst_w));
        let err = |e: ort::Error| InferError::Runtime(format!("combined batch: {e}"));
        let dims = [slots, 3, lb.dst_h, lb.dst_w];
        let gpu = self.provider != Provider::Cpu;
        if gpu && self.copier.is_none() {
            let copier = FrameCopier::new(self.device_id).map_err(|e| {
                InferError::Runtime(format!("combining batches needs the CUDA driver: {e}"))
            })?;
            self.copier = Some(copier);
        }
        let mut images = match self.combined.remove(&dims) {
            Some(t) => t,
            None => {
                let (device, _) = self.memory(MemoryType::Default).map_err(err)?;
                let alloc = if gpu {
                    ort::memory::Allocator::new(&self.session, device).map_err(err)?
                } else {
                    ort::memory::Allocator::default()
                };
                typed_tensor(&alloc, self.info.input_precision, &dims).map_err(err)?
            }
        };
        let filled =
            self.fill_combined(parts, &mut images, per * self.info.input_precision.bytes());
        let ran = filled.and_then(|()| {
            self.run_images(&images, slots, rows)
                .map(|o| (o.shape, o.rows))
        });
        self.combined.insert(dims, images);
        ran
    }

    /// Copies the letterboxed images of `parts` (frames batches) one after another into
    /// `images`, `bytes` a frame: the letterbox kernel's output as it is, uint8 frames through
    /// the preprocessing graph first.
    fn fill_combined(
        &mut self,
        parts: &[(&BatchTensor, usize)],
        images: &mut ort::value::DynTensor,
        bytes: usize,
    ) -> Result<(), InferError> {
        let err = |e: ort::Error| InferError::Runtime(format!("combined batch: {e}"));
        let mut at = 0;
        for &(t, n) in parts {
            let BatchData::Frames(f) = &t.data else {
                return Err(InferError::Runtime(
                    "combined batch: a host batch among frames batches".into(),
                ));
            };
            f.ready()?;
            let preprocessed;
            let src = match &f.store {
                FrameStore::Letterboxed { images, .. } => images.data_ptr() as u64,
                FrameStore::Host(frames) | FrameStore::Device { tensor: frames, .. } => {
                    let mut pre = self.take_pre(f.spec)?;
                    let out = self.preprocess(&mut pre, frames);
                    self.put_pre(pre);
                    preprocessed = out?
                        .downcast::<ort::value::DynTensorValueType>()
                        .map_err(err)?;
                    preprocessed.data_ptr() as u64
                }
            };
            let dst = images.data_ptr_mut() as u64 + (at * bytes) as u64;
            match &self.copier {
                // SAFETY: `src` holds `n` (at most its batch's slots) frames of `bytes` on the
                // model's device, `dst` is frame `at` of `images` with room for `n` more (the
                // caller checked the sum against its slots); done when copy returns.
                Some(c) => unsafe { c.copy(dst, src, n * bytes) }
                    .map_err(|e| InferError::Runtime(format!("combined batch copy: {e}")))?,
                // SAFETY: as above, both in host memory (the CPU provider's device).
                None => unsafe {
                    std::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, n * bytes)
                },
            }
            at += n;
        }
        Ok(())
    }

    /// The output of the latest run, as [`Engine::run_combined`] returned its shape.
    pub fn output(&self) -> &[f32] {
        &self.output
    }

    /// Swaps the latest run's output with `other` (an engine's caller keeping it without a
    /// copy; the engine's next run refills what it gets back).
    pub fn swap_output(&mut self, other: &mut Vec<f32>) {
        std::mem::swap(&mut self.output, other);
    }

    /// The output to read for `rows`: its name, precision and what its class rows hold.
    fn pick(&self, rows: ClassRows) -> (String, Precision, ClassRows) {
        if self.best && rows == ClassRows::Best {
            (BEST_OUTPUT.into(), Precision::F32, ClassRows::Best)
        } else {
            (
                self.info.output_name.clone(),
                self.info.output_precision,
                ClassRows::All,
            )
        }
    }

    /// A preprocessing graph for this model on its device (CUDA under TensorRT too: the graph
    /// is a handful of memory-bound nodes, nothing for an engine build).
    /// `cuda_graph`: replayed as a CUDA graph (fixed input and output buffers).
    fn preprocess_graph(
        &self,
        spec: GraphSpec,
        cuda_graph: bool,
    ) -> Result<GraphPreprocess, InferError> {
        let env = environment()?;
        let mut builder = Session::builder(env).map_err(|e| InferError::Runtime(e.to_string()))?;
        let provider = match self.provider {
            Provider::TensorRt => Provider::Cuda,
            p => p,
        };
        if provider == Provider::Cuda {
            // Every node runs on the GPU: one host thread, not a spinning pool of one per core
            // in every element (sixteen streams in a process kept 256 such threads).
            builder = builder
                .with_intra_threads(1)
                .map_err(|e| InferError::Runtime(e.to_string()))?
                .with_intra_op_spinning(false)
                .map_err(|e| InferError::Runtime(e.to_string()))?;
        }
        let mut builder = profiling(builder, "preprocess")?;
        let cfg = EngineConfig {
            provider,
            device_id: self.device_id,
            cuda_graph,
            ..Default::default()
        };
        register_provider(&mut builder, provider, &cfg)?;
        GraphPreprocess::new(spec, &builder)
    }

    /// Where the provider computes, and host memory it copies from fastest (pinned under CUDA).
    fn memory(
        &self,
        ty: MemoryType,
    ) -> Result<(MemoryInfo<'static>, MemoryInfo<'static>), ort::Error> {
        Ok(match self.provider {
            Provider::Cuda | Provider::TensorRt => (
                MemoryInfo::new(
                    AllocationDevice::CUDA,
                    self.device_id,
                    AllocatorType::Device,
                    MemoryType::Default,
                )?,
                MemoryInfo::new(
                    AllocationDevice::CUDA_PINNED,
                    self.device_id,
                    AllocatorType::Device,
                    ty,
                )?,
            ),
            _ => {
                let cpu = MemoryInfo::new(
                    AllocationDevice::CPU,
                    0,
                    AllocatorType::Device,
                    MemoryType::Default,
                )?;
                (cpu.clone(), cpu)
            }
        })
    }

    /// A batch of `spec.batch` frames for preprocessing on the provider, taking them from where
    /// `input` says they lie.
    ///
    /// [`FramesIn::Host`]: uint8 frames (tight layout): [`BatchTensor::fill_slot`] copies frames
    /// in, [`Engine::run`] uploads them in one copy (from pinned memory under CUDA), letterboxes
    /// them with a [`GraphPreprocess`] and runs the model on the result where it lies.
    ///
    /// [`FramesIn::Device`]: frames already in device memory
    /// ([`BatchTensor::fill_slot_device`]): the letterbox kernel writes each into its slot of
    /// the model's input batch, so [`Engine::run`] runs the model only (unless the kernel cannot
    /// load, or `COURTVISION_LETTERBOX_KERNEL=0`: then each is copied into a uint8 batch in
    /// device memory for the preprocessing graph).
    ///
    /// [`FramesIn::HostToDevice`]: frames in host memory ([`BatchTensor::fill_slot`]), each
    /// copied as uint8 into its slot of pinned memory, then its upload and the kernel that
    /// letterboxes it into its slot queued as it comes (waited for once, before the run); as
    /// [`FramesIn::Host`] where the kernel cannot load (or is switched off) or the provider is
    /// the CPU.
    pub fn new_frames_batch(
        &mut self,
        spec: GraphSpec,
        input: FramesIn,
    ) -> Result<BatchTensor, InferError> {
        let err = |e: ort::Error| InferError::Runtime(format!("frame batch: {e}"));
        let (on_device, pinned) = self.memory(MemoryType::CPUInput).map_err(err)?;
        let gpu = matches!(self.provider, Provider::Cuda | Provider::TensorRt);
        let len = tight_len(spec.format, spec.letterbox.src_w, spec.letterbox.src_h);
        let kernel = |c: &FrameCopier| letterbox_kernel_wanted() && c.letterbox_kernel().is_ok();
        // (the copier, frames from host memory, letterboxed by the kernel)
        let (copier, host, letterbox) = match input {
            FramesIn::Device(_) if !gpu => {
                return Err(InferError::Runtime(format!(
                    "frames in device memory need the CUDA provider, not {:?}",
                    self.provider
                )))
            }
            FramesIn::Device(c) => {
                let letterbox = kernel(&c);
                (Some(c), false, letterbox)
            }
            FramesIn::HostToDevice(c) if gpu && kernel(&c) => (Some(c), true, true),
            FramesIn::HostToDevice(_) | FramesIn::Host => (None, true, false),
        };
        let store = match copier {
            Some(copier) => {
                // From the preprocessing session's arena, never the model session's: a session
                // replaying a captured CUDA graph reuses its arena's addresses as scratch, so a
                // batch handed out from there between runs gets overwritten (seen on the H100 as
                // other frames' detections). Memory of our own (cuMemAlloc) instead made the
                // preprocessing run hang there; the cause was not found.
                let pre = self.take_pre(spec)?;
                let alloc = ort::memory::Allocator::new(pre.session(), on_device);
                self.put_pre(pre);
                let alloc = alloc.map_err(err)?;
                if letterbox {
                    let lb = spec.letterbox;
                    let shape = [spec.batch, 3, lb.dst_h, lb.dst_w];
                    let staging = if host {
                        Some(self.host_frames(pinned, [spec.batch, len]).map_err(err)?)
                    } else {
                        None
                    };
                    FrameStore::Letterboxed {
                        images: typed_tensor(&alloc, spec.output, &shape).map_err(err)?,
                        scratch: ort::value::Tensor::<u8>::new(&alloc, [len]).map_err(err)?,
                        staging,
                        copier,
                        target: LetterboxTarget {
                            letterbox: lb,
                            matrix: spec.matrix,
                            full_range: spec.full_range,
                            half: spec.output == Precision::F16,
                        },
                    }
                } else {
                    let tensor =
                        ort::value::Tensor::<u8>::new(&alloc, [spec.batch, len]).map_err(err)?;
                    FrameStore::Device { tensor, copier }
                }
            }
            None => FrameStore::Host(self.host_frames(pinned, [spec.batch, len]).map_err(err)?),
        };
        Ok(BatchTensor {
            data: BatchData::Frames(Box::new(FrameBatch { store, spec })),
            slots: spec.batch,
            lb: spec.letterbox,
            threads: 1,
        })
    }

    /// uint8 frames of `shape` in host memory: pinned (`pinned`, from the model's session) under
    /// a GPU provider, for the driver's uploads.
    fn host_frames(
        &self,
        pinned: MemoryInfo<'static>,
        shape: [usize; 2],
    ) -> Result<ort::value::Tensor<u8>, ort::Error> {
        if matches!(self.provider, Provider::Cuda | Provider::TensorRt) {
            ort::value::Tensor::<u8>::new(
                &ort::memory::Allocator::new(&self.session, pinned)?,
                shape,
            )
        } else {
            ort::value::Tensor::<u8>::new(&ort::memory::Allocator::default(), shape)
        }
    }

    /// The cached preprocessing graph for `spec`, else a new one (a new stream layout); the
    /// caller puts it back with [`Engine::put_pre`].
    fn take_pre(&mut self, spec: GraphSpec) -> Result<GraphPreprocess, InferError> {
        match self.pre.iter().position(|p| *p.spec() == spec) {
            Some(i) => Ok(self.pre.remove(i)),
            None => self.preprocess_graph(spec, false),
        }
    }

    /// Caches `pre` as the latest, dropping the oldest beyond [`PRE_GRAPHS`].
    fn put_pre(&mut self, pre: GraphPreprocess) {
        if self.pre.len() >= PRE_GRAPHS {
            self.pre.remove(0);
        }
        self.pre.push(pre);
    }

    /// Runs a frames batch: letterboxed already (the model runs on it), or through the cached
    /// preprocessing graph for its spec (rebuilt when the stream changes).
    fn run_frames(
        &mut self,
        f: &FrameBatch,
        rows: ClassRows,
    ) -> Result<BatchOutput<'_>, InferError> {
        let spec = f.spec;
        f.ready()?;
        let input = match &f.store {
            FrameStore::Letterboxed { images, .. } => ReplayInput::Images(images),
            FrameStore::Host(t) | FrameStore::Device { tensor: t, .. } => ReplayInput::Frames(t),
        };
        if self.cuda_graph {
            let result = self.replay(spec, input, rows);
            return self.checked_output(result?, spec.batch, rows);
        }
        match input {
            ReplayInput::Images(images) => self.run_images(images, spec.batch, rows),
            ReplayInput::Frames(frames) => {
                let mut pre = self.take_pre(spec)?;
                let images = self.preprocess(&mut pre, frames);
                self.put_pre(pre);
                self.run_images(&images?, spec.batch, rows)
            }
        }
    }

    /// One CUDA-graph run: the model's input filled (a letterboxed batch copied in; or a frames
    /// batch copied into the preprocessing replay's input, that graph replayed and its output
    /// copied across), the model replayed, the output read (`rows`, see
    /// [`Engine::pick`]) copied to pinned host memory and from there into `self.output`;
    /// returns its shape. Every copy is the CUDA driver's (ort's tensor copy runs a session,
    /// under a lock every engine of the process shares).
    fn replay(
        &mut self,
        spec: GraphSpec,
        input: ReplayInput<'_>,
        rows: ClassRows,
    ) -> Result<Vec<usize>, InferError> {
        let err = |e: ort::Error| InferError::Runtime(format!("inference failed: {e}"));
        let lb = spec.letterbox;
        let dims = [spec.batch, 3, lb.dst_h, lb.dst_w];
        match &self.replay {
            Some(r) if r.dims == dims => {}
            Some(r) => {
                return Err(InferError::Runtime(format!(
                    "cuda-graph: the model input changed from {:?} to {dims:?} (a captured graph \
                     replays one size; restart the element or leave cuda-graph off)",
                    r.dims
                )))
            }
            None => {
                let copier = FrameCopier::new(self.device_id).map_err(|e| {
                    InferError::Runtime(format!("cuda-graph needs the CUDA driver: {e}"))
                })?;
                self.copier = Some(copier);
                self.replay = Some(self.new_replay(dims).map_err(err)?);
            }
        }
        // A new stream layout (same model input) gets a preprocessing graph of its own.
        let graph = matches!(input, ReplayInput::Frames(_));
        if graph && !matches!(&self.pre_replay, Some(p) if *p.pre.spec() == spec) {
            self.pre_replay = None;
            self.pre_replay = Some(self.new_pre_replay(spec).map_err(err)?);
        }
        let (_, pinned) = self.memory(MemoryType::CPUOutput).map_err(err)?;
        let (out, _, _) = self.pick(rows);
        let r = self.replay.as_mut().expect("just set");
        let c = self.copier.as_ref().expect("set with the replay");
        let step = |what: &'static str| {
            move |e: String| InferError::Runtime(format!("cuda-graph {what}: {e}"))
        };
        let bytes = |shape: &[usize], precision: Precision| {
            shape.iter().product::<usize>() * precision.bytes()
        };
        let images = match input {
            ReplayInput::Images(images) => images.data_ptr(),
            ReplayInput::Frames(frames) => {
                let p = self.pre_replay.as_mut().expect("just set");
                let n = frames.shape().iter().product::<i64>() as usize;
                if n != p.frames.shape().iter().product::<i64>() as usize {
                    return Err(InferError::Runtime(format!(
                        "cuda-graph: a frames batch of shape {:?} for a graph of {:?}",
                        frames.shape(),
                        p.frames.shape()
                    )));
                }
                // SAFETY: both hold `n` bytes, `frames` on the device or in pinned host memory.
                unsafe { c.copy(p.frames.data_ptr_mut() as u64, frames.data_ptr() as u64, n) }
                    .map_err(step("frames copy"))?;
                p.pre
                    .session_mut()
                    .run_binding(&p.binding)
                    .map_err(|e| step("preprocessing")(e.to_string()))?;
                p.images.data_ptr()
            }
        };
        // Into the model's fixed input buffer, a device-to-device copy. (Binding it as the
        // preprocessing output instead, then copying the model output to the host with ort's
        // tensor copy, failed on the H100 with ONNX Runtime 1.31's "dst_data != src_data";
        // which of the two was not isolated. This way runs.)
        // SAFETY: both are device tensors of `dims` in the model's input precision.
        unsafe {
            c.copy(
                r.images.data_ptr_mut() as u64,
                images as u64,
                bytes(&dims, self.info.input_precision),
            )
        }
        .map_err(step("input copy"))?;
        self.session
            .run_binding(&r.binding)
            .map_err(|e| step("model run")(e.to_string()))?;
        let o = r
            .outputs
            .iter_mut()
            .find(|o| o.name == out)
            .expect("every output is bound");
        if o.host.is_none() {
            let alloc = ort::memory::Allocator::new(&self.session, pinned).map_err(err)?;
            o.host = Some(typed_tensor(&alloc, o.precision, &o.shape).map_err(err)?);
        }
        let host = o.host.as_mut().expect("just made");
        // One device-to-host copy into pinned memory.
        // SAFETY: `device` and `host` (pinned) have the same shape and type.
        unsafe {
            c.copy(
                host.data_ptr_mut() as u64,
                o.device.data_ptr() as u64,
                bytes(&o.shape, o.precision),
            )
        }
        .map_err(step("output copy"))?;
        Self::copy_output(&mut self.output, o.precision, host)
    }

    /// A preprocessing graph for `spec` to replay, with its fixed buffers (allocated before
    /// its capture, from its own session: see [`Engine::new_frames_batch`] on arenas).
    fn new_pre_replay(&self, spec: GraphSpec) -> Result<PreReplay, ort::Error> {
        let mut pre = self
            .preprocess_graph(spec, true)
            .map_err(|e| ort::Error::new(e.to_string()))?;
        let (device, _) = self.memory(MemoryType::Default)?;
        let alloc = ort::memory::Allocator::new(pre.session(), device)?;
        let lb = spec.letterbox;
        let len = tight_len(spec.format, lb.src_w, lb.src_h);
        let frames = ort::value::Tensor::<u8>::new(&alloc, [spec.batch, len])?;
        let shape = [spec.batch, 3, lb.dst_h, lb.dst_w];
        let mut images = typed_tensor(&alloc, spec.output, &shape)?;
        let mut binding = pre.session_mut().create_binding()?;
        binding.bind_input("frames", &frames)?;
        binding.bind_output("images", &mut images)?;
        Ok(PreReplay {
            pre,
            frames,
            images,
            binding,
        })
    }

    /// The output shape of a raw head for input `dims`: `[batch, values per object, anchors]`.
    fn raw_output_shape(&self, [b, _, h, w]: [usize; 4]) -> [usize; 3] {
        [b, self.info.values_per_object(), anchors(h, w)]
    }

    /// Fixed device buffers for `dims`, bound to the model: its input and every output.
    fn new_replay(&self, dims: [usize; 4]) -> Result<Replay, ort::Error> {
        let (device, _) = self.memory(MemoryType::Default)?;
        let on_device = ort::memory::Allocator::new(&self.session, device)?;
        let images = typed_tensor(&on_device, self.info.input_precision, &dims)?;
        let mut binding = self.session.create_binding()?;
        binding.bind_input(self.info.input_name.as_str(), &images)?;
        let [b, c, a] = self.raw_output_shape(dims);
        let mut outputs = vec![ReplayOutput {
            name: self.info.output_name.clone(),
            precision: self.info.output_precision,
            shape: vec![b, c, a],
            device: typed_tensor(&on_device, self.info.output_precision, &[b, c, a])?,
            host: None,
        }];
        if self.best {
            let shape = vec![b, 6 + self.info.keypoint_values(), a];
            outputs.push(ReplayOutput {
                name: BEST_OUTPUT.into(),
                precision: Precision::F32,
                device: typed_tensor(&on_device, Precision::F32, &shape)?,
                shape,
                host: None,
            });
        }
        for o in &mut outputs {
            binding.bind_output(o.name.as_str(), &mut o.device)?;
        }
        Ok(Replay {
            dims,
            images,
            outputs,
            binding,
        })
    }

    /// The letterboxed batch, left on the provider's device.
    fn preprocess(
        &self,
        pre: &mut GraphPreprocess,
        frames: &ort::value::Tensor<u8>,
    ) -> Result<ort::value::DynValue, InferError> {
        let err = |e: ort::Error| InferError::Runtime(format!("preprocessing failed: {e}"));
        let (device, _) = self.memory(MemoryType::Default).map_err(err)?;
        let mut binding = pre.session_mut().create_binding().map_err(err)?;
        binding.bind_input("frames", frames).map_err(err)?;
        binding
            .bind_output_to_device("images", &device)
            .map_err(err)?;
        let mut out = pre.session_mut().run_binding(&binding).map_err(err)?;
        out.remove("images")
            .ok_or_else(|| InferError::Runtime("preprocessing graph gave no images".into()))
    }

    /// Runs the model on a batch already on its device; one copy of the output to host memory.
    fn run_images<T: ort::value::ValueTypeMarker + ?Sized>(
        &mut self,
        images: &ort::value::Value<T>,
        slots: usize,
        rows: ClassRows,
    ) -> Result<BatchOutput<'_>, InferError> {
        let err = |e: ort::Error| InferError::Runtime(format!("inference failed: {e}"));
        let (device, host) = self.memory(MemoryType::CPUOutput).map_err(err)?;
        let (out, precision, rows) = self.pick(rows);
        let mut binding = self.session.create_binding().map_err(err)?;
        binding
            .bind_input(self.info.input_name.as_str(), images)
            .map_err(err)?;
        // The output read goes to (pinned) host memory, any other stays on the device.
        for o in self.session.outputs() {
            let to = if o.name() == out { &host } else { &device };
            binding.bind_output_to_device(o.name(), to).map_err(err)?;
        }
        let outputs = self.session.run_binding(&binding).map_err(err)?;
        let dims = Self::copy_output(&mut self.output, precision, &outputs[out.as_str()])?;
        drop(outputs);
        self.checked_output(dims, slots, rows)
    }

    /// Whether the model's runs replay a captured CUDA graph (`cuda_graph` on the CUDA
    /// provider).
    pub fn cuda_graph(&self) -> bool {
        self.cuda_graph
    }

    /// The model's input and outputs bound once at fixed addresses in the provider's device
    /// memory (what a CUDA graph replays from): runs of it cost the model alone, without
    /// preprocessing or transfers, for an application that fills the input on the device
    /// itself and for measuring the model against the whole pipeline.
    pub fn resident_batch(
        &self,
        batch: usize,
        (h, w): (usize, usize),
    ) -> Result<ResidentBatch, InferError> {
        let err = |e: ort::Error| InferError::Runtime(format!("inference failed: {e}"));
        let mut replay = self.new_replay([batch, 3, h, w]).map_err(err)?;
        if !self.cuda_graph {
            // Any output size (end-to-end heads too): ONNX Runtime allocates it on the device.
            let (device, _) = self.memory(MemoryType::Default).map_err(err)?;
            replay.binding.clear_outputs();
            for o in self.session.outputs() {
                replay
                    .binding
                    .bind_output_to_device(o.name(), &device)
                    .map_err(err)?;
            }
        }
        Ok(ResidentBatch { replay })
    }

    /// Queues one run of `batch`; its outputs stay on the device ([`ResidentBatch::wait`]).
    pub fn run_resident(&mut self, batch: &ResidentBatch) -> Result<(), InferError> {
        self.session
            .run_binding(&batch.replay.binding)
            .map(drop)
            .map_err(|e| InferError::Runtime(format!("inference failed: {e}")))
    }

    /// Copies an output value into `out` as f32 and returns its shape.
    fn copy_output<T: ort::value::TensorValueTypeMarker + ?Sized>(
        out: &mut Vec<f32>,
        precision: Precision,
        value: &ort::value::Value<T>,
    ) -> Result<Vec<usize>, InferError> {
        let err = |e: ort::Error| InferError::Runtime(format!("inference failed: {e}"));
        out.clear();
        Ok(match precision {
            Precision::F32 => {
                let (s, d) = value.try_extract_tensor::<f32>().map_err(err)?;
                out.extend_from_slice(d);
                s.iter().map(|&x| x as usize).collect()
            }
            Precision::F16 => {
                let (s, d) = value.try_extract_tensor::<f16>().map_err(err)?;
                // The slice conversion (F16C where the CPU has it): 8x the per-value one.
                out.resize(d.len(), 0.0);
                d.convert_to_f32_slice(out);
                s.iter().map(|&x| x as usize).collect()
            }
        })
    }

    /// Checks the output shape against the model's layout and the batch.
    fn checked_output(
        &self,
        dims: Vec<usize>,
        slots: usize,
        rows: ClassRows,
    ) -> Result<BatchOutput<'_>, InferError> {
        let [b, d1, d2] = dims[..] else {
            return Err(InferError::UnsupportedModel(format!(
                "output has shape {dims:?} at run time"
            )));
        };
        let expect = match rows {
            ClassRows::All => self.info.values_per_object(),
            ClassRows::Best => 6 + self.info.keypoint_values(),
        };
        let ok = match self.info.layout {
            model::OutputLayout::Raw => d1 == expect,
            model::OutputLayout::EndToEnd => d2 == expect,
        };
        if !ok || b != slots {
            return Err(InferError::UnsupportedModel(format!(
                "output has shape [{b}, {d1}, {d2}] at run time; expected batch {slots} and {expect} \
                 values per object ({:?} layout)",
                self.info.layout
            )));
        }
        Ok(BatchOutput {
            data: &self.output,
            shape: [b, d1, d2],
            rows,
        })
    }
}

/// See [`Engine::resident_batch`].
pub struct ResidentBatch {
    replay: Replay,
}

impl ResidentBatch {
    /// Waits until the runs queued on it are done.
    pub fn wait(&mut self) -> Result<(), InferError> {
        self.replay
            .binding
            .synchronize_outputs()
            .map_err(|e| InferError::Runtime(format!("inference failed: {e}")))
    }
}

/// With `COURTVISION_CUDA_SYNC=auto|spin|yield|blocking`, how threads wait for the GPU (the
/// primary context is the process's: decoders, copies and every model wait the same way);
/// returns a warning where it could not be set.
fn sync_mode(device_id: i32) -> Option<String> {
    let mode = std::env::var("COURTVISION_CUDA_SYNC").ok()?;
    let set = mode.parse::<crate::cuda::SyncMode>().and_then(|m| {
        let flags = crate::cuda::set_sync_mode(device_id, m)?;
        // The three low bits are the scheduling mode.
        if flags & 7 == m as u32 {
            Ok(())
        } else {
            Err(format!("the context kept flags {flags:#x}"))
        }
    });
    set.err()
        .map(|e| format!("COURTVISION_CUDA_SYNC={mode} not applied: {e}"))
}

/// With `COURTVISION_ORT_PROFILE=DIR`, ONNX Runtime writes a profile of every session (each
/// node's time and provider, JSON) into DIR when the session closes: where the time goes.
fn profiling(
    builder: ort::session::builder::SessionBuilder,
    what: &str,
) -> Result<ort::session::builder::SessionBuilder, InferError> {
    match std::env::var_os("COURTVISION_ORT_PROFILE") {
        Some(dir) if !dir.is_empty() => builder
            .with_profiling(Path::new(&dir).join(what))
            .map_err(|e| InferError::Runtime(format!("profiling: {e}"))),
        _ => Ok(builder),
    }
}

/// Appends the GPU execution provider `p` to the session options (nothing for the CPU).
fn register_provider(
    builder: &mut ort::session::builder::SessionBuilder,
    p: Provider,
    cfg: &EngineConfig,
) -> Result<(), InferError> {
    let (name, available) = match p {
        Provider::Cuda => ("CUDA", ep::CUDA::is_available().unwrap_or(false)),
        Provider::TensorRt => ("TensorRT", ep::TensorRT::is_available().unwrap_or(false)),
        Provider::Cpu | Provider::Auto => return Ok(()),
    };
    if !available {
        return Err(InferError::Provider(format!(
            "execution provider {name} is not available in this ONNX Runtime build (it offers {}); \
             install onnxruntime-gpu or use execution-provider=cpu",
            available_providers().join(", ")
        )));
    }
    let result = if p == Provider::Cuda {
        // cuDNN's exhaustive search (ONNX Runtime's default) benchmarks every convolution
        // again for each new input shape: a shared engine runs batches of 1 to 32 frames, and
        // each new size stalled every stream on it for hundreds of ms during the first seconds.
        ep::CUDA::default()
            .with_device_id(cfg.device_id)
            .with_cuda_graph(cfg.cuda_graph)
            .with_conv_algorithm_search(ep::cuda::ConvAlgorithmSearch::Heuristic)
            .register(builder)
    } else {
        let mut trt = ep::TensorRT::default().with_device_id(cfg.device_id);
        if let Some(dir) = &cfg.trt_cache_dir {
            trt = trt
                .with_engine_cache(true)
                .with_engine_cache_path(dir.display())
                .with_timing_cache(true)
                .with_timing_cache_path(dir.display());
        }
        // Nodes TensorRT does not take run on CUDA rather than on the CPU.
        trt.register(builder).and_then(|_| {
            ep::CUDA::default()
                .with_device_id(cfg.device_id)
                .register(builder)
        })
    };
    result.map_err(|e| {
        InferError::Provider(format!(
            "execution provider {name} failed to start on device {}: {e}",
            cfg.device_id
        ))
    })
}

/// Names of the execution providers the loaded ONNX Runtime offers.
pub fn available_providers() -> Vec<&'static str> {
    let mut v = vec!["CPU"];
    if ep::CUDA::is_available().unwrap_or(false) {
        v.push("CUDA");
    }
    if ep::TensorRT::is_available().unwrap_or(false) {
        v.push("TensorRT");
    }
    v
}

/// Where the frames of a frames batch lie as they come ([`Engine::new_frames_batch`]).
pub enum FramesIn {
    /// Host memory, for the preprocessing graph.
    Host,
    /// Host memory, uploaded by the copier and letterboxed by its kernel.
    HostToDevice(Arc<FrameCopier>),
    /// Device memory on the copier's device (CUDA memory from a decoder).
    Device(Arc<FrameCopier>),
}

enum BatchData {
    F32(Vec<f32>),
    F16(Vec<f16>),
    /// uint8 frames for the engine's preprocessing graph (see [`Engine::new_frames_batch`]).
    Frames(Box<FrameBatch>),
}

struct FrameBatch {
    store: FrameStore,
    spec: GraphSpec,
}

/// Where a frames batch lies.
enum FrameStore {
    /// Host memory (pinned under CUDA), filled by [`BatchTensor::fill_slot`].
    Host(ort::value::Tensor<u8>),
    /// Device memory, filled by [`BatchTensor::fill_slot_device`].
    Device {
        tensor: ort::value::Tensor<u8>,
        copier: Arc<FrameCopier>,
    },
    /// The model's input batch in device memory, each frame letterboxed into its slot by the
    /// letterbox kernel as it comes: no preprocessing run. Frames in device memory
    /// ([`BatchTensor::fill_slot_device`]) are read where they lie (`scratch` takes one of
    /// another CUDA context, copied across first); with `staging` (pinned host memory, a frame
    /// a slot), frames in host memory ([`BatchTensor::fill_slot`]) are copied into their slot
    /// there, and the upload to `scratch` and the kernel queued on the copier's stream (in
    /// order, so one `scratch` serves them all): [`FrameBatch::ready`] waits for them.
    Letterboxed {
        images: ort::value::DynTensor,
        scratch: ort::value::Tensor<u8>,
        staging: Option<ort::value::Tensor<u8>>,
        copier: Arc<FrameCopier>,
        target: LetterboxTarget,
    },
}

/// A reusable `[slots, 3, H, W]` input tensor that frames are letterboxed into in place.
pub struct BatchTensor {
    data: BatchData,
    slots: usize,
    lb: Letterbox,
    /// Workers that letterbox one frame (output rows split between them).
    threads: usize,
}

impl BatchTensor {
    pub fn new(precision: Precision, slots: usize, lb: Letterbox) -> Self {
        let n = slots * lb.slot_len();
        let data = match precision {
            Precision::F32 => BatchData::F32(vec![0.0; n]),
            Precision::F16 => BatchData::F16(vec![f16::ZERO; n]),
        };
        BatchTensor {
            data,
            slots,
            lb,
            threads: 1,
        }
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Letterboxes each frame with up to `threads` workers (1 = on the calling thread).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    pub fn letterbox(&self) -> &Letterbox {
        &self.lb
    }

    /// The preprocessing graph this batch is for, when it holds uint8 frames.
    pub fn graph_spec(&self) -> Option<&GraphSpec> {
        match &self.data {
            BatchData::Frames(f) => Some(&f.spec),
            _ => None,
        }
    }

    /// Whether this batch takes frames in device memory ([`BatchTensor::fill_slot_device`]).
    pub fn frames_on_device(&self) -> bool {
        matches!(&self.data, BatchData::Frames(f)
            if matches!(f.store, FrameStore::Device { .. }
                | FrameStore::Letterboxed { staging: None, .. }))
    }

    /// What batches must share to run combined ([`Engine::run_combined`]): the model input
    /// size and precision, and whether they are letterboxed on the host or hold frames for the
    /// device.
    pub fn combine_key(&self) -> (usize, usize, Precision, bool) {
        let (precision, frames) = match &self.data {
            BatchData::F32(_) => (Precision::F32, false),
            BatchData::F16(_) => (Precision::F16, false),
            BatchData::Frames(f) => (f.spec.output, true),
        };
        (self.lb.dst_h, self.lb.dst_w, precision, frames)
    }

    /// Whether frames are letterboxed into this batch as they come, by the letterbox kernel.
    pub fn letterboxed_on_device(&self) -> bool {
        matches!(&self.data, BatchData::Frames(f) if matches!(f.store, FrameStore::Letterboxed { .. }))
    }

    /// Letterboxes `frame` into slot `i` (or copies it there, for a frames batch).
    pub fn fill_slot(&mut self, i: usize, frame: &FrameView) -> Result<(), FrameError> {
        let n = self.lb.slot_len();
        match &mut self.data {
            BatchData::Frames(f) => {
                check_frame(frame)?;
                let len = f.check(frame.format, frame.width, frame.height)?;
                let refuse = |why: String| FrameError {
                    format: frame.format,
                    width: frame.width,
                    height: frame.height,
                    why,
                };
                if i >= f.spec.batch {
                    return Err(refuse("slot out of range".into()));
                }
                match &mut f.store {
                    FrameStore::Host(tensor) => {
                        let data = tensor.extract_tensor_mut().1;
                        copy_tight_threads(frame, &mut data[i * len..(i + 1) * len], self.threads);
                        Ok(())
                    }
                    FrameStore::Letterboxed {
                        images,
                        scratch,
                        staging: Some(staging),
                        copier,
                        target,
                    } => {
                        if i == 0 {
                            // A batch starting over: nothing of its last filling still queued
                            // (its run waited for it, unless it never ran — handed back unrun at
                            // a flush — or failed before the wait).
                            copier.wait().map_err(refuse)?;
                        }
                        let host = &mut staging.extract_tensor_mut().1[i * len..(i + 1) * len];
                        copy_tight_threads(frame, host, self.threads);
                        let at = scratch.data_ptr_mut() as u64;
                        let dst = images.data_ptr_mut() as u64 + (i * target.slot_bytes()) as u64;
                        let tight = tight_frame(
                            &DeviceFrame {
                                format: frame.format,
                                width: frame.width,
                                height: frame.height,
                                planes: [0; 3],
                                strides: [0; 3],
                                context: std::ptr::null_mut(),
                            },
                            at,
                        );
                        // Not while another engine captures a CUDA graph (see GPU_RUNS).
                        let _shared = GPU_RUNS.read().unwrap_or_else(|e| e.into_inner());
                        // SAFETY: `host` is this slot's pinned host memory, `len` bytes (the
                        // frame's tight layout), written again only after a wait for its upload
                        // (FrameBatch::ready, or at slot 0 above); `scratch` is device memory
                        // of as many bytes of the copier's context (the CUDA driver tells them
                        // apart by address: unified addressing), reused by the next frame's upload
                        // only after this kernel (one stream, in order); `dst` is slot `i` of the
                        // batch's device allocation and `tight` describes `scratch`.
                        unsafe {
                            copier
                                .copy_queued(at, host.as_ptr() as u64, len)
                                .map_err(refuse)?;
                            copier.letterbox_queued(&tight, dst, target).map_err(refuse)
                        }
                    }
                    _ => Err(refuse(
                        "the batch takes frames in device memory (frames from host memory go \
                         to a host batch)"
                            .into(),
                    )),
                }
            }
            BatchData::F32(v) => {
                letterbox_into_threads(frame, &self.lb, &mut v[i * n..(i + 1) * n], self.threads)
            }
            BatchData::F16(v) => {
                letterbox_into_threads(frame, &self.lb, &mut v[i * n..(i + 1) * n], self.threads)
            }
        }
    }

    /// Puts a frame that is in device memory into slot `i` of a device frames batch (see
    /// [`Engine::new_frames_batch`]): letterboxed by the kernel, or copied for the
    /// preprocessing graph; returns once that is done.
    ///
    /// # Safety
    /// `frame`'s planes must be device memory of its context (the copier's, or another on the
    /// same device: copied across), readable for their rows at their pitches for the duration
    /// of the call.
    pub unsafe fn fill_slot_device(
        &mut self,
        i: usize,
        frame: &DeviceFrame,
    ) -> Result<(), FrameError> {
        let refuse = |why: &str| FrameError {
            format: frame.format,
            width: frame.width,
            height: frame.height,
            why: why.into(),
        };
        let BatchData::Frames(f) = &mut self.data else {
            return Err(refuse(
                "the batch holds letterboxed frames, not device frames",
            ));
        };
        let len = f.check(frame.format, frame.width, frame.height)?;
        if i >= f.spec.batch {
            return Err(refuse("slot out of range"));
        }
        // Not while another engine captures a CUDA graph (see GPU_RUNS).
        let _shared = GPU_RUNS.read().unwrap_or_else(|e| e.into_inner());
        match &mut f.store {
            FrameStore::Host(_) => Err(refuse("the batch is in host memory")),
            FrameStore::Device { tensor, copier } => {
                let at = tensor.data_ptr_mut() as u64 + (i * len) as u64;
                // SAFETY: the slot is `len` bytes of the batch's device allocation; the caller
                // vouches for the frame.
                unsafe { copier.copy_tight(frame, at) }.map_err(|e| refuse(&e))
            }
            FrameStore::Letterboxed {
                images,
                scratch,
                copier,
                target,
                ..
            } => {
                let dst = images.data_ptr_mut() as u64 + (i * target.slot_bytes()) as u64;
                let own = frame.context.is_null() || frame.context == copier.context();
                let copied;
                let frame = if own {
                    frame
                } else {
                    // The kernel reads memory of its own context only: across first.
                    let at = scratch.data_ptr_mut() as u64;
                    // SAFETY: `scratch` holds one frame's tight layout; the caller vouches for
                    // the frame.
                    unsafe { copier.copy_tight(frame, at) }.map_err(|e| refuse(&e))?;
                    copied = tight_frame(frame, at);
                    &copied
                };
                // SAFETY: `dst` is slot `i` of the batch's device allocation; the frame is
                // device memory of the copier's context (the caller's, or `scratch`).
                unsafe { copier.letterbox(frame, dst, target) }.map_err(|e| refuse(&e))
            }
        }
    }
}

/// Whether frames in device memory are letterboxed by the kernel (the default) or copied into
/// a uint8 batch for the preprocessing graph (`COURTVISION_LETTERBOX_KERNEL=0`, to compare).
fn letterbox_kernel_wanted() -> bool {
    std::env::var("COURTVISION_LETTERBOX_KERNEL").map_or(true, |v| v != "0")
}

impl Drop for FrameBatch {
    /// Nothing still queued may read or write the batch's memory once it goes back to its
    /// allocators (a batch dropped at a flush, before its run waited).
    fn drop(&mut self) {
        let _ = self.ready();
    }
}

impl FrameBatch {
    /// Waits for the uploads and kernels that [`BatchTensor::fill_slot`] queued (frames from
    /// host memory letterboxed on the device); reports a failure of any of them.
    fn ready(&self) -> Result<(), InferError> {
        match &self.store {
            FrameStore::Letterboxed {
                staging: Some(_),
                copier,
                ..
            } => copier
                .wait()
                .map_err(|e| InferError::Runtime(format!("frame upload: {e}"))),
            _ => Ok(()),
        }
    }

    fn refuse(&self, format: PixelFormat, width: usize, height: usize, why: String) -> FrameError {
        FrameError {
            format,
            width,
            height,
            why,
        }
    }

    /// Checks a frame against what the batch holds; returns its tight length.
    fn check(&self, format: PixelFormat, width: usize, height: usize) -> Result<usize, FrameError> {
        let lb = &self.spec.letterbox;
        if format != self.spec.format || (width, height) != (lb.src_w, lb.src_h) {
            return Err(self.refuse(
                format,
                width,
                height,
                format!(
                    "the batch holds {:?} {}x{} frames",
                    self.spec.format, lb.src_w, lb.src_h
                ),
            ));
        }
        Ok(tight_len(format, width, height))
    }
}
