// SPDX-License-Identifier: MIT OR Apache-2.0
//! metapublish: a pass-through element that publishes each frame's record (the metaexport
//! schema: players with keypoints, tracks, the shuttle, court and shot fields) to an MQTT
//! broker (QoS 0 or 1) or a NATS server, one message per frame on a topic made from a
//! template. The frame goes on at once: records wait in a bounded outbox, the broker is
//! reconnected with backoff, and a full outbox drops its oldest records and counts them.
//! Connection changes and the counts are posted as `metapublish` element messages (and a
//! warning while the broker is away); at EOS the outbox is given `flush-timeout` to empty.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use courtvision_meta::{export_json, record_stage, wall_clock_ns, Roles};

use super::sender::{thread_cpu_ns, Broker, Message, Options, Outbox, Report, Sender, Stats};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "metapublish",
        gst::DebugColorFlags::empty(),
        Some("courtvision records to MQTT or NATS"),
    )
});

const DEFAULT_MAX_QUEUE: u32 = 1000;
const DEFAULT_FLUSH_TIMEOUT_MS: u32 = 2000;
const DEFAULT_MAX_DELAY_MS: u32 = 100;

#[derive(Debug, Clone)]
struct Settings {
    location: Option<String>,
    topic: Option<String>,
    stream_name: Option<String>,
    client_id: Option<String>,
    qos: u32,
    max_queue: u32,
    flush_timeout_ms: u32,
    max_delay_ms: u32,
    player_labels: String,
    ball_labels: String,
}

impl Default for Settings {
    fn default() -> Self {
        let roles = Roles::default();
        Settings {
            location: None,
            topic: None,
            stream_name: None,
            client_id: None,
            qos: 0,
            max_queue: DEFAULT_MAX_QUEUE,
            flush_timeout_ms: DEFAULT_FLUSH_TIMEOUT_MS,
            max_delay_ms: DEFAULT_MAX_DELAY_MS,
            player_labels: roles.players.join(","),
            ball_labels: roles.balls.join(","),
        }
    }
}

struct State {
    outbox: Arc<Outbox>,
    _sender: Sender,
    topic: String,
    roles: Arc<Roles>,
    /// The element's name, for its timing stage.
    name: Arc<str>,
    frame: u64,
    size: (u32, u32),
    flush_timeout: Duration,
}

#[derive(Default)]
pub struct MetaPublish {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// The last counts, kept after the element stops so that they can still be read.
    last: Mutex<Stats>,
}

impl MetaPublish {
    fn stats(&self) -> Stats {
        match self.state.lock().unwrap().as_ref() {
            Some(s) => s.outbox.stats(),
            None => *self.last.lock().unwrap(),
        }
    }

    fn post(&self, event: &str, stats: Stats, reason: Option<&str>) {
        let mut b = gst::Structure::builder("metapublish")
            .field("event", event)
            .field("published", stats.published)
            .field("dropped", stats.dropped)
            .field("lost", stats.lost)
            .field("queued", stats.queued)
            .field("reconnects", stats.reconnects)
            .field("cpu-us", stats.cpu_ns / 1000);
        if let Some(r) = reason {
            b = b.field("reason", r);
        }
        let _ = self.obj().post_message(
            gst::message::Element::builder(b.build())
                .src(&*self.obj())
                .build(),
        );
    }

    /// The stream's name for the topic: the property, else the pipeline's name.
    fn stream_name(&self, s: &Settings) -> String {
        if let Some(n) = &s.stream_name {
            return n.clone();
        }
        let mut top: gst::Object = self.obj().clone().upcast();
        while let Some(p) = top.parent() {
            top = p;
        }
        top.name().to_string()
    }
}

