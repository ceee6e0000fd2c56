// SPDX-License-Identifier: MIT OR Apache-2.0
//! Shots in metres: each flight of the shuttle fitted in 3D (courtvision-analytics' flight
//! model through the court meta's camera), its speed off the racket, the hitter, where it
//! lands, and the rallies they make.
//!
//! - A flight's start state is fitted to its observed image positions each frame (from the
//!   previous fit), with a prior that it starts at the hitter's racket: over the feet of the
//!   player nearest the shuttle in the image, about 1.8 m up.
//! - A flight that ends with another one starting within `HIT_GAP` was hit: its hit event
//!   (time of its first frame, hitter, speed and position at the start) is given then, with
//!   all its observations. A rally starts with the first shot after a pause.
//! - A flight followed by none for `HIT_GAP` landed: where its fitted trajectory meets the
//!   floor, inside the court's lines or not; the rally ends.

use courtvision_analytics::flight::{self, Fit, Model, State};
use courtvision_analytics::geometry::Camera;
use courtvision_meta::{CourtData, CourtEvent, EventKind, Shuttle3d};
use nalgebra::{Matrix3, Vector3};

/// A flight that ends with no other within this many seconds landed.
const HIT_GAP: f64 = 0.5;
/// Observations a fit needs.
const MIN_POINTS: usize = 4;
/// Height of a racket at the hit, metres, and its spread.
const HIT_HEIGHT: (f64, f64) = (1.8, 0.8);
/// How far from the hitter's feet the shuttle is hit, metres.
const REACH: f64 = 0.6;

/// A player in the frame: track, box (pixels), feet on the court (metres).
#[derive(Debug, Clone, Copy)]
pub struct PlayerAt {
    pub track_id: u64,
    pub bbox: [f32; 4],
    pub feet: [f64; 2],
}

#[derive(Debug, Clone)]
struct Shot {
    flight: u64,
    /// Seconds (stream time) of its first frame.
    start: f64,
    pts: u64,
    obs: Vec<(f64, [f64; 2])>,
    fit: Option<Fit>,
    hitter: Option<PlayerAt>,
    /// The last time it was followed.
    last: f64,
}

/// The shots of one stream.
#[derive(Debug)]
pub struct Shots {
    model: Model,
    current: Option<Shot>,
    /// A flight that ended, waiting to know whether another follows (a hit) or not (a landing).
    ended: Option<Shot>,
    rally: u64,
    in_rally: bool,
}

impl Default for Shots {
    fn default() -> Self {
        Shots {
            model: Model::default(),
            current: None,
            ended: None,
            rally: 0,
            in_rally: false,
        }
    }
}

/// The analytics camera of a court meta.
pub fn camera(court: &CourtData) -> Option<Camera> {
    let c = court.camera?;
    let r = Matrix3::from_row_slice(&c.rotation);
    let t = -(r * Vector3::from(c.position));
    Some(Camera {
        f: c.focal,
        cx: c.principal[0],
        cy: c.principal[1],
        r,
        t,
    })
}

fn box_distance(b: &[f32; 4], q: [f64; 2]) -> f64 {
    let dx = (b[0] as f64 - q[0]).max(q[0] - b[2] as f64).max(0.0);
    let dy = (b[1] as f64 - q[1]).max(q[1] - b[3] as f64).max(0.0);
    dx.hypot(dy)
}

impl Shots {
    pub fn reset(&mut self) {
        *self = Shots::default();
    }

    /// One frame at `time` seconds (`pts` ns): the shuttle's flight and pixel where it was
    /// seen (`None` for a frame it was not, `flight` `None` with no flight), the players, the
    /// court. Returns the shuttle in 3D (where fitted) and the events decided in this frame.
    pub fn step(
        &mut self,
        time: f64,
        pts: u64,
        flight: Option<u64>,
        seen: Option<[f64; 2]>,
        players: &[PlayerAt],
        court: &CourtData,
    ) -> (Option<Shuttle3d>, Vec<CourtEvent>) {
        let mut events = Vec::new();
        let cam = camera(court);
        // The current flight ended: keep it until we know how.
        if self
            .current
            .as_ref()
            .is_some_and(|s| Some(s.flight) != flight)
        {
            let mut s = self.current.take().expect("checked");
            if let Some(c) = &cam {
                self.refit(&mut s, c);
            }
            // An older one still waiting was hit (this one followed it).
            if let Some(prev) = self.ended.take() {
                self.hit(&prev, &mut events);
            }
            self.ended = Some(s);
        }
        if let Some(f) = flight {
            if self.current.is_none() {
                // A new flight: the one before it was hit.
                if let Some(prev) = self.ended.take() {
                    self.hit(&prev, &mut events);
                }
                let hitter = seen.and_then(|q| {
                    players
                        .iter()
                        .min_by(|a, b| {
                            box_distance(&a.bbox, q).total_cmp(&box_distance(&b.bbox, q))
                        })
                        .copied()
                });
                self.current = Some(Shot {
                    flight: f,
                    start: time,
                    pts,
                    obs: Vec::new(),
                    fit: None,
                    hitter,
                    last: time,
                });
            }
        }
        // A flight that ended with none after it for HIT_GAP: it landed.
        if self
            .ended
            .as_ref()
            .is_some_and(|s| self.current.is_none() && time - s.last > HIT_GAP)
        {
            let s = self.ended.take().expect("checked");
            self.hit(&s, &mut events);
            self.land(&s, court, &mut events);
        }
        let mut shuttle = None;
        if let (Some(s), Some(c)) = (self.current.as_mut(), cam.as_ref()) {
            s.last = time;
            if let Some(q) = seen {
                s.obs.push((time - s.start, q));
                let model = self.model;
                Self::fit_shot(&model, s, c);
            }
            if let Some(fit) = s.fit {
                let st = flight::states_at(&self.model, fit.start, &[time - s.start])[0];
                shuttle = Some(shuttle3d(s.flight, &st));
            }
        }
        (shuttle, events)
    }

