// SPDX-License-Identifier: MIT OR Apache-2.0
//! Engines that several element instances share by name (`engine-name`): a pool of sessions of
//! one model, each batch run on whichever session is free, and the batches that queue up while
//! every session is busy run together as one (frames of several streams filling one batch).
//!
//! ONNX Runtime's `Run` is not safe to call from several threads on one session (the `ort`
//! crate takes `&mut` for it after crashes in providers' allocators), so a session runs one
//! batch at a time, and one session for sixteen streams kept the H100 63% busy. A pool holds
//! `instances` sessions instead, loaded side by side: their runs overlap on the GPU as separate
//! engines' do, and they still share one load and a few first runs instead of one per element.
//!
//! Combining is group commit, the dynamic batching inference servers do: a batch submitted
//! while a session is free runs at once, alone, as it would without a pool; batches submitted
//! while every session is busy wait, and the next free session takes them together, up to
//! `max_batch` frames, in the order they came. Nothing waits for more batches unless
//! `max_wait` says so (live cameras, whose batches rarely meet on an idle GPU); under load,
//! sixteen cameras' batches of two run as one of thirty-two instead of sixteen runs of two.
//! The thread that submits a batch runs the combined batch it is part of, or waits while
//! another of its owners does — never a group without its own batch, which would keep its own
//! stream waiting a whole run: no thread of the pool's own. Combining pays on a GPU, where a run of more frames
//! costs less a frame; on the CPU it measured no faster and took more memory (off by default).
//!
//! On a GPU, a session's runs take a few batch sizes only: with combining on, a run is padded
//! to the next power of two (at most `max_batch`), so a lone live frame runs as one frame and
//! not as a batch of thirty-two, while a session sees at most six sizes (a size change once
//! stalled for seconds while cuDNN benchmarked convolution algorithms; engine.rs now has it pick
//! them by heuristic). Sharers of different model input sizes (dynamic models,
//! `input-size`, frames of other aspect ratios) each run on the sessions that ran their size
//! last: with as many sessions as sizes, no session switches (see `State::runnable`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::decode::ClassRows;
use crate::engine::{BatchOutput, BatchTensor, Engine, EngineConfig, FramesIn};
use crate::graph::GraphSpec;
use crate::model::ModelInfo;
use crate::{InferError, Provider};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a shared engine runs its sharers' batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Sessions of the model, each running one batch at a time; 0: two on a GPU provider
    /// (where `auto` finds one), one on the CPU (where sessions contend for the cores).
    pub instances: usize,
    /// The most frames one run takes from batches that queued up together (dynamic-batch
    /// models; a static-batch model's runs take at most its batch); 1: every batch runs alone;
    /// 0: 32 on a GPU provider, 1 on the CPU (where combined runs were no faster a frame and
    /// took more memory).
    pub max_batch: usize,
    /// How long a free session may wait for more batches to run with the oldest queued one,
    /// until `max_batch` frames are there (zero: it runs what queued at once). Live streams:
    /// several cameras' batches in one run when the GPU is idle too.
    pub max_wait: Duration,
}

impl Default for PoolConfig {
    /// One session, batches run alone: an element's own engine.
    fn default() -> Self {
        PoolConfig {
            instances: 1,
            max_batch: 1,
            max_wait: Duration::ZERO,
        }
    }
}

/// A batch to run: its tensor with `frames` frames filled in (the first ones), which class
/// rows the caller reads, and a vector for the output (reused across batches).
pub struct Request {
    pub tensor: BatchTensor,
    pub frames: usize,
    pub rows: ClassRows,
    pub output: Vec<f32>,
}

/// A run's answer to a [`Request`].
pub struct Reply {
    /// The request's tensor, back for reuse (`None` only where the run panicked).
    pub tensor: Option<BatchTensor>,
    /// The request's frames' output, frame after frame (as `result`'s shape says).
    pub output: Vec<f32>,
    pub result: Result<Ran, InferError>,
}

/// What a run gave a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ran {
    /// The shape of [`Reply::output`]: `[frames or more, d1, d2]`.
    pub shape: [usize; 3],
    pub rows: ClassRows,
    /// Frames of the run the request was part of (its own, or several requests' together).
    pub run_frames: usize,
}

impl Reply {
    /// The output to decode, or the run's error.
    pub fn batch(&self) -> Result<BatchOutput<'_>, InferError> {
        let ran = self.result.as_ref().map_err(Clone::clone)?;
        Ok(BatchOutput {
            data: &self.output,
            shape: ran.shape,
            rows: ran.rows,
        })
    }
}

