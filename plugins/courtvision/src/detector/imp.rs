// SPDX-License-Identifier: MIT OR Apache-2.0
//! The base class itself: properties, pads, state changes and loading the model. The model
//! loads on a thread of its own from NULL → READY (a bin takes its elements to READY one after
//! another, and a GPU session takes seconds to build: sixteen streams' models load side by side
//! instead of in turn); what needs it waits for it (READY → PAUSED, the caps and CUDA-context
//! queries, the latency query).

use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use courtvision_infer::cuda::FrameCopier;
use courtvision_infer::pool::{EnginePool, PoolConfig};
use courtvision_infer::{EngineConfig, Provider};

use super::cudamem::CudaInput;
use super::error::DetectorError;
use super::runtime::{lock, Config, Model, Shared};
use super::settings::{self, resolve_classes, Preprocess, Settings, DEFAULT_DYNAMIC_BATCH};

/// The base class's own category; each element logs under its own (see `DetectorImpl`).
static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "courtvisiondetector",
        gst::DebugColorFlags::empty(),
        Some("courtvision detector base class"),
    )
});

/// Where the model is between NULL → READY and its first use.
pub(super) enum Loading {
    Idle,
    Pending(std::thread::JoinHandle<Result<(Model, Config), DetectorError>>),
    /// The load failed: every later wait reports it, until the element goes back to NULL.
    Failed(DetectorError),
}

pub struct Detector {
    pub(super) cat: gst::DebugCategory,
    pub(super) sinkpad: gst::Pad,
    pub(super) srcpad: gst::Pad,
    pub(super) settings: Mutex<Settings>,
    pub(super) shared: Arc<Shared>,
    pub(super) loading: Mutex<Loading>,
}

#[glib::object_subclass]
impl ObjectSubclass for Detector {
    const NAME: &'static str = "GstCourtvisionDetector";
    const ABSTRACT: bool = true;
    type Type = super::Detector;
    type ParentType = gst::Element;
    type Class = super::Class;

    fn class_init(klass: &mut Self::Class) {
        klass.category = Some(*CAT);
    }

    fn with_class(klass: &Self::Class) -> Self {
        let cat = klass.category.unwrap_or(*CAT);
        let template = |name| {
            klass
                .pad_template(name)
                .expect("the base class's templates")
        };
        let sinkpad = gst::Pad::builder_from_template(&template("sink"))
            .chain_function(|pad, parent, buffer| {
                Detector::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                Detector::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                Detector::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_query(pad, query),
                )
            })
            .activatemode_function(|pad, parent, mode, active| {
                Detector::catch_panic_pad_function(
                    parent,
                    || Err(gst::loggable_error!(*CAT, "panic in activation")),
                    |imp| imp.sink_activate(pad, mode, active),
                )
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();
        let srcpad = gst::Pad::builder_from_template(&template("src"))
            .query_function(|pad, parent, query| {
                Detector::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_query(pad, query),
                )
            })
            .activatemode_function(|pad, parent, mode, active| {
                Detector::catch_panic_pad_function(
                    parent,
                    || Err(gst::loggable_error!(*CAT, "panic in activation")),
                    |imp| imp.src_activate(pad, mode, active),
                )
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();
        Detector {
            cat,
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            shared: Arc::new(Shared::new(cat)),
            loading: Mutex::new(Loading::Idle),
        }
    }
}

impl ObjectImpl for Detector {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(settings::properties);
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        gst::info!(self.cat, imp = self, "{} set to {:?}", pspec.name(), value);
        lock(&self.settings).set_property(value, pspec);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        lock(&self.settings).property(pspec)
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("a new pad");
        obj.add_pad(&self.srcpad).expect("a new pad");
    }
}

impl GstObjectImpl for Detector {}

impl ElementImpl for Detector {
    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(crate::caps::detector_templates);
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        gst::debug!(self.cat, imp = self, "changing state: {transition:?}");
        let ready = match transition {
            gst::StateChange::NullToReady => self.start_loading(),
            gst::StateChange::ReadyToPaused => self.wait_loaded(),
            _ => Ok(()),
        };
        if let Err(e) = ready {
            gst::error!(self.cat, imp = self, "{transition:?} failed: {e}");
            self.post_error_message(e.to_error_message());
            return Err(gst::StateChangeError);
        }
        let result = self.parent_change_state(transition)?;
        if transition == gst::StateChange::ReadyToNull {
            self.unload();
        }
        Ok(result)
    }
}

