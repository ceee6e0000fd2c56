// SPDX-License-Identifier: MIT OR Apache-2.0
//! The PostgreSQL results database: tokio-postgres behind a deadpool pool (workers and the
//! dashboard share a few connections), frames and detections written with binary COPY in
//! the transaction that records the match, so that one worker ingests hundreds of
//! thousands of rows a second.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Row};

use super::{
    migration_sql, now, sql, CameraCourt, FastShot, JobRow, MatchResults, QueueCounts, Stored,
    TimelineRally, TimelineShot, WorkerRow, MIGRATIONS,
};

pub struct Pg {
    pool: Pool,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn job_row(r: &Row) -> JobRow {
    JobRow {
        id: r.get(0),
        cache_key: r.get(1),
        uri: r.get(2),
        camera: r.get(3),
        settings: r.get(4),
        state: r.get(5),
        worker: r.get(6),
        attempts: r.get(7),
        error: r.get(8),
        submitted_at: r.get(9),
        started_at: r.get(10),
        finished_at: r.get(11),
        match_id: r.get(12),
    }
}

/// A key for the advisory lock that makes concurrent migrations take turns.
const MIGRATION_LOCK: i64 = 0x636f_7572_7476;

impl Pg {
    pub async fn connect(url: &str) -> Result<Pg, String> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let mgr = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(8)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(err)?;
        // Connect once now, so that a wrong address is one clear error at the start.
        drop(pool.get().await.map_err(|e| format!("{url}: {e}"))?);
        Ok(Pg { pool })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, String> {
        self.pool.get().await.map_err(err)
    }