/// A model loaded `instances` times, running batches of any number of callers.
pub struct EnginePool {
    info: ModelInfo,
    provider: Provider,
    engines: Vec<Mutex<Engine>>,
    /// The most frames of a combined run (1: none).
    max_batch: usize,
    max_wait: Duration,
    state: Mutex<State>,
    cond: Condvar,
}

/// A request in the queue: its id (its reply's key) and when it came.
struct Queued {
    id: u64,
    came: Instant,
    request: Request,
}

struct State {
    /// Requests not yet taken by a session, in the order they came.
    queue: VecDeque<Queued>,
    /// Sessions not running.
    idle: Vec<usize>,
    /// The model input size (height, width) of each session's latest run.
    sizes: Vec<Option<(usize, usize)>>,
    /// Runs whose session had run another input size last.
    switches: usize,
    /// Replies not yet picked up.
    done: HashMap<u64, Reply>,
    next: u64,
}

/// A request's model input size (height, width).
fn input_size(r: &Request) -> (usize, usize) {
    let (h, w, _, _) = r.tensor.combine_key();
    (h, w)
}

impl State {
    /// The first queued request an idle session can run without changing its input size, and
    /// that session (its place in `idle`): one that ran its size last, else one that has not
    /// run yet (a size takes as many sessions as its runs keep busy), else, for a size no
    /// session ran last, any idle one (more sizes than sessions). A GPU session changing input
    /// size picks its kernels anew, seconds each time: sharers of two sizes on two sessions keep
    /// a session each, and a request whose sessions are busy lets later ones of other sizes run.
    /// (Where one size took every session before another came, that one takes one of them: one
    /// switch, after which each keeps its own.)
    fn runnable(&self) -> Option<(usize, usize)> {
        self.queue.iter().enumerate().find_map(|(at, q)| {
            let size = Some(input_size(&q.request));
            let idle = |want| self.idle.iter().position(|&e| self.sizes[e] == want);
            idle(size)
                .or_else(|| idle(None))
                .or_else(|| {
                    if self.sizes.contains(&size) {
                        None
                    } else {
                        self.idle.len().checked_sub(1)
                    }
                })
                .map(|i| (at, i))
        })
    }
}

/// Sessions of a pool whose `instances` is 0 on a GPU: two gave sixteen 1080p streams on the
/// H100 what a session each gives, or more (one: two thirds of it; four: no more than two),
/// with a fraction of the start-up (README, "Shared engines" and "The pools' cap, found").
const AUTO_GPU_INSTANCES: usize = 2;

/// Most frames of a combined run where `max_batch` is 0 on a GPU: the largest batch the GPU
/// benchmarks run (yolo11n's best rate on the H100 of batches 1, 8 and 32).
const AUTO_GPU_BATCH: usize = 32;

/// `n` sessions of `cfg` loaded side by side, and the first one's warnings.
fn load_engines(cfg: &EngineConfig, n: usize) -> Result<(Vec<Engine>, Vec<String>), InferError> {
    let loaded: Vec<_> = std::thread::scope(|s| {
        let loads: Vec<_> = (0..n).map(|_| s.spawn(|| Engine::load(cfg))).collect();
        loads
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(InferError::Runtime("loading the model panicked".into()))
                })
            })
            .collect()
    });
    let mut engines = Vec::with_capacity(n);
    let mut warnings = Vec::new();
    for (i, l) in loaded.into_iter().enumerate() {
        let (engine, w) = l?;
        if i == 0 {
            warnings = w;
        }
        engines.push(engine);
    }
    Ok((engines, warnings))
}

