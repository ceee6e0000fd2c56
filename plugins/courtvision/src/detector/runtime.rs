// SPDX-License-Identifier: MIT OR Apache-2.0
//! The batching runtime of the detector base class.
//!
//! The streaming thread letterboxes each frame straight into a slot of the batch being filled;
//! a full batch (or a partial one at EOS, caps/segment changes, drain queries, or when
//! `max-batch-latency` expires) goes to a queue. The source pad's task takes batches from the
//! queue, runs ONNX Runtime, decodes, attaches metadata and pushes the frames, in order, while the
//! streaming thread fills the next batch. Two batch tensors exist per element (one running, one
//! filling) and are reused. Serialized events travel through the same queue so they stay in
//! order with the frames around them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::prelude::*;

use courtvision_infer::decode::ClassRows;
use courtvision_infer::graph::GraphSpec;
use courtvision_infer::pool::{EnginePool, Request};
use courtvision_infer::{
    cuda::FrameCopier, engine::BatchTensor, DecodeParams, FrameObjects, FrameView, FramesIn,
    Letterbox, ModelInfo, PixelFormat, YuvMatrix,
};
use courtvision_meta::{
    add_detection, record_stage, wall_clock_ns, BBox, Detection, Keypoint, MotionMeta,
};

use super::cudamem::{self, CudaInput};
use super::fill::{self, Fill, Inferred};
use super::imp::Detector;
use super::settings::resolve_classes;

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Something the worker pushes downstream, in order.
enum Entry {
    /// A frame with a slot in the batch; `arrival` is wall-clock ns at chain.
    Frame {
        buffer: gst::Buffer,
        arrival: u64,
    },
    /// A frame motionskip marked to skip: no inference, results per `fill`.
    Skipped {
        buffer: gst::Buffer,
        arrival: u64,
    },
    Event(gst::Event),
}

/// A batch: its tensor and the frames (with events between them) it holds.
struct Batch {
    tensor: BatchTensor,
    entries: Vec<Entry>,
    frames: usize,
    params: DecodeParams,
    /// Time spent putting its frames in.
    fill: Duration,
}

enum Item {
    Batch(Batch),
    /// A serialized event or a skipped frame with no batch around it.
    Entry(Entry),
    /// Signalled once everything before it has been pushed (DRAIN query).
    Drained(Arc<(Mutex<bool>, Condvar)>),
}

/// What the worker needs from the loaded model.
pub(super) struct Model {
    /// The element's own, or one shared by name with others (`engine-name`).
    pub(super) engine: Arc<EnginePool>,
    pub(super) labels: Vec<Arc<str>>,
    pub(super) source: Arc<str>,
}

/// The worker's own state across batches: the last inferred frame's objects and, with
/// fill=interpolate, the skipped frames (and events after them) waiting for the next one.
struct WorkerState {
    /// The element's name, for timing stages.
    source: Arc<str>,
    /// The queue's flush epoch this state belongs to.
    epoch: u64,
    fill: Fill,
    last: Option<Inferred>,
    held: Vec<Entry>,
    /// The engine's output of the latest batch (kept for its allocation).
    output: Vec<f32>,
}

/// Queue between the streaming thread and the worker task.
struct Queue {
    items: VecDeque<Item>,
    /// Batches in `items` (not counting the one the worker runs).
    queued_batches: usize,
    /// Tensors ready for reuse.
    free: Vec<BatchTensor>,
    flushing: bool,
    /// Last downstream flow, returned by chain.
    flow: Result<gst::FlowSuccess, gst::FlowError>,
    /// When the batch being filled must run at the latest (max-batch-latency).
    deadline: Option<Instant>,
    /// Mean time of a batch run, for the LATENCY answer.
    run_time: Option<Duration>,
    /// Incremented at every flush: the worker drops what it holds from before.
    epoch: u64,
}

/// Stream configuration, from the model (in place once its load is waited for) and the caps.
pub(super) struct Config {
    pub(super) info: Arc<ModelInfo>,
    pub(super) labels: Vec<Arc<str>>,
    pub(super) batch_size: usize,
    /// batch-size=0 on a model without a static batch: the batch is cut to the frames whose
    /// video fits in `max_batch_bytes` (fewer frames held at 4K).
    pub(super) auto_batch: bool,
    pub(super) max_batch_bytes: usize,
    pub(super) preprocess_threads: usize,
    /// Frames go to the provider as uint8 and are letterboxed there (`preprocess`).
    pub(super) device_preprocess: bool,
    /// Uploads and letterboxes frames on the device (device preprocessing on a CUDA provider,
    /// where the CUDA driver is present).
    pub(super) copier: Option<Arc<FrameCopier>>,
    /// Taking frames in CUDA memory (as `copier`, where GStreamer's CUDA library is present).
    pub(super) cuda: Option<Arc<CudaInput>>,
    pub(super) video: Option<VideoConfig>,
}

#[derive(Clone)]
pub(super) struct VideoConfig {
    info: gst_video::VideoInfo,
    format: PixelFormat,
    matrix: YuvMatrix,
    full_range: bool,
    letterbox: Letterbox,
    /// The caps say `memory:CUDAMemory`.
    cuda_memory: bool,
    /// Frames per batch for this video (see `Config::auto_batch`).
    batch: usize,
}

struct Filling {
    config: Option<Config>,
    batch: Option<Batch>,
}

