// SPDX-License-Identifier: MIT OR Apache-2.0
//! Jobs across machines on NATS JetStream. `courtvision submit` records each job in the
//! results database and puts it on the work-queue stream COURTVISION_JOBS (subject
//! `courtvision.jobs`, the job id and submission time as Nats-Msg-Id so that a repeated
//! publish of one submission is one message);
//! `courtvision worker` processes, on any machine, take them one at a time from the durable
//! pull consumer `workers`, extend the ack while they work, store the results in one
//! transaction keyed by the job id and only then acknowledge. A worker that dies leaves its
//! job unacknowledged: JetStream redelivers it after the ack wait and another worker finishes
//! it; a second finish of one job stores nothing (the match's job id is unique). A job that
//! fails `--max-tries` times is published to `courtvision.jobs.dead` (stream
//! COURTVISION_DEAD) and marked failed.
//!
//! A job's id is its cache key: the SHA-256 of the video's content, the models' contents
//! and the settings. Submitting a job whose results are stored answers from the database
//! without a message or a decoded frame; a changed model or setting is another key.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, stream};
use clap::Args;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chain::{self, Analysis, Device, Pace};
use crate::store::{self, JobRow, MatchResults, Store, WorkerRow};
use crate::stream::{State, Stream};

pub const STREAM: &str = "COURTVISION_JOBS";
pub const SUBJECT: &str = "courtvision.jobs";
pub const DEAD_STREAM: &str = "COURTVISION_DEAD";
pub const DEAD_SUBJECT: &str = "courtvision.jobs.dead";
pub const CONSUMER: &str = "workers";

#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// NATS server with JetStream.
    #[arg(
        long,
        env = "COURTVISION_NATS",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats: String,
    /// Results database: sqlite:PATH (one machine) or postgres://… / "host=… dbname=…".
    #[arg(long, env = "COURTVISION_DB", default_value = "sqlite:courtvision.db")]
    pub db: String,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Videos to analyse: files (hashed for the cache) or URIs.
    #[arg(required = true, value_name = "VIDEO")]
    pub inputs: Vec<String>,
    /// The camera that filmed them: its court estimate is kept and reused across its matches.
    #[arg(long)]
    pub camera: Option<String>,
    /// Wait until every job is done or failed (exit status 1 if one failed).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, default_value_t = 3600.0)]
    pub timeout: f64,
    #[command(flatten)]
    pub conn: Connection,
    #[command(flatten)]
    pub analysis: Analysis,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// This worker's name in the database and the dashboard [default: HOST-PID].
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds JetStream waits for an acknowledgement before redelivering a job; a working
    /// worker extends it every third of it.
    #[arg(long, default_value_t = 30.0)]
    pub ack_wait: f64,
    /// Tries before a job goes to the dead-letter subject.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i64).range(1..=100))]
    pub max_tries: i64,
    /// Stop after this many seconds with no job (default: run until stopped).
    #[arg(long)]
    pub idle_exit: Option<f64>,
    /// Seconds without a frame after which a job's analysis is failed as stuck.
    #[arg(long, default_value_t = 60.0)]
    pub stall_timeout: f64,
    /// Where inference runs on this worker.
    #[arg(long, value_enum, default_value = "auto")]
    pub device: Device,
    #[command(flatten)]
    pub conn: Connection,
}

/// What a job asks for, as it travels on the queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub id: String,
    pub uri: String,
    pub camera: Option<String>,
    pub settings: Settings,
}

