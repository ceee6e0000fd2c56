// SPDX-License-Identifier: MIT OR Apache-2.0
//! The motion score and the skip decision, apart from GStreamer so they are unit-tested.

use super::Mode;

/// Width of the downscaled luma grid the motion score is computed on.
pub const GRID_W: usize = 64;
/// Samples per grid cell along each axis (a 4x4 subsample is plenty for a cell average).
const SAMPLES: usize = 4;

/// Downscales a luma source (`luma(x, y)`, 0..255) of `w`x`h` into `out` (grid of GRID_W wide).
/// Each cell is the mean of a 4x4 subsample: about 50k reads for any frame size.
pub fn downscale(
    w: usize,
    h: usize,
    luma: impl Fn(usize, usize) -> u8,
    out: &mut Vec<u8>,
) -> (usize, usize) {
    let gw = GRID_W.min(w).max(1);
    let gh = ((GRID_W * h).div_ceil(w.max(1))).min(h).max(1);
    out.clear();
    for gy in 0..gh {
        let (y0, y1) = (gy * h / gh, ((gy + 1) * h / gh).max(gy * h / gh + 1));
        for gx in 0..gw {
            let (x0, x1) = (gx * w / gw, ((gx + 1) * w / gw).max(gx * w / gw + 1));
            let mut sum = 0u32;
            let mut n = 0u32;
            for sy in 0..SAMPLES {
                let y = y0 + (y1 - y0) * (2 * sy + 1) / (2 * SAMPLES);
                for sx in 0..SAMPLES {
                    let x = x0 + (x1 - x0) * (2 * sx + 1) / (2 * SAMPLES);
                    sum += luma(x.min(w - 1), y.min(h - 1)) as u32;
                    n += 1;
                }
            }
            out.push((sum / n) as u8);
        }
    }
    (gw, gh)
}

/// Mean absolute difference of two grids (0..255); 255 when there is no previous grid.
pub fn score(prev: &[u8], cur: &[u8]) -> f32 {
    if prev.len() != cur.len() || cur.is_empty() {
        return 255.0;
    }
    let sum: u64 = prev
        .iter()
        .zip(cur)
        .map(|(a, b)| a.abs_diff(*b) as u64)
        .sum();
    sum as f32 / cur.len() as f32
}

/// Decision parameters (the element's properties).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub mode: Mode,
    pub interval: u32,
    pub min_skip: u32,
    pub max_skip: u32,
    pub low_threshold: f32,
    pub high_threshold: f32,
    pub fast_speed: f64,
    pub many_objects: u32,
    /// Infer every frame while downstream tracks a flight (shuttletrack)...
    pub keep_flights: bool,
    /// ...and for this many frames after the last one (a rally's next flight).
    pub flight_hold: u32,
}

impl Params {
    /// The longest run of skipped frames these parameters allow.
    pub fn max_run(&self) -> u32 {
        match self.mode {
            Mode::Fixed => self.interval.saturating_sub(1),
            Mode::Adaptive => self.max_skip.max(self.min_skip),
        }
    }
}

/// What downstream last reported (feedback event).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Feedback {
    pub objects: u32,
    pub max_speed: f64,
    /// A trajectory (shuttletrack's flight) is in progress.
    pub in_flight: bool,
}

/// The per-stream decision state.
#[derive(Debug, Default)]
pub struct Decider {
    frame: u64,
    skipped_run: u32,
    /// Frames left of the hold after the last flight.
    hold: u32,
    /// A flight tracker is downstream (it answered motionskip's query).
    pub flights_downstream: bool,
}

impl Decider {
    pub fn reset(&mut self) {
        *self = Decider {
            flights_downstream: self.flights_downstream,
            ..Decider::default()
        };
    }

    /// How many frames may be skipped in a row now.
    pub fn allowed_skip(p: &Params, score: f32, feedback: Option<Feedback>) -> u32 {
        let (lo, hi) = (p.min_skip, p.max_skip.max(p.min_skip));
        if feedback.is_some_and(|f| f.max_speed >= p.fast_speed || f.objects >= p.many_objects) {
            return lo;
        }
        if score >= p.high_threshold {
            lo
        } else if score <= p.low_threshold {
            hi
        } else {
            let t =
                (score - p.low_threshold) / (p.high_threshold - p.low_threshold).max(f32::EPSILON);
            (hi as f32 - t * (hi - lo) as f32).round() as u32
        }
    }

