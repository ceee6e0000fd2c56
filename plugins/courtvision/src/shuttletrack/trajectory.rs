// SPDX-License-Identifier: MIT OR Apache-2.0
//! The shuttle (or ball) as a trajectory: one flight at a time, its path in the image fitted
//! with a quadratic in time over its latest points (a flight's projection is smooth between
//! hits; the curve follows gravity and drag over a few frames), which predicts where the next
//! detection must be.
//!
//! - Gating: a detection belongs to the flight when it lies within the gate around the
//!   predicted position (a base radius, growing with the speed and with frames missed);
//!   detections elsewhere are false ones and are rejected while the flight holds.
//! - Gaps: frames without a detection in the gate take the predicted position (marked filled)
//!   for up to `max_gap` frames, while it is inside the frame; then the flight ends.
//! - Hits: a hit turns the shuttle away from the prediction. When nothing is in the gate but a
//!   detection (half the start score) lies within a step of the last seen position, a new
//!   flight starts there (its first point the last seen one), with a new identity.
//! - A flight starts from a confident detection and counts (is reported) once a second one
//!   follows within a step: a lone false detection never becomes a flight.

use std::collections::VecDeque;

/// How trajectories are followed; distances are fractions of the frame's diagonal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Detections below this score are not considered.
    pub min_score: f32,
    /// A flight starts (or restarts after a hit) from a detection at or above this score.
    pub start_score: f32,
    /// Base radius of the gate around the predicted position.
    pub gate: f32,
    /// The farthest the shuttle moves in one frame.
    pub max_step: f32,
    /// Frames filled by prediction before a flight without detections ends.
    pub max_gap: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_score: 0.1,
            start_score: 0.3,
            gate: 0.012,
            max_step: 0.08,
            max_gap: 6,
        }
    }
}

/// A detection of the ball in a frame: centre and size (pixels) and score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    pub score: f32,
}

/// What the trajectory says of a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Candidate `index` is the shuttle, of flight `flight`.
    Observed {
        index: usize,
        flight: u64,
        velocity: [f32; 2],
    },
    /// Not seen: the flight's predicted position and size.
    Filled {
        flight: u64,
        candidate: Candidate,
        velocity: [f32; 2],
    },
    /// No flight.
    None,
}

#[derive(Debug, Clone)]
struct Flight {
    id: u64,
    /// (frame, x, y) of the latest observations.
    points: VecDeque<(i64, f32, f32)>,
    size: (f32, f32),
    misses: u32,
    counted: bool,
    /// Recent detections' scores, decaying, weighed up for a moving one (a false detection is
    /// mostly a still spot: a line crossing, a shoe).
    evidence: f32,
}

/// Points a fit uses.
const FIT_POINTS: usize = 7;

impl Flight {
    /// Position and velocity (pixels a frame) at `frame`.
    fn predict(&self, frame: i64) -> ([f32; 2], [f32; 2]) {
        let n = self.points.len();
        let &(f0, x0, y0) = self.points.back().expect("a flight has a point");
        if n == 1 {
            return ([x0, y0], [0.0, 0.0]);
        }
        if n == 2 {
            let (f1, x1, y1) = self.points[0];
            let dt = (f0 - f1).max(1) as f32;
            let v = [(x0 - x1) / dt, (y0 - y1) / dt];
            let t = (frame - f0) as f32;
            return ([x0 + v[0] * t, y0 + v[1] * t], v);
        }
        // Least squares of x(t) and y(t) = a + b t + c t², t in frames from `frame`.
        let pts: Vec<(f32, f32, f32)> = self
            .points
            .iter()
            .map(|&(f, x, y)| ((f - frame) as f32, x, y))
            .collect();
        let fit = |value: &dyn Fn(&(f32, f32, f32)) -> f32| -> (f32, f32) {
            let mut m = [[0f64; 3]; 3];
            let mut r = [0f64; 3];
            for p in &pts {
                let t = p.0 as f64;
                let basis = [1.0, t, t * t];
                for i in 0..3 {
                    for j in 0..3 {
                        m[i][j] += basis[i] * basis[j];
                    }
                    r[i] += basis[i] * value(p) as f64;
                }
            }
            match solve3(m, r) {
                Some([a, b, _]) => (a as f32, b as f32),
                None => (value(pts.last().unwrap()), 0.0),
            }
        };
        let (x, vx) = fit(&|p| p.1);
        let (y, vy) = fit(&|p| p.2);
        ([x, y], [vx, vy])
    }
}