/// State shared with the worker task.
pub(super) struct Shared {
    /// The element's debug category (the subclass's).
    cat: gst::DebugCategory,
    /// Locked by the streaming thread while it fills a batch; lock order: filling, then queue.
    filling: Mutex<Filling>,
    queue: Mutex<Queue>,
    cond: Condvar,
    model: Mutex<Option<Model>>,
    /// Longest run of skipped frames announced by motionskip (for the LATENCY answer).
    max_skip: AtomicU32,
}

impl Shared {
    /// Puts a loaded model and the stream configuration it gives in place.
    pub(super) fn install(&self, model: Model, config: Config) {
        *lock(&self.model) = Some(model);
        let mut f = lock(&self.filling);
        f.config = Some(config);
        f.batch = None;
    }

    /// Drops the model, its configuration and the batch tensors (READY → NULL).
    pub(super) fn clear(&self) {
        *lock(&self.model) = None;
        let mut f = lock(&self.filling);
        f.config = None;
        f.batch = None;
        lock(&self.queue).free.clear();
    }

    pub(super) fn new(cat: gst::DebugCategory) -> Self {
        Shared {
            cat,
            filling: Mutex::new(Filling {
                config: None,
                batch: None,
            }),
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                queued_batches: 0,
                free: Vec::new(),
                flushing: true,
                flow: Err(gst::FlowError::Flushing),
                deadline: None,
                run_time: None,
                epoch: 0,
            }),
            cond: Condvar::new(),
            model: Mutex::new(None),
            max_skip: AtomicU32::new(0),
        }
    }
}

fn pixel_format(f: gst_video::VideoFormat) -> Option<PixelFormat> {
    use gst_video::VideoFormat as F;
    Some(match f {
        F::Rgb => PixelFormat::Rgb,
        F::Rgba => PixelFormat::Rgba,
        F::Bgr => PixelFormat::Bgr,
        F::Bgrx => PixelFormat::Bgrx,
        F::I420 => PixelFormat::I420,
        F::Nv12 => PixelFormat::Nv12,
        _ => return None,
    })
}

impl Detector {
    // ---- pad activation -----------------------------------------------------------------------

    pub(super) fn sink_activate(
        &self,
        _pad: &gst::Pad,
        mode: gst::PadMode,
        active: bool,
    ) -> Result<(), gst::LoggableError> {
        if mode != gst::PadMode::Push {
            return Err(gst::loggable_error!(
                self.cat,
                "only push mode is supported"
            ));
        }
        if !active {
            self.set_flushing();
        }
        Ok(())
    }

    pub(super) fn src_activate(
        &self,
        pad: &gst::Pad,
        mode: gst::PadMode,
        active: bool,
    ) -> Result<(), gst::LoggableError> {
        if mode != gst::PadMode::Push {
            return Err(gst::loggable_error!(
                self.cat,
                "only push mode is supported"
            ));
        }
        if active {
            self.start_worker(pad)
        } else {
            self.set_flushing();
            pad.stop_task()
                .map_err(|e| gst::loggable_error!(self.cat, "stop task: {e}"))
        }
    }

    /// Drops everything queued or being filled and wakes every waiter.
    fn set_flushing(&self) {
        let dropped = lock(&self.shared.filling).batch.take();
        let mut q = lock(&self.shared.queue);
        q.flushing = true;
        q.flow = Err(gst::FlowError::Flushing);
        q.deadline = None;
        q.epoch += 1;
        let items: Vec<Item> = q.items.drain(..).collect();
        q.queued_batches = 0;
        for item in items {
            match item {
                Item::Batch(b) => q.free.push(b.tensor),
                Item::Drained(signal) => notify(&signal),
                Item::Entry(_) => {}
            }
        }
        if let Some(b) = dropped {
            q.free.push(b.tensor);
        }
        self.shared.cond.notify_all();
    }

    fn start_worker(&self, pad: &gst::Pad) -> Result<(), gst::LoggableError> {
        let obj = self.obj();
        let element = obj.upcast_ref::<gst::Element>();
        {
            let mut q = lock(&self.shared.queue);
            q.flushing = false;
            q.flow = Ok(gst::FlowSuccess::Ok);
        }
        let shared = self.shared.clone();
        let pads = Pads {
            src: pad.clone(),
            sink: self.sinkpad.clone(),
        };
        let mut state = WorkerState {
            source: Arc::from(element.name().as_str()),
            epoch: lock(&self.shared.queue).epoch,
            fill: lock(&self.settings).fill,
            last: None,
            held: Vec::new(),
            output: Vec::new(),
        };
        let element = element.downgrade();
        pad.start_task(move || {
            let Some(element) = element.upgrade() else {
                let _ = pads.src.pause_task();
                return;
            };
            worker_iteration(&shared, &pads, &element, &mut state);
        })
        .map_err(|e| gst::loggable_error!(self.cat, "start task: {e}"))
    }

    // ---- streaming --------------------------------------------------------------------------

