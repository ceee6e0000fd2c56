// SPDX-License-Identifier: MIT OR Apache-2.0
//! The same tests against SQLite (a temporary file) and the PostgreSQL server
//! (`COURTVISION_TEST_POSTGRES`, default the local socket's `test` database; each run in a
//! schema of its own, dropped at the end).

use super::results::*;
use super::*;

pub fn job(id: &str, key: &str) -> JobRow {
    JobRow {
        id: id.into(),
        cache_key: key.into(),
        uri: format!("file:///videos/{id}.mp4"),
        camera: Some("court-1".into()),
        settings: "{}".into(),
        state: WAITING.into(),
        worker: None,
        attempts: 0,
        error: None,
        submitted_at: now(),
        started_at: None,
        finished_at: None,
        match_id: None,
    }
}

async fn exercise(store: Store, url: &str) {
    assert_eq!(
        store.schema_version().await.unwrap(),
        MIGRATIONS.len() as i64
    );
    // Opening again leaves the schema as it is.
    let again = Store::open(url).await.unwrap();
    assert_eq!(
        again.schema_version().await.unwrap(),
        MIGRATIONS.len() as i64
    );

    let j = job("j1", "key-1");
    assert!(store.submit(&j).await.unwrap());
    assert!(!store.submit(&j).await.unwrap(), "a job is recorded once");
    assert_eq!(store.job("j1").await.unwrap().unwrap().state, WAITING);
    assert_eq!(store.cached("key-1").await.unwrap(), None);

    store.start_job("j1", "w1", 1).await.unwrap();
    let running = store.job("j1").await.unwrap().unwrap();
    assert_eq!(
        (running.state.as_str(), running.worker.as_deref()),
        (RUNNING, Some("w1"))
    );
    store.fail_job("j1", "decoder died", false).await.unwrap();
    let retry = store.job("j1").await.unwrap().unwrap();
    assert_eq!(
        (retry.state.as_str(), retry.error.as_deref()),
        (WAITING, Some("decoder died"))
    );
    store.start_job("j1", "w2", 2).await.unwrap();

    let m = synthetic_match(300, 2);
    let stored = store.store_results(&j, m.clone()).await.unwrap();
    let Stored::New(mid) = stored else {
        panic!("first store must be new: {stored:?}")
    };
    assert_eq!(store.match_counts(mid).await.unwrap(), [300, 900, 9, 3]);
    // A second delivery of the same job stores nothing more.
    assert_eq!(
        store.store_results(&j, m).await.unwrap(),
        Stored::Already(mid)
    );
    assert_eq!(store.match_counts(mid).await.unwrap(), [300, 900, 9, 3]);
    let done = store.job("j1").await.unwrap().unwrap();
    assert_eq!(
        (done.state.as_str(), done.match_id, done.attempts),
        (DONE, Some(mid), 2)
    );
    assert_eq!(store.cached("key-1").await.unwrap(), Some(mid));
    // A finished job stays finished whatever a late try reports.
    store.fail_job("j1", "late", true).await.unwrap();
    assert_eq!(store.job("j1").await.unwrap().unwrap().state, DONE);

    let tl = store.timeline(mid).await.unwrap();
    assert_eq!(tl.len(), 3);
    assert_eq!(tl[1].shots.len(), 3);
    assert_eq!(tl[1].shots[0].shot, 4);
    assert_eq!(
        (tl[1].inside, tl[1].landing),
        (Some(true), Some([1.0, 2.0]))
    );
    let pos = store.positions(mid, 2, (10, 19)).await.unwrap();
    assert_eq!(pos.len(), 10);
    assert_eq!(pos[0], (10, 2.0, 0.01));
    let players = store.players(mid).await.unwrap();
    assert_eq!(players.len(), 2);
    // Rallies at frames 0, 100, 200, shots by tracks 1, 2, 1 in each.
    assert_eq!(
        (players[0].track_id, players[0].shots, players[0].distance_m),
        (1, 6, Some(12.5))
    );
    assert_eq!((players[1].shots, players[1].frames), (3, 300));
    assert!(
        (players[0].fastest_kmh.unwrap() - 120.2).abs() < 1e-9,
        "{players:?}"
    );
    let fast = store.fastest_shots(2).await.unwrap();
    assert_eq!(fast.len(), 2);
    assert!(fast[0].speed_kmh >= fast[1].speed_kmh && fast[0].speed_kmh > 120.0);

    // A second job answered from the first one's match (same cache key).
    let j2 = job("j2", "key-1");
    store.submit(&j2).await.unwrap();
    store.finish_cached("j2", mid).await.unwrap();
    let j3 = job("j3", "key-3");
    store.submit(&j3).await.unwrap();
    store.fail_job("j3", "not a video", true).await.unwrap();
    let q = store.queue().await.unwrap();
    assert_eq!(
        q,
        QueueCounts {
            waiting: 0,
            running: 0,
            done: 2,
            failed: 1
        }
    );
    // A failed job submitted again waits again.
    assert!(store.submit(&j3).await.unwrap());
    assert_eq!(store.queue().await.unwrap().waiting, 1);
    assert_eq!(store.jobs().await.unwrap().len(), 3);

    let mut w = WorkerRow {
        id: "w1".into(),
        host: "h".into(),
        pid: 42,
        started_at: now(),
        last_seen: now(),
        job_id: Some("j3".into()),
        done: 0,
        failed: 0,
    };
    store.heartbeat(&w).await.unwrap();
    w.done = 5;
    w.job_id = None;
    store.heartbeat(&w).await.unwrap();
    let ws = store.workers().await.unwrap();
    assert_eq!(ws.len(), 1);
    assert_eq!((ws[0].done, ws[0].job_id.clone()), (5, None));

    assert_eq!(store.camera_court("court-1").await.unwrap(), None);
    let mut cc = CameraCourt {
        camera: "court-1".into(),
        sport: "badminton".into(),
        homography: "[1,0,0,0,1,0,0,0,1]".into(),
        model: None,
        confidence: 0.9,
        match_id: mid,
    };
    store.save_camera_court(&cc).await.unwrap();
    cc.confidence = 0.95;
    store.save_camera_court(&cc).await.unwrap();
    assert_eq!(store.camera_court("court-1").await.unwrap(), Some(cc));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_stores_queues_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("results.db").display());
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.kind(), "sqlite");
    exercise(store, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stores_queues_and_answers() {
    let pg = pg::ScratchSchema::new("store").await.unwrap();
    let store = Store::open(&pg.url).await.unwrap();
    assert_eq!(store.kind(), "postgres");
    exercise(store, &pg.url).await;
    pg.drop_schema().await.unwrap();
}

#[tokio::test]
async fn a_wrong_database_is_a_clear_error() {
    let e = Store::open("postgres://nobody@127.0.0.1:1/none")
        .await
        .err()
        .unwrap();
    assert!(e.contains("127.0.0.1:1"), "{e}");
    let e = Store::open("sqlite:/nonexistent/dir/x.db")
        .await
        .err()
        .unwrap();
    assert!(e.contains("/nonexistent/dir/x.db"), "{e}");
}
