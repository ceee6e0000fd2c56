// SPDX-License-Identifier: MIT OR Apache-2.0
//! `--http ADDR`: the dashboard page (its charting library embedded at build time), /metrics,
//! and the JSON API:
//!
//!     GET    /api/sources          every stream with its state and figures
//!     POST   /api/sources          {"uri": "...", "name": "..."} adds a live source (live only)
//!     DELETE /api/sources/NAME     stops and removes a live source (live only)
//!     GET    /api/jobs             the job queue: counts per state, the jobs and (with a
//!                                  results database) the workers
//!     GET    /api/matches/ID/timeline               a match's rallies with their shots
//!     GET    /api/matches/ID/players                its players: frames, distance, shots
//!     GET    /api/matches/ID/tracks/T/positions?from=F&to=G   a player's court positions
//!     GET    /api/shots/fastest?limit=N             the fastest shots of every match

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State as AxState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use nvml_wrapper::Nvml;
use serde::Deserialize;

use crate::live::Live;
use crate::store::Store;
use crate::stream::{Registry, State};

/// What the server serves.
pub struct App {
    registry: Arc<Registry>,
    /// The live command (sources can be added and removed); None for analyze.
    live: Option<Arc<Live>>,
    /// NVML, loaded once; None where there is no NVIDIA driver.
    nvml: Mutex<Option<Nvml>>,
    /// The results database of the job queue (`courtvision dashboard`).
    store: Option<Arc<Store>>,
}

impl App {
    pub fn new(registry: Arc<Registry>, live: Option<Arc<Live>>) -> Arc<App> {
        let nvml = Nvml::init().ok();
        tracing::debug!(gpu = nvml.is_some(), "NVML");
        Arc::new(App {
            registry,
            live,
            nvml: Mutex::new(nvml),
            store: None,
        })
    }

    /// The dashboard of the job queue: jobs, workers and results from the database.
    pub fn with_store(registry: Arc<Registry>, store: Arc<Store>) -> Arc<App> {
        Arc::new(App {
            registry,
            live: None,
            nvml: Mutex::new(Nvml::init().ok()),
            store: Some(store),
        })
    }
}

/// Binds `addr` (an error now if it cannot) and serves `app` on a thread of its own until the
/// process ends; the address bound (port 0 picks one).
pub fn serve(addr: SocketAddr, app: Arc<App>) -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("--http {addr}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("--http {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                if let Err(e) = axum::serve(listener, router(app)).await {
                    tracing::error!("http server: {e}");
                }
            });
        })
        .map_err(|e| e.to_string())?;
    tracing::info!("dashboard on http://{bound}/ (metrics on /metrics)");
    eprintln!("dashboard: http://{bound}/");
    Ok(bound)
}

const INDEX: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const UPLOT_JS: &str = include_str!(concat!(
    env!("OUT_DIR"),
    "/web/node_modules/uplot/dist/uPlot.iife.min.js"
));
const UPLOT_CSS: &str = include_str!(concat!(
    env!("OUT_DIR"),
    "/web/node_modules/uplot/dist/uPlot.min.css"
));

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript", APP_JS) }),
        )
        .route(
            "/uplot.js",
            get(|| async { asset("text/javascript", UPLOT_JS) }),
        )
        .route("/uplot.css", get(|| async { asset("text/css", UPLOT_CSS) }))
        .route("/metrics", get(metrics))
        .route("/api/sources", get(sources).post(add_source))
        .route("/api/sources/{name}", delete(remove_source))
        .route("/api/jobs", get(jobs))
        .route("/api/matches/{id}/timeline", get(timeline))
        .route("/api/matches/{id}/players", get(players))
        .route("/api/matches/{id}/tracks/{track}/positions", get(positions))
        .route("/api/shots/fastest", get(fastest))
        .with_state(app)
}

