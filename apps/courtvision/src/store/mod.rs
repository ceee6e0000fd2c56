// SPDX-License-Identifier: MIT OR Apache-2.0
//! The results database: SQLite (one file, the default on one machine) or PostgreSQL (a
//! pooled async client, for many workers), with one schema and one set of queries. The
//! schema is created and upgraded by numbered migrations recorded in `schema_migrations`;
//! docs/results-db.md documents the tables and the queries a front end makes.

pub mod pg;
pub mod results;
pub mod sqlite;

use serde::Serialize;

pub use results::MatchResults;

/// The migrations, in order. `{serial}` and `{blob}` are the only words that differ between
/// the two databases; everything else is shared SQL.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "jobs, matches, frames, detections, tracks, courts, shots, rallies, cameras, workers, video_hashes",
    r#"
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  cache_key TEXT NOT NULL,
  uri TEXT NOT NULL,
  camera TEXT,
  settings TEXT NOT NULL,
  state TEXT NOT NULL,
  worker TEXT,
  attempts BIGINT NOT NULL DEFAULT 0,
  error TEXT,
  submitted_at DOUBLE PRECISION NOT NULL,
  started_at DOUBLE PRECISION,
  finished_at DOUBLE PRECISION,
  match_id BIGINT
);
CREATE INDEX jobs_state ON jobs (state, submitted_at);
CREATE INDEX jobs_cache ON jobs (cache_key);
CREATE TABLE matches (
  id {serial},
  job_id TEXT NOT NULL UNIQUE,
  cache_key TEXT NOT NULL,
  uri TEXT NOT NULL,
  camera TEXT,
  frames BIGINT NOT NULL,
  width BIGINT NOT NULL,
  height BIGINT NOT NULL,
  duration_s DOUBLE PRECISION NOT NULL,
  summary TEXT,
  created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX matches_cache ON matches (cache_key);
CREATE TABLE frames (
  match_id BIGINT NOT NULL,
  frame BIGINT NOT NULL,
  t DOUBLE PRECISION,
  court BOOLEAN NOT NULL,
  shuttle_x DOUBLE PRECISION,
  shuttle_y DOUBLE PRECISION,
  shuttle_kmh DOUBLE PRECISION,
  PRIMARY KEY (match_id, frame)
);
CREATE TABLE detections (
  match_id BIGINT NOT NULL,
  frame BIGINT NOT NULL,
  class_id BIGINT NOT NULL,
  label TEXT NOT NULL,
  confidence DOUBLE PRECISION NOT NULL,
  x DOUBLE PRECISION NOT NULL,
  y DOUBLE PRECISION NOT NULL,
  w DOUBLE PRECISION NOT NULL,
  h DOUBLE PRECISION NOT NULL,
  track_id BIGINT,
  filled BOOLEAN NOT NULL,
  court_x DOUBLE PRECISION,
  court_y DOUBLE PRECISION,
  keypoints {blob}
);
CREATE INDEX detections_frame ON detections (match_id, frame);
CREATE INDEX detections_track ON detections (match_id, track_id, frame) WHERE track_id IS NOT NULL;
CREATE TABLE tracks (
  match_id BIGINT NOT NULL,
  track_id BIGINT NOT NULL,
  label TEXT NOT NULL,
  first_frame BIGINT NOT NULL,
  last_frame BIGINT NOT NULL,
  frames BIGINT NOT NULL,
  distance_m DOUBLE PRECISION,
  PRIMARY KEY (match_id, track_id)
);
CREATE TABLE courts (
  match_id BIGINT NOT NULL,
  view BIGINT NOT NULL,
  first_frame BIGINT NOT NULL,
  sport TEXT NOT NULL,
  homography TEXT NOT NULL,
  camera TEXT,
  confidence DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (match_id, view)
);
CREATE TABLE shots (
  match_id BIGINT NOT NULL,
  shot BIGINT NOT NULL,
  frame BIGINT NOT NULL,
  t DOUBLE PRECISION,
  rally BIGINT,
  track_id BIGINT,
  speed_kmh DOUBLE PRECISION,
  x DOUBLE PRECISION,
  y DOUBLE PRECISION,
  z DOUBLE PRECISION,
  PRIMARY KEY (match_id, shot)
);
CREATE INDEX shots_speed ON shots (speed_kmh);
CREATE INDEX shots_player ON shots (match_id, track_id);
CREATE TABLE rallies (
  match_id BIGINT NOT NULL,
  rally BIGINT NOT NULL,
  start_s DOUBLE PRECISION NOT NULL,
  end_s DOUBLE PRECISION,
  shots BIGINT NOT NULL,
  landing_x DOUBLE PRECISION,
  landing_y DOUBLE PRECISION,
  inside BOOLEAN,
  PRIMARY KEY (match_id, rally)
);
CREATE TABLE cameras (
  camera TEXT PRIMARY KEY,
  sport TEXT NOT NULL,
  homography TEXT NOT NULL,
  model TEXT,
  confidence DOUBLE PRECISION NOT NULL,
  match_id BIGINT NOT NULL,
  updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid BIGINT NOT NULL,
  started_at DOUBLE PRECISION NOT NULL,
  last_seen DOUBLE PRECISION NOT NULL,
  job_id TEXT,
  done BIGINT NOT NULL DEFAULT 0,
  failed BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE video_hashes (
  path TEXT PRIMARY KEY,
  size BIGINT NOT NULL,
  mtime DOUBLE PRECISION NOT NULL,
  sha256 TEXT NOT NULL
);
"#,
)];

