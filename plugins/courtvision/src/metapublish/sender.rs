// SPDX-License-Identifier: MIT OR Apache-2.0
//! The broker side of metapublish: a bounded outbox the streaming thread fills without ever
//! waiting, and one thread that owns the broker connection (rumqttc or async-nats on a
//! single-threaded tokio runtime), sends while connected and reconnects with backoff while
//! not. When the outbox is full the oldest message is dropped and counted: a live analysis
//! wants the newest frames, and the video must not wait for the broker.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Where records go: parsed from the `location` property.
#[derive(Debug, Clone, PartialEq)]
pub enum Broker {
    Mqtt { host: String, port: u16 },
    Nats { url: String },
}

impl Broker {
    pub fn parse(location: &str) -> Result<Broker, String> {
        let (scheme, rest) = location.split_once("://").ok_or_else(|| {
            format!("'{location}' is not mqtt://HOST[:PORT] or nats://HOST[:PORT]")
        })?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                Some(
                    p.parse::<u16>()
                        .map_err(|_| format!("'{location}': port '{p}' is not a number"))?,
                ),
            ),
            None => (rest, None),
        };
        if host.is_empty() || host.contains('/') {
            return Err(format!("'{location}': no host"));
        }
        match scheme {
            "mqtt" | "tcp" => Ok(Broker::Mqtt {
                host: host.into(),
                port: port.unwrap_or(1883),
            }),
            "nats" => Ok(Broker::Nats {
                url: format!("nats://{host}:{}", port.unwrap_or(4222)),
            }),
            other => Err(format!(
                "'{location}': scheme '{other}' is not mqtt or nats"
            )),
        }
    }

    /// The default topic (MQTT levels) or subject (NATS tokens) for a stream.
    pub fn default_topic(&self) -> &'static str {
        match self {
            Broker::Mqtt { .. } => "courtvision/{stream}/frames",
            Broker::Nats { .. } => "courtvision.{stream}.frames",
        }
    }
}

/// A record on its way: its topic and what makes its bytes, run by the sender thread so that
/// the streaming thread does not serialize.
pub struct Message {
    pub topic: String,
    make: Box<dyn FnOnce() -> Vec<u8> + Send>,
}

impl Message {
    pub fn later(topic: String, make: impl FnOnce() -> Vec<u8> + Send + 'static) -> Message {
        Message {
            topic,
            make: Box::new(make),
        }
    }

    fn into_parts(self) -> (String, Vec<u8>) {
        (self.topic, (self.make)())
    }
}

/// Counters, as the element's properties and messages report them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Handed to the broker: written to the connection (MQTT QoS 0, NATS) or acknowledged
    /// (MQTT QoS 1).
    pub published: u64,
    /// Dropped from a full outbox while the broker was away or slow.
    pub dropped: u64,
    /// Written to a connection that failed before the broker confirmed them (NATS).
    pub lost: u64,
    /// Waiting in the outbox.
    pub queued: u64,
    /// Times the connection came back after it was lost.
    pub reconnects: u64,
    pub connected: bool,
    /// CPU time spent by the element: its part on the streaming thread and its sender
    /// thread (making the records and sending them), in nanoseconds.
    pub cpu_ns: u64,
}

/// CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given and nothing else.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } != 0 {
        return 0;
    }
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Puts the calling thread below the streaming threads: on busy cores the video's threads
/// come first and the sender, whose work is a small part of a core, sends in the gaps.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's id changes only its nice value.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, SENDER_NICE);
    }
}

/// The sender thread's nice value.
const SENDER_NICE: i32 = 10;

#[derive(Default)]
struct Inner {
    queue: VecDeque<Message>,
    max: usize,
    /// Taken from the queue by the sender; `taken - published - lost` are on their way.
    taken: u64,
    stats: Stats,
    ever_connected: bool,
}