impl Detector {
    /// The subclass's check of a loaded model.
    fn check_model(
        &self,
        model: &std::path::Path,
        info: &courtvision_infer::ModelInfo,
    ) -> Result<(), DetectorError> {
        let obj = self.obj();
        match obj.class().as_ref().check_model {
            Some(check) => check(&obj, model, info),
            None => Ok(()),
        }
    }

    /// NULL → READY: checks what is quick to check (a model is set and is a readable file,
    /// ONNX Runtime loads: once per process) and starts loading the model on a thread of its own.
    fn start_loading(&self) -> Result<(), DetectorError> {
        let settings = lock(&self.settings).clone();
        let model = settings.model.clone().ok_or(DetectorError::NoModel)?;
        DetectorError::check_model_file(&model)?;
        // Its warnings come again from the load.
        courtvision_infer::engine::ensure_runtime(settings.ort_library.as_deref())?;
        let element = self.obj().clone();
        let handle = std::thread::Builder::new()
            .name(format!("{}-load", element.name()))
            .spawn(move || {
                let imp = element.imp();
                let loaded = imp.load_model(settings, model.clone())?;
                imp.check_model(&model, &loaded.1.info)?;
                Ok(loaded)
            })
            .map_err(|e| DetectorError::Other(format!("could not start loading the model: {e}")))?;
        *lock(&self.loading) = Loading::Pending(handle);
        Ok(())
    }