/// A migration's SQL for one database.
pub fn migration_sql(sql: &str, postgres: bool) -> String {
    let (serial, blob) = if postgres {
        ("BIGSERIAL PRIMARY KEY", "BYTEA")
    } else {
        ("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB")
    };
    sql.replace("{serial}", serial).replace("{blob}", blob)
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A job as the queue and the dashboard see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRow {
    pub id: String,
    pub cache_key: String,
    pub uri: String,
    pub camera: Option<String>,
    pub settings: String,
    pub state: String,
    pub worker: Option<String>,
    pub attempts: i64,
    pub error: Option<String>,
    pub submitted_at: f64,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub match_id: Option<i64>,
}

/// Job states.
pub const WAITING: &str = "waiting";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueCounts {
    pub waiting: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerRow {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub started_at: f64,
    pub last_seen: f64,
    pub job_id: Option<String>,
    pub done: i64,
    pub failed: i64,
}

/// What storing a job's results came to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stored {
    /// Stored now, as this match.
    New(i64),
    /// The job's results were already there (another delivery of it finished first).
    Already(i64),
}

impl Stored {
    pub fn match_id(self) -> i64 {
        match self {
            Stored::New(m) | Stored::Already(m) => m,
        }
    }
}

/// A match's rallies with their shots, in time order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineRally {
    pub rally: i64,
    pub start_s: f64,
    pub end_s: Option<f64>,
    pub landing: Option<[f64; 2]>,
    pub inside: Option<bool>,
    pub shots: Vec<TimelineShot>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineShot {
    pub shot: i64,
    pub t: Option<f64>,
    pub track_id: Option<i64>,
    pub speed_kmh: Option<f64>,
}

/// A player (track) of a match with its figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlayerStats {
    pub track_id: i64,
    pub label: String,
    pub frames: i64,
    pub distance_m: Option<f64>,
    pub shots: i64,
    pub fastest_kmh: Option<f64>,
}

/// One of the fastest shots over all matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FastShot {
    pub match_id: i64,
    pub shot: i64,
    pub t: Option<f64>,
    pub track_id: Option<i64>,
    pub speed_kmh: f64,
}