/// The bounded queue between the streaming thread and the sender.
pub struct Outbox {
    inner: Mutex<Inner>,
    ready: Notify,
    changed: Condvar,
    /// How long a record may wait to be sent with the ones after it.
    delay: Duration,
    /// CPU time of the element's work on the streaming thread, and of the sender thread.
    stream_cpu_ns: AtomicU64,
    sender_cpu_ns: AtomicU64,
}

impl Outbox {
    /// An outbox of at most `max` records, which the sender takes in batches: the first
    /// record of a batch waits up to `delay` for others to join it (zero: each goes at once).
    pub fn new(max: usize, delay: Duration) -> Arc<Outbox> {
        Arc::new(Outbox {
            inner: Mutex::new(Inner {
                max: max.max(1),
                ..Default::default()
            }),
            ready: Notify::new(),
            changed: Condvar::new(),
            delay,
            stream_cpu_ns: AtomicU64::new(0),
            sender_cpu_ns: AtomicU64::new(0),
        })
    }

    /// Queues a message; never waits. Returns true where the oldest one was dropped for it.
    pub fn push(&self, m: Message) -> bool {
        let mut g = self.inner.lock().unwrap();
        let full = g.queue.len() >= g.max;
        if full {
            g.queue.pop_front();
            g.stats.dropped += 1;
        }
        // With a delay, the first record of a batch wakes the sender and the others join it
        // without a wake-up each.
        let wake = g.queue.is_empty() || self.delay.is_zero();
        g.queue.push_back(m);
        drop(g);
        if wake {
            self.ready.notify_one();
        }
        full
    }

    pub fn stats(&self) -> Stats {
        let g = self.inner.lock().unwrap();
        Stats {
            queued: g.queue.len() as u64,
            cpu_ns: self.stream_cpu_ns.load(Ordering::Relaxed)
                + self.sender_cpu_ns.load(Ordering::Relaxed),
            ..g.stats
        }
    }