impl EnginePool {
    /// Loads the sessions of `cfg` (`pool.instances`) side by side. Warnings (fallbacks) come
    /// once.
    pub fn load(
        cfg: &EngineConfig,
        pool: PoolConfig,
    ) -> Result<(EnginePool, Vec<String>), InferError> {
        let gpu = |p: Provider| matches!(p, Provider::Cuda | Provider::TensorRt);
        let n = match pool.instances {
            0 if gpu(cfg.provider) => AUTO_GPU_INSTANCES,
            0 => 1,
            n => n,
        };
        let (mut engines, warnings) = load_engines(cfg, n)?;
        if pool.instances == 0 && cfg.provider == Provider::Auto && gpu(engines[0].provider) {
            // `auto` resolved to a GPU: the rest of the default sessions.
            engines.extend(load_engines(cfg, AUTO_GPU_INSTANCES - 1)?.0);
        }
        // Every session loaded, `auto`'s extra ones included.
        let n = engines.len();
        let first = &engines[0];
        let (info, provider) = (first.info.clone(), first.provider);
        // A captured CUDA graph replays one input size: no combined runs.
        let wanted = match pool.max_batch {
            0 if gpu(provider) => AUTO_GPU_BATCH,
            // On the CPU a run of more frames is no faster a frame, and takes more memory.
            0 => 1,
            n => n,
        };
        let max_batch = if first.cuda_graph() {
            1
        } else {
            match info.static_batch {
                Some(b) if wanted > 1 => b,
                _ => wanted,
            }
        };
        Ok((
            EnginePool {
                info,
                provider,
                engines: engines.into_iter().map(Mutex::new).collect(),
                max_batch,
                max_wait: if max_batch > 1 {
                    pool.max_wait
                } else {
                    Duration::ZERO
                },
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    idle: (0..n).rev().collect(),
                    sizes: vec![None; n],
                    switches: 0,
                    done: HashMap::new(),
                    next: 0,
                }),
                cond: Condvar::new(),
            },
            warnings,
        ))
    }

    /// What the model says about itself.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The provider in use (`Auto` resolved).
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Sessions in the pool.
    pub fn instances(&self) -> usize {
        self.engines.len()
    }

    /// How long a free session may wait for more batches (zero where runs are not combined).
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// A frames batch (see [`Engine::new_frames_batch`]) for any of the pool's sessions: its
    /// memory comes from the first one's (waits for a batch it runs).
    pub fn new_frames_batch(
        &self,
        spec: GraphSpec,
        input: FramesIn,
    ) -> Result<BatchTensor, InferError> {
        lock(&self.engines[0]).new_frames_batch(spec, input)
    }

    /// Runs `request` (alone on a free session, or with others that queued up meanwhile) and
    /// returns its reply. A calling thread runs only a group that holds its own request (the
    /// others' owners wait for it): one that ran a group without its own would keep its own
    /// stream waiting a whole run after its reply is ready.
    pub fn run(&self, request: Request) -> Reply {
        let mut state = lock(&self.state);
        let id = state.next;
        state.next += 1;
        state.queue.push_back(Queued {
            id,
            came: Instant::now(),
            request,
        });
        // A session waiting for more frames counts them again.
        self.cond.notify_all();
        loop {
            if let Some(reply) = state.done.remove(&id) {
                return reply;
            }
            if !state.queue.is_empty() && !state.idle.is_empty() {
                let deadline = state.queue[0].came + self.max_wait;
                let now = Instant::now();
                if now < deadline && self.groupable(&state.queue) < self.max_batch {
                    state = self
                        .cond
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    continue;
                }
                if let Some((at, i)) = self.own_group(&state, id) {
                    let (e, group) = self.start_group(&mut state, at, i);
                    // The next group in the queue may be runnable on another free session: its
                    // owners look again.
                    self.cond.notify_all();
                    drop(state);
                    let replies = self.run_group(e, group);
                    state = lock(&self.state);
                    state.idle.push(e);
                    state.done.extend(replies);
                    self.cond.notify_all();
                    continue;
                }
            }
            state = self.cond.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Takes the group at `at` in the queue and the idle session at `i` in `idle` for it (that
    /// session now runs the group's input size); returns the session and the group.
    fn start_group(&self, state: &mut State, at: usize, i: usize) -> (usize, Vec<(u64, Request)>) {
        let e = state.idle.remove(i);
        let group = self.take_group(&mut state.queue, at);
        let size = Some(input_size(&group[0].1));
        if state.sizes[e].is_some_and(|s| Some(s) != size) {
            state.switches += 1;
        }
        state.sizes[e] = size;
        (e, group)
    }

    /// The group to run now and its session (see [`State::runnable`]) when it holds request
    /// `id`; `None` leaves it to its owners, whom every change of the state wakes.
    fn own_group(&self, state: &State, id: u64) -> Option<(usize, usize)> {
        state.runnable().filter(|&(at, _)| {
            let (members, _) = self.grouped(&state.queue, at);
            members.iter().any(|&m| state.queue[m].id == id)
        })
    }

    /// Where in the queue the request at `start` and the later ones that can run with it are
    /// (the same input and rows, up to `max_batch` frames in all), and their frames.
    fn grouped(&self, queue: &VecDeque<Queued>, start: usize) -> (Vec<usize>, usize) {
        let Some(first) = queue.get(start).map(|q| &q.request) else {
            return (Vec::new(), 0);
        };
        let key = (first.tensor.combine_key(), first.rows);
        let (mut at, mut total) = (vec![start], first.frames);
        for (i, q) in queue.iter().enumerate().skip(start + 1) {
            let r = &q.request;
            if (r.tensor.combine_key(), r.rows) == key && total + r.frames <= self.max_batch {
                total += r.frames;
                at.push(i);
            }
        }
        (at, total)
    }

    /// The frames the first queued request's run would take from the queue now.
    fn groupable(&self, queue: &VecDeque<Queued>) -> usize {
        self.grouped(queue, 0).1
    }

    /// Takes the request at `start` and the later ones that can run with it, in order.
    fn take_group(&self, queue: &mut VecDeque<Queued>, start: usize) -> Vec<(u64, Request)> {
        let (at, _) = self.grouped(queue, start);
        // From the back, so the positions before stay where they are.
        let mut group: Vec<_> = at
            .iter()
            .rev()
            .filter_map(|&i| queue.remove(i))
            .map(|q| (q.id, q.request))
            .collect();
        group.reverse();
        group
    }

    /// Runs `group` on session `e`: one request as it is (its output handed over without a
    /// copy), several as one combined batch (each gets its frames' rows).
    fn run_group(&self, e: usize, group: Vec<(u64, Request)>) -> Vec<(u64, Reply)> {
        let ids: Vec<u64> = group.iter().map(|(id, _)| *id).collect();
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut engine = lock(&self.engines[e]);
            self.run_on(&mut engine, group)
        }));
        ran.unwrap_or_else(|_| {
            // The tensors went with the unwinding; every caller hears of it.
            ids.into_iter()
                .map(|id| {
                    let result = Err(InferError::Runtime("the engine's run panicked".into()));
                    (
                        id,
                        Reply {
                            tensor: None,
                            output: Vec::new(),
                            result,
                        },
                    )
                })
                .collect()
        })
    }

    fn run_on(&self, engine: &mut Engine, mut group: Vec<(u64, Request)>) -> Vec<(u64, Reply)> {
        // On a GPU a run takes a bucket of slots, the next power of two of its frames (at
        // most `max_batch`; the slots past the frames run on stale data; a sharer's batch of
        // a bucket's size runs as it is): few batch sizes, and a lone frame of a live stream
        // runs as one frame (padded to `max_batch`, each cost thirty-two frames of work). On
        // the CPU a run takes the frames there are.
        let fixed = self.provider != Provider::Cpu && self.max_batch > 1;
        let total: usize = group.iter().map(|(_, r)| r.frames).sum();
        let alone = group.len() == 1
            && (!fixed
                || bucket(group[0].1.tensor.slots(), self.max_batch) == group[0].1.tensor.slots());
        if alone {
            let (id, mut r) = group.pop().expect("one request");
            let result = engine.run(&r.tensor, r.rows).map(|o| Ran {
                shape: o.shape,
                rows: o.rows,
                run_frames: r.frames,
            });
            if result.is_ok() {
                engine.swap_output(&mut r.output);
            }
            let reply = Reply {
                tensor: Some(r.tensor),
                output: r.output,
                result,
            };
            return vec![(id, reply)];
        }
        let slots = match self.info.static_batch {
            Some(b) => b,
            None if fixed => bucket(total, self.max_batch),
            None => total,
        };
        let rows = group[0].1.rows;
        let parts: Vec<(&BatchTensor, usize)> =
            group.iter().map(|(_, r)| (&r.tensor, r.frames)).collect();
        let ran = engine.run_combined(&parts, slots, rows);
        drop(parts);
        let out = engine.output();
        let mut at = 0;
        group
            .into_iter()
            .map(|(id, mut r)| {
                let result = match &ran {
                    Ok(([_, d1, d2], rows)) => {
                        let per = d1 * d2;
                        r.output.clear();
                        r.output
                            .extend_from_slice(&out[at * per..(at + r.frames) * per]);
                        Ok(Ran {
                            shape: [r.frames, *d1, *d2],
                            rows: *rows,
                            run_frames: total,
                        })
                    }
                    Err(e) => Err(e.clone()),
                };
                at += r.frames;
                let reply = Reply {
                    tensor: Some(r.tensor),
                    output: r.output,
                    result,
                };
                (id, reply)
            })
            .collect()
    }
}