/// A court estimate kept for a camera, to start the next match of that camera with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraCourt {
    pub camera: String,
    pub sport: String,
    pub homography: String,
    pub model: Option<String>,
    pub confidence: f64,
    pub match_id: i64,
}

/// A rallies row as the timeline query reads it: rally, start, end, landing x and y, inside.
pub type TimelineRallyRow = (
    i64,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<bool>,
);

/// Groups rallies and shots rows into the timeline.
pub fn timeline(
    rallies: Vec<TimelineRallyRow>,
    shots: Vec<(Option<i64>, TimelineShot)>,
) -> Vec<TimelineRally> {
    let mut out: Vec<TimelineRally> = rallies
        .into_iter()
        .map(|(rally, start_s, end_s, lx, ly, inside)| TimelineRally {
            rally,
            start_s,
            end_s,
            landing: lx.zip(ly).map(|(x, y)| [x, y]),
            inside,
            shots: vec![],
        })
        .collect();
    for (rally, s) in shots {
        if let Some(r) = out.iter_mut().find(|r| Some(r.rally) == rally) {
            r.shots.push(s);
        }
    }
    out
}

/// The database: opened from `sqlite:PATH` (or a path) or `postgres://…`.
pub enum Store {
    Sqlite(sqlite::Sqlite),
    Postgres(pg::Pg),
}

/// Calls the same method on whichever database this is.
macro_rules! both {
    ($self:ident . $m:ident ( $($a:expr),* )) => {
        match $self {
            Store::Sqlite(db) => db.$m($($a),*).await,
            Store::Postgres(db) => db.$m($($a),*).await,
        }
    };
}

