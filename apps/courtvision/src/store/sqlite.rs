// SPDX-License-Identifier: MIT OR Apache-2.0
//! The SQLite results database (rusqlite): one file, in WAL mode so that readers (the
//! dashboard) and several workers of one machine share it; calls run on tokio's blocking
//! threads. Bulk writes are prepared inserts in one transaction.

use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

use super::{
    migration_sql, now, sql, CameraCourt, FastShot, JobRow, MatchResults, QueueCounts, Stored,
    TimelineRally, TimelineShot, WorkerRow, MIGRATIONS,
};

/// The shared SQL with SQLite's numbered parameters: `$N` is a named parameter to SQLite,
/// numbered by first appearance, `?N` is parameter N.
fn q(sql: &str) -> String {
    sql.replace('$', "?")
}

pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
}

fn job_row(r: &rusqlite::Row) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: r.get(0)?,
        cache_key: r.get(1)?,
        uri: r.get(2)?,
        camera: r.get(3)?,
        settings: r.get(4)?,
        state: r.get(5)?,
        worker: r.get(6)?,
        attempts: r.get(7)?,
        error: r.get(8)?,
        submitted_at: r.get(9)?,
        started_at: r.get(10)?,
        finished_at: r.get(11)?,
        match_id: r.get(12)?,
    })
}

