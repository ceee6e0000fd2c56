// SPDX-License-Identifier: MIT OR Apache-2.0
//! The results database: ingest of a 90-minute match (162,000 frames at 30 frames/s, four
//! players with keypoints and the shuttle in every frame: 810,000 detections) from one worker,
//! and the queries a front end makes on it, on PostgreSQL (binary COPY) and SQLite.
//!
//!     dbbench [ROUNDS] [MINUTES]       (PostgreSQL: COURTVISION_TEST_POSTGRES, default the
//!                                      local socket's `test` database, in a schema of its own)
//!
//! Prints one table; medians over ROUNDS (default 3) matches stored and 20 runs of each query.

use std::time::Instant;

use courtvision::store::{pg::ScratchSchema, results::synthetic_match, Store};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn measure(store: &Store, rounds: usize, frames: i64) -> Vec<String> {
    let m = synthetic_match(frames, 4);
    let dets = m.detections.len();
    let mut ingest = vec![];
    let mut mid = 0;
    for r in 0..rounds {
        let job = courtvision::store::JobRow {
            id: format!("bench-{r}-{}", std::process::id()),
            cache_key: format!("bench-{r}"),
            uri: "file:///bench.mp4".into(),
            camera: None,
            settings: "{}".into(),
            state: "waiting".into(),
            worker: None,
            attempts: 0,
            error: None,
            submitted_at: courtvision::store::now(),
            started_at: None,
            finished_at: None,
            match_id: None,
        };
        store.submit(&job).await.unwrap();
        let copy = m.clone();
        let t = Instant::now();
        mid = store.store_results(&job, copy).await.unwrap().match_id();
        ingest.push(t.elapsed().as_secs_f64());
    }
    let time = |f: f64| format!("{:.1} ms", f * 1e3);
    let q =
        |name: &str, v: Vec<f64>| format!("| {} | {name} | {} |", store.kind(), time(median(v)));
    let mut timeline = vec![];
    let mut positions = vec![];
    let mut fastest = vec![];
    let mut rallies = 0;
    let mut points = 0;
    for _ in 0..20 {
        let t = Instant::now();
        rallies = store.timeline(mid).await.unwrap().len();
        timeline.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        // One player over one minute of play in the middle of the match.
        points = store
            .positions(mid, 2, (frames / 2, frames / 2 + 1799))
            .await
            .unwrap()
            .len();
        positions.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        store.fastest_shots(10).await.unwrap();
        fastest.push(t.elapsed().as_secs_f64());
    }
    let s = median(ingest);
    vec![
        format!(
            "| {} | store a match ({} frames, {dets} detections, one transaction) | {:.2} s: {:.0} detections/s |",
            store.kind(),
            frames,
            s,
            dets as f64 / s
        ),
        q(&format!("timeline: {rallies} rallies with their shots"), timeline),
        q(&format!("a player's positions, one minute ({points} frames)"), positions),
        q("the 10 fastest shots of every match", fastest),
    ]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let minutes: i64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(90);
    let frames = minutes * 60 * 30;
    let mut rows = vec![];
    let pg = ScratchSchema::new("bench").await.unwrap();
    {
        let store = Store::open(&pg.url).await.unwrap();
        rows.extend(measure(&store, rounds, frames).await);
    }
    pg.drop_schema().await.unwrap();
    let dir = std::env::temp_dir().join(format!("cv-dbbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    {
        let store = Store::open(&format!("sqlite:{}", dir.join("bench.db").display()))
            .await
            .unwrap();
        rows.extend(measure(&store, rounds, frames).await);
    }
    std::fs::remove_dir_all(&dir).ok();
    println!("| database | what | median of {rounds} matches / 20 queries |");
    println!("| --- | --- | --- |");
    for r in rows {
        println!("{r}");
    }
}
