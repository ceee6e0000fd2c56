// SPDX-License-Identifier: MIT OR Apache-2.0
//! The job queue as it runs across machines: a NATS server with JetStream (the test's own),
//! the results database (PostgreSQL, and SQLite for the cache), `courtvision submit` and
//! three `courtvision worker` processes, one of them killed in the middle of a job.

#[path = "../../../plugins/courtvision/tests/common/brokers.rs"]
mod brokers;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use brokers::Broker;
use common::clip;
use courtvision::store::{self, pg::ScratchSchema, Store};

const BIN: &str = env!("CARGO_BIN_EXE_courtvision");

fn submit(nats: &str, db: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["submit", "--nats", nats, "--db", db, "--device", "cpu"])
        .args(args)
        .output()
        .unwrap()
}

fn worker(nats: &str, db: &str, name: &str, log: &Path) -> Child {
    Command::new(BIN)
        .args(["worker", "--nats", nats, "--db", db, "--name", name])
        .args([
            "--ack-wait",
            "4",
            "--max-tries",
            "2",
            "--device",
            "cpu",
            "--idle-exit",
            "120",
        ])
        .env("COURTVISION_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn wait_until<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Messages left in a JetStream stream.
fn stream_messages(rt: &tokio::runtime::Runtime, nats: &str, name: &str) -> u64 {
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(nats).await.unwrap());
        js.get_stream(name)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .messages
    })
}

#[test]
fn three_workers_one_killed_every_job_stored_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let nats = Broker::nats();
    let url = nats.url();
    let pg = rt.block_on(ScratchSchema::new("jobs")).unwrap();
    let db = pg.url.clone();
    let clips: Vec<PathBuf> = (0..4)
        .map(|i| {
            let p = dir.path().join(format!("match{i}.mp4"));
            clip(&p, 7300 + i, 45);
            p
        })
        .collect();
    let garbage = dir.path().join("garbage.mp4");
    std::fs::write(&garbage, vec![0x5a; 50_000]).unwrap();

    let mut workers: Vec<Child> = (0..3)
        .map(|i| {
            worker(
                &url,
                &db,
                &format!("w{i}"),
                &dir.path().join(format!("w{i}.log")),
            )
        })
        .collect();
    let mut inputs: Vec<&str> = clips.iter().map(|p| p.to_str().unwrap()).collect();
    inputs.push(garbage.to_str().unwrap());
    inputs.push("--no-pose");
    let out = submit(&url, &db, &inputs);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out).matches("queued, job").count(),
        5,
        "{}",
        text(&out)
    );

    let store = rt.block_on(Store::open(&db)).unwrap();
    // Kill the worker of the first job seen running (not the garbage one).
    let (victim, job) = wait_until("a running job", 120, || {
        rt.block_on(store.jobs())
            .unwrap()
            .into_iter()
            .find_map(|j| {
                (j.state == store::RUNNING && !j.uri.ends_with("garbage.mp4"))
                    .then(|| (j.worker.clone().unwrap(), j.id))
            })
    });
    let index: usize = victim[1..].parse().unwrap();
    workers[index].kill().unwrap();
    workers[index].wait().unwrap();

    let jobs = wait_until("every job finished", 300, || {
        let jobs = rt.block_on(store.jobs()).unwrap();
        jobs.iter()
            .all(|j| j.state == store::DONE || j.state == store::FAILED)
            .then_some(jobs)
    });
    let logs = || {
        (0..3)
            .map(|i| std::fs::read_to_string(dir.path().join(format!("w{i}.log"))).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    };
    // Every good job stored once, as one match of 45 frames; the killed one finished by
    // another worker after the ack wait.
    let mut matches = vec![];
    for j in &jobs {
        if j.uri.ends_with("garbage.mp4") {
            assert_eq!(j.state, store::FAILED, "{j:?}");
            assert_eq!(j.attempts, 2, "{j:?}");
            continue;
        }
        assert_eq!(j.state, store::DONE, "{j:?}\n{}", logs());
        let m = j.match_id.unwrap();
        assert_eq!(rt.block_on(store.match_counts(m)).unwrap()[0], 45, "{j:?}");
        matches.push(m);
        if j.id == job {
            assert!(j.attempts >= 2, "{j:?}");
            assert_ne!(j.worker.as_deref(), Some(victim.as_str()), "{j:?}");
        }
    }
    matches.sort();
    matches.dedup();
    assert_eq!(matches.len(), 4, "one match per job");
    let q = rt.block_on(store.queue()).unwrap();
    assert_eq!((q.done, q.failed, q.waiting, q.running), (4, 1, 0, 0));
    // The queue is empty; the failing job went to the dead-letter subject, once.
    assert_eq!(stream_messages(&rt, &url, "COURTVISION_JOBS"), 0);
    assert_eq!(stream_messages(&rt, &url, "COURTVISION_DEAD"), 1);
    // The dashboard's view: three workers (their heartbeat is every 2 s).
    std::thread::sleep(Duration::from_secs(3));
    let ws = rt.block_on(store.workers()).unwrap();
    assert_eq!(ws.len(), 3);
    assert_eq!(ws.iter().map(|w| w.done).sum::<i64>(), 4, "{ws:?}");

    // The same videos and settings again: answered from the database, nothing queued.
    let out = submit(
        &url,
        &db,
        &inputs[..4]
            .iter()
            .copied()
            .chain(["--no-pose"])
            .collect::<Vec<_>>(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out).matches(": cached, job").count(),
        4,
        "{}",
        text(&out)
    );
    assert_eq!(stream_messages(&rt, &url, "COURTVISION_JOBS"), 0);
    // A changed setting (the pose model too) is another job.
    let out = submit(&url, &db, &[inputs[0], "--wait", "--timeout", "200"]);
    assert!(out.status.success(), "{}\n{}", text(&out), logs());
    assert!(text(&out).contains("queued, job"), "{}", text(&out));
    assert_eq!(rt.block_on(store.queue()).unwrap().done, 5);

    // The dashboard: the queue, the workers and the stored results through its API.
    let mut dash = Command::new(BIN)
        .args(["dashboard", "--db", &db, "--http", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = {
        use std::io::BufRead;
        let lines = std::io::BufReader::new(dash.stderr.take().unwrap()).lines();
        lines
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("dashboard: ")
                    .map(|u| u.trim_end_matches('/').to_string())
            })
            .expect("the dashboard's address")
    };
    let get = |path: &str| -> serde_json::Value {
        ureq::get(&format!("{url}{path}"))
            .call()
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_json()
            .unwrap()
    };
    let q = get("/api/jobs");
    assert_eq!(
        (q["done"].as_i64(), q["failed"].as_i64()),
        (Some(5), Some(1)),
        "{q}"
    );
    assert_eq!(q["jobs"].as_array().unwrap().len(), 6);
    let ws = q["workers"].as_array().unwrap();
    assert_eq!(ws.len(), 3, "{q}");
    let victim_row = ws
        .iter()
        .find(|w| w["worker"]["id"] == victim.as_str())
        .unwrap();
    assert_eq!(
        victim_row["alive"], false,
        "the killed worker is gone: {victim_row}"
    );
    let m = matches[0];
    assert!(get(&format!("/api/matches/{m}/timeline")).is_array());
    assert!(get(&format!("/api/matches/{m}/players")).is_array());
    assert!(get(&format!("/api/matches/{m}/tracks/1/positions?from=0&to=44")).is_array());
    assert!(get("/api/shots/fastest?limit=5").is_array());
    let _ = dash.kill();
    let _ = dash.wait();

    for mut w in workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    drop(store);
    rt.block_on(pg.drop_schema()).unwrap();
}