impl Store {
    /// Opens the database and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Store, String> {
        let store = if url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.contains("host=")
        {
            Store::Postgres(pg::Pg::connect(url).await?)
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or(url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Store::Sqlite(sqlite::Sqlite::open(path)?)
        };
        let s = &store;
        both!(s.migrate()).map_err(|e| format!("{url}: migrating the schema: {e}"))?;
        Ok(store)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn schema_version(&self) -> Result<i64, String> {
        both!(self.schema_version())
    }

    /// Records a submitted job; false where a job of that id is already there.
    pub async fn submit(&self, job: &JobRow) -> Result<bool, String> {
        both!(self.submit(job))
    }

    pub async fn job(&self, id: &str) -> Result<Option<JobRow>, String> {
        both!(self.job(id))
    }

    pub async fn jobs(&self) -> Result<Vec<JobRow>, String> {
        both!(self.jobs())
    }

    /// The match stored for a cache key, if any.
    pub async fn cached(&self, cache_key: &str) -> Result<Option<i64>, String> {
        both!(self.cached(cache_key))
    }

    pub async fn start_job(&self, id: &str, worker: &str, attempt: i64) -> Result<(), String> {
        both!(self.start_job(id, worker, attempt))
    }

    /// A failed try: `last` marks the job failed for good, else it waits for another try.
    pub async fn fail_job(&self, id: &str, error: &str, last: bool) -> Result<(), String> {
        both!(self.fail_job(id, error, last))
    }

    /// A job answered from another job's stored match.
    pub async fn finish_cached(&self, id: &str, match_id: i64) -> Result<(), String> {
        both!(self.finish_cached(id, match_id))
    }

    /// Stores a job's results and marks it done, in one transaction: once per job id.
    pub async fn store_results(
        &self,
        job: &JobRow,
        results: MatchResults,
    ) -> Result<Stored, String> {
        both!(self.store_results(job, results))
    }

    pub async fn queue(&self) -> Result<QueueCounts, String> {
        both!(self.queue())
    }

    pub async fn heartbeat(&self, w: &WorkerRow) -> Result<(), String> {
        both!(self.heartbeat(w))
    }

    pub async fn workers(&self) -> Result<Vec<WorkerRow>, String> {
        both!(self.workers())
    }

    pub async fn timeline(&self, match_id: i64) -> Result<Vec<TimelineRally>, String> {
        both!(self.timeline(match_id))
    }

    /// A player's (track's) court positions between two frames.
    pub async fn positions(
        &self,
        match_id: i64,
        track_id: i64,
        frames: (i64, i64),
    ) -> Result<Vec<(i64, f64, f64)>, String> {
        both!(self.positions(match_id, track_id, frames))
    }

    pub async fn fastest_shots(&self, limit: i64) -> Result<Vec<FastShot>, String> {
        both!(self.fastest_shots(limit))
    }

    /// A match's players: frames seen, distance covered, shots and the fastest of them.
    pub async fn players(&self, match_id: i64) -> Result<Vec<PlayerStats>, String> {
        both!(self.players(match_id))
    }

    /// Counts of a match's rows: frames, detections, shots, rallies.
    pub async fn match_counts(&self, match_id: i64) -> Result<[i64; 4], String> {
        both!(self.match_counts(match_id))
    }

    pub async fn camera_court(&self, camera: &str) -> Result<Option<CameraCourt>, String> {
        both!(self.camera_court(camera))
    }

    pub async fn save_camera_court(&self, c: &CameraCourt) -> Result<(), String> {
        both!(self.save_camera_court(c))
    }

    /// A file's SHA-256 as hashed before, while its size and modification time are the same.
    pub async fn video_hash(
        &self,
        path: &str,
        size: i64,
        mtime: f64,
    ) -> Result<Option<String>, String> {
        both!(self.video_hash(path, size, mtime))
    }

    pub async fn save_video_hash(
        &self,
        path: &str,
        size: i64,
        mtime: f64,
        sha256: &str,
    ) -> Result<(), String> {
        both!(self.save_video_hash(path, size, mtime, sha256))
    }
}

#[cfg(test)]
mod tests;

/// The queries, shared by both databases (`$N` parameters are numbered in both).
pub mod sql {
    pub const JOB_COLUMNS: &str = "id, cache_key, uri, camera, settings, state, worker, attempts, error, submitted_at, started_at, finished_at, match_id";
    /// A job id already there is left as it is, unless it failed: then it waits again.
    pub const SUBMIT: &str = "INSERT INTO jobs (id, cache_key, uri, camera, settings, state, attempts, submitted_at) \
        VALUES ($1, $2, $3, $4, $5, 'waiting', 0, $6) \
        ON CONFLICT (id) DO UPDATE SET state = 'waiting', attempts = 0, error = NULL, submitted_at = excluded.submitted_at \
        WHERE jobs.state = 'failed'";
    pub const CACHED: &str = "SELECT id FROM matches WHERE cache_key = $1 ORDER BY id LIMIT 1";
    pub const START: &str = "UPDATE jobs SET state = 'running', worker = $2, attempts = $3, started_at = $4 WHERE id = $1 AND state <> 'done'";
    pub const FAIL: &str = "UPDATE jobs SET state = $2, error = $3, finished_at = $4 WHERE id = $1 AND state <> 'done'";
    pub const FINISH: &str = "UPDATE jobs SET state = 'done', match_id = $2, finished_at = $3, error = NULL WHERE id = $1";
    pub const INSERT_MATCH: &str = "INSERT INTO matches (job_id, cache_key, uri, camera, frames, width, height, duration_s, summary, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (job_id) DO NOTHING RETURNING id";
    pub const MATCH_OF_JOB: &str = "SELECT id FROM matches WHERE job_id = $1";
    pub const QUEUE: &str = "SELECT state, COUNT(*) FROM jobs GROUP BY state";
    pub const HEARTBEAT: &str = "INSERT INTO workers (id, host, pid, started_at, last_seen, job_id, done, failed) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET \
        last_seen = excluded.last_seen, job_id = excluded.job_id, done = excluded.done, failed = excluded.failed";
    pub const WORKERS: &str = "SELECT id, host, pid, started_at, last_seen, job_id, done, failed FROM workers ORDER BY id";
    pub const RALLIES: &str = "SELECT rally, start_s, end_s, landing_x, landing_y, inside FROM rallies WHERE match_id = $1 ORDER BY rally";
    pub const SHOTS: &str =
        "SELECT rally, shot, t, track_id, speed_kmh FROM shots WHERE match_id = $1 ORDER BY shot";
    pub const POSITIONS: &str = "SELECT frame, court_x, court_y FROM detections \
        WHERE match_id = $1 AND track_id = $2 AND frame BETWEEN $3 AND $4 AND court_x IS NOT NULL ORDER BY frame";
    pub const FASTEST: &str = "SELECT match_id, shot, t, track_id, speed_kmh FROM shots WHERE speed_kmh IS NOT NULL ORDER BY speed_kmh DESC LIMIT $1";
    pub const PLAYERS: &str = "SELECT t.track_id, t.label, t.frames, t.distance_m, COUNT(s.shot), MAX(s.speed_kmh) \
        FROM tracks t LEFT JOIN shots s ON s.match_id = t.match_id AND s.track_id = t.track_id \
        WHERE t.match_id = $1 GROUP BY t.track_id, t.label, t.frames, t.distance_m ORDER BY t.track_id";
    pub const COUNTS: &str = "SELECT (SELECT COUNT(*) FROM frames WHERE match_id = $1), (SELECT COUNT(*) FROM detections WHERE match_id = $1), \
        (SELECT COUNT(*) FROM shots WHERE match_id = $1), (SELECT COUNT(*) FROM rallies WHERE match_id = $1)";
    pub const CAMERA: &str = "SELECT camera, sport, homography, model, confidence, match_id FROM cameras WHERE camera = $1";
    pub const SAVE_CAMERA: &str = "INSERT INTO cameras (camera, sport, homography, model, confidence, match_id, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (camera) DO UPDATE SET sport = excluded.sport, \
        homography = excluded.homography, model = excluded.model, confidence = excluded.confidence, \
        match_id = excluded.match_id, updated_at = excluded.updated_at";
    pub const VIDEO_HASH: &str =
        "SELECT sha256 FROM video_hashes WHERE path = $1 AND size = $2 AND mtime = $3";
    pub const SAVE_VIDEO_HASH: &str = "INSERT INTO video_hashes (path, size, mtime, sha256) VALUES ($1, $2, $3, $4) \
        ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, sha256 = excluded.sha256";
    pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)";
    pub const SCHEMA_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
    pub const RECORD_MIGRATION: &str =
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)";
    pub const INSERT_TRACK: &str = "INSERT INTO tracks (match_id, track_id, label, first_frame, last_frame, frames, distance_m) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    pub const INSERT_COURT: &str = "INSERT INTO courts (match_id, view, first_frame, sport, homography, camera, confidence) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    pub const INSERT_SHOT: &str = "INSERT INTO shots (match_id, shot, frame, t, rally, track_id, speed_kmh, x, y, z) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    pub const INSERT_RALLY: &str = "INSERT INTO rallies (match_id, rally, start_s, end_s, shots, landing_x, landing_y, inside) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    pub const INSERT_FRAME: &str = "INSERT INTO frames (match_id, frame, t, court, shuttle_x, shuttle_y, shuttle_kmh) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    pub const INSERT_DETECTION: &str = "INSERT INTO detections (match_id, frame, class_id, label, confidence, x, y, w, h, track_id, filled, court_x, court_y, keypoints) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
}

/// The queue's counts from `(state, count)` rows.
pub fn queue_counts(rows: Vec<(String, i64)>) -> QueueCounts {
    let mut q = QueueCounts::default();
    for (state, n) in rows {
        match state.as_str() {
            WAITING => q.waiting += n,
            RUNNING => q.running += n,
            DONE => q.done += n,
            _ => q.failed += n,
        }
    }
    q
}