/// The analysis settings of a job, with the models' hashes: a worker whose model differs
/// refuses the job rather than store results of another model under its key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    pub det_model: String,
    pub det_sha256: String,
    pub pose_model: Option<String>,
    pub pose_sha256: Option<String>,
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Settings {
    pub fn of(a: &Analysis) -> Result<Settings, String> {
        let det = chain::model_path(&a.det_model, "courtvision-det.onnx")?;
        let pose = if a.no_pose {
            None
        } else {
            Some(chain::model_path(&a.pose_model, "courtvision-pose.onnx")?)
        };
        Ok(Settings {
            det_sha256: sha256_file(&det)?,
            det_model: file_name(&det),
            pose_sha256: pose.as_deref().map(sha256_file).transpose()?,
            pose_model: pose.as_deref().map(file_name),
        })
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The job for a video: its id is the cache key of the video's content, the models and the
/// settings. A file's hash is kept in the database by path, size and modification time, so
/// that submitting it again reads no byte of it.
pub async fn job_for(
    db: &Store,
    input: &str,
    camera: Option<String>,
    settings: Settings,
) -> Result<Job, String> {
    let path = Path::new(input);
    let (uri, content) = if path.is_file() {
        let abs = path.canonicalize().map_err(|e| format!("{input}: {e}"))?;
        let meta = std::fs::metadata(&abs).map_err(|e| format!("{input}: {e}"))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        let (key, size) = (abs.display().to_string(), meta.len() as i64);
        let sha = match db.video_hash(&key, size, mtime).await? {
            Some(h) => h,
            None => {
                let p = abs.clone();
                let h = tokio::task::spawn_blocking(move || sha256_file(&p))
                    .await
                    .map_err(|e| e.to_string())??;
                db.save_video_hash(&key, size, mtime, &h).await?;
                h
            }
        };
        (chain::file_uri(&abs)?, sha)
    } else if input.contains("://") {
        // Not a file here: the URI stands for its content.
        (input.to_string(), hex(&Sha256::digest(input.as_bytes())))
    } else {
        return Err(format!("{input}: no such file"));
    };
    let mut h = Sha256::new();
    h.update(content.as_bytes());
    h.update(serde_json::to_vec(&settings).unwrap());
    Ok(Job {
        id: hex(&h.finalize())[..32].to_string(),
        uri,
        camera,
        settings,
    })
}

async fn jetstream(url: &str) -> Result<jetstream::Context, String> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| format!("NATS at {url}: {e}"))?;
    Ok(jetstream::new(client))
}