    pub(super) fn chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        lock(&self.shared.queue).flow?;
        let submitted = {
            let mut f = lock(&self.shared.filling);
            let f = &mut *f;
            let Some(config) = f.config.as_ref() else {
                gst::element_imp_error!(self, gst::CoreError::Failed, ("no model loaded"));
                return Err(gst::FlowError::Error);
            };
            let Some(video) = config.video.as_ref() else {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("received a buffer before caps")
                );
                return Err(gst::FlowError::NotNegotiated);
            };
            let arrival = wall_clock_ns();
            if MotionMeta::is_skip(&buffer) {
                // No inference: keep its place among the frames around it.
                self.shared
                    .keep_in_order(f, Entry::Skipped { buffer, arrival });
                return lock(&self.shared.queue).flow;
            }
            if f.batch.is_none() {
                f.batch = Some(self.new_batch(config, video)?);
            }
            let batch = f.batch.as_mut().expect("just set");
            let slot = batch.frames;
            let fill_start = Instant::now();
            let filled = if batch.tensor.frames_on_device() {
                fill_from_device(
                    config.cuda.as_deref(),
                    &buffer,
                    video,
                    &mut batch.tensor,
                    slot,
                )
            } else {
                gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &video.info)
                    .map_err(|e| e.to_string())
                    .and_then(|frame| {
                        let plane = |i: u32| frame.plane_data(i).unwrap_or(&[]);
                        let strides = frame.plane_stride();
                        let stride = |i: usize| strides.get(i).map_or(0, |&s| s.max(0) as usize);
                        let view = FrameView {
                            format: video.format,
                            width: video.info.width() as usize,
                            height: video.info.height() as usize,
                            planes: [plane(0), plane(1), plane(2)],
                            strides: [stride(0), stride(1), stride(2)],
                            matrix: video.matrix,
                            full_range: video.full_range,
                        };
                        batch
                            .tensor
                            .fill_slot(slot, &view)
                            .map_err(|e| e.to_string())
                    })
            };
            if let Err(e) = filled {
                // Run what is already batched so nothing before this frame is lost.
                let partial = f.batch.take();
                self.shared.submit(partial);
                gst::element_imp_error!(self, gst::StreamError::Format, ("bad video frame: {}", e));
                return Err(gst::FlowError::Error);
            }
            batch.fill += fill_start.elapsed();
            batch.entries.push(Entry::Frame { buffer, arrival });
            batch.frames += 1;
            if batch.frames == batch.tensor.slots() || batch.frames == video.batch {
                let full = f.batch.take();
                self.shared.submit(full);
                true
            } else {
                false
            }
        };
        let mut q = lock(&self.shared.queue);
        if submitted {
            // Double buffering: return once the worker has taken this batch, so at most one
            // batch runs while the next one fills.
            while q.queued_batches > 0 && !q.flushing && q.flow.is_ok() {
                q = self.shared.cond.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        }
        q.flow
    }

    fn new_batch(&self, config: &Config, video: &VideoConfig) -> Result<Batch, gst::FlowError> {
        let settings = lock(&self.settings).clone();
        let classes = match resolve_classes(settings.classes.as_deref(), &config.labels) {
            Ok(c) => c,
            Err(e) => {
                gst::element_imp_error!(self, gst::LibraryError::Settings, ("classes: {}", e));
                return Err(gst::FlowError::Error);
            }
        };
        let params = DecodeParams {
            conf_threshold: settings.conf_threshold as f32,
            iou_threshold: settings.iou_threshold as f32,
            max_detections: settings.max_detections as usize,
            classes,
            agnostic: settings.agnostic_nms,
        };
        let slots = config.info.static_batch.unwrap_or(video.batch);
        let spec = config.device_preprocess.then(|| GraphSpec {
            format: video.format,
            matrix: video.matrix,
            full_range: video.full_range,
            batch: slots,
            letterbox: video.letterbox,
            output: config.info.input_precision,
        });
        // Frames in CUDA memory go into a batch in device memory; frames in host memory are
        // uploaded one at a time where a copier can (else they go to the preprocessing graph).
        let input = match (&config.copier, &config.cuda) {
            (_, Some(cuda)) if video.cuda_memory => FramesIn::Device(cuda.copier()),
            (Some(copier), _) => FramesIn::HostToDevice(copier.clone()),
            _ => FramesIn::Host,
        };
        let on_device = matches!(input, FramesIn::Device(_));
        let reused = {
            let mut q = lock(&self.shared.queue);
            let i = q.free.iter().position(|t| {
                *t.letterbox() == video.letterbox
                    && t.slots() == slots
                    && t.graph_spec() == spec.as_ref()
                    && t.frames_on_device() == on_device
            });
            i.map(|i| q.free.swap_remove(i))
        };
        let mut tensor = match (reused, spec) {
            (Some(t), _) => t,
            (None, None) => BatchTensor::new(config.info.input_precision, slots, video.letterbox),
            // Pinned host memory comes from the model's session, device memory from its
            // preprocessing session (waits for a running batch).
            (None, Some(spec)) => {
                let made = match lock(&self.shared.model).as_ref() {
                    Some(m) => m
                        .engine
                        .new_frames_batch(spec, input)
                        .map_err(|e| e.to_string()),
                    None => Err("no model loaded".into()),
                };
                match made {
                    Ok(t) => t,
                    Err(e) => {
                        gst::element_imp_error!(
                            self,
                            gst::LibraryError::Failed,
                            ("device preprocessing: {}", e)
                        );
                        return Err(gst::FlowError::Error);
                    }
                }
            }
        };
        gst::debug!(
            self.cat,
            imp = self,
            "batch of {slots}: {}",
            match (tensor.letterboxed_on_device(), tensor.frames_on_device()) {
                (true, true) => "frames letterboxed into device memory by the kernel as they come",
                (false, true) => "frames copied into device memory for the preprocessing graph",
                (true, false) =>
                    "frames uploaded and letterboxed into device memory by the kernel as they come",
                _ if spec.is_some() => "frames copied into host memory for the preprocessing graph",
                _ => "frames letterboxed on the host",
            }
        );
        tensor.set_threads(config.preprocess_threads);
        let mut q = lock(&self.shared.queue);
        q.deadline = (settings.max_batch_latency_ms > 0)
            .then(|| Instant::now() + Duration::from_millis(settings.max_batch_latency_ms as u64));
        if q.deadline.is_some() {
            self.shared.cond.notify_all();
        }
        Ok(Batch {
            tensor,
            entries: Vec::with_capacity(slots),
            frames: 0,
            params,
            fill: Duration::ZERO,
        })
    }

    /// Runs the partial batch now and queues `event` after it.
    fn run_partial_then(&self, event: Option<gst::Event>) {
        let mut f = lock(&self.shared.filling);
        let partial = f.batch.take();
        self.shared.submit(partial);
        if let Some(ev) = event {
            self.shared.enqueue(Item::Entry(Entry::Event(ev)));
        }
    }

    pub(super) fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        gst::log!(self.cat, obj = pad, "event {:?}", event.type_());
        match event.view() {
            EventView::FlushStart(_) => {
                let ok = self.srcpad.push_event(event);
                self.set_flushing();
                let _ = self.srcpad.pause_task();
                ok
            }
            EventView::FlushStop(_) => {
                {
                    let mut q = lock(&self.shared.queue);
                    q.flushing = false;
                    q.flow = Ok(gst::FlowSuccess::Ok);
                }
                let ok = self.srcpad.push_event(event);
                if self.srcpad.is_active() {
                    if let Err(e) = self.start_worker(&self.srcpad) {
                        e.log_with_imp(self);
                        return false;
                    }
                }
                ok
            }
            EventView::Caps(c) => {
                let caps = c.caps_owned();
                match self.configure(&caps) {
                    Ok(()) => {
                        // The partial batch was made for the old caps: it ran in configure().
                        self.shared.enqueue(Item::Entry(Entry::Event(event)));
                        true
                    }
                    Err(msg) => {
                        gst::element_imp_error!(self, gst::CoreError::Negotiation, ("{}", msg));
                        false
                    }
                }
            }
            EventView::Eos(_) | EventView::StreamStart(_) | EventView::Segment(_) => {
                self.run_partial_then(Some(event));
                true
            }
            EventView::CustomDownstreamSticky(e)
                if e.structure().is_some_and(|s| s.name() == SKIP_EVENT) =>
            {
                let max_skip = e
                    .structure()
                    .and_then(|s| s.get::<u32>("max-skip").ok())
                    .unwrap_or(0);
                if self.shared.max_skip.swap(max_skip, Ordering::Relaxed) != max_skip
                    && lock(&self.settings).fill == Fill::Interpolate
                {
                    // Interpolation holds up to max-skip frames: the latency changed.
                    let _ = self
                        .post_message(gst::message::Latency::builder().src(&*self.obj()).build());
                }
                self.shared
                    .keep_in_order(&mut lock(&self.shared.filling), Entry::Event(event));
                true
            }
            _ if event.is_serialized() => {
                self.shared
                    .keep_in_order(&mut lock(&self.shared.filling), Entry::Event(event));
                true
            }
            _ => self.srcpad.push_event(event),
        }
    }

    /// Applies new caps: runs the partial batch of the old ones, then sets the letterbox.
    fn configure(&self, caps: &gst::Caps) -> Result<(), String> {
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|_| format!("unsupported caps {caps}: not raw video"))?;
        let format = pixel_format(info.format()).ok_or_else(|| {
            format!(
                "unsupported caps {caps}: format {} is not one of RGB, RGBA, BGR, BGRx, I420, NV12 \
                 (put videoconvert before this element)",
                info.format().to_str()
            )
        })?;
        if info.width() == 0 || info.height() == 0 {
            return Err(format!("unsupported caps {caps}: empty frame size"));
        }
        let mut f = lock(&self.shared.filling);
        let partial = f.batch.take();
        self.shared.submit(partial);
        let config = f.config.as_mut().ok_or("no model loaded")?;
        let m = &config.info;
        let letterbox = Letterbox::new(
            info.width() as usize,
            info.height() as usize,
            m.imgsz,
            m.stride,
            m.dynamic_size,
        );
        let colorimetry = info.colorimetry();
        config.video = Some(VideoConfig {
            format,
            matrix: if colorimetry.matrix() == gst_video::VideoColorMatrix::Bt709 {
                YuvMatrix::Bt709
            } else {
                YuvMatrix::Bt601
            },
            full_range: colorimetry.range() == gst_video::VideoColorRange::Range0_255,
            batch: if config.auto_batch {
                (config.max_batch_bytes / info.size().max(1)).clamp(1, config.batch_size)
            } else {
                config.batch_size
            },
            letterbox,
            info,
            cuda_memory: cudamem::is_cuda_caps(caps),
        });
        Ok(())
    }

    pub(super) fn sink_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Drain(_) => {
                // Run the partial batch and wait until every frame before the query is out.
                let signal = Arc::new((Mutex::new(false), Condvar::new()));
                self.run_partial_then(None);
                self.shared.enqueue(Item::Drained(signal.clone()));
                let (done, cond) = &*signal;
                let mut d = lock(done);
                while !*d {
                    d = cond.wait(d).unwrap_or_else(|e| e.into_inner());
                }
                drop(d);
                self.srcpad.peer_query(query)
            }
            gst::QueryViewMut::Context(q) if q.context_type() == cudamem::CONTEXT_TYPE => {
                // Upstream CUDA elements (nvh264dec) allocate in the model's CUDA context.
                let context = self.cuda_input().map(|c| c.context().clone());
                match context {
                    Some(c) => {
                        gst::debug!(self.cat, obj = pad, "sharing the model's CUDA context");
                        q.set_context(&c);
                        true
                    }
                    None => gst::Pad::query_default(pad, Some(&*self.obj()), query),
                }
            }
            gst::QueryViewMut::Caps(_) => self.caps_query(pad, query),
            gst::QueryViewMut::AcceptCaps(q) => {
                // Accept any raw video here so that an unsupported format reaches the CAPS
                // event and gets a clear error instead of a bare not-negotiated.
                let caps = q.caps_owned();
                let raw = caps.structure(0).is_some_and(|s| s.name() == "video/x-raw");
                q.set_result(raw && caps.is_fixed());
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    /// The CUDA memory input, when this element can take frames in CUDA memory.
    fn cuda_input(&self) -> Option<Arc<CudaInput>> {
        // From READY on (decoders ask while going to READY): the model decides. A failed load
        // is reported at READY → PAUSED.
        let _ = self.wait_loaded();
        lock(&self.shared.filling)
            .config
            .as_ref()
            .and_then(|c| c.cuda.clone())
    }

    /// Caps through the element (PROXY_CAPS), less CUDA memory once the loaded model shows it
    /// cannot take that (before loading, links to CUDA caps must still be possible).
    fn caps_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if !gst::Pad::query_default(pad, Some(&*self.obj()), query) {
            return false;
        }
        // The loaded model decides (see cuda_input).
        let _ = self.wait_loaded();
        let refused = lock(&self.shared.filling)
            .config
            .as_ref()
            .is_some_and(|c| c.cuda.is_none());
        if refused {
            if let gst::QueryViewMut::Caps(q) = query.view_mut() {
                if let Some(caps) = q.result_owned() {
                    q.set_result(&cudamem::without_cuda(&caps));
                }
            }
        }
        true
    }

    pub(super) fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Caps(_) => self.caps_query(pad, query),
            gst::QueryViewMut::Latency(q) => {
                let mut upstream = gst::query::Latency::new();
                if !self.sinkpad.peer_query(&mut upstream) {
                    return false;
                }
                let (live, min, max) = upstream.result();
                let ours = self.added_latency();
                gst::debug!(
                    self.cat,
                    obj = pad,
                    "upstream latency {min} - {max:?}, adding {ours}"
                );
                q.set(live, min + ours, max.map(|m| m + ours));
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    /// What batching adds: waiting for batch-size - 1 more frames (bounded by
    /// max-batch-latency) plus the measured time of one batch run.
    pub(super) fn added_latency(&self) -> gst::ClockTime {
        let _ = self.wait_loaded();
        let max_wait = lock(&self.settings).max_batch_latency_ms;
        // A shared engine's session may wait for other streams' batches before the run.
        let engine_wait = lock(&self.shared.model)
            .as_ref()
            .map_or(Duration::ZERO, |m| m.engine.max_wait());
        let f = lock(&self.shared.filling);
        let Some(config) = f.config.as_ref() else {
            return gst::ClockTime::ZERO;
        };
        let frame = config
            .video
            .as_ref()
            .map(|v| v.info.fps())
            .filter(|fps| fps.numer() > 0 && fps.denom() > 0)
            .and_then(|fps| {
                gst::ClockTime::SECOND.mul_div_floor(fps.denom() as u64, fps.numer() as u64)
            });
        let fill = match frame {
            Some(frame) => {
                let batch = config.video.as_ref().map_or(config.batch_size, |v| v.batch);
                frame * (batch.saturating_sub(1) as u64)
            }
            None => gst::ClockTime::from_mseconds(max_wait as u64),
        };
        let held = if lock(&self.settings).fill == Fill::Interpolate {
            frame.unwrap_or(gst::ClockTime::ZERO)
                * self.shared.max_skip.load(Ordering::Relaxed) as u64
        } else {
            gst::ClockTime::ZERO
        };
        let wait = if max_wait > 0 {
            fill.min(gst::ClockTime::from_mseconds(max_wait as u64))
        } else {
            fill
        };
        let run = lock(&self.shared.queue)
            .run_time
            .map_or(gst::ClockTime::ZERO, |d| {
                gst::ClockTime::from_nseconds(d.as_nanos() as u64)
            });
        wait + held + gst::ClockTime::from_nseconds(engine_wait.as_nanos() as u64) + run
    }
}

