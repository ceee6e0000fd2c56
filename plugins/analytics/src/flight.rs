// SPDX-License-Identifier: MIT OR Apache-2.0
//! The shuttle in flight as a point mass under gravity and quadratic air drag:
//! `a = −g ẑ − (g / v_t²) |v| v`, with `v_t` its terminal velocity (about 6.7–6.9 m/s for a
//! feather or synthetic shuttle). Drag dominates: a smash leaves the racket at well over
//! 300 km/h and loses most of that within a few metres. Integrated with the classical
//! fourth-order Runge–Kutta method.

use nalgebra::Vector3;

use crate::geometry::{Camera, Point};

/// Standard gravity, m/s².
pub const G: f64 = 9.806_65;

/// Position (m) and velocity (m/s) of the shuttle, court coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    pub p: Vector3<f64>,
    pub v: Vector3<f64>,
}

/// The flight model's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Model {
    /// Gravity, m/s².
    pub gravity: f64,
    /// Drag constant k (1/m): the drag deceleration is k |v|².
    pub drag: f64,
}

impl Default for Model {
    /// A shuttle with a terminal velocity of 6.8 m/s.
    fn default() -> Self {
        Model::with_terminal(6.8)
    }
}

impl Model {
    /// Gravity and the drag that balances it at `terminal` m/s.
    pub fn with_terminal(terminal: f64) -> Model {
        Model {
            gravity: G,
            drag: G / (terminal * terminal),
        }
    }

    /// The terminal velocity, m/s.
    pub fn terminal(&self) -> f64 {
        (self.gravity / self.drag).sqrt()
    }

    /// The acceleration at velocity `v`.
    pub fn accel(&self, v: &Vector3<f64>) -> Vector3<f64> {
        Vector3::new(0.0, 0.0, -self.gravity) - v * (self.drag * v.norm())
    }

    /// One step of `dt` seconds.
    pub fn step(&self, s: &State, dt: f64) -> State {
        let d = |s: &State| (s.v, self.accel(&s.v));
        let at = |s: &State, (dp, dv): (Vector3<f64>, Vector3<f64>), h: f64| State {
            p: s.p + dp * h,
            v: s.v + dv * h,
        };
        let k1 = d(s);
        let k2 = d(&at(s, k1, dt / 2.0));
        let k3 = d(&at(s, k2, dt / 2.0));
        let k4 = d(&at(s, k3, dt));
        State {
            p: s.p + (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0) * (dt / 6.0),
            v: s.v + (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1) * (dt / 6.0),
        }
    }

    /// The states every `dt` seconds from `start`, `n` of them after it (`start` first).
    pub fn trajectory(&self, start: State, dt: f64, n: usize) -> Vec<State> {
        // Sub-steps of at most 2 ms keep the error far below a millimetre even for smashes.
        let sub = (dt / 0.002).ceil().max(1.0) as usize;
        let h = dt / sub as f64;
        let mut out = Vec::with_capacity(n + 1);
        let mut s = start;
        out.push(s);
        for _ in 0..n {
            for _ in 0..sub {
                s = self.step(&s, h);
            }
            out.push(s);
        }
        out
    }

    /// Where and when (seconds from `start`) the shuttle reaches the floor (`z = 0`), within
    /// `max_time`; the crossing interpolated within the last step.
    pub fn landing(&self, start: State, max_time: f64) -> Option<(State, f64)> {
        let h = 0.001;
        let mut s = start;
        let mut t = 0.0;
        while t < max_time {
            let next = self.step(&s, h);
            if next.p[2] <= 0.0 && s.p[2] > 0.0 {
                let a = s.p[2] / (s.p[2] - next.p[2]);
                return Some((
                    State {
                        p: s.p + (next.p - s.p) * a,
                        v: s.v + (next.v - s.v) * a,
                    },
                    t + a * h,
                ));
            }
            s = next;
            t += h;
        }
        None
    }
}

/// The state `dt` seconds after `start` (before it for a negative `dt`: the model runs
/// backwards as well), in steps of at most 2 ms.
pub fn state_at(model: &Model, start: State, dt: f64) -> State {
    let n = (dt.abs() / 0.002).ceil().max(1.0);
    let h = dt / n;
    let mut s = start;
    for _ in 0..n as usize {
        s = model.step(&s, h);
    }
    s
}

/// The states at `times` (seconds from `start`, ascending), integrated in steps of at most
/// 4 ms.
pub fn states_at(model: &Model, start: State, times: &[f64]) -> Vec<State> {
    let mut out = Vec::with_capacity(times.len());
    let (mut s, mut t) = (start, 0.0);
    for &target in times {
        let span = (target - t).max(0.0);
        let n = (span / 0.004).ceil() as usize;
        let h = if n > 0 { span / n as f64 } else { 0.0 };
        for _ in 0..n {
            s = model.step(&s, h);
        }
        t = target.max(t);
        out.push(s);
    }
    out
}

/// A flight fitted to where it was seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Position and velocity at the flight's start (time 0 of the observations).
    pub start: State,
    /// Root mean square reprojection error, pixels.
    pub rms: f64,
}