    fn refit(&self, s: &mut Shot, c: &Camera) {
        Self::fit_shot(&self.model, s, c);
    }

    fn fit_shot(model: &Model, s: &mut Shot, c: &Camera) {
        if s.obs.len() < MIN_POINTS {
            return;
        }
        let prior = s.hitter.map(|h| {
            (
                [h.feet[0], h.feet[1], HIT_HEIGHT.0],
                [REACH, REACH, HIT_HEIGHT.1],
            )
        });
        let Some(init) = s.fit.map(|f| f.start).or_else(|| initial(c, &s.obs, prior)) else {
            return;
        };
        if let Some(f) = flight::fit(model, c, &s.obs, init, prior) {
            s.fit = Some(f);
        }
    }

    /// The hit that started `s`: its event (and a rally's start before it).
    fn hit(&mut self, s: &Shot, events: &mut Vec<CourtEvent>) {
        let Some(fit) = s.fit else { return };
        if !self.in_rally {
            self.rally += 1;
            self.in_rally = true;
            events.push(CourtEvent {
                kind: EventKind::RallyStart,
                pts: Some(s.pts),
                track_id: s.hitter.map(|h| h.track_id),
                pos: None,
                speed_kmh: None,
                inside: None,
                rally: Some(self.rally),
            });
        }
        let p = fit.start.p;
        events.push(CourtEvent {
            kind: EventKind::Hit,
            pts: Some(s.pts),
            track_id: s.hitter.map(|h| h.track_id),
            pos: Some([p[0] as f32, p[1] as f32, p[2] as f32]),
            speed_kmh: Some(flight::kmh(fit.start.v.norm()) as f32),
            inside: None,
            rally: Some(self.rally),
        });
    }

    /// Where `s` met the floor, and the rally's end.
    fn land(&mut self, s: &Shot, court: &CourtData, events: &mut Vec<CourtEvent>) {
        let Some(fit) = s.fit else { return };
        let Some((at, after)) = self.model.landing(fit.start, 6.0) else {
            return;
        };
        let (x, y) = (at.p[0], at.p[1]);
        let (hw, hl) = match &*court.sport {
            "netball" => (7.625, 15.25),
            _ => (3.05, 6.7),
        };
        let pts = s.pts + (after * 1e9) as u64;
        let pos = Some([x as f32, y as f32, 0.0]);
        events.push(CourtEvent {
            kind: EventKind::Landing,
            pts: Some(pts),
            track_id: None,
            pos,
            speed_kmh: None,
            inside: Some(x.abs() <= hw && y.abs() <= hl),
            rally: Some(self.rally),
        });
        if self.in_rally {
            self.in_rally = false;
            events.push(CourtEvent {
                kind: EventKind::RallyEnd,
                pts: Some(pts),
                track_id: None,
                pos,
                speed_kmh: None,
                inside: None,
                rally: Some(self.rally),
            });
        }
    }
}

fn shuttle3d(flight: u64, s: &State) -> Shuttle3d {
    Shuttle3d {
        flight,
        pos: [s.p[0] as f32, s.p[1] as f32, s.p[2] as f32],
        vel: [s.v[0] as f32, s.v[1] as f32, s.v[2] as f32],
        speed_kmh: flight::kmh(s.v.norm()) as f32,
    }
}

/// A first guess of a flight's start: on the first observation's ray, nearest the vertical
/// line over the prior's point (else 1.8 m up); its velocity from the first observations taken
/// at the same depth.
fn initial(
    c: &Camera,
    obs: &[(f64, [f64; 2])],
    prior: Option<([f64; 3], [f64; 3])>,
) -> Option<State> {
    let centre = Vector3::from(c.position());
    let ray = |q: [f64; 2]| -> Vector3<f64> {
        let d = Vector3::new((q[0] - c.cx) / c.f, (q[1] - c.cy) / c.f, 1.0);
        (c.r.transpose() * d).normalize()
    };
    let d0 = ray(obs[0].1);
    let depth = match prior {
        Some((m, _)) => {
            // Closest point of the ray to the vertical line through (m.x, m.y), in the plane.
            let h = Vector3::new(d0[0], d0[1], 0.0);
            let to = Vector3::new(m[0] - centre[0], m[1] - centre[1], 0.0);
            (to.dot(&h) / h.norm_squared().max(1e-9)).max(0.5)
        }
        None => {
            if d0[2].abs() < 1e-6 {
                return None;
            }
            ((HIT_HEIGHT.0 - centre[2]) / d0[2]).max(0.5)
        }
    };
    let p0 = centre + d0 * depth;
    let k = (obs.len() - 1).min(3);
    let pk = centre + ray(obs[k].1) * depth;
    let dt = (obs[k].0 - obs[0].0).max(1e-3);
    Some(State {
        p: p0,
        v: (pk - p0) / dt,
    })
}