impl Shared {
    /// Keeps `entry` in order: inside the batch being filled, else after everything queued.
    fn keep_in_order(&self, filling: &mut Filling, entry: Entry) {
        match filling.batch.as_mut() {
            Some(b) => b.entries.push(entry),
            None => self.enqueue(Item::Entry(entry)),
        }
    }

    /// Queues a (possibly partial) batch for the worker.
    fn submit(&self, batch: Option<Batch>) {
        let Some(batch) = batch else { return };
        let mut q = lock(&self.queue);
        q.deadline = None;
        if q.flushing {
            q.free.push(batch.tensor);
            return;
        }
        if batch.frames == 0 {
            // Nothing to infer: pass its events and skipped frames on without running the model.
            q.free.push(batch.tensor);
            q.items.extend(batch.entries.into_iter().map(Item::Entry));
        } else {
            q.items.push_back(Item::Batch(batch));
            q.queued_batches += 1;
        }
        self.cond.notify_all();
    }

    fn enqueue(&self, item: Item) {
        let mut q = lock(&self.queue);
        if q.flushing {
            if let Item::Drained(signal) = item {
                notify(&signal);
            }
            return;
        }
        q.items.push_back(item);
        self.cond.notify_all();
    }
}

/// Copies a frame in CUDA memory into slot `slot` of a device batch.
fn fill_from_device(
    cuda: Option<&CudaInput>,
    buffer: &gst::BufferRef,
    video: &VideoConfig,
    tensor: &mut BatchTensor,
    slot: usize,
) -> Result<(), String> {
    let cuda = cuda.ok_or("no CUDA memory input")?;
    let (_mapped, frame) = cuda
        .map(buffer, &video.info, video.format)?
        .ok_or("the caps say memory:CUDAMemory but the buffer is not CUDA memory")?;
    // SAFETY: the planes are the mapped memory of `buffer`, kept mapped (and the buffer alive)
    // until the copy returns.
    unsafe { tensor.fill_slot_device(slot, &frame) }.map_err(|e| e.to_string())
}