/// The flight (its start state) whose projection through `camera` best matches the
/// observations `(seconds from the start, pixel)`: Levenberg–Marquardt on the six start
/// values from `init`, reprojection errors in pixels. One camera sees a flight only up to the
/// depth along each ray; gravity and drag fix it (they act in metres). `None` for fewer than
/// four observations or a fit that leaves the camera's view.
///
/// `prior`: where the flight most likely starts (the hitter's racket), a mean and a standard
/// deviation per axis in metres, weighed against pixel errors of one pixel: it settles the
/// depth a few noisy pixels leave loose.
pub fn fit(
    model: &Model,
    camera: &Camera,
    obs: &[(f64, Point)],
    init: State,
    prior: Option<([f64; 3], [f64; 3])>,
) -> Option<Fit> {
    if obs.len() < 4 {
        return None;
    }
    let times: Vec<f64> = obs.iter().map(|o| o.0).collect();
    let residuals = |x: &[f64; 6]| -> Option<Vec<f64>> {
        let start = State {
            p: Vector3::new(x[0], x[1], x[2]),
            v: Vector3::new(x[3], x[4], x[5]),
        };
        let mut r = Vec::with_capacity(2 * obs.len());
        for (s, (_, q)) in states_at(model, start, &times).iter().zip(obs) {
            let (p, _) = camera.project([s.p[0], s.p[1], s.p[2]])?;
            r.push(p[0] - q[0]);
            r.push(p[1] - q[1]);
        }
        if let Some((mean, sigma)) = prior {
            for k in 0..3 {
                r.push((x[k] - mean[k]) / sigma[k]);
            }
        }
        Some(r)
    };
    let cost = |r: &[f64]| r.iter().map(|v| v * v).sum::<f64>();
    let mut x = [
        init.p[0], init.p[1], init.p[2], init.v[0], init.v[1], init.v[2],
    ];
    let mut r = residuals(&x)?;
    let mut c = cost(&r);
    let mut lambda = 1e-3;
    for _ in 0..30 {
        // Forward differences: 1 mm, 1 cm/s.
        let mut jac = vec![[0.0f64; 6]; r.len()];
        for k in 0..6 {
            let eps = if k < 3 { 1e-3 } else { 1e-2 };
            let mut xk = x;
            xk[k] += eps;
            let rk = residuals(&xk)?;
            for (row, (a, b)) in jac.iter_mut().zip(rk.iter().zip(&r)) {
                row[k] = (a - b) / eps;
            }
        }
        let mut jtj = nalgebra::SMatrix::<f64, 6, 6>::zeros();
        let mut jtr = nalgebra::SVector::<f64, 6>::zeros();
        for (row, ri) in jac.iter().zip(&r) {
            let j = nalgebra::SVector::<f64, 6>::from_row_slice(row);
            jtj += j * j.transpose();
            jtr += j * *ri;
        }
        let mut improved = false;
        for _ in 0..8 {
            let mut a = jtj;
            for i in 0..6 {
                a[(i, i)] += lambda * jtj[(i, i)].max(1e-9);
            }
            let Some(d) = a.lu().solve(&(-jtr)) else {
                lambda *= 10.0;
                continue;
            };
            let mut xn = x;
            for i in 0..6 {
                xn[i] += d[i];
            }
            if let Some(rn) = residuals(&xn) {
                let cn = cost(&rn);
                if cn < c {
                    let gain = (c - cn) / c.max(1e-12);
                    x = xn;
                    r = rn;
                    c = cn;
                    lambda = (lambda / 5.0).max(1e-9);
                    improved = gain > 1e-6;
                    break;
                }
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    Some(Fit {
        start: State {
            p: Vector3::new(x[0], x[1], x[2]),
            v: Vector3::new(x[3], x[4], x[5]),
        },
        rms: (r[..2 * obs.len()].iter().map(|v| v * v).sum::<f64>() / obs.len() as f64).sqrt(),
    })
}

/// Metres a second to kilometres an hour.
pub fn kmh(speed: f64) -> f64 {
    speed * 3.6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(p: [f64; 3], v: [f64; 3]) -> State {
        State {
            p: Vector3::from(p),
            v: Vector3::from(v),
        }
    }

    /// Falling from rest, quadratic drag has a closed form: v(t) = v_t tanh(g t / v_t),
    /// fallen d(t) = (v_t² / g) ln cosh(g t / v_t).
    #[test]
    fn a_fall_from_rest_follows_the_closed_form() {
        let m = Model::default();
        let vt = m.terminal();
        assert!((vt - 6.8).abs() < 1e-12);
        let traj = m.trajectory(state([0.0, 0.0, 100.0], [0.0; 3]), 0.1, 30);
        for (i, s) in traj.iter().enumerate() {
            let t = i as f64 * 0.1;
            let x = m.gravity * t / vt;
            let v = vt * x.tanh();
            let d = vt * vt / m.gravity * x.cosh().ln();
            assert!((-s.v[2] - v).abs() < 1e-9, "t {t}: v {} for {v}", -s.v[2]);
            assert!((100.0 - s.p[2] - d).abs() < 1e-9, "t {t}");
        }
        // After three seconds it falls at its terminal velocity.
        assert!((-traj[30].v[2] - vt).abs() < 0.01);
    }

    /// Horizontal flight without gravity has a closed form too: v(t) = v0 / (1 + k v0 t),
    /// x(t) = ln(1 + k v0 t) / k.
    #[test]
    fn drag_alone_follows_the_closed_form() {
        let k = Model::default().drag;
        let m = Model {
            gravity: 0.0,
            drag: k,
        };
        let v0 = 80.0;
        let traj = m.trajectory(state([0.0; 3], [v0, 0.0, 0.0]), 0.01, 50);
        for (i, s) in traj.iter().enumerate() {
            let t = i as f64 * 0.01;
            let v = v0 / (1.0 + k * v0 * t);
            let x = (1.0 + k * v0 * t).ln() / k;
            assert!((s.v[0] - v).abs() < 1e-6, "t {t}: {} for {v}", s.v[0]);
            assert!((s.p[0] - x).abs() < 1e-6, "t {t}");
            assert_eq!(s.p[2], 0.0);
        }
    }

    /// A smash (300 km/h, from 2.8 m, 12° down) loses most of its speed within a few metres,
    /// and lands within the court's length.
    #[test]
    fn a_smash_slows_down_within_metres() {
        let m = Model::default();
        let v0 = 300.0 / 3.6;
        let a = (-12.0f64).to_radians();
        let start = state([0.0, -5.0, 2.8], [0.0, v0 * a.cos(), v0 * a.sin()]);
        let (land, t) = m.landing(start, 5.0).expect("lands");
        assert!(
            land.p[1] > 0.0 && land.p[1] < 6.7,
            "lands at y {}",
            land.p[1]
        );
        assert!(t < 1.0, "{t} s");
        assert!(
            land.v.norm() < 0.4 * v0,
            "{} km/h at the floor",
            kmh(land.v.norm())
        );
        // Smaller steps change the landing by well under a millimetre.
        let traj = m.trajectory(start, 0.05, 10);
        let fine = m.trajectory(start, 0.0005, 1000);
        let d = (traj[10].p - fine[1000].p).norm();
        assert!(d < 1e-3, "{d} m");
    }

    #[test]
    fn a_shuttle_on_the_floor_does_not_land_again() {
        let m = Model::default();
        assert!(m
            .landing(state([0.0, 0.0, 0.0], [1.0, 0.0, 0.0]), 1.0)
            .is_none());
        assert!((kmh(10.0) - 36.0).abs() < 1e-12);
    }

    #[test]
    fn a_smash_seen_by_one_camera_is_fitted_in_metres() {
        const NOISE: f64 = 0.5;
        let m = Model::default();
        let cam = Camera::looking_at(1000.0, 640.0, 360.0, [0.5, -12.5, 5.0], [0.0, 0.0, 0.6]);
        // A smash from the far half, 2.8 m up, at 60 m/s, and a clear from the near half.
        for (p0, v0) in [
            ([0.8, 4.5, 2.8], [-8.0, -57.0, -16.0]),
            ([-1.0, -4.0, 1.2], [2.0, 22.0, 25.0]),
        ] {
            let truth = state(p0, v0);
            // Seen at 30 frames a second until it lands.
            let (_, flight_time) = m.landing(truth, 5.0).unwrap();
            let times: Vec<f64> = (0..)
                .map(|i| i as f64 / 30.0)
                .take_while(|t| *t < flight_time)
                .collect();
            let seen: Vec<(f64, Point)> = states_at(&m, truth, &times)
                .iter()
                .zip(&times)
                .enumerate()
                .map(|(i, (s, t))| {
                    let (q, _) = cam.project([s.p[0], s.p[1], s.p[2]]).unwrap();
                    // Half a pixel of alternating noise.
                    let n = if i % 2 == 0 { NOISE } else { -NOISE };
                    (*t, [q[0] + n, q[1] - n])
                })
                .collect();
            // Start from a guess 1 m off along the first ray and 30% slow.
            let init = state(
                [p0[0], p0[1] - 1.0, p0[2] + 0.3],
                [v0[0] * 0.7, v0[1] * 0.7, v0[2] * 0.7],
            );
            // The hitter stands within half a metre of where the flight starts.
            let prior = ([p0[0] + 0.3, p0[1] - 0.3, 1.8], [0.5, 0.5, 0.8]);
            let f = fit(&m, &cam, &seen, init, Some(prior)).expect("fitted");
            let speed = f.start.v.norm();
            let true_speed = truth.v.norm();
            assert!(
                (speed - true_speed).abs() / true_speed < 0.05,
                "speed {speed} vs {true_speed}"
            );
            assert!(f.rms < 1.0, "rms {}", f.rms);
            let (land, _) = m.landing(f.start, 5.0).unwrap();
            let (true_land, _) = m.landing(truth, 5.0).unwrap();
            assert!(
                (land.p - true_land.p).norm() < 0.3,
                "landing {:?} vs {:?}",
                land.p,
                true_land.p
            );
        }
    }
}
