// SPDX-License-Identifier: MIT OR Apache-2.0
//! `courtvision analyze`: a queue of video files, N at a time in one process (the detectors
//! share their engines by name, so N streams batch together), each writing its annotated MP4
//! and JSON Lines. Outputs are written under a temporary name and renamed when the job ends
//! well, so a complete output is one that exists: a second run skips it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::chain::{self, Analysis, Pace};
use crate::stream::{Registry, State, Stream};

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Video files to analyse.
    #[arg(required = true, value_name = "IN")]
    pub inputs: Vec<PathBuf>,
    /// Folder for the outputs: NAME.mp4 (annotated) and NAME.jsonl (one JSON object per frame).
    #[arg(long, default_value = "courtvision-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Files analysed at a time.
    #[arg(long, short = 'j', default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: u32,
    /// Analyse again where the outputs are already complete.
    #[arg(long)]
    pub force: bool,
    /// Seconds without a frame out after which a job is failed as stuck (a file whose
    /// decoder neither gives frames nor reports an error).
    #[arg(long, default_value_t = 60.0)]
    pub stall_timeout: f64,
    /// Serve the dashboard, /metrics and the API on this address (e.g. 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    #[command(flatten)]
    pub analysis: Analysis,
}

/// One job: its stream and where its outputs go.
struct Job {
    stream: Arc<Stream>,
    input: PathBuf,
    mp4: PathBuf,
    jsonl: PathBuf,
}

fn part(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".part");
    s.into()
}

/// Output names: the input's file stem, made unique where two inputs share one.
fn names(inputs: &[PathBuf]) -> Vec<String> {
    let mut used = std::collections::HashMap::<String, u32>::new();
    inputs
        .iter()
        .map(|p| {
            let stem = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "video".into());
            let n = used.entry(stem.clone()).or_default();
            *n += 1;
            if *n == 1 {
                stem
            } else {
                format!("{stem}-{n}")
            }
        })
        .collect()
}