#[glib::object_subclass]
impl ObjectSubclass for MetaPublish {
    const NAME: &'static str = "GstMetaPublish";
    type Type = super::MetaPublish;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for MetaPublish {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let d = Settings::default();
            let mut props = vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb("Broker to publish to: mqtt://HOST[:PORT] (1883) or nats://HOST[:PORT] (4222)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("topic")
                    .nick("Topic")
                    .blurb("Topic (MQTT) or subject (NATS); {stream} is replaced by stream-name [courtvision/{stream}/frames, courtvision.{stream}.frames]")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("stream-name")
                    .nick("Stream name")
                    .blurb("Name of the stream in the topic (default: the pipeline's name)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("client-id")
                    .nick("Client ID")
                    .blurb("Client identifier given to the broker (default: courtvision-STREAM-PID)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("qos")
                    .nick("QoS")
                    .blurb("MQTT quality of service: 0 at most once, 1 at least once (NATS: ignored)")
                    .maximum(1)
                    .default_value(d.qos)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("max-queue")
                    .nick("Maximum queue")
                    .blurb("Records held while the broker is away or slow; beyond it the oldest are dropped and counted")
                    .minimum(1)
                    .maximum(1_000_000)
                    .default_value(d.max_queue)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("flush-timeout")
                    .nick("Flush timeout")
                    .blurb("At the end of the stream, milliseconds given to the queued records to reach the broker")
                    .maximum(600_000)
                    .default_value(d.flush_timeout_ms)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("max-delay")
                    .nick("Maximum delay")
                    .blurb("Milliseconds a record may wait to be sent with the next ones in one batch (0: each at once)")
                    .maximum(10_000)
                    .default_value(d.max_delay_ms)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("published")
                    .nick("Published")
                    .blurb("Records handed to the broker (QoS 1: acknowledged by it)")
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder("dropped")
                    .nick("Dropped")
                    .blurb("Records dropped because the queue was full")
                    .read_only()
                    .build(),
            ];
            props.extend(crate::role_properties());
            props
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        gst::info!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
        let mut s = self.settings.lock().unwrap();
        let text = || {
            value
                .get::<Option<String>>()
                .expect("type checked upstream")
                .filter(|v| !v.is_empty())
        };
        match pspec.name() {
            "location" => s.location = text(),
            "topic" => s.topic = text(),
            "stream-name" => s.stream_name = text(),
            "client-id" => s.client_id = text(),
            "qos" => s.qos = value.get().expect("type checked upstream"),
            "max-queue" => s.max_queue = value.get().expect("type checked upstream"),
            "flush-timeout" => s.flush_timeout_ms = value.get().expect("type checked upstream"),
            "max-delay" => s.max_delay_ms = value.get().expect("type checked upstream"),
            "player-labels" => s.player_labels = text().unwrap_or_default(),
            "ball-labels" => s.ball_labels = text().unwrap_or_default(),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "published" {
            return self.stats().published.to_value();
        }
        if pspec.name() == "dropped" {
            return self.stats().dropped.to_value();
        }
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "location" => s.location.to_value(),
            "topic" => s.topic.to_value(),
            "stream-name" => s.stream_name.to_value(),
            "client-id" => s.client_id.to_value(),
            "qos" => s.qos.to_value(),
            "max-queue" => s.max_queue.to_value(),
            "flush-timeout" => s.flush_timeout_ms.to_value(),
            "max-delay" => s.max_delay_ms.to_value(),
            "player-labels" => s.player_labels.to_value(),
            "ball-labels" => s.ball_labels.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for MetaPublish {}

impl ElementImpl for MetaPublish {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "courtvision metadata publisher",
                "Filter/Analyzer/Video",
                "Publishes each frame's detections, keypoints, tracks and court fields to MQTT or NATS",
                "courtvision developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(crate::caps::any_templates);
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for MetaPublish {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings.lock().unwrap().clone();
        let location = s.location.clone().ok_or_else(|| {
            gst::error_msg!(
                gst::ResourceError::NotFound,
                ("no location: set it to mqtt://HOST[:PORT] or nats://HOST[:PORT]")
            )
        })?;
        let broker = Broker::parse(&location)
            .map_err(|e| gst::error_msg!(gst::ResourceError::NotFound, ("{}", e)))?;
        let stream = self.stream_name(&s);
        let topic = s
            .topic
            .clone()
            .unwrap_or_else(|| broker.default_topic().to_string())
            .replace("{stream}", &stream);
        let client_id = s
            .client_id
            .clone()
            .unwrap_or_else(|| format!("courtvision-{stream}-{}", std::process::id()));
        let outbox = Outbox::new(
            s.max_queue as usize,
            Duration::from_millis(s.max_delay_ms.into()),
        );
        let weak = self.obj().downgrade();
        let out = outbox.clone();
        let report = Arc::new(move |r: Report| {
            let Some(obj) = weak.upgrade() else { return };
            let imp = obj.imp();
            match r {
                Report::Connected => {
                    gst::info!(CAT, imp = imp, "connected to {location}");
                    imp.post("connected", out.stats(), None);
                }
                Report::Disconnected(reason) => {
                    gst::warning!(CAT, imp = imp, "{location}: {reason}");
                    gst::element_imp_warning!(
                        imp,
                        gst::ResourceError::Write,
                        (
                            "broker {} unreachable ({}): records queue up, the oldest dropped beyond {}",
                            location,
                            reason,
                            imp.settings.lock().unwrap().max_queue
                        )
                    );
                    imp.post("disconnected", out.stats(), Some(&reason));
                }
            }
        });
        let sender = Sender::start(
            Options {
                broker,
                client_id,
                qos1: s.qos == 1,
            },
            outbox.clone(),
            report,
        )
        .map_err(|e| gst::error_msg!(gst::CoreError::Failed, ("{}", e)))?;
        gst::debug!(CAT, imp = self, "publishing to {topic}");
        *self.state.lock().unwrap() = Some(State {
            outbox,
            _sender: sender,
            topic,
            roles: Arc::new(crate::roles(&s.player_labels, &s.ball_labels)),
            name: Arc::from(self.obj().name().as_str()),
            frame: 0,
            size: (0, 0),
            flush_timeout: Duration::from_millis(s.flush_timeout_ms as u64),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        // Dropping the state stops the sender thread (joined, outside the state lock's use
        // by the sender: it only touches the outbox).
        let state = self.state.lock().unwrap().take();
        if let Some(s) = state {
            *self.last.lock().unwrap() = s.outbox.stats();
        }
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let size = gst_video::VideoInfo::from_caps(incaps)
            .map(|i| (i.width(), i.height()))
            .unwrap_or((0, 0));
        if let Some(s) = self.state.lock().unwrap().as_mut() {
            s.size = size;
        }
        self.parent_set_caps(incaps, outcaps)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if event.type_() == gst::EventType::Eos {
            let outbox = self
                .state
                .lock()
                .unwrap()
                .as_ref()
                .map(|s| (s.outbox.clone(), s.flush_timeout));
            if let Some((outbox, timeout)) = outbox {
                let drained = outbox.wait_drained(timeout);
                let stats = outbox.stats();
                if !drained || stats.dropped > 0 {
                    gst::element_imp_warning!(
                        self,
                        gst::ResourceError::Write,
                        (
                            "{} records published, {} dropped while the broker was away, {} still queued at the end",
                            stats.published,
                            stats.dropped,
                            stats.queued
                        )
                    );
                }
                self.post("eos", stats, None);
            }
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Its own cost goes into the timing meta, where timingmeta's egress reports it.
        let (start, cpu) = (wall_clock_ns(), thread_cpu_ns());
        let mut guard = self.state.lock().unwrap();
        let s = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        self.queue(s, buf)?;
        record_stage(buf, &s.name, start, wall_clock_ns(), 1);
        s.outbox.add_stream_cpu(thread_cpu_ns().saturating_sub(cpu));
        Ok(gst::FlowSuccess::Ok)
    }
}

impl MetaPublish {
    /// Queues the buffer's record.
    fn queue(&self, s: &mut State, buf: &gst::BufferRef) -> Result<(), gst::FlowError> {
        // The record is made by the sender thread from a copy of the buffer's metadata (no
        // video memory): the streaming thread only copies the metas.
        let metas = buf
            .copy_region(
                gst::BufferCopyFlags::META | gst::BufferCopyFlags::TIMESTAMPS,
                ..,
            )
            .map_err(|_| gst::FlowError::Error)?;
        let (frame, (w, h), roles) = (s.frame, s.size, s.roles.clone());
        s.frame += 1;
        let make = move || export_json(&metas, frame, w, h, &roles).into_bytes();
        if s.outbox.push(Message::later(s.topic.clone(), make)) {
            gst::trace!(CAT, imp = self, "queue full: dropped the oldest record");
        }
        Ok(())
    }
}
