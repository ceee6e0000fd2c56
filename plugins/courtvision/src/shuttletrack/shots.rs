// SPDX-License-Identifier: MIT OR Apache-2.0
//! Shots in metres: each flight of the shuttle fitted in 3D (courtvision-analytics' flight
//! model through the court meta's camera), its speed off the racket, the hitter, where it
//! lands, and the rallies they make.
//!
//! - A flight's start state is fitted to its observed image positions each frame (from the
//!   previous fit), with a prior that it starts at the hitter's racket: over the feet of the
//!   player nearest the shuttle in the image, about 1.8 m up.
//! - A hit is where the shuttle leaves the fitted flight: two observations running off it
//!   (more than `GATE_PX` or three times the fit's error) with a player within reach, or four
//!   anyway. The new flight starts at the first of them. The old flight's hit event (time of
//!   its first frame, hitter, speed and position at the start) is given then, from all its
//!   observations. A rally starts with the first shot after a pause.
//! - A flight lost (not seen for `LOST`) whose fitted trajectory meets the floor soon after
//!   its last sighting landed: where, inside the court's lines or not; the rally ends. A rally
//!   also ends after `RALLY_PAUSE` without a shuttle.

use courtvision_analytics::court::CourtModel;
use courtvision_analytics::flight::{self, Fit, Model, State};
use courtvision_analytics::geometry::Camera;
use courtvision_meta::{CourtData, CourtEvent, EventKind, Shuttle3d};
use nalgebra::{Matrix3, Vector3};

/// A flight not seen for this many seconds is out of sight; after `OUT_OF_SIGHT` it is over.
const LOST: f64 = 0.2;
const OUT_OF_SIGHT: f64 = 2.5;
/// A flight out of sight is taken up again where it is seen within this share of the frame's
/// height from where its fitted flight puts it.
const REACQUIRE: f64 = 0.06;
/// No shuttle for this long ends a rally.
const RALLY_PAUSE: f64 = 3.0;
/// A lost flight that meets the floor within this many seconds of its last sighting landed.
const LANDING_SLACK: f64 = 0.35;
/// ... and was last seen lower than this, metres.
const LANDING_HEIGHT: f64 = 1.0;
/// A landing is given once no shot has followed it for this long, seconds.
const LANDING_CONFIRM: f64 = 0.7;
/// An observation this far (pixels, or three times the fit's error) from the fitted flight is
/// off it.
const GATE_PX: f64 = 8.0;
/// A hit happens within this share of the frame's height from a player's box.
const HIT_REACH_PX: f64 = 0.12;
/// Sightings within this share of the frame's height of each other, this many running: the
/// shuttle lies still.
const REST_FRAMES: usize = 6;
const REST_PX: f64 = 0.005;
/// A flight fitted worse than this (pixels) is no single shot.
const MAX_RMS: f64 = 4.0;
/// Faster than this (m/s, 450 km/h, above the fastest smash measured) is a bad fit.
const MAX_SHOT_SPEED: f64 = 125.0;
/// Slower than this (m/s) is no shot: a shuttle on the floor, or held.
const MIN_SHOT_SPEED: f64 = 3.0;
/// Observations a fit needs.
const MIN_POINTS: usize = 4;
/// Height of a racket at the hit, metres, and its spread.
const HIT_HEIGHT: (f64, f64) = (1.8, 0.8);
/// How far from the hitter's feet the shuttle is hit, metres.
const REACH: f64 = 0.6;
/// How far (metres) a flight's start may be from where the flight it was hit out of had come
/// to at the same time.
const HANDOVER: f64 = 0.3;

/// A player in the frame: track, box (pixels), feet on the court (metres).
#[derive(Debug, Clone, Copy)]
pub struct PlayerAt {
    pub track_id: u64,
    pub bbox: [f32; 4],
    pub feet: [f64; 2],
}