/// The slots of a GPU run of `frames` frames: the next power of two, at most `max_batch` (or
/// `frames` where a sharer's batch is larger still).
fn bucket(frames: usize, max_batch: usize) -> usize {
    frames.next_power_of_two().min(max_batch).max(frames)
}

/// What a name stands for: the settings its pool was loaded with, and the pool while anyone
/// holds it.
type NamedSlot = Arc<Mutex<Option<(EngineConfig, PoolConfig, Weak<EnginePool>)>>>;

/// Pools shared by name. A name's slot stays locked while its pool loads, so whoever asks for
/// the name meanwhile waits for that load instead of starting another. Names stay (a slot
/// each), pools go when their last holder drops them.
static SHARED: Mutex<BTreeMap<String, NamedSlot>> = Mutex::new(BTreeMap::new());

/// The pool named `name`: the one already loaded under that name if anyone still holds it
/// (its settings must equal `cfg` and `pool`), else a new one loaded with them. Sharing saves
/// the loads, the first runs (where a GPU session picks its kernels, seconds each and one at a
/// time in a process, see `engine::GPU_RUNS`) and the weights' memory. Warnings come with the
/// load that made the pool.
pub fn load_shared(
    name: &str,
    cfg: &EngineConfig,
    pool: PoolConfig,
) -> Result<(Arc<EnginePool>, Vec<String>), InferError> {
    let slot = lock(&SHARED).entry(name.to_string()).or_default().clone();
    let mut slot = lock(&slot);
    if let Some((loaded, loaded_pool, engine)) = slot.as_ref() {
        if let Some(engine) = engine.upgrade() {
            if canonical(loaded) != canonical(cfg) || *loaded_pool != pool {
                return Err(InferError::SharedEngine(format!(
                    "engine-name '{name}' is already loaded with other settings ({}); elements \
                     sharing an engine must agree on model, ort-library, execution-provider, \
                     device-id, intra-threads, trt-cache-dir, cuda-graph, engine-instances, \
                     engine-batch-size and engine-batch-latency (asked for: {})",
                    describe(loaded, loaded_pool),
                    describe(cfg, &pool)
                )));
            }
            return Ok((engine, Vec::new()));
        }
    }
    let (engine, warnings) = EnginePool::load(cfg, pool)?;
    let engine = Arc::new(engine);
    *slot = Some((cfg.clone(), pool, Arc::downgrade(&engine)));
    Ok((engine, warnings))
}