impl Sqlite {
    pub fn open(path: &str) -> Result<Sqlite, String> {
        let conn = Connection::open(path).map_err(|e| format!("{path}: {e}"))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .and_then(|_| conn.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
            .map_err(|e| format!("{path}: {e}"))?;
        Ok(Sqlite {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let c = self.conn.clone();
        tokio::task::spawn_blocking(move || f(&mut c.lock().unwrap()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    pub async fn migrate(&self) -> Result<(), String> {
        self.with(|c| {
            // IMMEDIATE: two workers starting together migrate one after the other.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(&q(sql::MIGRATIONS_TABLE), [])?;
            let have: i64 = tx.query_row(&q(sql::SCHEMA_VERSION), [], |r| r.get(0))?;
            for (version, name, text) in MIGRATIONS.iter().filter(|m| m.0 > have) {
                tx.execute_batch(&migration_sql(text, false))?;
                tx.execute(&q(sql::RECORD_MIGRATION), params![version, name, now()])?;
            }
            tx.commit()
        })
        .await
    }

    pub async fn schema_version(&self) -> Result<i64, String> {
        self.with(|c| c.query_row(&q(sql::SCHEMA_VERSION), [], |r| r.get(0)))
            .await
    }

    pub async fn submit(&self, j: &JobRow) -> Result<bool, String> {
        let j = j.clone();
        self.with(move |c| {
            c.execute(
                &q(sql::SUBMIT),
                params![
                    j.id,
                    j.cache_key,
                    j.uri,
                    j.camera,
                    j.settings,
                    j.submitted_at
                ],
            )
        })
        .await
        .map(|n| n > 0)
    }

    pub async fn job(&self, id: &str) -> Result<Option<JobRow>, String> {
        let id = id.to_string();
        self.with(move |c| {
            c.query_row(
                &q(&format!(
                    "SELECT {} FROM jobs WHERE id = $1",
                    sql::JOB_COLUMNS
                )),
                [id],
                job_row,
            )
            .optional()
        })
        .await
    }

    pub async fn jobs(&self) -> Result<Vec<JobRow>, String> {
        self.with(|c| {
            let mut s = c.prepare(&format!(
                "SELECT {} FROM jobs ORDER BY submitted_at DESC LIMIT 500",
                sql::JOB_COLUMNS
            ))?;
            let rows = s.query_map([], job_row)?;
            rows.collect()
        })
        .await
    }

    pub async fn cached(&self, key: &str) -> Result<Option<i64>, String> {
        let key = key.to_string();
        self.with(move |c| c.query_row(&q(sql::CACHED), [key], |r| r.get(0)).optional())
            .await
    }

    pub async fn start_job(&self, id: &str, worker: &str, attempt: i64) -> Result<(), String> {
        let (id, worker) = (id.to_string(), worker.to_string());
        self.with(move |c| c.execute(&q(sql::START), params![id, worker, attempt, now()]))
            .await
            .map(drop)
    }

    pub async fn fail_job(&self, id: &str, error: &str, last: bool) -> Result<(), String> {
        let (id, error) = (id.to_string(), error.to_string());
        let state = if last { super::FAILED } else { super::WAITING };
        self.with(move |c| c.execute(&q(sql::FAIL), params![id, state, error, now()]))
            .await
            .map(drop)
    }

    pub async fn finish_cached(&self, id: &str, match_id: i64) -> Result<(), String> {
        let id = id.to_string();
        self.with(move |c| c.execute(&q(sql::FINISH), params![id, match_id, now()]))
            .await
            .map(drop)
    }

    pub async fn store_results(&self, job: &JobRow, m: MatchResults) -> Result<Stored, String> {
        let job = job.clone();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let id: Option<i64> = tx
                .query_row(
                    &q(sql::INSERT_MATCH),
                    params![
                        job.id,
                        job.cache_key,
                        job.uri,
                        job.camera,
                        m.frames.len() as i64,
                        m.width,
                        m.height,
                        m.duration_s,
                        m.summary,
                        now()
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(mid) = id else {
                let mid: i64 = tx.query_row(&q(sql::MATCH_OF_JOB), [&job.id], |r| r.get(0))?;
                tx.execute(&q(sql::FINISH), params![job.id, mid, now()])?;
                tx.commit()?;
                return Ok(Stored::Already(mid));
            };
            {
                let mut s = tx.prepare(&q(sql::INSERT_FRAME))?;
                for f in &m.frames {
                    s.execute(params![
                        mid,
                        f.frame,
                        f.t,
                        f.court,
                        f.shuttle.map(|p| p[0]),
                        f.shuttle.map(|p| p[1]),
                        f.shuttle_kmh
                    ])?;
                }
                let mut s = tx.prepare(&q(sql::INSERT_DETECTION))?;
                for d in &m.detections {
                    s.execute(params![
                        mid,
                        d.frame,
                        d.class_id,
                        d.label,
                        d.confidence,
                        d.bbox[0],
                        d.bbox[1],
                        d.bbox[2],
                        d.bbox[3],
                        d.track_id,
                        d.filled,
                        d.court.map(|p| p[0]),
                        d.court.map(|p| p[1]),
                        d.keypoints
                    ])?;
                }
                let mut s = tx.prepare(&q(sql::INSERT_TRACK))?;
                for t in &m.tracks {
                    s.execute(params![
                        mid,
                        t.track_id,
                        t.label,
                        t.first_frame,
                        t.last_frame,
                        t.frames,
                        t.distance_m
                    ])?;
                }
                let mut s = tx.prepare(&q(sql::INSERT_COURT))?;
                for r in &m.courts {
                    s.execute(params![
                        mid,
                        r.view,
                        r.first_frame,
                        r.sport,
                        r.homography,
                        r.camera,
                        r.confidence
                    ])?;
                }
                let mut s = tx.prepare(&q(sql::INSERT_SHOT))?;
                for r in &m.shots {
                    s.execute(params![
                        mid,
                        r.shot,
                        r.frame,
                        r.t,
                        r.rally,
                        r.track_id,
                        r.speed_kmh,
                        r.pos.map(|p| p[0]),
                        r.pos.map(|p| p[1]),
                        r.pos.map(|p| p[2])
                    ])?;
                }
                let mut s = tx.prepare(&q(sql::INSERT_RALLY))?;
                for r in &m.rallies {
                    s.execute(params![
                        mid,
                        r.rally,
                        r.start_s,
                        r.end_s,
                        r.shots,
                        r.landing.map(|p| p[0]),
                        r.landing.map(|p| p[1]),
                        r.inside
                    ])?;
                }
            }
            tx.execute(&q(sql::FINISH), params![job.id, mid, now()])?;
            tx.commit()?;
            Ok(Stored::New(mid))
        })
        .await
    }

    pub async fn queue(&self) -> Result<QueueCounts, String> {
        self.with(|c| {
            let mut s = c.prepare(&q(sql::QUEUE))?;
            let rows = s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
        .map(super::queue_counts)
    }

    pub async fn heartbeat(&self, w: &WorkerRow) -> Result<(), String> {
        let w = w.clone();
        self.with(move |c| {
            c.execute(
                &q(sql::HEARTBEAT),
                params![
                    w.id,
                    w.host,
                    w.pid,
                    w.started_at,
                    w.last_seen,
                    w.job_id,
                    w.done,
                    w.failed
                ],
            )
        })
        .await
        .map(drop)
    }

    pub async fn workers(&self) -> Result<Vec<WorkerRow>, String> {
        self.with(|c| {
            let mut s = c.prepare(&q(sql::WORKERS))?;
            let rows = s.query_map([], |r| {
                Ok(WorkerRow {
                    id: r.get(0)?,
                    host: r.get(1)?,
                    pid: r.get(2)?,
                    started_at: r.get(3)?,
                    last_seen: r.get(4)?,
                    job_id: r.get(5)?,
                    done: r.get(6)?,
                    failed: r.get(7)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    pub async fn timeline(&self, match_id: i64) -> Result<Vec<TimelineRally>, String> {
        self.with(move |c| {
            let mut s = c.prepare_cached(&q(sql::RALLIES))?;
            let rallies = s
                .query_map([match_id], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut s = c.prepare_cached(&q(sql::SHOTS))?;
            let shots = s
                .query_map([match_id], |r| {
                    Ok((
                        r.get(0)?,
                        TimelineShot {
                            shot: r.get(1)?,
                            t: r.get(2)?,
                            track_id: r.get(3)?,
                            speed_kmh: r.get(4)?,
                        },
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(super::timeline(rallies, shots))
        })
        .await
    }

    pub async fn positions(
        &self,
        match_id: i64,
        track_id: i64,
        (from, to): (i64, i64),
    ) -> Result<Vec<(i64, f64, f64)>, String> {
        self.with(move |c| {
            let mut s = c.prepare_cached(&q(sql::POSITIONS))?;
            let rows = s.query_map(params![match_id, track_id, from, to], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            rows.collect()
        })
        .await
    }

    pub async fn fastest_shots(&self, limit: i64) -> Result<Vec<FastShot>, String> {
        self.with(move |c| {
            let mut s = c.prepare_cached(&q(sql::FASTEST))?;
            let rows = s.query_map([limit], |r| {
                Ok(FastShot {
                    match_id: r.get(0)?,
                    shot: r.get(1)?,
                    t: r.get(2)?,
                    track_id: r.get(3)?,
                    speed_kmh: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    pub async fn players(&self, match_id: i64) -> Result<Vec<super::PlayerStats>, String> {
        self.with(move |c| {
            let mut s = c.prepare_cached(&q(sql::PLAYERS))?;
            let rows = s.query_map([match_id], |r| {
                Ok(super::PlayerStats {
                    track_id: r.get(0)?,
                    label: r.get(1)?,
                    frames: r.get(2)?,
                    distance_m: r.get(3)?,
                    shots: r.get(4)?,
                    fastest_kmh: r.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    pub async fn match_counts(&self, match_id: i64) -> Result<[i64; 4], String> {
        self.with(move |c| {
            c.query_row(&q(sql::COUNTS), [match_id], |r| {
                Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?])
            })
        })
        .await
    }

    pub async fn camera_court(&self, camera: &str) -> Result<Option<CameraCourt>, String> {
        let camera = camera.to_string();
        self.with(move |c| {
            c.query_row(&q(sql::CAMERA), [camera], |r| {
                Ok(CameraCourt {
                    camera: r.get(0)?,
                    sport: r.get(1)?,
                    homography: r.get(2)?,
                    model: r.get(3)?,
                    confidence: r.get(4)?,
                    match_id: r.get(5)?,
                })
            })
            .optional()
        })
        .await
    }

    pub async fn save_camera_court(&self, k: &CameraCourt) -> Result<(), String> {
        let k = k.clone();
        self.with(move |c| {
            c.execute(
                &q(sql::SAVE_CAMERA),
                params![
                    k.camera,
                    k.sport,
                    k.homography,
                    k.model,
                    k.confidence,
                    k.match_id,
                    now()
                ],
            )
        })
        .await
        .map(drop)
    }

    pub async fn video_hash(
        &self,
        path: &str,
        size: i64,
        mtime: f64,
    ) -> Result<Option<String>, String> {
        let path = path.to_string();
        self.with(move |c| {
            c.query_row(&q(sql::VIDEO_HASH), params![path, size, mtime], |r| {
                r.get(0)
            })
            .optional()
        })
        .await
    }

    pub async fn save_video_hash(
        &self,
        path: &str,
        size: i64,
        mtime: f64,
        sha: &str,
    ) -> Result<(), String> {
        let (path, sha) = (path.to_string(), sha.to_string());
        self.with(move |c| c.execute(&q(sql::SAVE_VIDEO_HASH), params![path, size, mtime, sha]))
            .await
            .map(drop)
    }
}
