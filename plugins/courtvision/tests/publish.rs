// SPDX-License-Identifier: MIT OR Apache-2.0
//! metapublish against real brokers: a Mosquitto and a NATS server started by the test on
//! ports of their own, killed and restarted while a live stream publishes.

mod common;
use common::brokers::*;
use common::*;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

/// Records received by a subscriber, as JSON.
type Received = Arc<Mutex<Vec<serde_json::Value>>>;

/// An MQTT subscriber (QoS 1) that subscribes again whenever it reconnects; returns once
/// the broker has acknowledged its first subscription.
fn mqtt_subscriber(port: u16, topic: &str) -> Received {
    let got: Received = Arc::default();
    let mut o = rumqttc::MqttOptions::new(format!("test-sub-{port}"), "127.0.0.1", port);
    o.set_max_packet_size(1 << 24, 1 << 24);
    let (client, mut conn) = rumqttc::Client::new(o, 100);
    let (g, topic) = (got.clone(), topic.to_string());
    let (ready, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for ev in conn.iter() {
            match ev {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    client.subscribe(&topic, rumqttc::QoS::AtLeastOnce).unwrap();
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                    let _ = ready.send(());
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    g.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&p.payload).unwrap());
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    });
    wait.recv_timeout(Duration::from_secs(10)).unwrap();
    got
}

/// A NATS subscriber; async-nats reconnects and subscribes again by itself.
fn nats_subscriber(url: &str, subject: &str) -> Received {
    let got: Received = Arc::default();
    let (g, url, subject) = (got.clone(), url.to_string(), subject.to_string());
    let (ready, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use futures::StreamExt;
            let c = async_nats::ConnectOptions::new()
                .max_reconnects(None)
                .reconnect_delay_callback(|_| Duration::from_millis(50))
                .connect(url)
                .await
                .unwrap();
            let mut sub = c.subscribe(subject).await.unwrap();
            c.flush().await.unwrap();
            ready.send(()).unwrap();
            while let Some(m) = sub.next().await {
                g.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&m.payload).unwrap());
            }
        });
    });
    wait.recv_timeout(Duration::from_secs(10)).unwrap();
    got
}

fn wait_for(what: &str, secs: f64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a pipeline run showed: frames out, metapublish's messages, warnings, errors.
#[derive(Default)]
struct Run {
    frames: u64,
    messages: Vec<gst::Structure>,
    warnings: Vec<String>,
    error: Option<String>,
    published: u64,
    dropped: u64,
}

/// Runs `desc` (its sink named `sink`, metapublish named `pub`) to EOS, calling `during`
/// with the time since start until it returns.
fn run_publishing(desc: &str, during: impl FnOnce(Instant) + Send + 'static) -> Run {
    init();
    let p = gst::parse::launch(desc)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let count = Arc::new(Mutex::new(0u64));
    let c = count.clone();
    p.by_name("sink")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            *c.lock().unwrap() += 1;
            gst::PadProbeReturn::Ok
        });
    let bus = p.bus().unwrap();
    let started = Instant::now();
    if p.set_state(gst::State::Playing).is_err() {
        let mut r = Run::default();
        while let Some(m) = bus.timed_pop(gst::ClockTime::from_mseconds(500)) {
            if let gst::MessageView::Error(e) = m.view() {
                r.error = Some(e.error().to_string());
                break;
            }
        }
        p.set_state(gst::State::Null).unwrap();
        return r;
    }
    let collected = Arc::new(Mutex::new(Run::default()));
    let during_thread = std::thread::spawn(move || during(started));
    loop {
        let Some(m) = bus.timed_pop(gst::ClockTime::from_seconds(30)) else {
            panic!("no message for 30 s: the pipeline hangs");
        };
        let mut r = collected.lock().unwrap();
        match m.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                r.error = Some(format!("{} ({:?})", e.error(), e.debug()));
                break;
            }
            gst::MessageView::Warning(w) => r.warnings.push(w.error().to_string()),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "metapublish") {
                    r.messages.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    during_thread.join().unwrap();
    let publisher = p.by_name("pub").unwrap();
    p.set_state(gst::State::Null).unwrap();
    let mut r = std::mem::take(&mut *collected.lock().unwrap());
    r.frames = *count.lock().unwrap();
    r.published = publisher.property("published");
    r.dropped = publisher.property("dropped");
    r
}

/// The analysis part: planted models give every frame players with 17 keypoints and the
/// shuttle; objecttrack gives them track ids.
fn analysis() -> String {
    format!(
        "videoconvert ! yolodetect model={} ! posedetect model={} ! objecttrack labels=person",
        planted("planted-det-raw-dyn.onnx"),
        planted("planted-pose-raw-dyn.onnx")
    )
}