pub fn run(args: AnalyzeArgs, multi: MultiProgress) -> Result<bool, String> {
    args.analysis.check()?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let registry = Arc::new(Registry::default());
    let mut queue = VecDeque::new();
    for (input, name) in args.inputs.iter().zip(names(&args.inputs)) {
        let mp4 = args.out.join(format!("{name}.mp4"));
        let jsonl = args.out.join(format!("{name}.jsonl"));
        let complete = mp4.is_file() && jsonl.is_file() && !args.force;
        let outputs = vec![mp4.display().to_string(), jsonl.display().to_string()];
        let uri = chain::file_uri(input).unwrap_or_else(|_| input.display().to_string());
        let state = if complete {
            State::Skipped
        } else {
            State::Waiting
        };
        let stream = Stream::new(&name, &uri, state, outputs);
        registry.add(stream.clone());
        if !complete {
            queue.push_back(Job {
                stream,
                input: input.clone(),
                mp4,
                jsonl,
            });
        }
    }
    if let Some(addr) = args.http {
        crate::http::serve(addr, crate::http::App::new(registry.clone(), None))?;
    }
    let total = queue.len();
    let queue = Arc::new(Mutex::new(queue));
    let bar = multi.add(ProgressBar::new(args.inputs.len() as u64));
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} files {msg}")
            .unwrap()
            .progress_chars("=> "),
    );
    bar.set_prefix("queue");
    bar.set_position((args.inputs.len() - total) as u64);
    let workers: Vec<_> = (0..args.jobs.min(total.max(1) as u32))
        .map(|_| {
            let queue = queue.clone();
            let analysis = args.analysis.clone();
            let stall = Duration::from_secs_f64(args.stall_timeout.max(0.1));
            std::thread::spawn(move || loop {
                let Some(job) = queue.lock().unwrap().pop_front() else {
                    return;
                };
                run_job(&job, &analysis, stall);
            })
        })
        .collect();
    // The display: a bar per running job, from the streams' figures.
    let mut bars: Vec<(Arc<Stream>, ProgressBar)> = Vec::new();
    let style =
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {percent:>3}% {msg} ETA {eta}")
            .unwrap()
            .progress_chars("=> ");
    let interrupted = crate::interrupted();
    loop {
        if interrupted.load(std::sync::atomic::Ordering::Relaxed) {
            // Ctrl-C: the waiting jobs are not started, the running ones stop (their partial
            // outputs are removed) and the table says so.
            for job in queue.lock().unwrap().drain(..) {
                job.stream.set_error(Some("interrupted".into()));
                job.stream.set_state(State::Stopped);
            }
            for s in registry.all() {
                s.request_stop();
            }
        }
        let all = registry.all();
        for s in &all {
            let st = s.status();
            let shown = bars.iter().position(|(b, _)| Arc::ptr_eq(b, s));
            match (st.state, shown) {
                (State::Connecting | State::Live, None) => {
                    let pb = multi.insert_before(&bar, ProgressBar::new(1000));
                    pb.set_style(style.clone());
                    pb.set_prefix(truncate(&s.name, 12));
                    bars.push((s.clone(), pb));
                }
                (state, Some(i)) if state.finished() => {
                    let (_, pb) = bars.remove(i);
                    pb.finish_and_clear();
                    bar.inc(1);
                    let line = match &st.error {
                        Some(e) => format!("{}: failed: {e}", s.name),
                        None => format!(
                            "{}: {} frames in {:.1} s",
                            s.name, st.figures.frames, st.elapsed_s
                        ),
                    };
                    multi.println(line).ok();
                }
                (_, Some(i)) => {
                    let f = &st.figures;
                    let pb = &bars[i].1;
                    if f.duration_s > 0.0 {
                        pb.set_position((1000.0 * f.position_s / f.duration_s).min(1000.0) as u64);
                    }
                    pb.set_message(format!("{} frames {:5.1} fps", f.frames, f.fps));
                }
                _ => {}
            }
        }
        let finished = all.iter().filter(|s| s.state().finished()).count();
        if finished == all.len() && bars.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for w in workers {
        w.join().map_err(|_| "a job thread panicked")?;
    }
    bar.finish_and_clear();
    let statuses = registry.statuses();
    print!("{}", crate::summary::table(&statuses));
    Ok(statuses
        .iter()
        .all(|s| !matches!(s.state, State::Failed | State::Stopped)))
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}

fn run_job(job: &Job, analysis: &Analysis, stall: Duration) {
    let s = &job.stream;
    let (mp4, jsonl) = (part(&job.mp4), part(&job.jsonl));
    let desc = chain::file_uri(&job.input).and_then(|uri| {
        Ok(format!(
            "{} ! {} ! metaexport location={} ! {}",
            chain::source(&uri, false)?,
            analysis.chain(Pace::File)?,
            chain::gst_quote(&jsonl.display().to_string()),
            chain::mp4_output(&mp4)
        ))
    });
    let started = Instant::now();
    let error = desc
        .and_then(|desc| s.run_file(&desc, stall))
        .and_then(|()| {
            std::fs::rename(&mp4, &job.mp4)
                .and_then(|_| std::fs::rename(&jsonl, &job.jsonl))
                .map_err(|e| format!("cannot write the outputs: {e}"))
        })
        .err();
    tracing::debug!(job = %s.name, secs = started.elapsed().as_secs_f64(), "ended");
    match error {
        None => s.set_state(State::Done),
        Some(e) => {
            tracing::error!(job = %s.name, "{e}");
            let _ = std::fs::remove_file(&mp4);
            let _ = std::fs::remove_file(&jsonl);
            let stopped = s.stopping();
            s.set_error(Some(e));
            s.set_state(if stopped {
                State::Stopped
            } else {
                State::Failed
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_are_unique() {
        let n = names(&["a/match.mp4".into(), "b/match.mkv".into(), "c.mp4".into()]);
        assert_eq!(n, ["match", "match-2", "c"]);
    }
}