    /// `true` when this frame is to be inferred.
    pub fn decide(&mut self, p: &Params, score: f32, feedback: Option<Feedback>) -> bool {
        let first = self.frame == 0;
        self.frame += 1;
        // With a flight tracker downstream, a stream starts as if a flight had just ended:
        // its word on the first frames comes late (models loading, frames queued between).
        if first && p.keep_flights && self.flights_downstream {
            self.hold = p.flight_hold;
        }
        let flight = p.keep_flights && feedback.is_some_and(|f| f.in_flight);
        let busy = flight || self.hold > 0;
        self.hold = if flight {
            p.flight_hold
        } else {
            self.hold.saturating_sub(1)
        };
        let allowed = if busy {
            p.min_skip
        } else {
            Self::allowed_skip(p, score, feedback)
        };
        let infer = match p.mode {
            Mode::Fixed => (self.frame - 1).is_multiple_of(p.interval.max(1) as u64),
            Mode::Adaptive => first || self.skipped_run >= allowed,
        };
        self.skipped_run = if infer { 0 } else { self.skipped_run + 1 };
        infer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(mode: Mode) -> Params {
        Params {
            mode,
            interval: 3,
            min_skip: 0,
            max_skip: 4,
            low_threshold: 1.0,
            high_threshold: 8.0,
            fast_speed: 500.0,
            many_objects: 10,
            keep_flights: false,
            flight_hold: 3,
        }
    }

    fn run(p: &Params, scores: &[f32], fb: Option<Feedback>) -> String {
        let mut d = Decider::default();
        scores
            .iter()
            .map(|&s| if d.decide(p, s, fb) { 'I' } else { 's' })
            .collect()
    }

    #[test]
    fn fixed_interval() {
        assert_eq!(run(&params(Mode::Fixed), &[0.0; 7], None), "IssIssI");
    }

    #[test]
    fn adaptive_static_skips_max_moving_infers_every_frame() {
        let p = params(Mode::Adaptive);
        assert_eq!(run(&p, &[0.0; 11], None), "IssssIssssI");
        assert_eq!(run(&p, &[20.0; 5], None), "IIIII");
        // Halfway between thresholds: about half of max-skip.
        assert_eq!(Decider::allowed_skip(&p, 4.5, None), 2);
    }

    #[test]
    fn feedback_forces_every_frame() {
        let p = params(Mode::Adaptive);
        let fast = Feedback {
            objects: 1,
            max_speed: 900.0,
            in_flight: false,
        };
        let many = Feedback {
            objects: 12,
            max_speed: 0.0,
            in_flight: false,
        };
        let flight = Feedback {
            objects: 1,
            max_speed: 100.0,
            in_flight: true,
        };
        assert_eq!(run(&p, &[0.0; 4], Some(fast)), "IIII");
        assert_eq!(run(&p, &[0.0; 4], Some(many)), "IIII");
        assert_eq!(
            run(&p, &[0.0; 6], Some(flight)),
            "IssssI",
            "keep-flights off"
        );
        let p = Params {
            keep_flights: true,
            ..p
        };
        assert_eq!(run(&p, &[0.0; 4], Some(flight)), "IIII");
        // The hold after a flight: every frame for flight-hold frames more.
        let mut d = Decider {
            flights_downstream: true,
            ..Decider::default()
        };
        let mut seq = String::new();
        for f in 0..20 {
            let fb = Some(Feedback {
                in_flight: (5..8).contains(&f),
                ..flight
            });
            seq.push(if d.decide(&p, 0.0, fb) { 'I' } else { 's' });
        }
        // The stream's start is held too.
        assert_eq!(seq, "IIIssIIIIIIssssIssss");
        assert_eq!(
            run(
                &params(Mode::Adaptive),
                &[0.0; 6],
                Some(Feedback {
                    objects: 1,
                    max_speed: 10.0,
                    in_flight: false,
                })
            ),
            "IssssI"
        );
    }

    #[test]
    fn score_of_a_moving_edge() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let (gw, gh) = downscale(640, 360, |x, _| if x < 320 { 0 } else { 200 }, &mut a);
        assert_eq!((gw, gh), (64, 36));
        downscale(640, 360, |x, _| if x < 330 { 0 } else { 200 }, &mut b);
        assert_eq!(score(&a, &a), 0.0);
        let s = score(&a, &b);
        assert!(s > 0.0 && s < 10.0, "{s}");
        assert_eq!(score(&[], &b), 255.0);
    }
}