/// A live stream of 210 frames (7 s) published to `broker`, which is killed once 20 records
/// have arrived and started again 1.5 s later.
fn survive_a_restart(broker: Broker, received: Received, extra: &str) {
    const FRAMES: u64 = 210;
    let desc = format!(
        "videotestsrc is-live=true num-buffers={FRAMES} pattern=ball ! video/x-raw,width=640,height=480,framerate=30/1 \
         ! {} ! metapublish name=pub location={} stream-name=court1 max-queue=20 flush-timeout=5000 {extra} ! fakesink name=sink",
        analysis(),
        broker.url()
    );
    let broker = Arc::new(Mutex::new(Some(broker)));
    let b = broker.clone();
    let before = received.clone();
    let before_kill = Arc::new(Mutex::new(0usize));
    let bk = before_kill.clone();
    let run = run_publishing(&desc, move |_| {
        wait_for("20 records", 30.0, || before.lock().unwrap().len() >= 20);
        let mut old = b.lock().unwrap().take().unwrap();
        *bk.lock().unwrap() = before.lock().unwrap().len();
        old.kill();
        std::thread::sleep(Duration::from_millis(1500));
        *b.lock().unwrap() = Some(old.restart());
    });
    assert_eq!(run.error, None);
    assert_eq!(run.frames, FRAMES, "every frame passes, broker or not");
    // Everything the subscriber will get has arrived once the element flushed at EOS.
    std::thread::sleep(Duration::from_millis(500));
    let got = received.lock().unwrap().clone();
    let frames: Vec<u64> = got.iter().map(|v| v["frame"].as_u64().unwrap()).collect();
    let mut unique = frames.clone();
    unique.dedup();
    let before = *before_kill.lock().unwrap();
    assert!(before >= 20, "records before the restart: {before}");
    assert!(
        unique.windows(2).all(|w| w[0] < w[1]),
        "records in frame order: {unique:?}"
    );
    assert_eq!(
        unique.last(),
        Some(&(FRAMES - 1)),
        "records after the restart arrive, the last frame's too"
    );
    assert!(
        frames.len() > before + 20,
        "{} records in all, {before} before the restart",
        frames.len()
    );
    // The outage (1.5 s, 45 frames and more) is more than the queue holds: the oldest were dropped,
    // counted, and the count was reported.
    assert!(run.dropped >= 10, "dropped {}", run.dropped);
    assert!(
        unique.len() as u64 + run.dropped <= FRAMES,
        "{} received + {} dropped of {FRAMES}",
        unique.len(),
        run.dropped
    );
    // What was neither received nor counted as dropped was on the wire when the broker
    // died: at most the client's small window.
    assert!(
        unique.len() as u64 + run.dropped + 12 >= FRAMES,
        "{} received + {} dropped of {FRAMES}",
        unique.len(),
        run.dropped
    );
    let event = |e: &str| {
        run.messages
            .iter()
            .filter(|s| s.get::<String>("event").unwrap() == e)
            .count()
    };
    assert!(event("disconnected") >= 1, "{:?}", run.messages);
    assert!(event("connected") >= 2, "{:?}", run.messages);
    let eos = run
        .messages
        .iter()
        .find(|s| s.get::<String>("event").unwrap() == "eos")
        .expect("the counts at EOS");
    assert_eq!(eos.get::<u64>("dropped").unwrap(), run.dropped);
    assert!(eos.get::<u64>("reconnects").unwrap() >= 1);
    // The element counts its own CPU time (both threads): some, and less than the run took.
    let cpu_us = eos.get::<u64>("cpu-us").unwrap();
    assert!(cpu_us > 0 && cpu_us < 30_000_000, "cpu-us {cpu_us}");
    assert!(
        run.warnings.iter().any(|w| w.contains("unreachable")),
        "{:?}",
        run.warnings
    );
    assert!(
        run.warnings.iter().any(|w| w.contains("dropped")),
        "{:?}",
        run.warnings
    );
    // The records are metaexport's: players with keypoints and track ids.
    let last = got.last().unwrap();
    assert_eq!(last["schema"], 1);
    let players = last["players"].as_array().unwrap();
    assert!(
        players
            .iter()
            .any(|p| p["keypoints"].as_array().is_some_and(|k| k.len() == 17)),
        "{last}"
    );
    assert!(players.iter().any(|p| p["track_id"].is_u64()), "{last}");
    drop(broker);
}

#[test]
fn mqtt_records_survive_a_broker_restart() {
    let broker = Broker::mosquitto();
    let received = mqtt_subscriber(broker.port, "courtvision/court1/frames");
    survive_a_restart(broker, received, "qos=1");
}

#[test]
fn nats_records_survive_a_server_restart() {
    let broker = Broker::nats();
    let received = nats_subscriber(&broker.url(), "courtvision.court1.frames");
    survive_a_restart(broker, received, "");
}

#[test]
fn no_broker_never_holds_the_stream() {
    // Nothing listens there: every frame still passes at once, the queue keeps the newest
    // ten records, the rest are counted as dropped, and the run ends with a warning.
    let port = free_port();
    let run = run_publishing(
        &format!(
            "videotestsrc num-buffers=60 ! video/x-raw,width=64,height=48 ! metapublish name=pub \
             location=mqtt://127.0.0.1:{port} max-queue=10 flush-timeout=300 ! fakesink name=sink"
        ),
        |_| {},
    );
    assert_eq!(run.error, None);
    assert_eq!(run.frames, 60);
    assert_eq!((run.published, run.dropped), (0, 50));
    assert!(
        run.warnings.iter().any(|w| w.contains("still queued")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn a_bad_location_is_an_error() {
    for (location, says) in [
        ("kafka://127.0.0.1:9092", "scheme 'kafka'"),
        ("mqtt://127.0.0.1:notaport", "port"),
    ] {
        let run = run_publishing(
            &format!(
                "videotestsrc num-buffers=5 ! metapublish name=pub location={location} ! fakesink name=sink"
            ),
            |_| {},
        );
        let e = run.error.expect("an error");
        assert!(e.contains(says), "{location}: {e}");
    }
    let run = run_publishing(
        "videotestsrc num-buffers=5 ! metapublish name=pub ! fakesink name=sink",
        |_| {},
    );
    assert!(run.error.expect("an error").contains("no location"));
}