#[derive(Debug, Clone)]
struct Shot {
    id: u64,
    /// Seconds (stream time) of its first frame.
    start: f64,
    pts: u64,
    /// Seconds from the start, pixel.
    obs: Vec<(f64, [f64; 2])>,
    /// Observations off the fitted flight since the last on it: (time, pts, pixel).
    pending: Vec<(f64, u64, [f64; 2])>,
    fit: Option<Fit>,
    hitter: Option<PlayerAt>,
    /// The last time it was seen on its flight.
    last: f64,
    /// The flight it was hit out of: that one's fitted start, start time and last sighting.
    before: Option<(State, f64, f64)>,
}

/// The shots of one stream.
#[derive(Debug)]
pub struct Shots {
    model: Model,
    current: Option<Shot>,
    /// A flight out of sight (above the frame, behind a player), kept to be taken up again.
    lost: Option<Shot>,
    rally: u64,
    /// Flights counted so far (their identities).
    shots: u64,
    /// The last time a fitted flight was near the floor.
    last_low: f64,
    /// A landing waiting to be confirmed: deadline, when it was decided, the event.
    landing: Option<(f64, f64, CourtEvent)>,
    in_rally: bool,
    last_seen: f64,
    last_pts: u64,
    /// The latest sightings (time, pts, pixel): a shuttle that stops is on the floor.
    recent: std::collections::VecDeque<(f64, u64, [f64; 2])>,
}