    async fn query(&self, q: &str, p: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, String> {
        let c = self.client().await?;
        let s = c.prepare_cached(q).await.map_err(err)?;
        c.query(&s, p).await.map_err(err)
    }

    async fn execute(&self, q: &str, p: &[&(dyn ToSql + Sync)]) -> Result<u64, String> {
        let c = self.client().await?;
        let s = c.prepare_cached(q).await.map_err(err)?;
        c.execute(&s, p).await.map_err(err)
    }

    pub async fn migrate(&self) -> Result<(), String> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(err)?;
        tx.batch_execute(sql::MIGRATIONS_TABLE).await.map_err(err)?;
        let have: i64 = tx
            .query_one(sql::SCHEMA_VERSION, &[])
            .await
            .map_err(err)?
            .get(0);
        for (version, name, text) in MIGRATIONS.iter().filter(|m| m.0 > have) {
            tx.batch_execute(&migration_sql(text, true))
                .await
                .map_err(err)?;
            tx.execute(sql::RECORD_MIGRATION, &[version, name, &now()])
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    pub async fn schema_version(&self) -> Result<i64, String> {
        Ok(self.query(sql::SCHEMA_VERSION, &[]).await?[0].get(0))
    }

    pub async fn submit(&self, j: &JobRow) -> Result<bool, String> {
        let n = self
            .execute(
                sql::SUBMIT,
                &[
                    &j.id,
                    &j.cache_key,
                    &j.uri,
                    &j.camera,
                    &j.settings,
                    &j.submitted_at,
                ],
            )
            .await?;
        Ok(n > 0)
    }

    pub async fn job(&self, id: &str) -> Result<Option<JobRow>, String> {
        let q = format!("SELECT {} FROM jobs WHERE id = $1", sql::JOB_COLUMNS);
        Ok(self.query(&q, &[&id]).await?.first().map(job_row))
    }

    pub async fn jobs(&self) -> Result<Vec<JobRow>, String> {
        let q = format!(
            "SELECT {} FROM jobs ORDER BY submitted_at DESC LIMIT 500",
            sql::JOB_COLUMNS
        );
        Ok(self.query(&q, &[]).await?.iter().map(job_row).collect())
    }

    pub async fn cached(&self, key: &str) -> Result<Option<i64>, String> {
        Ok(self
            .query(sql::CACHED, &[&key])
            .await?
            .first()
            .map(|r| r.get(0)))
    }

    pub async fn start_job(&self, id: &str, worker: &str, attempt: i64) -> Result<(), String> {
        self.execute(sql::START, &[&id, &worker, &attempt, &now()])
            .await
            .map(drop)
    }

    pub async fn fail_job(&self, id: &str, error: &str, last: bool) -> Result<(), String> {
        let state = if last { super::FAILED } else { super::WAITING };
        self.execute(sql::FAIL, &[&id, &state, &error, &now()])
            .await
            .map(drop)
    }

    pub async fn finish_cached(&self, id: &str, match_id: i64) -> Result<(), String> {
        self.execute(sql::FINISH, &[&id, &match_id, &now()])
            .await
            .map(drop)
    }

    pub async fn store_results(&self, job: &JobRow, m: MatchResults) -> Result<Stored, String> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(err)?;
        let frames = m.frames.len() as i64;
        let id = tx
            .query_opt(
                sql::INSERT_MATCH,
                &[
                    &job.id,
                    &job.cache_key,
                    &job.uri,
                    &job.camera,
                    &frames,
                    &m.width,
                    &m.height,
                    &m.duration_s,
                    &m.summary,
                    &now(),
                ],
            )
            .await
            .map_err(err)?;
        let Some(mid) = id.map(|r| r.get::<_, i64>(0)) else {
            let mid: i64 = tx
                .query_one(sql::MATCH_OF_JOB, &[&job.id])
                .await
                .map_err(err)?
                .get(0);
            tx.execute(sql::FINISH, &[&job.id, &mid, &now()])
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
            return Ok(Stored::Already(mid));
        };
        copy_frames(&tx, mid, &m).await?;
        copy_detections(&tx, mid, &m).await?;
        for t in &m.tracks {
            tx.execute(
                sql::INSERT_TRACK,
                &[
                    &mid,
                    &t.track_id,
                    &t.label,
                    &t.first_frame,
                    &t.last_frame,
                    &t.frames,
                    &t.distance_m,
                ],
            )
            .await
            .map_err(err)?;
        }
        for r in &m.courts {
            tx.execute(
                sql::INSERT_COURT,
                &[
                    &mid,
                    &r.view,
                    &r.first_frame,
                    &r.sport,
                    &r.homography,
                    &r.camera,
                    &r.confidence,
                ],
            )
            .await
            .map_err(err)?;
        }
        for r in &m.shots {
            let p = |i: usize| r.pos.map(|p| p[i]);
            tx.execute(
                sql::INSERT_SHOT,
                &[
                    &mid,
                    &r.shot,
                    &r.frame,
                    &r.t,
                    &r.rally,
                    &r.track_id,
                    &r.speed_kmh,
                    &p(0),
                    &p(1),
                    &p(2),
                ],
            )
            .await
            .map_err(err)?;
        }
        for r in &m.rallies {
            let l = |i: usize| r.landing.map(|p| p[i]);
            tx.execute(
                sql::INSERT_RALLY,
                &[
                    &mid,
                    &r.rally,
                    &r.start_s,
                    &r.end_s,
                    &r.shots,
                    &l(0),
                    &l(1),
                    &r.inside,
                ],
            )
            .await
            .map_err(err)?;
        }
        tx.execute(sql::FINISH, &[&job.id, &mid, &now()])
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(Stored::New(mid))
    }

    pub async fn queue(&self) -> Result<QueueCounts, String> {
        let rows = self.query(sql::QUEUE, &[]).await?;
        Ok(super::queue_counts(
            rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
        ))
    }

    pub async fn heartbeat(&self, w: &WorkerRow) -> Result<(), String> {
        self.execute(
            sql::HEARTBEAT,
            &[
                &w.id,
                &w.host,
                &w.pid,
                &w.started_at,
                &w.last_seen,
                &w.job_id,
                &w.done,
                &w.failed,
            ],
        )
        .await
        .map(drop)
    }

    pub async fn workers(&self) -> Result<Vec<WorkerRow>, String> {
        Ok(self
            .query(sql::WORKERS, &[])
            .await?
            .iter()
            .map(|r| WorkerRow {
                id: r.get(0),
                host: r.get(1),
                pid: r.get(2),
                started_at: r.get(3),
                last_seen: r.get(4),
                job_id: r.get(5),
                done: r.get(6),
                failed: r.get(7),
            })
            .collect())
    }

    pub async fn timeline(&self, match_id: i64) -> Result<Vec<TimelineRally>, String> {
        let rallies = self.query(sql::RALLIES, &[&match_id]).await?;
        let shots = self.query(sql::SHOTS, &[&match_id]).await?;
        Ok(super::timeline(
            rallies
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
                .collect(),
            shots
                .iter()
                .map(|r| {
                    (
                        r.get(0),
                        TimelineShot {
                            shot: r.get(1),
                            t: r.get(2),
                            track_id: r.get(3),
                            speed_kmh: r.get(4),
                        },
                    )
                })
                .collect(),
        ))
    }

    pub async fn positions(
        &self,
        match_id: i64,
        track_id: i64,
        (from, to): (i64, i64),
    ) -> Result<Vec<(i64, f64, f64)>, String> {
        Ok(self
            .query(sql::POSITIONS, &[&match_id, &track_id, &from, &to])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    pub async fn fastest_shots(&self, limit: i64) -> Result<Vec<FastShot>, String> {
        Ok(self
            .query(sql::FASTEST, &[&limit])
            .await?
            .iter()
            .map(|r| FastShot {
                match_id: r.get(0),
                shot: r.get(1),
                t: r.get(2),
                track_id: r.get(3),
                speed_kmh: r.get(4),
            })
            .collect())
    }

    pub async fn players(&self, match_id: i64) -> Result<Vec<super::PlayerStats>, String> {
        Ok(self
            .query(sql::PLAYERS, &[&match_id])
            .await?
            .iter()
            .map(|r| super::PlayerStats {
                track_id: r.get(0),
                label: r.get(1),
                frames: r.get(2),
                distance_m: r.get(3),
                shots: r.get(4),
                fastest_kmh: r.get(5),
            })
            .collect())
    }

    pub async fn match_counts(&self, match_id: i64) -> Result<[i64; 4], String> {
        let r = &self.query(sql::COUNTS, &[&match_id]).await?[0];
        Ok([r.get(0), r.get(1), r.get(2), r.get(3)])
    }

    pub async fn camera_court(&self, camera: &str) -> Result<Option<CameraCourt>, String> {
        Ok(self
            .query(sql::CAMERA, &[&camera])
            .await?
            .first()
            .map(|r| CameraCourt {
                camera: r.get(0),
                sport: r.get(1),
                homography: r.get(2),
                model: r.get(3),
                confidence: r.get(4),
                match_id: r.get(5),
            }))
    }

    pub async fn save_camera_court(&self, k: &CameraCourt) -> Result<(), String> {
        self.execute(
            sql::SAVE_CAMERA,
            &[
                &k.camera,
                &k.sport,
                &k.homography,
                &k.model,
                &k.confidence,
                &k.match_id,
                &now(),
            ],
        )
        .await
        .map(drop)
    }
    pub async fn video_hash(
        &self,
        path: &str,
        size: i64,
        mtime: f64,
    ) -> Result<Option<String>, String> {
        Ok(self
            .query(sql::VIDEO_HASH, &[&path, &size, &mtime])
            .await?
            .first()
            .map(|r| r.get(0)))
    }

    pub async fn save_video_hash(
        &self,
        path: &str,
        size: i64,
        mtime: f64,
        sha: &str,
    ) -> Result<(), String> {
        self.execute(sql::SAVE_VIDEO_HASH, &[&path, &size, &mtime, &sha])
            .await
            .map(drop)
    }
}

async fn copy_frames(
    tx: &deadpool_postgres::Transaction<'_>,
    mid: i64,
    m: &MatchResults,
) -> Result<(), String> {
    let sink = tx
        .copy_in("COPY frames (match_id, frame, t, court, shuttle_x, shuttle_y, shuttle_kmh) FROM STDIN BINARY")
        .await
        .map_err(err)?;
    let types = [
        Type::INT8,
        Type::INT8,
        Type::FLOAT8,
        Type::BOOL,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
    ];
    let w = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(w);
    for f in &m.frames {
        let (x, y) = (f.shuttle.map(|p| p[0]), f.shuttle.map(|p| p[1]));
        w.as_mut()
            .write(&[&mid, &f.frame, &f.t, &f.court, &x, &y, &f.shuttle_kmh])
            .await
            .map_err(err)?;
    }
    w.finish().await.map_err(err).map(drop)
}

async fn copy_detections(
    tx: &deadpool_postgres::Transaction<'_>,
    mid: i64,
    m: &MatchResults,
) -> Result<(), String> {
    let sink = tx
        .copy_in(
            "COPY detections (match_id, frame, class_id, label, confidence, x, y, w, h, track_id, \
             filled, court_x, court_y, keypoints) FROM STDIN BINARY",
        )
        .await
        .map_err(err)?;
    let types = [
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::TEXT,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::INT8,
        Type::BOOL,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::BYTEA,
    ];
    let w = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(w);
    for d in &m.detections {
        let (cx, cy) = (d.court.map(|p| p[0]), d.court.map(|p| p[1]));
        w.as_mut()
            .write(&[
                &mid,
                &d.frame,
                &d.class_id,
                &d.label,
                &d.confidence,
                &d.bbox[0],
                &d.bbox[1],
                &d.bbox[2],
                &d.bbox[3],
                &d.track_id,
                &d.filled,
                &cx,
                &cy,
                &d.keypoints,
            ])
            .await
            .map_err(err)?;
    }
    w.finish().await.map_err(err).map(drop)
}

/// A schema of its own in a PostgreSQL database, for tests and benchmarks: the database is
/// `COURTVISION_TEST_POSTGRES` (default: the local socket's `test` database as this user);
/// `url` reaches the schema; `drop_schema` removes it with everything in it.
pub struct ScratchSchema {
    pub url: String,
    base: String,
    schema: String,
}

impl ScratchSchema {
    pub async fn new(tag: &str) -> Result<ScratchSchema, String> {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let base = std::env::var("COURTVISION_TEST_POSTGRES")
            .unwrap_or_else(|_| format!("host=/var/run/postgresql dbname=test user={user}"));
        let schema = format!("cv_{tag}_{}", std::process::id());
        let (c, conn) = tokio_postgres::connect(&base, NoTls)
            .await
            .map_err(|e| format!("PostgreSQL at '{base}' (setup.sh starts one): {e}"))?;
        tokio::spawn(conn);
        c.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .map_err(err)?;
        let url = format!("{base} options='-csearch_path={schema}'");
        Ok(ScratchSchema { url, base, schema })
    }

    pub async fn drop_schema(self) -> Result<(), String> {
        let (c, conn) = tokio_postgres::connect(&self.base, NoTls)
            .await
            .map_err(err)?;
        tokio::spawn(conn);
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .await
            .map_err(err)
    }
}