    /// Waits for the model started loading at NULL → READY and puts it in place; the load's
    /// error, if it failed (nothing to wait for before READY).
    pub(super) fn wait_loaded(&self) -> Result<(), DetectorError> {
        let mut loading = lock(&self.loading);
        let loaded = match std::mem::replace(&mut *loading, Loading::Idle) {
            Loading::Idle => return Ok(()),
            Loading::Failed(e) => Err(e),
            Loading::Pending(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(DetectorError::Other("loading the model panicked".into()))),
        };
        match loaded {
            Ok((model, config)) => {
                self.shared.install(model, config);
                Ok(())
            }
            Err(e) => {
                *loading = Loading::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// READY → NULL: a load still running is waited for, and the model and batches dropped.
    fn unload(&self) {
        let _ = self.wait_loaded();
        *lock(&self.loading) = Loading::Idle;
        self.shared.clear();
    }

    /// Loads the model and works out the stream configuration it gives (on the loading thread).
    fn load_model(
        &self,
        settings: Settings,
        model: std::path::PathBuf,
    ) -> Result<(Model, Config), DetectorError> {
        let cat = self.cat;
        let name = self.obj().name();
        let cfg = EngineConfig {
            model,
            ort_library: settings.ort_library.clone(),
            provider: settings.provider.into(),
            device_id: settings.device_id as i32,
            intra_threads: settings.intra_threads as usize,
            trt_cache_dir: settings.trt_cache_dir.clone(),
            // Replays from fixed device buffers, which only device preprocessing fills.
            cuda_graph: settings.cuda_graph && settings.preprocess != Preprocess::Host,
            plain_output: false,
        };
        if settings.cuda_graph && settings.preprocess == Preprocess::Host {
            gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                ("cuda-graph needs preprocess=device (or auto); running without")
            );
        }
        let loading = Instant::now();
        let (engine, warnings) = match &settings.engine_name {
            Some(name) => {
                let pool = PoolConfig {
                    instances: settings.engine_instances as usize,
                    max_batch: settings.engine_batch_size as usize,
                    max_wait: Duration::from_millis(settings.engine_batch_latency_ms as u64),
                };
                courtvision_infer::pool::load_shared(name, &cfg, pool)?
            }
            None => {
                let (e, w) = EnginePool::load(&cfg, PoolConfig::default())?;
                (Arc::new(e), w)
            }
        };
        let load_ms = loading.elapsed().as_secs_f64() * 1e3;
        for w in warnings {
            gst::warning!(cat, imp = self, "{w}");
            gst::element_imp_warning!(self, gst::LibraryError::Settings, ("{}", w));
        }
        let (mut info, provider) = (engine.info().clone(), engine.provider());
        if let Some(path) = &settings.labels {
            let text = std::fs::read_to_string(path)
                .map_err(|e| DetectorError::Labels(path.clone(), e.to_string()))?;
            let names = courtvision_infer::model::parse_labels_file(&text);
            if names.len() < info.names.len() {
                gst::warning!(
                    cat,
                    imp = self,
                    "labels file has {} names for {} classes; the rest keep the model's names",
                    names.len(),
                    info.names.len()
                );
            }
            for (i, n) in names.into_iter().enumerate().take(info.names.len()) {
                info.names[i] = n;
            }
        }
        if settings.input_size > 0 {
            if !info.dynamic_size {
                gst::warning!(
                    cat,
                    imp = self,
                    "input-size ignored: the model has a static input size"
                );
            } else {
                let s = (settings.input_size as usize).div_ceil(info.stride) * info.stride;
                info.imgsz = (s, s);
            }
        }
        let batch_size = match (info.static_batch, settings.batch_size as usize) {
            (Some(n), b) => {
                if b != 0 && b != n {
                    gst::warning!(
                        cat,
                        imp = self,
                        "batch-size {b} ignored: the model has a static batch of {n}"
                    );
                }
                n
            }
            (None, 0) => DEFAULT_DYNAMIC_BATCH,
            (None, b) => b,
        };
        let preprocess_threads = match (settings.preprocess_threads, provider) {
            (0, Provider::Cpu) => 1,
            (0, _) => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).clamp(1, 8)),
            (n, _) => n as usize,
        };
        let device_preprocess = match settings.preprocess {
            Preprocess::Host => false,
            Preprocess::Device => true,
            Preprocess::Auto => provider != Provider::Cpu,
        };
        let copier = if device_preprocess && provider != Provider::Cpu {
            match FrameCopier::new(cfg.device_id) {
                Ok(c) => {
                    if let Err(e) = c.letterbox_kernel() {
                        gst::warning!(
                            cat,
                            imp = self,
                            "letterbox kernel unavailable ({e}): frames go through the \
                             preprocessing graph"
                        );
                    }
                    Some(Arc::new(c))
                }
                Err(e) => {
                    gst::info!(cat, imp = self, "no CUDA driver for frame copies: {e}");
                    None
                }
            }
        } else {
            None
        };
        let cuda = copier
            .as_ref()
            .and_then(|c| match CudaInput::new(c.clone()) {
                Ok(c) => Some(Arc::new(c)),
                Err(e) => {
                    gst::info!(cat, imp = self, "no CUDA memory input: {e}");
                    None
                }
            });
        let labels: Vec<Arc<str>> = info.names.iter().map(|n| Arc::from(n.as_str())).collect();
        resolve_classes(settings.classes.as_deref(), &labels).map_err(DetectorError::Classes)?;
        gst::info!(
            cat,
            imp = self,
            "loaded {}{} (load_ms={load_ms:.0}): {:?} {:?} layout, {} classes, keypoints {:?}, \
             imgsz {:?} ({}), batch {batch_size}, {:?} in / {:?} out, provider {:?}, \
             preprocessing on the {}",
            cfg.model.display(),
            settings
                .engine_name
                .as_ref()
                .map_or(String::new(), |n| format!(" as engine '{n}'")),
            info.task,
            info.layout,
            info.names.len(),
            info.kpt_shape,
            info.imgsz,
            if info.dynamic_size {
                "dynamic, rectangular"
            } else {
                "static"
            },
            info.input_precision,
            info.output_precision,
            provider,
            if device_preprocess { "device" } else { "host" }
        );
        let model = Model {
            engine,
            labels: labels.clone(),
            source: Arc::from(name.as_str()),
        };
        let auto_batch = info.static_batch.is_none() && settings.batch_size == 0;
        let config = Config {
            info: Arc::new(info),
            labels,
            batch_size,
            auto_batch,
            max_batch_bytes: match settings.max_batch_bytes {
                0 => usize::MAX,
                n => n as usize,
            },
            preprocess_threads,
            device_preprocess,
            copier,
            cuda,
            video: None,
        };
        Ok((model, config))
    }
}