/// The job stream and the dead-letter stream, created where missing.
pub async fn streams(js: &jetstream::Context) -> Result<stream::Stream, String> {
    js.get_or_create_stream(stream::Config {
        name: DEAD_STREAM.into(),
        subjects: vec![DEAD_SUBJECT.into()],
        ..Default::default()
    })
    .await
    .map_err(|e| format!("stream {DEAD_STREAM}: {e}"))?;
    js.get_or_create_stream(stream::Config {
        name: STREAM.into(),
        subjects: vec![SUBJECT.into()],
        retention: stream::RetentionPolicy::WorkQueue,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("stream {STREAM}: {e}"))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

pub fn submit(args: SubmitArgs) -> Result<bool, String> {
    runtime()?.block_on(submit_async(args))
}

async fn submit_async(args: SubmitArgs) -> Result<bool, String> {
    let settings = Settings::of(&args.analysis)?;
    let db = Store::open(&args.conn.db).await?;
    let mut js = None;
    let mut ids = vec![];
    for input in &args.inputs {
        let job = job_for(&db, input, args.camera.clone(), settings.clone()).await?;
        ids.push(job.id.clone());
        if let Some(m) = db.cached(&job.id).await? {
            // Stored already: recorded as done from the stored match, nothing queued.
            let row = job_row(&job);
            db.submit(&row).await?;
            db.finish_cached(&job.id, m).await?;
            println!("{input}: cached, job {} match {m}", job.id);
            continue;
        }
        if let Some(j) = db.job(&job.id).await? {
            if j.state == store::WAITING || j.state == store::RUNNING {
                println!("{input}: already queued, job {} ({})", job.id, j.state);
                continue;
            }
        }
        let js = match &js {
            Some(js) => js,
            None => {
                let c = jetstream(&args.conn.nats).await?;
                streams(&c).await?;
                js.insert(c)
            }
        };
        let row = job_row(&job);
        db.submit(&row).await?;
        let payload = serde_json::to_vec(&job).unwrap();
        js.send_publish(
            SUBJECT,
            jetstream::context::Publish::build()
                .payload(payload.into())
                // A repeat of this submission is dropped by JetStream; a job submitted again
                // after it failed is a new message.
                .message_id(format!("{}.{}", job.id, (row.submitted_at * 1e3) as u64)),
        )
        .await
        .map_err(|e| format!("publishing job {}: {e}", job.id))?
        .await
        .map_err(|e| format!("job {} not stored by JetStream: {e}", job.id))?;
        println!("{input}: queued, job {}", job.id);
    }
    if !args.wait {
        return Ok(true);
    }
    let end = Instant::now() + Duration::from_secs_f64(args.timeout);
    loop {
        let mut all = true;
        let mut ok = true;
        for id in &ids {
            match db.job(id).await?.map(|j| j.state) {
                Some(s) if s == store::DONE => {}
                Some(s) if s == store::FAILED => ok = false,
                _ => all = false,
            }
        }
        if all {
            for id in &ids {
                let j = db.job(id).await?.unwrap();
                println!(
                    "job {id}: {}{}",
                    j.state,
                    j.match_id
                        .map(|m| format!(", match {m}"))
                        .or(j.error.map(|e| format!(": {e}")))
                        .unwrap_or_default()
                );
            }
            return Ok(ok);
        }
        if Instant::now() > end {
            return Err("timed out waiting for the jobs".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn job_row(job: &Job) -> JobRow {
    JobRow {
        id: job.id.clone(),
        cache_key: job.id.clone(),
        uri: job.uri.clone(),
        camera: job.camera.clone(),
        settings: serde_json::to_string(&job.settings).unwrap(),
        state: store::WAITING.into(),
        worker: None,
        attempts: 0,
        error: None,
        submitted_at: store::now(),
        started_at: None,
        finished_at: None,
        match_id: None,
    }
}

pub fn worker(args: WorkerArgs) -> Result<bool, String> {
    runtime()?.block_on(worker_async(args))
}

/// How a try of a job ended.
enum Outcome {
    Stored(store::Stored),
    /// Failed; `retry` false where another try cannot help (a model that differs).
    Failed {
        error: String,
        retry: bool,
    },
}

async fn worker_async(args: WorkerArgs) -> Result<bool, String> {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{host}-{}", std::process::id()));
    let db = Arc::new(Store::open(&args.conn.db).await?);
    let js = jetstream(&args.conn.nats).await?;
    let jobs = streams(&js).await?;
    let ack_wait = Duration::from_secs_f64(args.ack_wait.max(1.0));
    let consumer: jetstream::consumer::PullConsumer = jobs
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {CONSUMER}: {e}"))?;
    let me = Arc::new(tokio::sync::Mutex::new(WorkerRow {
        id: name.clone(),
        host,
        pid: std::process::id() as i64,
        started_at: store::now(),
        last_seen: store::now(),
        job_id: None,
        done: 0,
        failed: 0,
    }));
    // The heartbeat the dashboard shows workers by.
    {
        let (db, me) = (db.clone(), me.clone());
        tokio::spawn(async move {
            loop {
                let row = {
                    let mut w = me.lock().await;
                    w.last_seen = store::now();
                    w.clone()
                };
                if let Err(e) = db.heartbeat(&row).await {
                    tracing::warn!("heartbeat: {e}");
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
    }
    tracing::info!(worker = %name, "waiting for jobs on {}", args.conn.nats);
    let interrupted = crate::interrupted();
    let mut idle_since = Instant::now();
    while !interrupted.load(std::sync::atomic::Ordering::Relaxed) {
        if args
            .idle_exit
            .is_some_and(|s| idle_since.elapsed().as_secs_f64() > s)
        {
            break;
        }
        let mut batch = match consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(1))
            .messages()
            .await
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("fetching a job: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(msg) = batch.next().await else {
            continue;
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("fetching a job: {e}");
                continue;
            }
        };
        let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
        let job: Job = match serde_json::from_slice(&msg.payload) {
            Ok(j) => j,
            Err(e) => {
                let text = format!("not a job: {e}");
                dead_letter(&js, &msg, None, &text).await;
                continue;
            }
        };
        me.lock().await.job_id = Some(job.id.clone());
        let ok = process(&args, &name, &db, &js, &msg, &job, delivered, ack_wait).await;
        let mut w = me.lock().await;
        w.job_id = None;
        match ok {
            Some(true) => w.done += 1,
            Some(false) => w.failed += 1,
            None => {}
        }
        drop(w);
        idle_since = Instant::now();
    }
    let row = me.lock().await.clone();
    let _ = db.heartbeat(&row).await;
    Ok(true)
}

/// Handles one delivery of a job; Some(true) done, Some(false) failed, None nothing to do.
#[allow(clippy::too_many_arguments)]
async fn process(
    args: &WorkerArgs,
    name: &str,
    db: &Arc<Store>,
    js: &jetstream::Context,
    msg: &jetstream::Message,
    job: &Job,
    delivered: i64,
    ack_wait: Duration,
) -> Option<bool> {
    let row = job_row(job);
    // Idempotent: a job whose results are stored (an earlier delivery finished it, or the
    // same video and settings under this key) is acknowledged without work.
    match db.cached(&job.id).await {
        Ok(Some(m)) => {
            let _ = db.submit(&row).await;
            let _ = db.finish_cached(&job.id, m).await;
            let _ = msg.double_ack().await;
            tracing::info!(job = %job.id, "already stored as match {m}");
            return None;
        }
        Ok(None) => {}
        Err(e) => {
            // The database is away: leave the job for later.
            tracing::warn!(job = %job.id, "database: {e}");
            let _ = msg
                .ack_with(jetstream::AckKind::Nak(Some(Duration::from_secs(2))))
                .await;
            return None;
        }
    }
    if delivered > args.max_tries {
        let text = format!("given up after {} tries", delivered - 1);
        dead_letter(js, msg, Some(job), &text).await;
        let _ = db.fail_job(&job.id, &text, true).await;
        return Some(false);
    }
    let _ = db.submit(&row).await;
    if let Err(e) = db.start_job(&job.id, name, delivered).await {
        tracing::warn!(job = %job.id, "database: {e}");
    }
    tracing::info!(job = %job.id, try = delivered, "analysing {}", job.uri);
    let cached_court = match &job.camera {
        Some(c) => db.camera_court(c).await.ok().flatten(),
        None => None,
    };
    // Tell JetStream the job is in hand every third of the ack wait.
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let progress = async {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(ack_wait / 3) => {
                    if let Err(e) = msg.ack_with(jetstream::AckKind::Progress).await {
                        tracing::warn!("extending the ack: {e}");
                    }
                }
                _ = &mut stopped => return,
            }
        }
    };
    let work = async {
        let (job2, device) = (job.clone(), args.device);
        let stall = Duration::from_secs_f64(args.stall_timeout.max(0.1));
        let homography = cached_court.as_ref().map(|c| c.homography.clone());
        let analysed =
            tokio::task::spawn_blocking(move || analyse(&job2, device, stall, homography))
                .await
                .unwrap_or_else(|e| Err((format!("analysis panicked: {e}"), true)));
        let outcome = match analysed {
            Ok(results) => {
                let best = results
                    .courts
                    .iter()
                    .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
                    .cloned();
                match db.store_results(&row, results).await {
                    Ok(s) => {
                        if let (Some(camera), Some(c)) = (&job.camera, best) {
                            let keep = store::CameraCourt {
                                camera: camera.clone(),
                                sport: c.sport,
                                homography: c.homography,
                                model: c.camera,
                                confidence: c.confidence,
                                match_id: s.match_id(),
                            };
                            if let Err(e) = db.save_camera_court(&keep).await {
                                tracing::warn!("keeping the court of {camera}: {e}");
                            }
                        }
                        Outcome::Stored(s)
                    }
                    Err(e) => Outcome::Failed {
                        error: format!("storing the results: {e}"),
                        retry: true,
                    },
                }
            }
            Err((error, retry)) => Outcome::Failed { error, retry },
        };
        let _ = stop.send(());
        outcome
    };
    let (outcome, ()) = tokio::join!(work, progress);
    match outcome {
        Outcome::Stored(s) => {
            if let Err(e) = msg.double_ack().await {
                // Stored: a redelivery finds the results and acknowledges then.
                tracing::warn!(job = %job.id, "acknowledging: {e}");
            }
            tracing::info!(job = %job.id, "stored as match {}", s.match_id());
            Some(true)
        }
        Outcome::Failed { error, retry } => {
            tracing::error!(job = %job.id, try = delivered, "{error}");
            if !retry || delivered >= args.max_tries {
                dead_letter(js, msg, Some(job), &error).await;
                let _ = db.fail_job(&job.id, &error, true).await;
            } else {
                let _ = db.fail_job(&job.id, &error, false).await;
                let backoff = Duration::from_secs(delivered as u64);
                let _ = msg.ack_with(jetstream::AckKind::Nak(Some(backoff))).await;
            }
            Some(false)
        }
    }
}

/// Publishes the job with its error to the dead-letter subject and ends its deliveries.
async fn dead_letter(
    js: &jetstream::Context,
    msg: &jetstream::Message,
    job: Option<&Job>,
    error: &str,
) {
    let body = serde_json::json!({
        "job": job,
        "payload": String::from_utf8_lossy(&msg.payload),
        "error": error,
        "at": store::now(),
    });
    let published = js
        .send_publish(
            DEAD_SUBJECT,
            jetstream::context::Publish::build()
                .payload(serde_json::to_vec(&body).unwrap().into())
                .header("Courtvision-Error", error.replace(['\r', '\n'], " ")),
        )
        .await;
    match published {
        Ok(ack) => {
            if let Err(e) = ack.await {
                tracing::error!("dead letter not stored: {e}");
                return;
            }
        }
        Err(e) => {
            tracing::error!("dead letter not sent: {e}");
            return;
        }
    }
    let _ = msg.ack_with(jetstream::AckKind::Term).await;
    tracing::warn!("job moved to {DEAD_SUBJECT}: {error}");
}

/// Runs the analysis of one job to JSON Lines and reads them back as rows. The error says
/// whether another try could help.
fn analyse(
    job: &Job,
    device: Device,
    stall: Duration,
    homography: Option<String>,
) -> Result<MatchResults, (String, bool)> {
    let models = chain::models_dir();
    let resolve = |name: &str, sha: &str| -> Result<PathBuf, (String, bool)> {
        let p = models.join(name);
        let have = sha256_file(&p).map_err(|e| (e, false))?;
        if have != sha {
            return Err((
                format!(
                    "model {} differs from the one the job was submitted with",
                    p.display()
                ),
                false,
            ));
        }
        Ok(p)
    };
    let det = resolve(&job.settings.det_model, &job.settings.det_sha256)?;
    let pose = match (&job.settings.pose_model, &job.settings.pose_sha256) {
        (Some(m), Some(s)) => Some(resolve(m, s)?),
        _ => None,
    };
    let analysis = Analysis {
        device,
        det_model: Some(det),
        no_pose: pose.is_none(),
        pose_model: pose,
    };
    let dir = tempfile::tempdir().map_err(|e| (e.to_string(), true))?;
    let jsonl = dir.path().join("frames.jsonl");
    let summary = dir.path().join("summary.json");
    let mut chain = analysis.chain(Pace::File).map_err(|e| (e, false))?;
    if let Some(h) = homography {
        chain = chain.replace(
            "courtcalib name=court",
            &format!(
                "courtcalib name=court initial-homography={}",
                chain::gst_quote(h.trim_matches(|c| c == '[' || c == ']'))
            ),
        );
    }
    let desc = format!(
        "{} ! {chain} ! metaexport location={} summary-location={} ! fakesink sync=false",
        chain::source(&job.uri, false).map_err(|e| (e, false))?,
        chain::gst_quote(&jsonl.display().to_string()),
        chain::gst_quote(&summary.display().to_string()),
    );
    Stream::new(&job.id, &job.uri, State::Waiting, vec![])
        .run_file(&desc, stall)
        .map_err(|e| (e, true))?;
    let file = std::fs::File::open(&jsonl).map_err(|e| (e.to_string(), true))?;
    MatchResults::from_jsonl(
        std::io::BufReader::new(file),
        std::fs::read_to_string(&summary).ok(),
    )
    .map_err(|e| (e, true))
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Address to serve the dashboard, /metrics and the API on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub http: std::net::SocketAddr,
    /// Results database: sqlite:PATH or postgres://… / "host=… dbname=…".
    #[arg(long, env = "COURTVISION_DB", default_value = "sqlite:courtvision.db")]
    pub db: String,
}

/// `courtvision dashboard`: the job queue (waiting, running, done, failed), the workers and
/// the stored results, served until stopped.
pub fn dashboard(args: DashboardArgs) -> Result<bool, String> {
    // The runtime lives as long as the command: the pool's connections run on it.
    let rt = runtime()?;
    let store = Arc::new(rt.block_on(Store::open(&args.db))?);
    let registry = Arc::new(crate::stream::Registry::default());
    crate::http::serve(args.http, crate::http::App::with_store(registry, store))?;
    let interrupted = crate::interrupted();
    while !interrupted.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(true)
}
