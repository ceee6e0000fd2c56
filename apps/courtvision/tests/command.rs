// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `courtvision` command as a user runs it, against real components: a queue of files
//! (good, garbage, truncated) through `analyze`; `live` with a local RTSP camera (GStreamer's
//! RTSP server) that is killed and restarted, a file that ends, a garbage stream, a rendered
//! match, sources added and removed through the HTTP API; the dashboard in headless Chromium.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use serde_json::Value;

mod common;
use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_courtvision");

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Frames of a video file, decoded.
fn decoded_frames(path: &Path) -> u64 {
    let p = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin ! fakesink name=sink",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let n = Arc::new(Mutex::new(0u64));
    let c = n.clone();
    let pad = p.by_name("sink").unwrap().static_pad("sink").unwrap();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        *c.lock().unwrap() += 1;
        gst::PadProbeReturn::Ok
    });
    play_to_eos(p.upcast_ref());
    let frames = *n.lock().unwrap();
    frames
}

/// `courtvision analyze` of `inputs` into `out`, `jobs` at a time, on the CPU, detection only.
fn analyze(out: &Path, jobs: u32, inputs: &[PathBuf]) -> std::process::Output {
    Command::new(BIN)
        .args([
            "analyze",
            "--device",
            "cpu",
            "--no-pose",
            "--stall-timeout",
            "10",
        ])
        .arg("--jobs")
        .arg(jobs.to_string())
        .arg("--out")
        .arg(out)
        .args(inputs)
        .output()
        .unwrap()
}

/// Bytes that are no media format.
fn noise(n: u32) -> Vec<u8> {
    (0..n)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Waits for `f` with a generous bound (a hang guard, not a timing assertion).
fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

/// A running command: its stderr collected, its dashboard address when it serves one.
struct Running {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("courtvision runs");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        });
        Running { child, stderr }
    }

    fn url(&self) -> String {
        let mut url = None;
        wait_for("the dashboard address", 30, || {
            url = self.stderr.lock().unwrap().iter().find_map(|l| {
                l.strip_prefix("dashboard: ")
                    .map(|u| u.trim_end_matches('/').to_string())
            });
            url.is_some()
        });
        url.unwrap()
    }

    /// Interrupts it (Ctrl-C) and returns its exit code and standard output.
    fn interrupt(mut self) -> (i32, String) {
        signal(self.child.id(), "INT");
        let mut out = String::new();
        std::io::Read::read_to_string(&mut self.child.stdout.take().unwrap(), &mut out).unwrap();
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        (code, out)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn signal(pid: u32, signal: &str) {
    Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
}

fn sources(url: &str) -> Vec<Value> {
    let v: Value = ureq::get(&format!("{url}/api/sources"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    v.as_array().unwrap().clone()
}

fn source(url: &str, name: &str) -> Option<Value> {
    sources(url).into_iter().find(|s| s["name"] == name)
}

fn field(url: &str, name: &str, path: &[&str]) -> Value {
    let mut v = source(url, name).unwrap_or(Value::Null);
    for p in path {
        v = v[*p].clone();
    }
    v
}

fn frames(url: &str, name: &str) -> u64 {
    field(url, name, &["figures", "frames"])
        .as_u64()
        .unwrap_or(0)
}

fn state(url: &str, name: &str) -> String {
    field(url, name, &["state"])
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GStreamer's RTSP server serving rtsp://127.0.0.1:PORT/cam, ready when this returns.
fn rtsp_server(port: u16) -> Child {
    let mut c = Command::new("/usr/bin/python3")
        .arg(here().join("tests/rtsp_server.py"))
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the RTSP test server (python3-gi with GstRtspServer: setup.sh)");
    let mut line = String::new();
    BufReader::new(c.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "RTSP server on {port}");
    c
}

#[test]
fn analyze_runs_a_queue_reports_failures_and_skips_what_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    clip(&d.join("a.mp4"), 1, 30);
    clip(&d.join("b.mp4"), 2, 45);
    std::fs::write(d.join("noise.mp4"), noise(50_000)).unwrap();
    let whole = std::fs::read(d.join("a.mp4")).unwrap();
    std::fs::write(d.join("cut.mp4"), &whole[..whole.len() / 3]).unwrap();
    let out = d.join("out");
    let inputs: Vec<PathBuf> = ["a.mp4", "noise.mp4", "b.mp4", "cut.mp4"]
        .iter()
        .map(|f| d.join(f))
        .collect();
    let run = || analyze(&out, 2, &inputs);
    let first = run();
    let table = String::from_utf8_lossy(&first.stdout).to_string();
    assert_eq!(
        first.status.code(),
        Some(1),
        "a failed job fails the run:\n{table}"
    );
    let row = |t: &str, name: &str| {
        t.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} in\n{t}"))
            .to_string()
    };
    assert!(row(&table, "a").contains(" done "), "{table}");
    assert!(row(&table, "b").contains(" done "), "{table}");
    assert!(row(&table, "noise").contains("failed"), "{table}");
    assert!(row(&table, "cut").contains("failed"), "{table}");
    assert!(
        row(&table, "noise").contains("type of stream"),
        "a clear reason: {table}"
    );
    assert_eq!(
        lines(&out.join("a.jsonl")),
        30,
        "a frame in, a JSON line out"
    );
    assert_eq!(lines(&out.join("b.jsonl")), 45);
    assert!(std::fs::metadata(out.join("b.mp4")).unwrap().len() > 1000);
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("part") || n.starts_with("noise") || n.starts_with("cut")),
        "{names:?}"
    );
    assert_eq!(
        decoded_frames(&out.join("b.mp4")),
        45,
        "the annotated video, every frame"
    );
    let again = run();
    let table = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(
        row(&table, "a").contains("skipped") && row(&table, "b").contains("skipped"),
        "{table}"
    );
    assert!(
        row(&table, "noise").contains("failed"),
        "failed jobs are tried again: {table}"
    );
}