/// Solves the 3x3 system `m a = r` (Gaussian elimination with pivoting).
fn solve3(mut m: [[f64; 3]; 3], mut r: [f64; 3]) -> Option<[f64; 3]> {
    for c in 0..3 {
        let p = (c..3).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs()))?;
        if m[p][c].abs() < 1e-9 {
            return None;
        }
        m.swap(c, p);
        r.swap(c, p);
        for row in c + 1..3 {
            let f = m[row][c] / m[c][c];
            let pivot = m[c];
            for (v, p) in m[row].iter_mut().zip(pivot).skip(c) {
                *v -= f * p;
            }
            r[row] -= f * r[c];
        }
    }
    let mut a = [0f64; 3];
    for c in (0..3).rev() {
        let s: f64 = (c + 1..3).map(|k| m[c][k] * a[k]).sum();
        a[c] = (r[c] - s) / m[c][c];
    }
    Some(a)
}

/// Flights followed at once: the shuttle's and a few that false detections make.
const MAX_FLIGHTS: usize = 4;

/// The trajectory follower of one stream.
#[derive(Debug, Clone)]
pub struct Trajectory {
    params: Params,
    size: (f32, f32),
    diagonal: f32,
    flights: Vec<Flight>,
    /// The flight reported as the shuttle's.
    primary: Option<u64>,
    next_id: u64,
}

/// What happened to one flight in a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Observed(usize),
    Missed([f32; 2]),
}

impl Trajectory {
    /// For frames of `width` x `height` pixels.
    pub fn new(params: Params, width: f32, height: f32) -> Trajectory {
        Trajectory {
            params,
            size: (width, height),
            diagonal: width.hypot(height),
            flights: Vec::new(),
            primary: None,
            next_id: 1,
        }
    }

    pub fn reset(&mut self) {
        *self = Trajectory::new(self.params, self.size.0, self.size.1);
    }

    /// The frame size it was made for.
    pub fn params(&self) -> Params {
        self.params
    }

    pub fn size(&self) -> (f32, f32) {
        self.size
    }

    /// The shuttle's velocity (pixels a frame), where a flight counts as the shuttle's.
    pub fn velocity(&self, frame: i64) -> Option<[f32; 2]> {
        let id = self.primary?;
        self.flights
            .iter()
            .find(|f| f.id == id)
            .map(|f| f.predict(frame).1)
    }

    fn new_flight(&mut self, frame: i64, c: &Candidate, from: Option<(i64, f32, f32)>) -> Flight {
        let id = self.next_id;
        self.next_id += 1;
        let mut points = VecDeque::new();
        points.extend(from);
        points.push_back((frame, c.x, c.y));
        Flight {
            id,
            counted: points.len() > 1,
            points,
            size: (c.w, c.h),
            misses: 0,
            evidence: c.score,
        }
    }

