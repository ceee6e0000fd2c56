// SPDX-License-Identifier: MIT OR Apache-2.0
//! The shuttle in flight as a point mass under gravity and quadratic air drag:
//! `a = −g ẑ − (g / v_t²) |v| v`, with `v_t` its terminal velocity (about 6.7–6.9 m/s for a
//! feather or synthetic shuttle). Drag dominates: a smash leaves the racket at well over
//! 300 km/h and loses most of that within a few metres. Integrated with the classical
//! fourth-order Runge–Kutta method.

use nalgebra::Vector3;

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
}