/// A truncated MP4 (moov at the end, cut) ends every time with an error, never a hang: decodebin
/// can drop a demuxer's error posted while it is still bringing the demuxer up, and the
/// detector's model load makes that window likelier; the job then fails as stuck.
#[test]
fn truncated_files_fail_every_time_and_never_hang() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    clip(&d.join("whole.mp4"), 1, 30);
    let whole = std::fs::read(d.join("whole.mp4")).unwrap();
    let runs = 40;
    let inputs: Vec<PathBuf> = (0..runs)
        .map(|i| {
            let p = d.join(format!("cut{i}.mp4"));
            std::fs::write(&p, &whole[..whole.len() / 3]).unwrap();
            p
        })
        .collect();
    let out = analyze(&d.join("out"), 4, &inputs);
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{table}");
    let failed = table.lines().filter(|l| l.contains(" failed ")).count();
    assert_eq!(
        failed, runs,
        "every job ends failed, with its reason:\n{table}"
    );
}

#[test]
fn live_sources_reconnect_end_fail_and_come_and_go_without_touching_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    clip(&d.join("short.mp4"), 3, 30);
    std::fs::write(d.join("garbage.ts"), noise(200_000)).unwrap();
    let port = free_port();
    let mut server = rtsp_server(port);
    let cam = format!("cam=rtsp://127.0.0.1:{port}/cam");
    let short = format!("short=file://{}", d.join("short.mp4").display());
    let bad = format!("bad=file://{}", d.join("garbage.ts").display());
    let out = d.join("live");
    let cmd = Running::start(&[
        "live",
        &cam,
        &short,
        &bad,
        "synth=courtsrc://?seed=4&players=2&width=320&height=180",
        "--out",
        out.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
        "--device",
        "cpu",
        "--no-pose",
        "--backoff",
        "0.5",
        "--max-backoff",
        "1",
        "--stall-timeout",
        "8",
    ]);
    let url = cmd.url();
    wait_for("the camera live", 90, || {
        state(&url, "cam") == "live" && frames(&url, "cam") > 20
    });
    wait_for("the short file done", 90, || state(&url, "short") == "done");
    assert_eq!(
        frames(&url, "short"),
        30,
        "a file that ends: every frame, then done"
    );
    assert_eq!(lines(&out.join("short.jsonl")), 30);
    wait_for("the garbage source failed", 30, || {
        state(&url, "bad") == "failed"
    });
    let why = field(&url, "bad", &["error"])
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(why.contains("type"), "a clear reason: {why}");

    // The camera goes away: it is retried, the others run on.
    server.kill().unwrap();
    server.wait().unwrap();
    wait_for("the camera retrying", 60, || {
        state(&url, "cam") == "retrying"
    });
    let synth_before = frames(&url, "synth");
    let cam_before = frames(&url, "cam");
    wait_for("the rendered match going on", 60, || {
        frames(&url, "synth") > synth_before + 30
    });
    assert_eq!(state(&url, "synth"), "live");
    assert_eq!(field(&url, "synth", &["reconnects"]), 0);

    // It comes back by itself.
    let mut server = rtsp_server(port);
    wait_for("the camera live again", 90, || {
        state(&url, "cam") == "live" && frames(&url, "cam") > cam_before + 30
    });
    assert!(field(&url, "cam", &["reconnects"]).as_u64().unwrap() >= 1);
    let metrics = ureq::get(&format!("{url}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        metrics.contains("courtvision_stream_state{state=\"live\",stream=\"cam\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("process_resident_memory_bytes"));

    // Removed and added through the API, the camera untouched.
    let cam_now = frames(&url, "cam");
    let r = ureq::delete(&format!("{url}/api/sources/synth"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(source(&url, "synth").is_none());
    match ureq::delete(&format!("{url}/api/sources/nothing")).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("removing an unknown source: {other:?}"),
    }
    match ureq::post(&format!("{url}/api/sources"))
        .send_json(serde_json::json!({"uri": "ftp://x/y"}))
    {
        Err(ureq::Error::Status(400, r)) => {
            assert!(r.into_string().unwrap().contains("not a source"))
        }
        other => panic!("adding a bad URI: {other:?}"),
    }
    let r = ureq::post(&format!("{url}/api/sources"))
        .send_json(
            serde_json::json!({"uri": "courtsrc://?seed=8&width=320&height=180", "name": "second"}),
        )
        .unwrap();
    assert_eq!(r.status(), 201);
    wait_for("the added source live", 90, || {
        state(&url, "second") == "live" && frames(&url, "second") > 10
    });
    assert!(frames(&url, "cam") > cam_now, "the camera ran on");

    let cam_frames = frames(&url, "cam");
    let (code, table) = cmd.interrupt();
    assert_eq!(code, 1, "the garbage source failed:\n{table}");
    assert!(table.contains("bad") && table.contains("failed"), "{table}");
    // The camera's JSON Lines went on over the reconnection, in one file.
    assert!(
        lines(&out.join("cam.jsonl")) as u64 >= cam_frames,
        "{} < {cam_frames}",
        lines(&out.join("cam.jsonl"))
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Up to `n` frames of rtsp://127.0.0.1:PORT/PATH, decoded: their (width, height), or the
/// client's error.
fn rtsp_frames(port: u16, path: &str, n: usize) -> Result<Vec<(i32, i32)>, String> {
    let p = gst::parse::launch(&format!(
        "rtspsrc location=rtsp://127.0.0.1:{port}/{path} ! rtph264depay ! h264parse \
         ! avdec_h264 ! fakesink name=sink sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let got = sizes.clone();
    let pad = p.by_name("sink").unwrap().static_pad("sink").unwrap();
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, _| {
        let caps = pad.current_caps().unwrap();
        let s = caps.structure(0).unwrap();
        let size = (
            s.get::<i32>("width").unwrap(),
            s.get::<i32>("height").unwrap(),
        );
        let mut g = got.lock().unwrap();
        g.push(size);
        if g.len() >= n {
            gst::PadProbeReturn::Remove
        } else {
            gst::PadProbeReturn::Ok
        }
    });
    p.set_state(gst::State::Playing).unwrap();
    let bus = p.bus().unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    let mut error = None;
    while Instant::now() < end && sizes.lock().unwrap().len() < n {
        if let Some(m) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(200),
            &[gst::MessageType::Error, gst::MessageType::Eos],
        ) {
            error = Some(format!("{m:?}"));
            break;
        }
    }
    p.set_state(gst::State::Null).unwrap();
    let sizes = sizes.lock().unwrap().clone();
    match error {
        Some(e) if sizes.is_empty() => Err(e),
        _ => Ok(sizes),
    }
}

/// `--rtsp`: each source's annotated video at rtsp://ADDR/NAME, to several clients at once,
/// beside the recording; an unknown name is refused; a removed source is no longer served.
#[test]
fn live_video_is_served_over_rtsp() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live");
    let port = free_port();
    let rtsp = format!("127.0.0.1:{port}");
    let cmd = Running::start(&[
        "live",
        "court=courtsrc://?seed=5&players=2&width=320&height=180",
        "--out",
        out.to_str().unwrap(),
        "--rtsp",
        &rtsp,
        "--record",
        "--http",
        "127.0.0.1:0",
        "--device",
        "cpu",
        "--no-pose",
    ]);
    let url = cmd.url();
    wait_for("the source live", 90, || state(&url, "court") == "live");
    let clients: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || rtsp_frames(port, "court", 45)))
        .collect();
    for c in clients {
        let sizes = c.join().unwrap().expect("frames over RTSP");
        assert_eq!(sizes.len(), 45, "every client gets the video");
        assert!(sizes.iter().all(|&s| s == (320, 180)), "{sizes:?}");
    }
    assert!(
        rtsp_frames(port, "nothing", 1).is_err(),
        "an unknown name is refused"
    );
    let r = ureq::delete(&format!("{url}/api/sources/court"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        rtsp_frames(port, "court", 1).is_err(),
        "a removed source is no longer served"
    );
    let (code, _) = cmd.interrupt();
    assert_eq!(code, 0);
    let recorded = out.join("court-1.mp4");
    assert!(decoded_frames(&recorded) > 45, "the recording beside it");
}

#[test]
fn the_dashboard_in_headless_chromium() {
    let browser = here().join("tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Chromium and playwright-core: run setup.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    clip(&dir.path().join("short.mp4"), 5, 30);
    let short = format!("done=file://{}", dir.path().join("short.mp4").display());
    let out = dir.path().join("live");
    let cmd = Running::start(&[
        "live",
        &short,
        "synth=courtsrc://?seed=6&players=2&width=320&height=180",
        "--out",
        out.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
        "--device",
        "cpu",
        "--no-pose",
    ]);
    let url = cmd.url();
    let r = Command::new("node")
        .arg(browser.join("dashboard.mjs"))
        .args([&format!("{url}/"), "done"])
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(r.status.success(), "{text}");
    assert!(text.contains("\"ok\":true"), "{text}");
    drop(cmd);
}