    /// The frame `frame`'s outcome from its candidates.
    pub fn step(&mut self, frame: i64, cands: &[Candidate]) -> Outcome {
        let p = self.params;
        let gate = p.gate * self.diagonal;
        let reach = p.max_step * self.diagonal;
        let mut used = vec![false; cands.len()];
        let best_within = |used: &[bool], centre: [f32; 2], radius: f32, min: f32| {
            cands
                .iter()
                .enumerate()
                .filter(|&(i, c)| !used[i] && c.score >= p.min_score && c.score >= min)
                .map(|(i, c)| (i, (c.x - centre[0]).hypot(c.y - centre[1])))
                .filter(|&(_, d)| d <= radius)
                .max_by(|a, b| {
                    let s = |(i, d): (usize, f32)| cands[i].score * (1.0 - 0.5 * d / radius);
                    s(*a).total_cmp(&s(*b))
                })
                .map(|(i, _)| i)
        };
        // The shuttle's flight first, then the others by their evidence.
        let primary = self.primary;
        self.flights.sort_by(|a, b| {
            (Some(b.id) == primary)
                .cmp(&(Some(a.id) == primary))
                .then(b.evidence.total_cmp(&a.evidence))
        });
        let mut steps: Vec<(u64, Step)> = Vec::new();
        let mut flights = std::mem::take(&mut self.flights);
        for flight in flights.iter_mut() {
            let (predicted, v) = flight.predict(frame);
            let speed = v[0].hypot(v[1]);
            let &(last_frame, lx, ly) = flight.points.back().expect("a flight has a point");
            let since = (frame - last_frame).max(1) as f32;
            // A lone first point: the next must be within a step of it.
            let radius = if flight.points.len() == 1 {
                reach * since
            } else {
                (gate + 0.25 * speed * since).min(reach)
            };
            if let Some(i) = best_within(&used, predicted, radius, 0.0) {
                used[i] = true;
                let c = cands[i];
                flight.points.push_back((frame, c.x, c.y));
                if flight.points.len() > FIT_POINTS {
                    flight.points.pop_front();
                }
                flight.size = (c.w, c.h);
                flight.misses = 0;
                flight.counted = true;
                let [vx, vy] = flight.predict(frame).1;
                let moving = (vx.hypot(vy) / (0.002 * self.diagonal)).min(1.0);
                flight.evidence = 0.8 * flight.evidence + c.score * (0.5 + 1.5 * moving);
                steps.push((flight.id, Step::Observed(i)));
                continue;
            }
            // A hit: the shuttle turned away; a confident detection within reach of where it
            // was starts its next flight.
            if flight.counted {
                let restart = 0.5 * p.start_score;
                if let Some(i) = best_within(&used, [lx, ly], reach * since, restart) {
                    used[i] = true;
                    let was = flight.id;
                    let mut next = self.new_flight(frame, &cands[i], Some((last_frame, lx, ly)));
                    next.evidence = flight.evidence;
                    *flight = next;
                    if primary == Some(was) {
                        self.primary = Some(flight.id);
                    }
                    steps.push((flight.id, Step::Observed(i)));
                    continue;
                }
            }
            flight.misses += 1;
            flight.evidence *= 0.8;
            steps.push((flight.id, Step::Missed(predicted)));
        }
        // A flight goes after `max_gap` misses, or once its prediction leaves the frame.
        let (w, h) = self.size;
        let inside = |q: [f32; 2]| q[0] >= 0.0 && q[1] >= 0.0 && q[0] < w && q[1] < h;
        flights.retain(|f| {
            f.misses == 0
                || (f.counted
                    && f.misses <= p.max_gap
                    && steps
                        .iter()
                        .any(|(id, s)| *id == f.id && matches!(s, Step::Missed(q) if inside(*q))))
        });
        // Confident detections nobody took start flights (the best first).
        let mut fresh: Vec<usize> = (0..cands.len())
            .filter(|&i| !used[i] && cands[i].score >= p.start_score)
            .collect();
        fresh.sort_by(|&a, &b| cands[b].score.total_cmp(&cands[a].score));
        for i in fresh {
            if flights.len() >= MAX_FLIGHTS {
                break;
            }
            let f = self.new_flight(frame, &cands[i], None);
            flights.push(f);
        }
        self.flights = flights;
        // The shuttle's flight: the current one, unless another has far more evidence.
        let counted = |f: &&Flight| f.counted;
        let best = self
            .flights
            .iter()
            .filter(counted)
            .max_by(|a, b| a.evidence.total_cmp(&b.evidence));
        let current = self
            .flights
            .iter()
            .filter(counted)
            .find(|f| Some(f.id) == self.primary);
        self.primary = match (current, best) {
            (Some(c), Some(b)) if b.evidence > 1.2 * c.evidence => Some(b.id),
            (Some(c), _) => Some(c.id),
            (None, b) => b.map(|b| b.id),
        };
        let Some(id) = self.primary else {
            return Outcome::None;
        };
        let flight = self
            .flights
            .iter()
            .find(|f| f.id == id)
            .expect("kept above");
        let velocity = flight.predict(frame).1;
        match steps.iter().find(|(f, _)| *f == id).map(|s| s.1) {
            Some(Step::Observed(index)) => Outcome::Observed {
                index,
                flight: id,
                velocity,
            },
            Some(Step::Missed(predicted)) => Outcome::Filled {
                flight: id,
                candidate: Candidate {
                    x: predicted[0],
                    y: predicted[1],
                    w: flight.size.0,
                    h: flight.size.1,
                    score: 0.0,
                },
                velocity,
            },
            // Became the shuttle's flight this frame without a step (cannot happen: every
            // counted flight stepped).
            None => Outcome::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(x: f32, y: f32, score: f32) -> Candidate {
        Candidate {
            x,
            y,
            w: 10.0,
            h: 10.0,
            score,
        }
    }

    /// A parabola across the frame, 0 to 60.
    fn path(f: i64) -> (f32, f32) {
        let t = f as f32;
        (100.0 + 12.0 * t, 500.0 - 14.0 * t + 0.25 * t * t)
    }

    #[test]
    fn a_flight_is_followed_and_false_detections_are_rejected() {
        let mut tr = Trajectory::new(Params::default(), 1280.0, 720.0);
        let mut flights = std::collections::BTreeSet::new();
        let mut noise = 12345u32;
        for f in 0..40 {
            let (x, y) = path(f);
            // A still false detection, more confident than the shuttle, and one that flickers
            // somewhere new every few frames.
            noise = noise.wrapping_mul(1103515245).wrapping_add(12345);
            let flicker = c(
                (noise >> 16) as f32 % 1200.0,
                (noise >> 8) as f32 % 700.0,
                0.7,
            );
            let mut cands = vec![c(900.0, 100.0, 0.9), c(x + 1.0, y - 1.0, 0.6)];
            if f % 3 == 0 {
                cands.push(flicker);
            }
            match tr.step(f, &cands) {
                Outcome::Observed {
                    index,
                    flight,
                    velocity,
                } if f >= 8 => {
                    assert_eq!(index, 1, "frame {f}");
                    flights.insert(flight);
                    assert!((velocity[0] - 12.0).abs() < 1.0, "{velocity:?}");
                }
                Outcome::Observed { .. } => {}
                other => assert!(f < 2, "frame {f}: {other:?}"),
            }
        }
        assert_eq!(flights.len(), 1, "one flight");
    }

    #[test]
    fn gaps_are_filled_on_the_curve_and_marked() {
        let mut tr = Trajectory::new(Params::default(), 1280.0, 720.0);
        for f in 0..30 {
            let (x, y) = path(f);
            let cands = if (15..20).contains(&f) {
                vec![]
            } else {
                vec![c(x, y, 0.7)]
            };
            let out = tr.step(f, &cands);
            if (15..20).contains(&f) {
                let Outcome::Filled { candidate, .. } = out else {
                    panic!("frame {f}: {out:?}")
                };
                let d = (candidate.x - x).hypot(candidate.y - y);
                assert!(d < 3.0, "frame {f}: filled {d:.1} px off");
            } else if f > 1 {
                assert!(
                    matches!(out, Outcome::Observed { .. }),
                    "frame {f}: {out:?}"
                );
            }
        }
    }

    #[test]
    fn a_hit_starts_a_new_flight_and_a_lone_false_detection_starts_none() {
        let mut tr = Trajectory::new(Params::default(), 1280.0, 720.0);
        let mut ids = Vec::new();
        for f in 0..40 {
            // Struck back at frame 20: the same speed the other way.
            let (x, y) = if f < 20 { path(f) } else { path(40 - f) };
            if let Outcome::Observed { flight, .. } = tr.step(f, &[c(x, y, 0.8)]) {
                ids.push((f, flight));
            }
        }
        let before = ids.iter().find(|(f, _)| *f == 19).unwrap().1;
        let after = ids.iter().find(|(f, _)| *f == 25).unwrap().1;
        assert_ne!(before, after, "a new flight after the hit");
        assert!(
            ids.iter().filter(|(f, _)| *f >= 20).count() >= 19,
            "{ids:?}"
        );

        let mut tr = Trajectory::new(Params::default(), 1280.0, 720.0);
        assert_eq!(tr.step(0, &[c(300.0, 300.0, 0.9)]), Outcome::None);
        assert_eq!(tr.step(1, &[]), Outcome::None);
        assert_eq!(tr.step(2, &[]), Outcome::None);
        assert!(tr.velocity(2).is_none());
    }
}