async fn metrics(AxState(app): AxState<Arc<App>>) -> Response {
    let statuses = app.registry.statuses();
    let text = {
        let nvml = app.nvml.lock().unwrap();
        crate::metrics::render(&statuses, nvml.as_ref())
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn sources(AxState(app): AxState<Arc<App>>) -> Response {
    Json(app.registry.statuses()).into_response()
}

#[derive(Deserialize)]
struct NewSource {
    uri: String,
    #[serde(default)]
    name: Option<String>,
}

fn error(code: StatusCode, text: impl Into<String>) -> Response {
    (code, Json(serde_json::json!({ "error": text.into() }))).into_response()
}

async fn add_source(AxState(app): AxState<Arc<App>>, Json(body): Json<NewSource>) -> Response {
    let Some(live) = app.live.clone() else {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "sources are added to `courtvision live`",
        );
    };
    let spec = match body.name.filter(|n| !n.is_empty()) {
        Some(n) => format!("{n}={}", body.uri),
        None => body.uri,
    };
    // Starting a source builds nothing on this thread: its pipeline starts on its own.
    match live.add(&spec) {
        Ok(s) => (StatusCode::CREATED, Json(s.status())).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn remove_source(AxState(app): AxState<Arc<App>>, Path(name): Path<String>) -> Response {
    let Some(live) = app.live.clone() else {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "sources are removed from `courtvision live`",
        );
    };
    match live.remove(&name) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, e),
    }
}

async fn jobs(AxState(app): AxState<Arc<App>>) -> Response {
    if let Some(store) = &app.store {
        let queue = async {
            let counts = store.queue().await?;
            let jobs = store.jobs().await?;
            let workers = store.workers().await?;
            Ok::<_, String>((counts, jobs, workers))
        };
        return match queue.await {
            Ok((c, jobs, workers)) => {
                let now = crate::store::now();
                let workers: Vec<_> = workers
                    .into_iter()
                    .map(|w| {
                        // A worker is alive while its heartbeat (every 2 s) is fresh.
                        let alive = now - w.last_seen < 10.0;
                        serde_json::json!({ "alive": alive, "worker": w })
                    })
                    .collect();
                Json(serde_json::json!({
                    "waiting": c.waiting, "running": c.running, "done": c.done, "failed": c.failed,
                    "jobs": jobs, "workers": workers,
                }))
                .into_response()
            }
            Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
        };
    }
    let all = app.registry.statuses();
    let count = |f: &dyn Fn(State) -> bool| all.iter().filter(|s| f(s.state)).count();
    Json(serde_json::json!({
        "waiting": count(&|s| s == State::Waiting),
        "running": count(&|s| matches!(s, State::Connecting | State::Live | State::Retrying)),
        "done": count(&|s| matches!(s, State::Done | State::Skipped)),
        "failed": count(&|s| s == State::Failed),
        "jobs": all,
    }))
    .into_response()
}

fn no_store() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no results database: `courtvision dashboard --db URL` serves them",
    )
}

fn answer<T: serde::Serialize>(r: Result<T, String>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn timeline(AxState(app): AxState<Arc<App>>, Path(id): Path<i64>) -> Response {
    match &app.store {
        Some(s) => answer(s.timeline(id).await),
        None => no_store(),
    }
}

async fn players(AxState(app): AxState<Arc<App>>, Path(id): Path<i64>) -> Response {
    match &app.store {
        Some(s) => answer(s.players(id).await),
        None => no_store(),
    }
}

#[derive(Deserialize)]
struct Window {
    from: Option<i64>,
    to: Option<i64>,
}

async fn positions(
    AxState(app): AxState<Arc<App>>,
    Path((id, track)): Path<(i64, i64)>,
    Query(w): Query<Window>,
) -> Response {
    match &app.store {
        Some(s) => answer(
            s.positions(id, track, (w.from.unwrap_or(0), w.to.unwrap_or(i64::MAX)))
                .await
                .map(|rows| {
                    rows.into_iter()
                        .map(|(frame, x, y)| serde_json::json!({"frame": frame, "x": x, "y": y}))
                        .collect::<Vec<_>>()
                }),
        ),
        None => no_store(),
    }
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<i64>,
}

async fn fastest(AxState(app): AxState<Arc<App>>, Query(l): Query<Limit>) -> Response {
    match &app.store {
        Some(s) => answer(s.fastest_shots(l.limit.unwrap_or(10).clamp(1, 1000)).await),
        None => no_store(),
    }
}