impl Default for Shots {
    fn default() -> Self {
        Shots {
            model: Model::default(),
            current: None,
            lost: None,
            rally: 0,
            shots: 0,
            last_low: f64::NEG_INFINITY,
            landing: None,
            in_rally: false,
            last_seen: f64::NEG_INFINITY,
            last_pts: 0,
            recent: std::collections::VecDeque::new(),
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

/// Within the court's outer lines (badminton: the doubles court).
fn inside(court: &CourtData, x: f64, y: f64) -> bool {
    CourtModel::named(&court.sport)
        .unwrap_or_else(CourtModel::badminton)
        .contains([x, y])
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

    /// One frame at `time` seconds (`pts` ns): the shuttle's pixel where it was seen (`None`
    /// where it was not), the players, the court. Returns the shuttle in 3D (where fitted) and
    /// the events decided in this frame.
    pub fn step(
        &mut self,
        time: f64,
        pts: u64,
        seen: Option<[f64; 2]>,
        players: &[PlayerAt],
        court: &CourtData,
        height: f64,
    ) -> (Option<Shuttle3d>, Vec<CourtEvent>) {
        let mut events = Vec::new();
        let Some(cam) = camera(court) else {
            return (None, events);
        };
        // Out of sight: kept a while to be taken up again.
        if self.current.as_ref().is_some_and(|s| time - s.last > LOST) {
            if let Some(old) = self.lost.take() {
                self.finish(&old, court, true, &mut events);
            }
            self.lost = self.current.take();
        }
        if self
            .lost
            .as_ref()
            .is_some_and(|s| time - s.last > OUT_OF_SIGHT)
        {
            let s = self.lost.take().expect("checked");
            self.finish(&s, court, true, &mut events);
        }
        if self.in_rally
            && self.current.is_none()
            && self.lost.is_none()
            && time - self.last_seen > RALLY_PAUSE
        {
            self.end_rally(self.last_pts, None, &mut events);
        }
        if let Some(q) = seen {
            self.last_seen = time;
            self.last_pts = pts;
            if self.rest(time, pts, q, court, height, &mut events) {
                self.confirm_landing(time, &mut events);
                return (None, events);
            }
            let reach = HIT_REACH_PX * height;
            let near = |q: [f64; 2]| -> Option<PlayerAt> {
                players
                    .iter()
                    .map(|p| (box_distance(&p.bbox, q), p))
                    .filter(|(d, _)| *d <= reach)
                    .min_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, p)| *p)
            };
            if self.current.is_none() {
                if let Some(mut s) = self.lost.take() {
                    // Where its flight says it is now: the same flight seen again.
                    let back = s.fit.and_then(|f| {
                        let st = flight::state_at(&self.model, f.start, time - s.start);
                        cam.project([st.p[0], st.p[1], st.p[2]])
                            .map(|(p, _)| (p[0] - q[0]).hypot(p[1] - q[1]))
                    });
                    if back.is_some_and(|e| e <= REACQUIRE * height) {
                        s.obs.push((time - s.start, q));
                        s.pending.clear();
                        s.last = time;
                        Self::fit_shot(&self.model, &mut s, &cam);
                        self.current = Some(s);
                    } else {
                        self.finish(&s, court, true, &mut events);
                    }
                }
            }
            // The identity a flight starting in this frame takes.
            let fresh = self.shots + 1;
            match self.current.as_mut() {
                None => {
                    let mut shot = Shot::new(fresh, time, pts, near(q));
                    shot.obs.push((0.0, q));
                    self.current = Some(shot);
                    self.shots = fresh;
                }
                Some(s) => {
                    let off = s.fit.map(|f| {
                        let st = flight::state_at(&self.model, f.start, time - s.start);
                        cam.project([st.p[0], st.p[1], st.p[2]])
                            .map_or(f64::INFINITY, |(p, _)| (p[0] - q[0]).hypot(p[1] - q[1]))
                    });
                    let gate = s.fit.map_or(0.0, |f| (3.0 * f.rms).max(GATE_PX));
                    if off.is_none_or(|e| e <= gate) {
                        s.obs.push((time - s.start, q));
                        s.pending.clear();
                        s.last = time;
                        Self::fit_shot(&self.model, s, &cam);
                    } else {
                        s.pending.push((time, pts, q));
                        let first = s.pending[0];
                        let hitter = near(first.2);
                        // Off the flight twice running near a player, or four times: a hit.
                        if (s.pending.len() >= 2 && hitter.is_some()) || s.pending.len() >= 4 {
                            // The hit came between the last sighting on the old flight and the
                            // first off it: the new flight's time origin (where the prior puts
                            // it at the racket) is half way.
                            let origin = 0.5 * (s.last + first.0);
                            let origin_pts =
                                first.1.saturating_sub(((first.0 - origin) * 1e9) as u64);
                            // The hitter: the player nearest (on the court) to where the old
                            // flight had come to.
                            let hitter = s
                                .fit
                                .map(|f| flight::state_at(&self.model, f.start, origin - s.start).p)
                                .and_then(|p| {
                                    players
                                        .iter()
                                        .map(|pl| {
                                            ((pl.feet[0] - p[0]).hypot(pl.feet[1] - p[1]), pl)
                                        })
                                        .filter(|(d, _)| *d <= 2.5)
                                        .min_by(|a, b| a.0.total_cmp(&b.0))
                                        .map(|(_, pl)| *pl)
                                })
                                .or(hitter);
                            let mut next = Shot::new(fresh, origin, origin_pts, hitter);
                            next.before = s.fit.map(|f| (f.start, s.start, s.last));
                            for &(t, _, p) in &s.pending {
                                next.obs.push((t - next.start, p));
                                next.last = t;
                            }
                            Self::fit_shot(&self.model, &mut next, &cam);
                            let old = std::mem::replace(s, next);
                            self.shots = fresh;
                            self.finish(&old, court, false, &mut events);
                        }
                    }
                }
            }
        }
        self.confirm_landing(time, &mut events);
        let mut shuttle = None;
        if let Some(s) = self.current.as_ref() {
            if let Some(fit) = s.fit {
                let st = flight::state_at(&self.model, fit.start, time - s.start);
                if st.p[2] < LANDING_HEIGHT / 3.0 {
                    self.last_low = time;
                }
                shuttle = Some(shuttle3d(s.id, &st));
            }
        }
        (shuttle, events)
    }

    /// A shuttle that has stopped during a rally is on the floor: it landed there (the pixel
    /// taken to the floor through the homography, more exact than any flight's end), the
    /// flight is over and so is the rally. Out of a rally a still shuttle (held for the serve,
    /// lying between rallies) is no flight. True while it is still.
    fn rest(
        &mut self,
        time: f64,
        pts: u64,
        q: [f64; 2],
        court: &CourtData,
        height: f64,
        events: &mut Vec<CourtEvent>,
    ) -> bool {
        self.recent.push_back((time, pts, q));
        while self.recent.len() > REST_FRAMES {
            self.recent.pop_front();
        }
        if self.recent.len() < REST_FRAMES {
            return false;
        }
        let first = self.recent[0];
        if time - first.0 > REST_FRAMES as f64 * 0.06 {
            return false;
        }
        let n = self.recent.len() as f64;
        let mean = [
            self.recent.iter().map(|r| r.2[0]).sum::<f64>() / n,
            self.recent.iter().map(|r| r.2[1]).sum::<f64>() / n,
        ];
        let still = self
            .recent
            .iter()
            .all(|r| (r.2[0] - mean[0]).hypot(r.2[1] - mean[1]) <= REST_PX * height);
        if !still {
            return false;
        }
        if !self.in_rally {
            // Held before the serve, or lying between rallies: no flight.
            self.current = None;
            self.lost = None;
            return true;
        }
        // Still in the image but not down (the top of a lob coming towards or going away from
        // the camera): a landing only where a flight came down to the floor just before.
        if time - self.last_low > 1.0 {
            return false;
        }
        if let Some(s) = self.current.take() {
            self.finish(&s, court, false, events);
        }
        if let Some(s) = self.lost.take() {
            self.finish(&s, court, false, events);
        }
        let Some(at) = court.at_height(mean, 0.0) else {
            return false;
        };
        self.landed(time, first.1, [at[0], at[1]], court);
        true
    }

    /// A landing at `pts` (ns) where `at` is, decided at `time`: given (with the rally's end)
    /// once no new shot comes within `LANDING_CONFIRM` (a low return that was not seen looks
    /// like a landing until the shuttle flies again).
    fn landed(&mut self, time: f64, pts: u64, at: [f64; 2], court: &CourtData) {
        if self.landing.is_some() {
            return;
        }
        self.landing = Some((
            time + LANDING_CONFIRM,
            time,
            CourtEvent {
                kind: EventKind::Landing,
                pts: Some(pts),
                track_id: None,
                pos: Some([at[0] as f32, at[1] as f32, 0.0]),
                speed_kmh: None,
                inside: Some(inside(court, at[0], at[1])),
                rally: Some(self.rally),
            },
        ));
    }

    /// The landing waiting to be confirmed: given when its time has come, dropped when a shot
    /// started after it.
    fn confirm_landing(&mut self, time: f64, events: &mut Vec<CourtEvent>) {
        let Some((deadline, decided, _)) = self.landing else {
            return;
        };
        let flying = self.current.as_ref().is_some_and(|s| {
            s.start > decided - 0.1
                && s.fit
                    .is_some_and(|f| f.start.v.norm() >= MIN_SHOT_SPEED && f.rms <= MAX_RMS)
        });
        if flying {
            self.landing = None;
        } else if time >= deadline {
            let (_, _, e) = self.landing.take().expect("checked");
            let (pts, pos) = (e.pts.unwrap_or(0), e.pos);
            events.push(e);
            self.end_rally(pts, pos, events);
        }
    }

    fn fit_shot(model: &Model, s: &mut Shot, c: &Camera) {
        if s.obs.len() < MIN_POINTS {
            return;
        }
        // Hit out of a flight seen: it starts where that flight had come to (tight); else at
        // the hitter's racket (loose).
        let prior = match s.before {
            Some((old, old_start, _)) => {
                let p = flight::state_at(model, old, s.start - old_start).p;
                Some(([p[0], p[1], p[2]], [HANDOVER; 3]))
            }
            None => s.hitter.map(|h| {
                (
                    [h.feet[0], h.feet[1], HIT_HEIGHT.0],
                    [REACH, REACH, HIT_HEIGHT.1],
                )
            }),
        };
        let Some(init) = s.fit.map(|f| f.start).or_else(|| initial(c, &s.obs, prior)) else {
            return;
        };
        if let Some(f) = flight::fit(model, c, &s.obs, init, prior) {
            s.fit = Some(f);
        }
    }

    /// A flight is over: its hit (if it was a shot), and where it landed when it was lost
    /// (`lost`) just as its trajectory met the floor.
    fn finish(&mut self, s: &Shot, court: &CourtData, lost: bool, events: &mut Vec<CourtEvent>) {
        let Some(fit) = s.fit else { return };
        // A shuttle lying on the floor or held before the serve is no shot; a flight that did
        // not start at a player is one seen again after it was lost, not a hit.
        if (MIN_SHOT_SPEED..=MAX_SHOT_SPEED).contains(&fit.start.v.norm())
            && s.obs.len() >= MIN_POINTS
            && s.hitter.is_some()
            && fit.rms <= MAX_RMS
        {
            let (at, hit) = self.hit_time(s, &fit);
            let pts = s.pts.saturating_sub(((s.start - at) * 1e9) as u64);
            if !self.in_rally {
                self.rally += 1;
                self.in_rally = true;
                events.push(CourtEvent {
                    kind: EventKind::RallyStart,
                    pts: Some(pts),
                    track_id: s.hitter.map(|h| h.track_id),
                    pos: None,
                    speed_kmh: None,
                    inside: None,
                    rally: Some(self.rally),
                });
            }
            let p = hit.p;
            events.push(CourtEvent {
                kind: EventKind::Hit,
                pts: Some(pts),
                track_id: s.hitter.map(|h| h.track_id),
                pos: Some([p[0] as f32, p[1] as f32, p[2] as f32]),
                speed_kmh: Some(flight::kmh(hit.v.norm()) as f32),
                inside: None,
                rally: Some(self.rally),
            });
        }
        if !lost {
            return;
        }
        let Some((at, after)) = self.model.landing(fit.start, 6.0) else {
            return;
        };
        // It reached the floor soon after it was last seen, low, and within the frame: a
        // landing (not a shuttle lost in the air or behind a player).
        let seen_until = s.last - s.start;
        let low = flight::state_at(&self.model, fit.start, seen_until).p[2] < LANDING_HEIGHT;
        let in_frame = court.to_image([at.p[0], at.p[1]]).is_some_and(|q| {
            q[0] >= 0.0
                && q[1] >= 0.0
                && q[0] < 2.0 * court.camera.map_or(0.0, |c| c.principal[0])
                && q[1] < 2.0 * court.camera.map_or(0.0, |c| c.principal[1])
        });
        if after > seen_until + LANDING_SLACK || !low || !in_frame {
            return;
        }
        let (x, y) = (at.p[0], at.p[1]);
        let pts = s.pts + (after * 1e9) as u64;
        self.landed(s.last + LOST, pts, [x, y], court);
    }

    /// When the shot was hit (seconds) and its state then: where the flight it was hit out
    /// of and its own (run backwards) come closest, between the last sighting of the one and
    /// the first of the other; the first sighting where it came from nowhere seen.
    fn hit_time(&self, s: &Shot, fit: &Fit) -> (f64, State) {
        let Some((old, old_start, old_last)) = s.before else {
            return (s.start, fit.start);
        };
        let first = s.start + s.obs.first().map_or(0.0, |o| o.0);
        let mut best = (f64::INFINITY, s.start, fit.start);
        let steps = (((first - old_last) * 240.0).ceil() as usize).clamp(1, 120);
        for k in 0..=steps {
            let t = old_last + (first - old_last) * k as f64 / steps as f64;
            let a = flight::state_at(&self.model, old, t - old_start);
            let b = flight::state_at(&self.model, fit.start, t - s.start);
            let d = (a.p - b.p).norm();
            if d < best.0 {
                best = (d, t, b);
            }
        }
        (best.1, best.2)
    }

    fn end_rally(&mut self, pts: u64, pos: Option<[f32; 3]>, events: &mut Vec<CourtEvent>) {
        if !self.in_rally {
            return;
        }
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

impl Shot {
    /// A flight from `time` (its time origin, `pts` ns), not yet seen.
    fn new(id: u64, time: f64, pts: u64, hitter: Option<PlayerAt>) -> Shot {
        Shot {
            id,
            start: time,
            pts,
            obs: Vec::new(),
            pending: Vec::new(),
            fit: None,
            hitter,
            last: time,
            before: None,
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