fn notify(signal: &Arc<(Mutex<bool>, Condvar)>) {
    *lock(&signal.0) = true;
    signal.1.notify_all();
}

/// One turn of the source pad task: wait for an item (or the batch deadline), handle it.
/// The worker's pads: it pushes frames on `src` and sends feedback upstream through `sink`.
struct Pads {
    src: gst::Pad,
    sink: gst::Pad,
}

fn worker_iteration(shared: &Shared, pads: &Pads, element: &gst::Element, state: &mut WorkerState) {
    let srcpad = &pads.src;
    let waiting = Instant::now();
    let item = {
        let mut q = lock(&shared.queue);
        loop {
            if q.flushing {
                drop(q);
                let _ = srcpad.pause_task();
                return;
            }
            if let Some(item) = q.items.pop_front() {
                if matches!(item, Item::Batch(_)) {
                    q.queued_batches -= 1;
                }
                if state.epoch != q.epoch {
                    // A flush came between: nothing from before it may be pushed or used to
                    // interpolate across the discontinuity.
                    state.epoch = q.epoch;
                    state.held.clear();
                    state.last = None;
                }
                shared.cond.notify_all();
                break item;
            }
            match q.deadline {
                Some(deadline) if Instant::now() >= deadline => {
                    // The batch being filled waited long enough: ask the streaming side to hand
                    // it over (lock order is filling → queue, so not from here).
                    drop(q);
                    expire_partial_batch(shared, element);
                    q = lock(&shared.queue);
                }
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    q = shared
                        .cond
                        .wait_timeout(q, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                None => {
                    q = shared
                        .cond
                        .wait_timeout(q, Duration::from_millis(200))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    };
    let flow = match item {
        Item::Entry(Entry::Event(ev)) => {
            // Caps, segment, stream-start and EOS end the span a held skipped frame could be
            // interpolated in; other events keep their place among held frames.
            use gst::EventType as T;
            let ends_span = matches!(ev.type_(), T::Eos | T::Caps | T::Segment | T::StreamStart);
            let released = if ends_span {
                release_held(state, srcpad)
            } else {
                Ok(gst::FlowSuccess::Ok)
            };
            released.and(emit(state, srcpad, Entry::Event(ev), None))
        }
        Item::Drained(signal) => {
            let flow = release_held(state, srcpad);
            notify(&signal);
            flow
        }
        Item::Entry(entry) => emit(state, srcpad, entry, None),
        Item::Batch(batch) => run_batch(shared, pads, element, state, batch, waiting.elapsed()),
    };
    set_flow(shared, element, flow);
}

/// Records a downstream flow error for chain to return.
fn set_flow(
    shared: &Shared,
    element: &gst::Element,
    flow: Result<gst::FlowSuccess, gst::FlowError>,
) {
    if let Err(e) = flow {
        let mut q = lock(&shared.queue);
        if !q.flushing {
            gst::debug!(shared.cat, obj = element, "downstream flow {e:?}");
            q.flow = Err(e);
        }
        shared.cond.notify_all();
    }
}

/// Attaches `objects` to the buffer as filled-in or inferred detections.
fn attach(buffer: &mut gst::BufferRef, objects: &[fill::Object]) {
    for (det, kps) in objects {
        // Cloning a Detection only bumps the reference counts of its label and source.
        add_detection(buffer, det.clone(), kps);
    }
}

/// Pushes an entry downstream in order, applying the fill mode to skipped frames. `inferred` is
/// the result of a Frame entry. Held skipped frames are released, interpolated, before it.
fn emit(
    state: &mut WorkerState,
    srcpad: &gst::Pad,
    entry: Entry,
    inferred: Option<(Inferred, u32)>,
) -> Result<gst::FlowSuccess, gst::FlowError> {
    let source = state.source.clone();
    match entry {
        Entry::Frame {
            mut buffer,
            arrival,
        } => {
            let (result, batch_size) = inferred.expect("a frame entry comes with its result");
            let mut flow = Ok(gst::FlowSuccess::Ok);
            if !state.held.is_empty() {
                let held = std::mem::take(&mut state.held);
                let prev = state.last.take().unwrap_or_default();
                let span = match (prev.pts, result.pts) {
                    (Some(a), Some(b)) if b > a => Some((a, b)),
                    _ => None,
                };
                let n = held
                    .iter()
                    .filter(|e| matches!(e, Entry::Skipped { .. }))
                    .count();
                let mut k = 0;
                for e in held {
                    match e {
                        Entry::Skipped {
                            mut buffer,
                            arrival,
                        } => {
                            k += 1;
                            let t = match (span, buffer.pts()) {
                                (Some((a, b)), Some(p)) => {
                                    ((p.nseconds().saturating_sub(a)) as f32 / (b - a) as f32)
                                        .clamp(0.0, 1.0)
                                }
                                _ => k as f32 / (n + 1) as f32,
                            };
                            let b = buffer.make_mut();
                            attach(b, &fill::interpolate(&prev, &result, t));
                            record_stage(b, &source, arrival, wall_clock_ns(), 0);
                            if flow.is_ok() {
                                flow = srcpad.push(buffer);
                            }
                        }
                        Entry::Event(ev) => {
                            srcpad.push_event(ev);
                        }
                        Entry::Frame { .. } => unreachable!("inferred frames are never held"),
                    }
                }
            }
            let b = buffer.make_mut();
            attach(b, &result.objects);
            record_stage(b, &source, arrival, wall_clock_ns(), batch_size);
            state.last = Some(result);
            flow.and(srcpad.push(buffer))
        }
        Entry::Skipped {
            mut buffer,
            arrival,
        } => {
            match (state.fill, state.last.as_ref()) {
                (Fill::Interpolate, Some(_)) => {
                    state.held.push(Entry::Skipped { buffer, arrival });
                    return Ok(gst::FlowSuccess::Ok);
                }
                (Fill::Hold, Some(last)) => attach(buffer.make_mut(), &fill::hold(last)),
                _ => {}
            }
            record_stage(buffer.make_mut(), &source, arrival, wall_clock_ns(), 0);
            srcpad.push(buffer)
        }
        Entry::Event(ev) => {
            if state.held.is_empty() {
                srcpad.push_event(ev);
            } else {
                state.held.push(Entry::Event(ev));
            }
            Ok(gst::FlowSuccess::Ok)
        }
    }
}

/// Pushes held skipped frames with the last results held (no later inferred frame will come
/// for them: EOS, caps or segment change, drain).
fn release_held(
    state: &mut WorkerState,
    srcpad: &gst::Pad,
) -> Result<gst::FlowSuccess, gst::FlowError> {
    let mut flow = Ok(gst::FlowSuccess::Ok);
    for e in std::mem::take(&mut state.held) {
        match e {
            Entry::Skipped {
                mut buffer,
                arrival,
            } => {
                let b = buffer.make_mut();
                if let Some(last) = state.last.as_ref() {
                    attach(b, &fill::hold(last));
                }
                record_stage(b, &state.source, arrival, wall_clock_ns(), 0);
                if flow.is_ok() {
                    flow = srcpad.push(buffer);
                }
            }
            Entry::Event(ev) => {
                srcpad.push_event(ev);
            }
            Entry::Frame { .. } => unreachable!("inferred frames are never held"),
        }
    }
    flow
}

/// Called from the worker when max-batch-latency expired: submits the partial batch.
fn expire_partial_batch(shared: &Shared, element: &gst::Element) {
    let mut f = lock(&shared.filling);
    let expired = lock(&shared.queue)
        .deadline
        .is_some_and(|dl| Instant::now() >= dl);
    if expired {
        let partial = f.batch.take();
        gst::debug!(
            shared.cat,
            obj = element,
            "max-batch-latency expired: running a partial batch"
        );
        shared.submit(partial);
    }
}

fn run_batch(
    shared: &Shared,
    pads: &Pads,
    element: &gst::Element,
    state: &mut WorkerState,
    batch: Batch,
    idle: Duration,
) -> Result<gst::FlowSuccess, gst::FlowError> {
    let started = Instant::now();
    let Batch {
        tensor,
        mut entries,
        frames,
        params,
        fill,
    } = batch;
    // The engine's part (preprocessing, model, output copy) of the batch's time.
    let mut engine_time = Duration::ZERO;
    // Frames of the engine's run (more than the batch's where it ran with other streams').
    let mut run_frames = frames;
    let mut failure = None;
    let mut results: Vec<Inferred> = Vec::with_capacity(frames);
    let mut source: Arc<str> = Arc::from("");
    let model = lock(&shared.model)
        .as_ref()
        .map(|m| (m.engine.clone(), m.labels.clone(), m.source.clone()));
    let lb = *tensor.letterbox();
    // The tensor, back for reuse.
    let tensor = match model {
        None => {
            failure = Some("no model loaded".to_string());
            Some(tensor)
        }
        Some((engine, labels, src)) => {
            source = src;
            let info = engine.info();
            // Each anchor's best class is all the decoder needs, unless a class filter may
            // pass over it for another class.
            let rows = match params.classes {
                None => ClassRows::Best,
                Some(_) => ClassRows::All,
            };
            // Shared by name, the engine may run this batch with other elements' queued
            // batches, or another element's thread may run it.
            let reply = engine.run(Request {
                tensor,
                frames,
                rows,
                output: std::mem::take(&mut state.output),
            });
            engine_time = started.elapsed();
            match reply.batch() {
                Err(e) => failure = Some(e.to_string()),
                Ok(out) => {
                    run_frames = reply.result.as_ref().map_or(frames, |r| r.run_frames);
                    let mut objects = FrameObjects::default();
                    let buffers = entries.iter().filter_map(|e| match e {
                        Entry::Frame { buffer, .. } => Some(buffer),
                        _ => None,
                    });
                    for (i, buffer) in buffers.enumerate() {
                        let (data, dims) = out.frame(i);
                        courtvision_infer::decode::decode_frame(
                            info,
                            &params,
                            data,
                            dims,
                            &lb,
                            &mut objects,
                        );
                        results.push(to_inferred(&objects, buffer.pts(), &labels, &source));
                    }
                }
            }
            state.output = reply.output;
            reply.tensor
        }
    };
    let elapsed = started.elapsed();
    {
        let mut q = lock(&shared.queue);
        q.run_time = Some(match q.run_time {
            Some(prev) => (prev * 7 + elapsed) / 8,
            None => elapsed,
        });
    }
    gst::trace!(
        shared.cat,
        obj = element,
        "batch of {} ran in {:?} (engine {:?})",
        frames,
        elapsed,
        engine_time
    );
    if let Some(msg) = &failure {
        gst::element_error!(
            element,
            gst::LibraryError::Failed,
            ("inference failed: {}", msg)
        );
    }
    send_feedback(&pads.sink, state.last.as_ref(), &results, &source);

    // Push the frames (annotated, or as they came if inference failed) and events, in order.
    let mut flow: Result<gst::FlowSuccess, gst::FlowError> = Ok(gst::FlowSuccess::Ok);
    let mut results = results.into_iter();
    let n = frames as u32;
    // The timing stage's batch size: the frames the model ran on together.
    let ran = run_frames as u32;
    for entry in entries.drain(..) {
        let result = match (&entry, failure.is_none()) {
            (Entry::Frame { .. }, true) => results.next().map(|r| (r, ran)),
            (Entry::Frame { .. }, false) => Some((Inferred::default(), ran)),
            _ => None,
        };
        let f = emit(state, &pads.src, entry, result);
        if flow.is_ok() {
            flow = f;
        }
    }
    if let Some(tensor) = tensor {
        lock(&shared.queue).free.push(tensor);
    }
    shared.cond.notify_all();
    // Where the batch's time went (`GST_DEBUG=cvdetector:5`), stamped on the wall clock to
    // line up with other logs: the streaming thread putting its frames in, the worker waiting
    // for it, the engine (device work, model, output copy; with a shared engine also the wait
    // for a free session), the frames of the engine's run (with a shared engine, other
    // elements' batches may have run with this one), and the whole run with decoding and
    // pushing.
    gst::debug!(
        shared.cat,
        obj = element,
        "batch timing: end_ns={} frames={} fill_ms={:.3} idle_ms={:.3} engine_ms={:.3} \
         engine_frames={} run_ms={:.3}",
        wall_clock_ns(),
        n,
        fill.as_secs_f64() * 1e3,
        idle.as_secs_f64() * 1e3,
        engine_time.as_secs_f64() * 1e3,
        run_frames,
        started.elapsed().as_secs_f64() * 1e3
    );
    if failure.is_some() {
        return Err(gst::FlowError::Error);
    }
    flow
}

/// Decoded objects of one frame as courtvision detections.
fn to_inferred(
    objects: &FrameObjects,
    pts: Option<gst::ClockTime>,
    labels: &[Arc<str>],
    source: &Arc<str>,
) -> Inferred {
    let k = objects.keypoints_per_object;
    let objects = objects
        .objects
        .iter()
        .enumerate()
        .map(|(n, o)| {
            let label = labels
                .get(o.class_id)
                .cloned()
                .unwrap_or_else(|| Arc::from(o.class_id.to_string().as_str()));
            let det = Detection::new(
                o.class_id as u32,
                label,
                o.score,
                BBox::from_corners(o.bbox),
                source.clone(),
            );
            let kps = if k > 0 {
                objects
                    .keypoints_of(n)
                    .iter()
                    .map(|p| Keypoint {
                        x: p.x,
                        y: p.y,
                        score: p.score,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            (det, kps)
        })
        .collect();
    Inferred {
        pts: pts.map(|t| t.nseconds()),
        objects,
    }
}

/// Name of the sticky downstream event in which motionskip announces its longest skip run.
pub const SKIP_EVENT: &str = "courtvision-skip";

/// Name of the downstream custom query by which motionskip asks whether a flight tracker
/// (shuttletrack) is downstream; shuttletrack answers it.
pub const FLIGHTS_QUERY: &str = "courtvision-flights";

/// Name of the upstream custom event detectors send to motionskip after each batch.
pub const FEEDBACK_EVENT: &str = "courtvision-feedback";

/// Tells upstream (motionskip) how many objects the last inferred frame had and how fast the
/// fastest one moved between inferred frames (px/s).
fn send_feedback(
    sinkpad: &gst::Pad,
    previous: Option<&Inferred>,
    results: &[Inferred],
    source: &str,
) {
    let Some(last) = results.last() else { return };
    let mut speed = 0.0f64;
    let mut prev = previous;
    for r in results {
        if let Some(p) = prev {
            speed = speed.max(fill::max_speed(p, r));
        }
        prev = Some(r);
    }
    let s = gst::Structure::builder(FEEDBACK_EVENT)
        .field("objects", last.objects.len() as u32)
        .field("max-speed", speed)
        .field("source", source)
        .build();
    sinkpad.push_event(gst::event::CustomUpstream::new(s));
}
