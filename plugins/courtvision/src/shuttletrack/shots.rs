// SPDX-License-Identifier: MIT OR Apache-2.0
//! Shots in metres: each flight of the shuttle fitted in 3D (courtvision-analytics' flight
//! model through the court meta's camera), its speed off the racket, the hitter, where it
//! lands, and the rallies they make.
//!
//! - A flight's start state is fitted to its observed image positions each frame (from the
//!   previous fit), with a prior that it starts where the flight it was hit out of had come
//!   to, else at the hitter's racket: over the feet of the player nearest the shuttle in the
//!   image, about 1.8 m up. One sighting far off what the others agree on is dropped.
//! - A hit is where the shuttle leaves the fitted flight: two observations running off it
//!   (more than `GATE_PX` or three times the fit's error) with a player within reach, or four
//!   anyway; or a lost flight's shuttle seen again elsewhere within `HIT_GAP`. The new flight's
//!   time origin (the hit) is searched between the two flights' sightings. A flight's hit
//!   event (time, hitter, speed and position at the hit) is given when the flight is over,
//!   from all its observations, if the hit changed the shuttle's velocity. A rally starts with
//!   the first shot after a pause.
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
/// Sightings within this share of the frame's height from its top are at its edge.
const EDGE: f64 = 0.15;
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
/// A flight seen again elsewhere within this many seconds of its last sighting was hit
/// while out of sight.
const HIT_GAP: f64 = 0.5;
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
    /// It starts where `before` had come to (hit just before its first sighting); else the
    /// hit came in a gap without sightings and it starts at the hitter's racket.
    handover: bool,
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

/// The pixel where `cam` sees a flight's state.
fn pixel(cam: &Camera, st: &State) -> Option<[f64; 2]> {
    cam.project([st.p[0], st.p[1], st.p[2]]).map(|(p, _)| p)
}

fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// How far (pixels) from a fitted flight a sighting may lie and still be on it.
fn gate(fit: &Fit) -> f64 {
    (3.0 * fit.rms).max(GATE_PX)
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
    ///
    /// `others`: every detection of the shuttle in the frame; where one of them lies on the
    /// flight being fitted and `seen` (the image tracker's choice) does not, that one is the
    /// shuttle (the flight in metres predicts better than the image's curve across a hit).
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        time: f64,
        pts: u64,
        seen: Option<[f64; 2]>,
        others: &[[f64; 2]],
        players: &[PlayerAt],
        court: &CourtData,
        height: f64,
    ) -> (Option<Shuttle3d>, Vec<CourtEvent>) {
        let mut events = Vec::new();
        let Some(cam) = camera(court) else {
            return (None, events);
        };
        let seen = self.on_flight(time, &cam, seen, others).or(seen);
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
            let flying = self.in_the_air(time, &cam, q);
            if self.rest((time, pts, q), flying, court, height, &mut events) {
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
            let mut gap_before = None;
            if self.current.is_none() {
                if let Some(mut s) = self.lost.take() {
                    // Where its flight says it is now: the same flight seen again.
                    let back = s
                        .predict(&self.model, &cam, time)
                        .and_then(|(_, p, _)| Some(distance(p?, q)));
                    // Hit out of the top of the frame before it could be fitted, coming down
                    // into it again: the same flight.
                    let edge = EDGE * height;
                    let over_the_top = s.fit.is_none()
                        && s.handover
                        && s.obs.last().is_some_and(|o| o.1[1] < edge)
                        && q[1] < edge;
                    if over_the_top || back.is_some_and(|e| e <= REACQUIRE * height) {
                        s.obs.push((time - s.start, q));
                        s.pending.clear();
                        s.last = time;
                        Self::fit_shot(&self.model, &mut s, &cam);
                        self.current = Some(s);
                    } else {
                        self.finish(&s, court, true, &mut events);
                        // Seen again soon elsewhere: hit while out of sight (behind a player,
                        // blurred past the detector). The flight starting here was hit out of
                        // that one, where the two meet.
                        if time - s.last <= HIT_GAP {
                            gap_before = s.fit.map(|f| (f.start, s.start, s.last));
                        }
                    }
                }
            }
            // The identity a flight starting in this frame takes.
            let fresh = self.shots + 1;
            match self.current.as_mut() {
                None => {
                    let mut shot = Shot::new(fresh, time, pts, near(q));
                    shot.before = gap_before;
                    shot.handover = gap_before.is_some();
                    shot.obs.push((0.0, q));
                    self.current = Some(shot);
                    self.shots = fresh;
                }
                Some(s) => {
                    let off = s
                        .predict(&self.model, &cam, time)
                        .map(|(_, p, fit)| (p.map_or(f64::INFINITY, |p| distance(p, q)), fit));
                    if off.is_none_or(|(e, fit)| e <= gate(&fit)) {
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
                            next.handover = true;
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

    /// The detection nearest where the current flight's fit puts the shuttle now, when that
    /// is within the flight's gate and `seen` is not.
    fn on_flight(
        &self,
        time: f64,
        cam: &Camera,
        seen: Option<[f64; 2]>,
        others: &[[f64; 2]],
    ) -> Option<[f64; 2]> {
        let (_, p, fit) = self.current.as_ref()?.predict(&self.model, cam, time)?;
        let (p, gate) = (p?, gate(&fit));
        if seen.is_some_and(|q| distance(p, q) <= gate) {
            return None;
        }
        others
            .iter()
            .map(|q| (distance(p, *q), *q))
            .filter(|(e, _)| *e <= gate)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, q)| q)
    }

    /// `q` lies on the current flight's fit, which has it in the air now.
    fn in_the_air(&self, time: f64, cam: &Camera, q: [f64; 2]) -> bool {
        let Some((st, p, fit)) = self
            .current
            .as_ref()
            .and_then(|s| s.predict(&self.model, cam, time))
        else {
            return false;
        };
        fit.rms <= MAX_RMS
            && st.p[2] > LANDING_HEIGHT / 3.0
            && p.is_some_and(|p| distance(p, q) <= gate(&fit))
    }

    /// A shuttle that has stopped during a rally is on the floor: it landed there (the pixel
    /// taken to the floor through the homography, more exact than any flight's end), the
    /// flight is over and so is the rally. Out of a rally a still shuttle (held for the serve,
    /// lying between rallies) is no flight. True while it is still.
    fn rest(
        &mut self,
        (time, pts, q): (f64, u64, [f64; 2]),
        flying: bool,
        court: &CourtData,
        height: f64,
        events: &mut Vec<CourtEvent>,
    ) -> bool {
        self.recent.push_back((time, pts, q));
        while self.recent.len() > REST_FRAMES {
            self.recent.pop_front();
        }
        // Nearly still in the image but on a flight in the air: the top of a lob.
        if self.recent.len() < REST_FRAMES || flying {
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
        if s.fit.is_none() && s.handover {
            Self::place_hit(model, s, c);
        }
        // Hit out of a flight seen: it starts where that flight had come to (tight); else at
        // the hitter's racket (loose).
        let prior = match s.before.filter(|_| s.handover) {
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
        let Some(mut f) = flight::fit(model, c, &s.obs, init, prior) else {
            return;
        };
        // One sighting far off a flight that the others agree on is a false detection taken
        // while the flight was too short to tell (a racket, a line): dropped, then refitted.
        if s.obs.len() > MIN_POINTS + 1 {
            let times: Vec<f64> = s.obs.iter().map(|o| o.0).collect();
            let errors: Vec<f64> = flight::states_at(model, f.start, &times)
                .iter()
                .zip(&s.obs)
                .map(|(st, (_, q))| pixel(c, st).map_or(f64::INFINITY, |p| distance(p, *q)))
                .collect();
            let (worst, e) = errors
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, e)| (i, *e))
                .expect("observations");
            let n = errors.len() as f64;
            let rest = ((errors.iter().map(|e| e * e).sum::<f64>() - e * e) / (n - 1.0))
                .max(0.0)
                .sqrt();
            if e > GATE_PX && e > 3.0 * rest {
                let mut obs = s.obs.clone();
                obs.remove(worst);
                if let Some(g) = flight::fit(model, c, &obs, f.start, prior) {
                    if g.rms < f.rms {
                        s.obs = obs;
                        f = g;
                    }
                }
            }
        }
        s.fit = Some(f);
    }

    /// A flight hit out of another one between that one's last sighting and its own first:
    /// the hit time is where a flight starting from the other's path fits its sightings best
    /// (tried every 1/120 s across the gap); the flight's time origin moves there.
    fn place_hit(model: &Model, s: &mut Shot, c: &Camera) {
        let Some((old, old_start, old_last)) = s.before else {
            return;
        };
        let first = s.start + s.obs[0].0;
        let steps = (((first - old_last) * 120.0).ceil() as usize).clamp(1, 30);
        let mut best: Option<(f64, f64, Fit)> = None;
        for k in 1..=steps {
            let t0 = old_last + (first - old_last) * k as f64 / steps as f64;
            let obs: Vec<(f64, [f64; 2])> =
                s.obs.iter().map(|&(t, q)| (t + s.start - t0, q)).collect();
            let p = flight::state_at(model, old, t0 - old_start).p;
            let prior = Some(([p[0], p[1], p[2]], [HANDOVER; 3]));
            let Some(init) = initial(c, &obs, prior) else {
                continue;
            };
            let Some(f) = flight::fit(model, c, &obs, init, prior) else {
                continue;
            };
            // Pixels and the start's distance from the other flight, as the fit weighs them.
            let cost =
                f.rms.powi(2) * obs.len() as f64 + ((f.start.p - p).norm() / HANDOVER).powi(2);
            if best.as_ref().is_none_or(|b| cost < b.0) {
                best = Some((cost, t0, f));
            }
        }
        let Some((_, t0, f)) = best else { return };
        let shift = s.start - t0;
        for o in s.obs.iter_mut() {
            o.0 += shift;
        }
        s.pts = (s.pts as f64 - shift * 1e9).max(0.0) as u64;
        s.start = t0;
        s.fit = Some(f);
    }

    /// A flight is over: its hit (if it was a shot), and where it landed when it was lost
    /// (`lost`) just as its trajectory met the floor.
    fn finish(&mut self, s: &Shot, court: &CourtData, lost: bool, events: &mut Vec<CourtEvent>) {
        // A shuttle lying on the floor or held before the serve is no shot; a flight that did
        // not start at a player is one seen again after it was lost, not a hit.
        let shot = s
            .fit
            .filter(|fit| {
                (MIN_SHOT_SPEED..=MAX_SHOT_SPEED).contains(&fit.start.v.norm())
                    && s.obs.len() >= MIN_POINTS
                    && s.hitter.is_some()
                    && fit.rms <= MAX_RMS
            })
            .map(|fit| self.hit_time(s, &fit))
            .filter(|&(at, new)| self.turned(s, at, &new));
        let hit = match shot {
            Some((at, st)) => Some((at, Some(st))),
            // Hit off a flight seen (two sightings ran off it at a player) but seen too
            // little after (gone out of the frame) to be fitted: a hit, speed unknown.
            None if s.handover
                && s.hitter.is_some()
                && s.obs.len() >= 2
                && s.fit.is_none_or(|f| f.rms > MAX_RMS) =>
            {
                Some((s.start, None))
            }
            None => None,
        };
        if let Some((at, state)) = hit {
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
            events.push(CourtEvent {
                kind: EventKind::Hit,
                pts: Some(pts),
                track_id: s.hitter.map(|h| h.track_id),
                pos: state.map(|st| [st.p[0] as f32, st.p[1] as f32, st.p[2] as f32]),
                speed_kmh: state.map(|st| flight::kmh(st.v.norm()) as f32),
                inside: None,
                rally: Some(self.rally),
            });
        }
        let Some(fit) = s.fit else { return };
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

    /// A shot hit out of another flight changes the shuttle's velocity: sent back along the
    /// court (every return crosses the net) or at least changed by half its speed. A flight
    /// that goes on as it was is the same flight fitted in two parts (over an apex, a bad
    /// stretch of sightings), not a hit.
    fn turned(&self, s: &Shot, at: f64, new: &State) -> bool {
        let Some((old, old_start, _)) = s.before else {
            return true;
        };
        let was = flight::state_at(&self.model, old, at - old_start);
        was.v[1] * new.v[1] < 0.0 || (new.v - was.v).norm() >= 0.5 * new.v.norm().max(was.v.norm())
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
    /// Where its fit puts the shuttle at `time` (seconds): the state, its pixel, the fit.
    fn predict(
        &self,
        model: &Model,
        cam: &Camera,
        time: f64,
    ) -> Option<(State, Option<[f64; 2]>, Fit)> {
        let fit = self.fit?;
        let st = flight::state_at(model, fit.start, time - self.start);
        Some((st, pixel(cam, &st), fit))
    }

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
            handover: false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use courtvision_meta::CameraInfo;

    /// A court seen from 5 m up behind the near baseline, as courtcalib would give it.
    fn court() -> (CourtData, Camera) {
        let cam = Camera::looking_at(1100.0, 640.0, 360.0, [0.5, -12.0, 5.0], [0.0, 0.0, 0.0]);
        let h = cam.homography();
        let h = h.normalised().unwrap_or(h).0;
        let data = CourtData {
            sport: "badminton".into(),
            homography: std::array::from_fn(|i| h[(i / 3, i % 3)]),
            camera: Some(CameraInfo {
                focal: cam.f,
                principal: [cam.cx, cam.cy],
                position: cam.position(),
                rotation: std::array::from_fn(|i| cam.r[(i / 3, i % 3)]),
            }),
            confidence: 1.0,
            view: 1,
            ..Default::default()
        };
        (data, cam)
    }

    /// A player standing at `feet`: the box around their body in the image.
    fn player(cam: &Camera, id: u64, feet: [f64; 2]) -> PlayerAt {
        let q = [0.0, 1.8].map(|z| cam.project([feet[0], feet[1], z]).unwrap().0);
        let half = 0.25 * (q[0][1] - q[1][1]);
        PlayerAt {
            track_id: id,
            bbox: [
                (q[0][0] - half) as f32,
                q[1][1] as f32,
                (q[0][0] + half) as f32,
                q[0][1] as f32,
            ],
            feet,
        }
    }

    /// A clear from the near player, returned by the far one; the shuttle is not seen for the
    /// five frames after the return (blurred, behind the player). Both hits are found, the
    /// return at its time (where the two flights meet) with its speed and its hitter.
    #[test]
    fn a_return_hit_out_of_sight_is_found_where_the_flights_meet() {
        let (court, cam) = court();
        let model = Model::default();
        let serve = State {
            p: Vector3::new(0.3, -4.5, 1.6),
            v: Vector3::new(0.2, 14.0, 9.0),
        };
        let hit_at = 1.0;
        let back = flight::state_at(&model, serve, hit_at);
        let ret = State {
            p: back.p,
            v: Vector3::new(-0.5, -25.0, -2.0),
        };
        let players = [
            player(&cam, 1, [0.3, -5.0]),
            player(&cam, 2, [back.p[0] + 0.3, back.p[1] + 0.4]),
        ];
        let mut shots = Shots::default();
        let mut hits = Vec::new();
        let fps = 30.0;
        for n in 0..48 {
            let t = n as f64 / fps;
            let s = if t < hit_at {
                flight::state_at(&model, serve, t)
            } else {
                flight::state_at(&model, ret, t - hit_at)
            };
            let frame = (t * fps).round() as i64;
            let hidden = (30..35).contains(&frame) || s.p[2] < 0.0;
            let seen = (!hidden).then(|| cam.project([s.p[0], s.p[1], s.p[2]]).unwrap().0);
            let others: Vec<[f64; 2]> = seen.into_iter().collect();
            let pts = (t * 1e9) as u64;
            let (_, events) = shots.step(t, pts, seen, &others, &players, &court, 720.0);
            hits.extend(events.into_iter().filter(|e| e.kind == EventKind::Hit));
        }
        // The return is given when its flight ends (here: no more sightings); flush it.
        for n in 48..130 {
            let t = n as f64 / fps;
            let (_, events) = shots.step(t, (t * 1e9) as u64, None, &[], &players, &court, 720.0);
            hits.extend(events.into_iter().filter(|e| e.kind == EventKind::Hit));
        }
        assert_eq!(hits.len(), 2, "{hits:?}");
        let frame_of = |e: &CourtEvent| e.pts.unwrap() as f64 / 1e9 * fps;
        assert!(frame_of(&hits[0]).abs() <= 1.0, "{hits:?}");
        assert!((frame_of(&hits[1]) - hit_at * fps).abs() <= 2.0, "{hits:?}");
        assert_eq!(hits[1].track_id, Some(2));
        let speed = hits[1].speed_kmh.unwrap() as f64;
        let truth = flight::kmh(ret.v.norm());
        assert!(
            (speed - truth).abs() < 0.1 * truth,
            "{speed} km/h for {truth}"
        );
    }
}