/// `cfg` with its paths resolved (`models/a.onnx` and `./models/a.onnx` are one model), for
/// comparing the settings of engines shared by name.
fn canonical(cfg: &EngineConfig) -> EngineConfig {
    let resolve = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    EngineConfig {
        model: resolve(&cfg.model),
        ort_library: cfg.ort_library.as_deref().map(resolve),
        trt_cache_dir: cfg.trt_cache_dir.as_deref().map(resolve),
        ..cfg.clone()
    }
}

/// An engine's settings as the properties name them.
fn describe(cfg: &EngineConfig, pool: &PoolConfig) -> String {
    let path = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or("unset".into(), |p| p.display().to_string())
    };
    format!(
        "model {}, ort-library {}, provider {:?}, device-id {}, intra-threads {}, trt-cache-dir {}, \
         cuda-graph {}, engine-instances {}, engine-batch-size {}, engine-batch-latency {} ms",
        cfg.model.display(),
        path(&cfg.ort_library),
        cfg.provider,
        cfg.device_id,
        cfg.intra_threads,
        path(&cfg.trt_cache_dir),
        cfg.cuda_graph,
        pool.instances,
        pool.max_batch,
        pool.max_wait.as_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{max_abs_diff, Letterbox, PixelFormat, TestFrame, YuvMatrix};
    use crate::Precision;
    use std::path::PathBuf;

    fn planted(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/models")
            .join(name)
    }

    fn det_cfg() -> EngineConfig {
        EngineConfig {
            model: planted("planted-det-raw-dyn.onnx"),
            ..Default::default()
        }
    }

    /// A pool of `instances` sessions of the planted detection model (CPU).
    fn pool_of(instances: usize, max_batch: usize, max_wait: Duration) -> EnginePool {
        let config = PoolConfig {
            instances,
            max_batch,
            max_wait,
        };
        EnginePool::load(&det_cfg(), config).unwrap().0
    }

    /// A batch of `slots` with `frames` random frames of `w` x `h` letterboxed for a `size`
    /// square input: on the host, or (`graph`) as uint8 frames for the preprocessing graph.
    fn batch_of(
        pool: &EnginePool,
        graph: bool,
        (slots, frames): (usize, usize),
        (w, h): (usize, usize),
        size: usize,
        seed: u32,
    ) -> BatchTensor {
        let lb = Letterbox::new(w, h, (size, size), 32, false);
        let mut t = if graph {
            let spec = GraphSpec {
                format: PixelFormat::Rgb,
                matrix: YuvMatrix::Bt709,
                full_range: false,
                batch: slots,
                letterbox: lb,
                output: pool.info().input_precision,
            };
            pool.new_frames_batch(spec, FramesIn::Host).unwrap()
        } else {
            BatchTensor::new(pool.info().input_precision, slots, lb)
        };
        for i in 0..frames {
            let frame = TestFrame::random(PixelFormat::Rgb, w, h, seed + i as u32);
            t.fill_slot(i, &frame.view(YuvMatrix::Bt709)).unwrap();
        }
        t
    }

    /// [`batch_of`] letterboxed on the host.
    fn batch(
        pool: &EnginePool,
        slots: usize,
        frames: usize,
        size_wh: (usize, usize),
        size: usize,
        seed: u32,
    ) -> BatchTensor {
        batch_of(pool, false, (slots, frames), size_wh, size, seed)
    }

    fn request(tensor: BatchTensor, frames: usize) -> Request {
        Request {
            tensor,
            frames,
            rows: ClassRows::Best,
            output: Vec::new(),
        }
    }

    /// Frame `i`'s output rows in a reply.
    fn frame_rows(reply: &Reply, i: usize) -> Vec<f32> {
        reply.batch().unwrap().frame(i).0.to_vec()
    }

    /// GPU runs take power-of-two buckets up to the pool's largest batch: a live stream's lone
    /// frame runs as one, three frames as four, and a sharer's larger batch as it is.
    #[test]
    fn gpu_runs_are_padded_to_power_of_two_buckets() {
        let got: Vec<usize> = [1, 2, 3, 5, 9, 17, 31, 32].map(|n| bucket(n, 32)).to_vec();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 32, 32]);
        assert_eq!(bucket(13, 24), 16);
        assert_eq!(
            bucket(20, 24),
            24,
            "the pool's largest batch caps the bucket"
        );
        assert_eq!(
            bucket(48, 32),
            48,
            "a sharer's batch above the cap runs as it is"
        );
    }

    /// One engine per name while anyone holds it; other settings under a held name (the model,
    /// or how the pool runs) are an error naming both; a name whose engine is gone loads anew.
    #[test]
    fn engines_are_shared_by_name_while_held() {
        let cfg = det_cfg();
        let pool = PoolConfig::default();
        let (a, _) = load_shared("unit-a", &cfg, pool).unwrap();
        let respelled = EngineConfig {
            model: planted("../models/./planted-det-raw-dyn.onnx"),
            ..cfg.clone()
        };
        let (b, warnings) = load_shared("unit-a", &respelled, pool).unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "the same name (and model) gives the same engine"
        );
        assert!(warnings.is_empty());
        let (c, _) = load_shared("unit-c", &cfg, pool).unwrap();
        assert!(!Arc::ptr_eq(&a, &c), "another name, another engine");
        let fp16 = EngineConfig {
            model: planted("planted-det-raw-dyn-fp16.onnx"),
            ..cfg.clone()
        };
        let two = PoolConfig {
            instances: 2,
            ..pool
        };
        for (other, other_pool, names) in [
            (
                &fp16,
                pool,
                ["planted-det-raw-dyn.onnx", "planted-det-raw-dyn-fp16.onnx"],
            ),
            (&cfg, two, ["engine-instances 1", "engine-instances 2"]),
        ] {
            match load_shared("unit-a", other, other_pool) {
                Err(InferError::SharedEngine(m)) => {
                    assert!(
                        m.contains("'unit-a'") && m.contains("other settings"),
                        "{m}"
                    );
                    assert!(m.contains(names[0]) && m.contains(names[1]), "{m}");
                }
                other => panic!(
                    "expected a shared-engine error, got {:?}",
                    other.map(|_| ())
                ),
            }
        }
        drop((a, b));
        let (d, _) = load_shared("unit-a", &fp16, two).unwrap();
        assert_eq!(d.info().input_precision, Precision::F16);
        assert_eq!(d.instances(), 2);
    }

    /// Batches of several callers run as one give each caller the rows its frames give alone
    /// (the first `frames` of each batch, whatever its other slots hold), letterboxed on the
    /// host or through the preprocessing graph; a batch of another input size or one past
    /// `max_batch` frames is left for a run of its own.
    #[test]
    fn combined_runs_give_each_batch_its_own_rows() {
        for graph in [false, true] {
            combined_runs_of(graph);
        }
    }

    fn combined_runs_of(graph: bool) {
        let pool = pool_of(1, 8, Duration::ZERO);
        // (slots, frames, source size, seed)
        let parts = [
            (4, 3, (320, 180), 1),
            (2, 2, (200, 300), 10),
            (4, 1, (320, 180), 20),
        ];
        let alone: Vec<Vec<Vec<f32>>> = parts
            .iter()
            .map(|&(slots, frames, size, seed)| {
                let t = batch_of(&pool, graph, (slots, frames), size, 160, seed);
                let reply = pool.run(request(t, frames));
                let ran = reply.result.as_ref().unwrap();
                assert_eq!(ran.run_frames, frames, "a lone batch runs alone");
                (0..frames).map(|i| frame_rows(&reply, i)).collect()
            })
            .collect();
        let queued = |id, request| Queued {
            id,
            came: Instant::now(),
            request,
        };
        let mut queue: VecDeque<Queued> = parts
            .iter()
            .enumerate()
            .map(|(n, &(slots, frames, size, seed))| {
                let t = batch_of(&pool, graph, (slots, frames), size, 160, seed);
                queued(n as u64, request(t, frames))
            })
            .collect();
        // Another input size waits; so does a batch that would take the run past 8 frames.
        queue.push_back(queued(
            7,
            request(batch_of(&pool, graph, (4, 4), (320, 180), 224, 30), 4),
        ));
        queue.push_back(queued(
            8,
            request(batch_of(&pool, graph, (4, 4), (320, 180), 160, 40), 4),
        ));
        assert_eq!(pool.groupable(&queue), 6);
        let group = pool.take_group(&mut queue, 0);
        assert_eq!(
            group.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(queue.iter().map(|q| q.id).collect::<Vec<_>>(), [7, 8]);
        let replies = pool.run_group(0, group);
        for (id, reply) in &replies {
            let (_, frames, _, _) = parts[*id as usize];
            let ran = reply.result.as_ref().unwrap();
            assert_eq!(ran.run_frames, 6, "three batches, six frames, one run");
            assert_eq!(ran.shape[0], frames);
            for (i, expected) in alone[*id as usize].iter().enumerate() {
                let got = frame_rows(reply, i);
                assert!(
                    max_abs_diff(&got, expected) < 1e-3,
                    "batch {id} frame {i}: combined differs from alone"
                );
            }
            assert!(reply.tensor.is_some(), "each tensor comes back");
        }
    }

    /// Callers on several threads at once, two sessions: every reply is the caller's own.
    #[test]
    fn concurrent_callers_get_their_own_rows() {
        let pool = pool_of(2, 16, Duration::ZERO);
        let expected: Vec<Vec<f32>> = (0..6)
            .map(|k| {
                let reply = pool.run(request(batch(&pool, 2, 2, (320, 180), 160, 100 * k), 2));
                frame_rows(&reply, 1)
            })
            .collect();
        std::thread::scope(|s| {
            for k in 0..6u32 {
                let (pool, expected) = (&pool, &expected);
                s.spawn(move || {
                    let mut t = Some(batch(pool, 2, 2, (320, 180), 160, 100 * k));
                    let mut output = Vec::new();
                    for _ in 0..4 {
                        let reply = pool.run(Request {
                            tensor: t.take().unwrap(),
                            frames: 2,
                            rows: ClassRows::Best,
                            output,
                        });
                        let got = frame_rows(&reply, 1);
                        assert!(
                            max_abs_diff(&got, &expected[k as usize]) < 1e-3,
                            "caller {k}"
                        );
                        (t, output) = (reply.tensor, reply.output);
                    }
                });
            }
        });
    }

    /// A free session waits (up to `max_wait`) for more batches to fill its run: three callers
    /// at once, one run of all their frames.
    #[test]
    fn a_free_session_waits_for_batches_to_run_together() {
        let pool = pool_of(1, 6, Duration::from_secs(10));
        let waited = Instant::now();
        let runs: Vec<usize> = std::thread::scope(|s| {
            let callers: Vec<_> = (0..3u32)
                .map(|k| {
                    let pool = &pool;
                    s.spawn(move || {
                        let t = batch(pool, 2, 2, (320, 180), 160, 7 * k);
                        pool.run(request(t, 2)).result.unwrap().run_frames
                    })
                })
                .collect();
            callers.into_iter().map(|c| c.join().unwrap()).collect()
        });
        assert_eq!(runs, [6, 6, 6], "one run of the three batches");
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "a full run does not wait out max_wait"
        );
    }

    /// Sharers of two input sizes on two sessions: each session keeps to one size.
    #[test]
    fn sessions_keep_to_one_input_size() {
        let pool = pool_of(2, 8, Duration::ZERO);
        let mut seen: Vec<Vec<(usize, usize)>> = vec![Vec::new(); 2];
        for k in 0..6u32 {
            let size = if k % 2 == 0 { 160 } else { 224 };
            let reply = pool.run(request(batch(&pool, 2, 2, (320, 180), size, k), 2));
            assert!(reply.result.is_ok());
            let state = lock(&pool.state);
            for (e, s) in state.sizes.iter().enumerate() {
                seen[e].extend(*s);
            }
        }
        for (e, sizes) in seen.iter_mut().enumerate() {
            sizes.dedup();
            assert_eq!(sizes.len(), 1, "session {e} ran {sizes:?}");
        }
        assert_ne!(seen[0], seen[1], "one size each");
        // Callers of both sizes at once, four threads: still no session changes size.
        std::thread::scope(|s| {
            for k in 0..4u32 {
                let pool = &pool;
                s.spawn(move || {
                    let size = if k % 2 == 0 { 160 } else { 224 };
                    for n in 0..5 {
                        let t = batch(pool, 2, 2, (320, 180), size, 10 * k + n);
                        assert!(pool.run(request(t, 2)).result.is_ok());
                    }
                });
            }
        });
        assert_eq!(
            lock(&pool.state).switches,
            0,
            "no session changed its input size"
        );
    }

    /// What `run` does when request `id`'s group is runnable: takes it and its session (which
    /// then runs its size); returns the session and the group's request ids.
    fn start_own_group(pool: &EnginePool, state: &mut State, id: u64) -> (usize, Vec<u64>) {
        let (at, i) = pool.own_group(state, id).expect("a free session");
        let (e, group) = pool.start_group(state, at, i);
        (e, group.iter().map(|(id, _)| *id).collect())
    }

    /// A caller runs only the group to run now, and only when it holds its own batch (the
    /// others' owners run theirs); once that group is taken, the next one is its owners'.
    #[test]
    fn a_caller_runs_only_a_group_holding_its_own_batch() {
        let pool = pool_of(2, 8, Duration::ZERO);
        let mut state = lock(&pool.state);
        for (id, size) in [(0, 160), (1, 160), (2, 224)] {
            state.queue.push_back(Queued {
                id,
                came: Instant::now(),
                request: request(batch(&pool, 2, 2, (320, 180), size, id as u32), 2),
            });
        }
        // Requests 0 and 1 run together first; request 2 (another size) is not in that group.
        assert!(pool.own_group(&state, 0).is_some());
        assert!(pool.own_group(&state, 1).is_some());
        assert_eq!(pool.own_group(&state, 2), None);
        // Their owner takes the group and a session: request 2 runs now on the other one.
        let (e, group) = start_own_group(&pool, &mut state, 1);
        assert_eq!(group, [0, 1]);
        let (_, i) = pool
            .own_group(&state, 2)
            .expect("request 2 on the free session");
        assert_ne!(state.idle[i], e);
        // With no session free, nobody runs anything.
        state.idle.clear();
        assert_eq!(pool.own_group(&state, 2), None);
    }

    /// Sessions that have not run yet take a size whose sessions are busy: one size runs on
    /// every session of the pool (a busy session's size kept it waiting for that one before).
    #[test]
    fn one_size_runs_on_every_session() {
        let pool = pool_of(2, 8, Duration::ZERO);
        let mut state = lock(&pool.state);
        for id in 0..2 {
            state.queue.push_back(Queued {
                id,
                came: Instant::now(),
                request: request(batch(&pool, 8, 8, (320, 180), 160, id as u32), 8),
            });
        }
        let mut ran = Vec::new();
        for id in 0..2 {
            // Each a full run of its own: the first goes to one session, the second to the other.
            let (e, group) = start_own_group(&pool, &mut state, id);
            assert_eq!(group, [id]);
            ran.push(e);
        }
        assert_ne!(ran[0], ran[1], "both sessions run");
        assert!(state.idle.is_empty());
    }
}