    /// Adds CPU time that the streaming thread spent on the element.
    pub fn add_stream_cpu(&self, ns: u64) {
        self.stream_cpu_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Marks the connection up or down; returns true where that is a change.
    fn set_connected(&self, up: bool) -> bool {
        let mut g = self.inner.lock().unwrap();
        let changed = g.stats.connected != up;
        g.stats.connected = up;
        if changed && up {
            if g.ever_connected {
                g.stats.reconnects += 1;
            }
            g.ever_connected = true;
        }
        drop(g);
        if up {
            self.ready.notify_one();
        }
        changed
    }

    fn published(&self, n: u64) {
        self.inner.lock().unwrap().stats.published += n;
        self.changed.notify_all();
    }

    fn lost(&self, n: u64) {
        self.inner.lock().unwrap().stats.lost += n;
        self.changed.notify_all();
    }

    /// The next records to send, oldest first, once connected: what has come within the
    /// delay after the first of them, at most `BATCH` (a backlog is sent without waiting).
    async fn next(&self) -> Vec<Message> {
        // Called on the sender thread between batches: its CPU time so far.
        self.sender_cpu_ns.store(thread_cpu_ns(), Ordering::Relaxed);
        let mut waited = false;
        loop {
            let delay = {
                let mut g = self.inner.lock().unwrap();
                if g.stats.connected && !g.queue.is_empty() {
                    if waited || self.delay.is_zero() || g.queue.len() >= BATCH {
                        let n = g.queue.len().min(BATCH);
                        g.taken += n as u64;
                        return g.queue.drain(..n).collect();
                    }
                    Some(self.delay)
                } else {
                    None
                }
            };
            match delay {
                Some(d) => {
                    tokio::time::sleep(d).await;
                    waited = true;
                }
                None => self.ready.notified().await,
            }
        }
    }

    /// Waits until everything queued has been published, or the timeout; true if it was.
    pub fn wait_drained(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        let mut g = self.inner.lock().unwrap();
        loop {
            if g.queue.is_empty() && g.stats.published + g.stats.lost >= g.taken {
                return true;
            }
            let now = Instant::now();
            if now >= end {
                return false;
            }
            // Woken by publications; the short step also covers a sender that lost what it
            // had taken with the connection.
            g = self
                .changed
                .wait_timeout(g, (end - now).min(Duration::from_millis(20)))
                .unwrap()
                .0;
        }
    }
}

/// What the sender tells the element about the connection.
pub enum Report {
    Connected,
    Disconnected(String),
}

pub type Reporter = Arc<dyn Fn(Report) + Send + Sync>;

/// The sender thread; dropping it stops the thread.
pub struct Sender {
    stop: Arc<Notify>,
    stopping: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub struct Options {
    pub broker: Broker,
    pub client_id: String,
    pub qos1: bool,
}

impl Sender {
    pub fn start(opts: Options, outbox: Arc<Outbox>, report: Reporter) -> Result<Sender, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("no async runtime: {e}"))?;
        let stop = Arc::new(Notify::new());
        let stopping = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("metapublish".into())
            .spawn(move || {
                lower_priority();
                rt.block_on(async move {
                    tokio::select! {
                        _ = run(opts, outbox, report) => {}
                        _ = s.notified() => {}
                    }
                })
            })
            .map_err(|e| format!("no sender thread: {e}"))?;
        Ok(Sender {
            stop,
            stopping,
            thread: Some(thread),
        })
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if !self.stopping.swap(true, Ordering::SeqCst) {
            self.stop.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The most records sent in one batch.
const BATCH: usize = 64;

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

async fn run(opts: Options, outbox: Arc<Outbox>, report: Reporter) {
    match opts.broker {
        Broker::Mqtt { host, port } => {
            mqtt(host, port, opts.client_id, opts.qos1, outbox, report).await
        }
        Broker::Nats { url } => nats(url, opts.client_id, outbox, report).await,
    }
}

async fn mqtt(
    host: String,
    port: u16,
    client_id: String,
    qos1: bool,
    outbox: Arc<Outbox>,
    report: Reporter,
) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_keep_alive(Duration::from_secs(5));
    // A frame's record with keypoints is a few kB; rumqttc's default limit is 10 kB.
    o.set_max_packet_size(16 << 20, 16 << 20);
    o.set_clean_session(true);
    // A small request channel: what is taken from the outbox is at most this far ahead of
    // the connection, so an outage costs the outbox's bound, not a hidden second queue.
    let (client, mut events) = AsyncClient::new(o, 8);
    let qos = if qos1 {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };
    let poll = async {
        let mut backoff = BACKOFF_MIN;
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = BACKOFF_MIN;
                    if outbox.set_connected(true) {
                        report(Report::Connected);
                    }
                }
                Ok(Event::Incoming(Packet::PubAck(_))) if qos1 => outbox.published(1),
                Ok(Event::Outgoing(Outgoing::Publish(_))) if !qos1 => outbox.published(1),
                Ok(_) => {}
                Err(e) => {
                    if outbox.set_connected(false) || backoff == BACKOFF_MIN {
                        report(Report::Disconnected(e.to_string()));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    };
    let pump = async {
        loop {
            for m in outbox.next().await {
                let (topic, payload) = m.into_parts();
                if client.publish(topic, qos, false, payload).await.is_err() {
                    return;
                }
            }
        }
    };
    tokio::select! {
        _ = poll => {}
        _ = pump => {}
    }
}

async fn nats(url: String, client_id: String, outbox: Arc<Outbox>, report: Reporter) {
    let (o, r) = (outbox.clone(), report.clone());
    let connect = async_nats::ConnectOptions::new()
        .name(client_id)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .reconnect_delay_callback(|n| {
            (BACKOFF_MIN * 2u32.saturating_pow(n as u32)).min(BACKOFF_MAX)
        })
        .event_callback(move |ev| {
            let (o, r) = (o.clone(), r.clone());
            async move {
                match ev {
                    async_nats::Event::Connected if o.set_connected(true) => r(Report::Connected),
                    async_nats::Event::Disconnected if o.set_connected(false) => {
                        r(Report::Disconnected("connection lost".into()))
                    }
                    _ => {}
                }
            }
        })
        .connect(url.as_str())
        .await;
    let client = match connect {
        Ok(c) => c,
        Err(e) => {
            report(Report::Disconnected(e.to_string()));
            return;
        }
    };
    // async-nats writes the messages out as they come; a flush confirms that they were
    // written, so it is done for a batch: after 64 messages or a pause of 100 ms past the delay.
    let pause = Duration::from_millis(100) + outbox.delay;
    let mut unconfirmed = 0u64;
    loop {
        let next = if unconfirmed > 0 {
            tokio::time::timeout(pause, outbox.next()).await.ok()
        } else {
            Some(outbox.next().await)
        };
        if let Some(batch) = next {
            for m in batch {
                let (topic, payload) = m.into_parts();
                if client.publish(topic, payload.into()).await.is_err() {
                    return;
                }
                unconfirmed += 1;
            }
            if unconfirmed < BATCH as u64 {
                continue;
            }
        }
        match client.flush().await {
            Ok(()) => outbox.published(unconfirmed),
            // Written to a connection that went away: their fate is unknown.
            Err(_) => outbox.lost(unconfirmed),
        }
        unconfirmed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            Broker::parse("mqtt://127.0.0.1:1884").unwrap(),
            Broker::Mqtt {
                host: "127.0.0.1".into(),
                port: 1884
            }
        );
        assert_eq!(
            Broker::parse("nats://localhost").unwrap(),
            Broker::Nats {
                url: "nats://localhost:4222".into()
            }
        );
        assert!(Broker::parse("kafka://x:9092")
            .unwrap_err()
            .contains("scheme"));
        assert!(Broker::parse("mqtt://x:port").unwrap_err().contains("port"));
        assert!(Broker::parse("localhost:1883").is_err());
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_and_counts() {
        let o = Outbox::new(3, Duration::ZERO);
        for i in 0..5u8 {
            o.push(Message::later("t".into(), move || vec![i]));
        }
        let s = o.stats();
        assert_eq!((s.queued, s.dropped), (3, 2));
        let first = o.inner.lock().unwrap().queue.pop_front().unwrap();
        assert_eq!(first.into_parts().1, [2]);
    }

    #[test]
    fn records_within_the_delay_go_as_one_batch() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        for (delay, want) in [
            (Duration::from_millis(60), vec![3, 1]),
            (Duration::ZERO, vec![1, 2, 1]),
        ] {
            let o = Outbox::new(10, delay);
            o.set_connected(true);
            let sizes = rt.block_on(async {
                let p = o.clone();
                let pusher = async move {
                    p.push(Message::later("t".into(), || vec![0]));
                    tokio::time::sleep(Duration::from_millis(15)).await;
                    p.push(Message::later("t".into(), || vec![1]));
                    p.push(Message::later("t".into(), || vec![2]));
                    tokio::time::sleep(Duration::from_millis(120)).await;
                    p.push(Message::later("t".into(), || vec![3]));
                };
                let taker = async {
                    let (start, mut sizes) = (Instant::now(), vec![]);
                    while sizes.iter().sum::<usize>() < 4 {
                        let batch = o.next().await;
                        if !delay.is_zero() && sizes.is_empty() {
                            assert!(start.elapsed() >= delay, "the first batch waited its delay");
                        }
                        sizes.push(batch.len());
                    }
                    sizes
                };
                tokio::join!(pusher, taker).1
            });
            assert_eq!(sizes, want, "batches with a delay of {delay:?}");
            assert_eq!(o.inner.lock().unwrap().taken, 4);
        }
    }
}
