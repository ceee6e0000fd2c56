// SPDX-License-Identifier: MIT OR Apache-2.0
//! The world courtsrc films: a court, a camera, players whose 17 COCO keypoints follow simple
//! kinematics (run, ready stance, lunge, jump, overhead and side swings) and a shuttle (or ball)
//! flying between them in rallies. Everything is in metres (x across the court, y along it, net
//! at y = 0, z up) and advances one frame at a time from a seeded generator, so a seed and a
//! framerate give the same match every time.

use std::f32::consts::{PI, TAU};

use glam::{Vec2, Vec3};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use courtvision_analytics::flight::{self, Model, State};
use nalgebra::Vector3;

/// Which court is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sport {
    Badminton,
    Netball,
}

impl Sport {
    /// Half the court's width (x) and length (y).
    pub fn half_extent(self) -> Vec2 {
        match self {
            Sport::Badminton => Vec2::new(3.05, 6.7),
            Sport::Netball => Vec2::new(7.625, 15.25),
        }
    }

    /// Label of the flying object, class 1 of the ground truth.
    pub fn ball_label(self) -> &'static str {
        match self {
            Sport::Badminton => "shuttle",
            Sport::Netball => "ball",
        }
    }
}

/// A netball playing position; each may only enter its thirds of the court.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Gs,
    Ga,
    Wa,
    C,
    Wd,
    Gd,
    Gk,
}

impl Role {
    /// Filled in this order as players are added, seven a side at most.
    const ORDER: [Role; 7] = [
        Role::C,
        Role::Ga,
        Role::Gd,
        Role::Wa,
        Role::Wd,
        Role::Gs,
        Role::Gk,
    ];

    /// The thirds the position may enter, counted from the team's own goal end (0 defending,
    /// 1 centre, 2 attacking).
    fn thirds(self) -> (u32, u32) {
        match self {
            Role::Gs => (2, 2),
            Role::Ga | Role::Wa => (1, 2),
            Role::C => (0, 2),
            Role::Wd | Role::Gd => (0, 1),
            Role::Gk => (0, 0),
        }
    }

    /// The opposing position this one marks.
    fn opposite(self) -> Role {
        match self {
            Role::Gs => Role::Gk,
            Role::Ga => Role::Gd,
            Role::Wa => Role::Wd,
            Role::C => Role::C,
            Role::Wd => Role::Wa,
            Role::Gd => Role::Ga,
            Role::Gk => Role::Gs,
        }
    }
}

/// A pinhole camera looking at the court: square pixels, principal point at the frame's
/// centre (an uncropped camera), no roll.
#[derive(Debug, Clone)]
pub struct Camera {
    pub pos: Vec3,
    right: Vec3,
    up: Vec3,
    fwd: Vec3,
    /// Focal length in pixels.
    pub f: f32,
    c: Vec2,
}

/// Where the camera stands and how it frames the court; what is not set comes from the seed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CameraSetup {
    /// Height above the floor, metres (badminton scale; netball's court scales it).
    pub height: Option<f32>,
    /// Distance behind the near baseline, metres.
    pub distance: Option<f32>,
    /// Offset across the court from its centre line, metres.
    pub offset: Option<f32>,
    /// Where along the court it looks, metres from the net.
    pub aim: Option<f32>,
    /// Focal length as a share of the one that just fits the court (≤ 1 leaves room around it).
    pub zoom: Option<f32>,
}

impl Camera {
    /// A camera behind the near baseline as `setup` says, the rest varied by `rng`, with the
    /// focal length and direction that fit the court (and players' heads on the far side)
    /// into a `width` x `height` frame.
    pub fn new(
        sport: Sport,
        width: u32,
        height: u32,
        setup: CameraSetup,
        rng: &mut Pcg64Mcg,
    ) -> Camera {
        let half = sport.half_extent();
        let scale = half.y / 6.7;
        let back = setup.distance.unwrap_or(rng.random_range(3.5..8.0)) * scale;
        let high = setup.height.unwrap_or(rng.random_range(3.5..7.0)) * scale.sqrt();
        let across = setup.offset.unwrap_or(rng.random_range(-1.5..1.5)) * scale;
        let aim = setup.aim.unwrap_or(rng.random_range(-0.5..1.5)) * scale;
        let zoom = setup
            .zoom
            .unwrap_or(rng.random_range(0.82..1.0))
            .clamp(0.2, 1.0);
        let pos = Vec3::new(across, -half.y - back, high);
        let target = Vec3::new(0.0, aim, 0.6);
        let mut cam = Camera {
            pos,
            right: Vec3::X,
            up: Vec3::Z,
            fwd: Vec3::Y,
            f: 1.0,
            c: Vec2::ZERO,
        };
        cam.look(target - pos);
        // Fit: everything within 0.8 m of the court on the floor, and 3.2 m above its far half;
        // the camera turns towards the middle of that, so that the frame's centre stays the
        // principal point.
        let (m, top) = (0.8, 3.2);
        let extent = [
            (-half.x - m, -half.y - m, 0.0),
            (half.x + m, -half.y - m, 0.0),
            (-half.x - m, half.y + m, top),
            (half.x + m, half.y + m, top),
            (-half.x - m, 0.0, top),
            (half.x + m, 0.0, top),
        ];
        let mut span = Vec2::ONE;
        for _ in 0..6 {
            let mut lo = Vec2::splat(f32::MAX);
            let mut hi = Vec2::splat(f32::MIN);
            for (x, y, z) in extent {
                if let Some((p, _)) = cam.project(Vec3::new(x, y, z)) {
                    lo = lo.min(p);
                    hi = hi.max(p);
                }
            }
            span = (hi - lo).max(Vec2::splat(1e-3));
            let mid = (lo + hi) / 2.0;
            cam.look(cam.fwd + cam.right * mid.x - cam.up * mid.y);
        }
        cam.f = zoom * (0.96 * width as f32 / span.x).min(0.96 * height as f32 / span.y);
        cam.c = Vec2::new(width as f32, height as f32) / 2.0;
        cam
    }

    /// The camera of the `cut`-th shot of match `seed` (cuts after the first).
    pub fn seeded(
        sport: Sport,
        width: u32,
        height: u32,
        setup: CameraSetup,
        seed: u64,
        cut: u64,
    ) -> Camera {
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ cut.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        Camera::new(sport, width, height, setup, &mut rng)
    }

    fn look(&mut self, dir: Vec3) {
        self.fwd = dir.normalize();
        self.right = self.fwd.cross(Vec3::Z).normalize();
        self.up = self.right.cross(self.fwd);
    }

    /// Principal point, pixels.
    pub fn centre(&self) -> Vec2 {
        self.c
    }

    /// World-to-camera rotation rows: right, down, forward.
    pub fn rotation(&self) -> [Vec3; 3] {
        [self.right, -self.up, self.fwd]
    }

    /// Pixel position and depth of a world point; `None` behind the camera.
    pub fn project(&self, p: Vec3) -> Option<(Vec2, f32)> {
        let d = p - self.pos;
        let z = d.dot(self.fwd);
        if z < 0.05 {
            return None;
        }
        let x = d.dot(self.right) / z;
        let y = -d.dot(self.up) / z;
        Some((self.c + self.f * Vec2::new(x, y), z))
    }

    /// Pixel radius of a world radius at `depth`.
    pub fn radius(&self, r: f32, depth: f32) -> f32 {
        self.f * r / depth
    }
}

/// The 17 COCO keypoints, in [`courtvision_meta::COCO17_KEYPOINTS`] order, in world metres.
pub type Skeleton3 = [Vec3; 17];

pub const NOSE: usize = 0;
pub const L_EYE: usize = 1;
pub const R_EYE: usize = 2;
pub const L_EAR: usize = 3;
pub const R_EAR: usize = 4;
pub const L_SHOULDER: usize = 5;
pub const R_SHOULDER: usize = 6;
pub const L_ELBOW: usize = 7;
pub const R_ELBOW: usize = 8;
pub const L_WRIST: usize = 9;
pub const R_WRIST: usize = 10;
pub const L_HIP: usize = 11;
pub const R_HIP: usize = 12;
pub const L_KNEE: usize = 13;
pub const R_KNEE: usize = 14;
pub const L_ANKLE: usize = 15;
pub const R_ANKLE: usize = 16;

/// Colours of a player's kit, as RGB.
#[derive(Debug, Clone, Copy)]
pub struct Outfit {
    pub shirt: [u8; 3],
    pub shorts: [u8; 3],
    pub skin: [u8; 3],
    pub hair: [u8; 3],
    pub shoes: [u8; 3],
}

const SHIRTS: [[u8; 3]; 10] = [
    [200, 30, 40],
    [30, 70, 190],
    [245, 245, 245],
    [250, 200, 20],
    [20, 150, 80],
    [240, 110, 20],
    [120, 40, 160],
    [25, 25, 30],
    [0, 170, 200],
    [230, 80, 150],
];
const SHORTS: [[u8; 3]; 5] = [
    [20, 20, 25],
    [240, 240, 240],
    [25, 40, 110],
    [90, 90, 95],
    [130, 20, 30],
];
const SKINS: [[u8; 3]; 5] = [
    [242, 204, 177],
    [224, 172, 132],
    [190, 135, 95],
    [141, 94, 60],
    [95, 62, 42],
];
const HAIRS: [[u8; 3]; 4] = [[25, 20, 18], [80, 50, 30], [160, 120, 60], [40, 35, 35]];

/// What the racket arm is doing around a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwingKind {
    /// Above the head: clear, smash, drop.
    Overhead,
    /// Side-arm drive at chest height.
    Drive,
    /// Low reach with a lunge: lift, net shot.
    Low,
    /// Underarm serve.
    Serve,
}

/// A swing in progress: the arm's phase is `(t - start) / duration`, contact at 0.6.
#[derive(Debug, Clone, Copy)]
struct Swing {
    kind: SwingKind,
    start: f32,
    jump: f32,
}

const SWING_TIME: f32 = 0.6;
const CONTACT_PHASE: f32 = 0.6;

/// One player on court.
#[derive(Debug, Clone)]
pub struct Player {
    /// The player's identity for the whole match (1, 2, ...), as the ground truth gives it.
    pub id: u64,
    /// -1 near the camera, +1 beyond the net (netball: the team attacking +y, or -y).
    pub side: f32,
    /// Netball: the playing position (its zone on court); badminton: none.
    pub role: Option<Role>,
    home: Vec2,
    /// Netball: when the player picks a new place to run to.
    retarget: f32,
    pub pos: Vec2,
    vel: Vec2,
    goal: Vec2,
    /// Facing, radians from +x.
    heading: f32,
    pub height: f32,
    /// +1 right-handed, -1 left-handed.
    hand: f32,
    phase: f32,
    lunge: f32,
    swing: Option<Swing>,
    pub outfit: Outfit,
}

/// Flight of the shuttle (ball) between two points.
#[derive(Debug, Clone, Copy)]
struct Flight {
    from: Vec3,
    to: Vec3,
    start: f32,
    duration: f32,
    path: Path,
}

#[derive(Debug, Clone, Copy)]
enum Path {
    /// A shuttle: a point mass under gravity and air drag, launched at `v0` (m/s).
    Physical { v0: Vec3 },
    /// A ball: a lerp with a time warp and a parabolic arch of `apex` metres.
    Arch { apex: f32 },
}

/// The shuttle's flight model: terminal velocity 6.8 m/s.
fn shuttle_model() -> Model {
    Model::default()
}

fn to_state(p: Vec3, v: Vec3) -> State {
    State {
        p: Vector3::new(p.x as f64, p.y as f64, p.z as f64),
        v: Vector3::new(v.x as f64, v.y as f64, v.z as f64),
    }
}

fn to_vec3(v: &Vector3<f64>) -> Vec3 {
    Vec3::new(v[0] as f32, v[1] as f32, v[2] as f32)
}

/// Integrates a flight from `from` at `v0` until it has covered the horizontal distance to
/// `to`, or `max_time`: the state there and the time taken.
fn fly_to(model: &Model, from: Vec3, v0: Vec3, to: Vec3, max_time: f32) -> (State, f32) {
    let d = (to - from).truncate().length() as f64;
    let dir = (to - from).truncate().normalize_or_zero();
    let (dx, dy) = (dir.x as f64, dir.y as f64);
    let h = 0.002;
    let mut s = to_state(from, v0);
    let mut t = 0.0;
    while t < max_time as f64 {
        let next = model.step(&s, h);
        let covered = |st: &State| (st.p[0] - from.x as f64) * dx + (st.p[1] - from.y as f64) * dy;
        let (c0, c1) = (covered(&s), covered(&next));
        if c1 >= d && c1 > c0 {
            let a = (d - c0) / (c1 - c0);
            return (
                State {
                    p: s.p + (next.p - s.p) * a,
                    v: s.v + (next.v - s.v) * a,
                },
                (t + a * h) as f32,
            );
        }
        if next.p[2] < -0.5 {
            break;
        }
        s = next;
        t += h;
    }
    (s, f32::INFINITY)
}

impl Flight {
    /// A shuttle hit from `from` at `speed` m/s that reaches `to`: the launch angle solved by
    /// shooting (the lowest angle that clears `clear` at the net (`y = 0`) when `high` is
    /// false, the highest when it is true); faster when the speed cannot reach.
    fn launch(from: Vec3, to: Vec3, speed: f32, high: bool, clear: f32, start: f32) -> Flight {
        let model = shuttle_model();
        let flat = (to - from).truncate().normalize_or_zero();
        let crosses = from.y * to.y < 0.0;
        let mut speed = speed;
        for _ in 0..12 {
            let launch = |deg: f32| {
                let (s, c) = deg.to_radians().sin_cos();
                (flat * c).extend(s) * speed
            };
            let miss = |deg: f32| {
                let (st, t) = fly_to(&model, from, launch(deg), to, 6.0);
                if t.is_finite() {
                    st.p[2] as f32 - to.z
                } else {
                    -10.0
                }
            };
            let clears = |deg: f32| {
                if !crosses {
                    return true;
                }
                let net = Vec3::new(to.x, 0.0, 0.0);
                let part = from + (to - from) * (from.y / (from.y - to.y));
                let (st, t) = fly_to(&model, from, launch(deg), part.with_z(net.z), 6.0);
                t.is_finite() && st.p[2] as f32 >= clear
            };
            let mut roots = Vec::new();
            let mut prev = (-50.0f32, miss(-50.0));
            let mut deg = -48.0;
            while deg <= 82.0 {
                let m = miss(deg);
                if (m >= 0.0) != (prev.1 >= 0.0) {
                    let (mut a, mut b) = (prev.0, deg);
                    for _ in 0..30 {
                        let mid = 0.5 * (a + b);
                        if (miss(mid) >= 0.0) == (miss(a) >= 0.0) {
                            a = mid;
                        } else {
                            b = mid;
                        }
                    }
                    roots.push(0.5 * (a + b));
                }
                prev = (deg, m);
                deg += 2.0;
            }
            if high {
                roots.reverse();
            }
            if let Some(&deg) = roots.iter().find(|&&d| clears(d)) {
                let v0 = launch(deg);
                let (_, t) = fly_to(&model, from, v0, to, 6.0);
                return Flight {
                    from,
                    to,
                    start,
                    duration: t.max(0.05),
                    path: Path::Physical { v0 },
                };
            }
            speed *= 1.2;
        }
        // Unreachable in practice; a straight line keeps the scene going.
        Flight {
            from,
            to,
            start,
            duration: 1.0,
            path: Path::Arch { apex: 0.0 },
        }
    }

    /// Position and velocity at time `t`.
    fn state(&self, t: f32) -> (Vec3, Vec3) {
        let t = t.clamp(self.start, self.end());
        match self.path {
            Path::Physical { v0 } => {
                let s = flight::state_at(
                    &shuttle_model(),
                    to_state(self.from, v0),
                    (t - self.start) as f64,
                );
                (to_vec3(&s.p), to_vec3(&s.v))
            }
            Path::Arch { .. } => {
                let e = 0.005;
                let (a, b) = (self.arch(t - e), self.arch(t + e));
                (self.arch(t), (b - a) / (2.0 * e))
            }
        }
    }

    fn arch(&self, t: f32) -> Vec3 {
        let apex = match self.path {
            Path::Arch { apex } => apex,
            Path::Physical { .. } => 0.0,
        };
        let tau = ((t - self.start) / self.duration).clamp(0.0, 1.0);
        let s = tau + 0.6 * tau * (1.0 - tau);
        let mut p = self.from.lerp(self.to, s);
        p.z += 4.0 * apex * s * (1.0 - s);
        p
    }

    fn at(&self, t: f32) -> Vec3 {
        self.state(t).0
    }

    fn end(&self) -> f32 {
        self.start + self.duration
    }
}

/// What happened in play, for the ground truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SceneEvent {
    /// Player `id` hit the shuttle at `pos`, launching it at `speed` m/s; `serve` starts a
    /// rally.
    Hit {
        id: u64,
        pos: Vec3,
        speed: f32,
        serve: bool,
    },
    /// The shuttle reached the floor at `pos` (the rally's end).
    Landing { pos: Vec3 },
}

#[derive(Debug, Clone, Copy)]
enum Shuttle {
    /// In flight to `receiver` (who hits it at the end), or to the floor when `receiver` is None.
    Flying {
        flight: Flight,
        receiver: Option<usize>,
    },
    /// On the floor after a rally, until a new one starts at `until`.
    Down { at: Vec3, until: f32 },
    /// Held by the server before the serve at `until`.
    Held { server: usize, until: f32 },
}

/// What the shuttle looks like at an instant: position and direction of travel (world).
#[derive(Debug, Clone, Copy)]
pub struct ShuttleState {
    pub pos: Vec3,
    pub dir: Vec3,
}

/// The whole scene, advanced frame by frame.
#[derive(Debug, Clone)]
pub struct Scene {
    pub sport: Sport,
    pub camera: Camera,
    pub players: Vec<Player>,
    shuttle: Shuttle,
    shots_left: u32,
    /// Netball: the team with the ball (its `side`).
    possession: f32,
    rng: Pcg64Mcg,
    /// Scene time in seconds.
    pub t: f32,
    /// Court surface, floor and wall colours, and the light's phase.
    pub court_rgb: [u8; 3],
    pub floor_rgb: [u8; 3],
    pub wall_rgb: [u8; 3],
    pub light_phase: [f32; 2],
    /// Events since the last [`Scene::take_events`].
    events: Vec<SceneEvent>,
}

impl Scene {
    pub fn new(
        sport: Sport,
        players: usize,
        seed: u64,
        width: u32,
        height: u32,
        setup: CameraSetup,
    ) -> Scene {
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x636f_7572_7476_6973);
        let camera = Camera::new(sport, width, height, setup, &mut rng);
        let half = sport.half_extent();
        let n = players.clamp(2, Scene::max_players(sport));
        let mut list = Vec::with_capacity(n);
        let (team_a, team_b) = (
            rng.random_range(0..SHIRTS.len()),
            rng.random_range(0..SHIRTS.len()),
        );
        let team_b = if team_b == team_a {
            (team_a + 3) % SHIRTS.len()
        } else {
            team_b
        };
        // Netball teams wear one kit each: teammates differ by build, skin and hair only.
        let team_shorts = if sport == Sport::Netball {
            [
                SHORTS[rng.random_range(0..SHORTS.len())],
                SHORTS[rng.random_range(0..SHORTS.len())],
            ]
        } else {
            [SHORTS[0]; 2]
        };
        for i in 0..n {
            if sport == Sport::Netball {
                list.push(Player::netball(
                    i,
                    half,
                    [team_a, team_b],
                    team_shorts,
                    &mut rng,
                ));
                continue;
            }
            // Near side first; with 3 players the near side has two.
            let side = if i < n.div_ceil(2) { -1.0 } else { 1.0 };
            let on_side = if side < 0.0 { n.div_ceil(2) } else { n / 2 };
            let k = if side < 0.0 { i } else { i - n.div_ceil(2) };
            let x = if on_side == 1 {
                0.0
            } else {
                (k as f32 - 0.5) * half.x * 0.9
            };
            let home = Vec2::new(x, side * half.y * 0.55);
            let shirt = SHIRTS[if side < 0.0 { team_a } else { team_b }];
            list.push(Player {
                id: i as u64 + 1,
                side,
                role: None,
                home,
                retarget: 0.0,
                pos: home + Vec2::new(rng.random_range(-0.3..0.3), rng.random_range(-0.3..0.3)),
                vel: Vec2::ZERO,
                goal: home,
                heading: if side < 0.0 { PI / 2.0 } else { -PI / 2.0 },
                height: rng.random_range(1.6..1.92),
                hand: if rng.random_bool(0.85) { 1.0 } else { -1.0 },
                phase: rng.random_range(0.0..TAU),
                lunge: 0.0,
                swing: None,
                outfit: Outfit {
                    shirt,
                    shorts: SHORTS[rng.random_range(0..SHORTS.len())],
                    skin: SKINS[rng.random_range(0..SKINS.len())],
                    hair: HAIRS[rng.random_range(0..HAIRS.len())],
                    shoes: if rng.random_bool(0.6) {
                        [235, 235, 235]
                    } else {
                        SHIRTS[rng.random_range(0..SHIRTS.len())]
                    },
                },
            });
        }
        let courts: [[u8; 3]; 4] = [[36, 110, 72], [40, 90, 150], [150, 60, 50], [60, 120, 95]];
        let floors: [[u8; 3]; 3] = [[150, 110, 70], [120, 90, 60], [90, 95, 105]];
        let walls: [[u8; 3]; 3] = [[60, 70, 90], [95, 95, 100], [50, 55, 60]];
        let court_rgb = courts[rng.random_range(0..courts.len())];
        let floor_rgb = floors[rng.random_range(0..floors.len())];
        let wall_rgb = walls[rng.random_range(0..walls.len())];
        let light_phase = [rng.random_range(0.0..TAU), rng.random_range(0.0..TAU)];
        let server = match sport {
            Sport::Badminton => rng.random_range(0..n),
            // The first centre pass: team A's centre (player 1).
            Sport::Netball => 0,
        };
        let mut scene = Scene {
            sport,
            camera,
            players: list,
            shuttle: Shuttle::Held { server, until: 0.0 },
            shots_left: 0,
            possession: 1.0,
            rng,
            t: 0.0,
            court_rgb,
            floor_rgb,
            wall_rgb,
            light_phase,
            events: Vec::new(),
        };
        // Start mid-rally so that the first frames already show play.
        let until = scene.rng.random_range(0.0..0.6);
        scene.hold(server, until);
        scene.shots_left = scene.rng.random_range(4..14);
        scene
    }

    /// The events since the last call.
    pub fn take_events(&mut self) -> Vec<SceneEvent> {
        std::mem::take(&mut self.events)
    }

    /// The shuttle's velocity (m/s) at the current time; zero when it is not flying.
    pub fn shuttle_velocity(&self) -> Vec3 {
        match self.shuttle {
            Shuttle::Flying { flight, .. } => flight.state(self.t).1,
            _ => Vec3::ZERO,
        }
    }

    /// The most players a court takes: 4 (doubles) for badminton, 14 (7 a side) for netball.
    pub fn max_players(sport: Sport) -> usize {
        match sport {
            Sport::Badminton => 4,
            Sport::Netball => 14,
        }
    }

    /// `server` holds the shuttle and serves at `until`.
    fn hold(&mut self, server: usize, until: f32) {
        let netball = self.sport == Sport::Netball;
        let p = &mut self.players[server];
        p.swing = Some(Swing {
            // A netball pass is thrown like a drive.
            kind: if netball {
                SwingKind::Drive
            } else {
                SwingKind::Serve
            },
            start: until - CONTACT_PHASE * SWING_TIME,
            jump: 0.0,
        });
        if netball {
            // Landed with the ball: it may pivot, not run.
            p.goal = p.pos;
            self.possession = p.side;
        }
        self.shuttle = Shuttle::Held { server, until };
    }

    /// Advances the scene by `dt` seconds.
    pub fn step(&mut self, dt: f32) {
        self.t += dt;
        match self.sport {
            Sport::Badminton => self.update_shuttle(),
            Sport::Netball => {
                self.update_ball();
                self.move_netball();
            }
        }
        let t = self.t;
        for p in &mut self.players {
            p.step(t, dt);
        }
    }

    fn update_shuttle(&mut self) {
        let t = self.t;
        match self.shuttle {
            Shuttle::Held { server, until } if t >= until => {
                self.shots_left = self.rng.random_range(4..14);
                let from = self.players[server].racket_point(SwingKind::Serve);
                self.hit(server, from, SwingKind::Serve, t);
            }
            Shuttle::Flying {
                flight,
                receiver: Some(r),
            } if t >= flight.end() => {
                let kind = self.players[r].swing.map_or(SwingKind::Drive, |s| s.kind);
                self.hit(r, flight.to, kind, flight.end());
            }
            Shuttle::Flying {
                flight,
                receiver: None,
            } if t >= flight.end() => {
                self.events.push(SceneEvent::Landing {
                    pos: flight.to.with_z(0.0),
                });
                self.shuttle = Shuttle::Down {
                    at: flight.to,
                    until: t + self.rng.random_range(0.8..1.6),
                };
                for p in &mut self.players {
                    p.goal = p.home;
                }
            }
            Shuttle::Down { until, .. } if t >= until => {
                let server = self.rng.random_range(0..self.players.len());
                for p in &mut self.players {
                    p.goal = p.home;
                }
                let until = t + self.rng.random_range(0.5..1.0);
                self.hold(server, until);
            }
            _ => {}
        }
    }

    /// Netball: the ball is held up to about 2 s (the rule allows 3), then passed to a teammate
    /// (one pass in ten picked off by an opponent), or shot from the circle.
    fn update_ball(&mut self) {
        let t = self.t;
        match self.shuttle {
            Shuttle::Held { server, until } if t >= until => self.pass(server, t),
            Shuttle::Flying {
                flight,
                receiver: Some(r),
            } if t >= flight.end() => {
                let until = t + self.rng.random_range(0.5..2.0);
                self.hold(r, until);
            }
            Shuttle::Flying {
                flight,
                receiver: None,
            } if t >= flight.end() => {
                self.shuttle = Shuttle::Down {
                    at: flight.to,
                    until: t + self.rng.random_range(0.6..1.2),
                };
            }
            Shuttle::Down { until, .. } if t >= until => {
                // A centre pass by the other team's centre (or whoever plays nearest it).
                let side = -self.possession;
                let c = self
                    .players
                    .iter()
                    .position(|p| p.side == side && p.role == Some(Role::C))
                    .unwrap_or_else(|| self.nearest(side, Vec2::ZERO));
                self.players[c].pos = Vec2::ZERO;
                self.players[c].vel = Vec2::ZERO;
                let until = t + self.rng.random_range(0.8..1.5);
                self.hold(c, until);
            }
            _ => {}
        }
    }

    /// Netball: `holder` releases the ball at time `t`.
    fn pass(&mut self, holder: usize, t: f32) {
        let half = self.sport.half_extent();
        let h = &self.players[holder];
        let side = h.side;
        let from = h.hold_point();
        let post = Vec2::new(0.0, side * half.y);
        let rng = &mut self.rng;
        let shooter = matches!(h.role, Some(Role::Gs | Role::Ga));
        if shooter && h.pos.distance(post) < 4.9 {
            let to = Vec3::new(post.x, post.y - side * 0.2, 3.05);
            let flight = Flight {
                from,
                to,
                start: t,
                duration: ((to - from).length() / rng.random_range(7.0..9.0)).clamp(0.4, 1.2),
                path: Path::Arch {
                    apex: rng.random_range(1.0..1.8),
                },
            };
            self.possession = -side;
            self.shuttle = Shuttle::Flying {
                flight,
                receiver: None,
            };
            return;
        }
        let mates: Vec<usize> = (0..self.players.len())
            .filter(|&i| i != holder && self.players[i].side == side)
            .collect();
        let near: Vec<usize> = mates
            .iter()
            .copied()
            .filter(|&i| (2.5..15.0).contains(&self.players[i].pos.distance(h.pos)))
            .collect();
        let pool = if near.is_empty() { &mates } else { &near };
        let Some(&mate) = pool.get(rng.random_range(0..pool.len().max(1))) else {
            // Alone on its side: hold on.
            let until = t + 1.0;
            self.hold(holder, until);
            return;
        };
        let m = &self.players[mate];
        let lead = (m.pos + m.vel * 0.4).clamp(-half, half);
        let receiver = if rng.random_bool(0.1) {
            let r = self.nearest(-side, lead);
            if r == usize::MAX {
                mate
            } else {
                r
            }
        } else {
            mate
        };
        let rng = &mut self.rng;
        let to = Vec3::new(lead.x, lead.y, 1.3);
        let (speed, apex): (f32, f32) = if rng.random_bool(0.15) {
            (rng.random_range(7.0..9.0), rng.random_range(1.2..2.2))
        } else {
            (rng.random_range(8.0..13.0), rng.random_range(0.1..0.6))
        };
        let dist = (to - from).length();
        let flight = Flight {
            from,
            to,
            start: t,
            duration: (dist / speed + 0.15 * apex.sqrt()).clamp(0.3, 2.0),
            path: Path::Arch { apex },
        };
        let r = &mut self.players[receiver];
        r.goal = lead;
        r.retarget = flight.end() + 1.0;
        self.shuttle = Shuttle::Flying {
            flight,
            receiver: Some(receiver),
        };
    }

    /// Netball: players without the ball pick a new place every second or so, within their
    /// zone: the team with the ball gets free near it, the other marks its opposite numbers
    /// (goal side of them), so players of both teams run close and cross all the time.
    fn move_netball(&mut self) {
        let t = self.t;
        let half = self.sport.half_extent();
        let ball = self.shuttle_at(t).pos.truncate();
        let held = match self.shuttle {
            Shuttle::Held { server, .. } => Some(server),
            _ => None,
        };
        for i in 0..self.players.len() {
            let p = &self.players[i];
            if Some(i) == held || t < p.retarget {
                continue;
            }
            let Some(role) = p.role else { continue };
            let (lo, hi) = zone(role, p.side, half);
            let marked = (p.side != self.possession)
                .then(|| {
                    self.players
                        .iter()
                        .find(|o| o.side != p.side && o.role == Some(role.opposite()))
                })
                .flatten()
                .map(|o| o.pos - Vec2::new(0.0, p.side * 0.9));
            let rng = &mut self.rng;
            let goal = match marked {
                Some(m) => m + Vec2::new(rng.random_range(-0.5..0.5), rng.random_range(-0.5..0.5)),
                None => {
                    let free = Vec2::new(
                        rng.random_range(-0.85..0.85) * half.x,
                        rng.random_range(lo..hi),
                    );
                    free.lerp(ball, 0.35)
                }
            };
            let goal = Vec2::new(
                goal.x.clamp(-half.x - 0.3, half.x + 0.3),
                goal.y.clamp(lo, hi),
            );
            let next = t + rng.random_range(0.6..1.6);
            let p = &mut self.players[i];
            p.goal = goal;
            p.retarget = next;
        }
    }

    /// Doubles: a side that smashes plays front and back (the hitter behind, the partner at the
    /// net), a side that lifts or is smashed at defends side by side; partners swap places as
    /// they change, as pairs do (and cross each other on the way).
    fn formation(&mut self, hitter: usize, kind: SwingKind) {
        let half = self.sport.half_extent();
        let side = self.players[hitter].side;
        let team: Vec<usize> = (0..self.players.len())
            .filter(|&i| self.players[i].side == side)
            .collect();
        let other: Vec<usize> = (0..self.players.len())
            .filter(|&i| self.players[i].side != side)
            .collect();
        // Into side by side: the player at the back crosses behind the partner to the other
        // half (the partner slides across at the front), which is how a pair ends up swapped.
        let side_by_side = |players: &mut Vec<Player>, team: &[usize]| {
            if let [a, b] = *team {
                let (back, front) = if players[a].pos.y.abs() >= players[b].pos.y.abs() {
                    (a, b)
                } else {
                    (b, a)
                };
                let to = if players[back].pos.x > 0.0 { -1.0 } else { 1.0 };
                let s = players[a].side;
                players[back].home = Vec2::new(to * 0.45 * half.x, s * 0.55 * half.y);
                players[front].home = Vec2::new(-to * 0.45 * half.x, s * 0.55 * half.y);
            }
        };
        match kind {
            SwingKind::Overhead => {
                if let [a, b] = *team {
                    let partner = if a == hitter { b } else { a };
                    let x = self.players[hitter].pos.x.clamp(-0.3, 0.3) * half.x;
                    self.players[hitter].home = Vec2::new(x, side * 0.74 * half.y);
                    self.players[partner].home = Vec2::new(-x * 0.3, side * 0.3 * half.y);
                }
                side_by_side(&mut self.players, &other);
            }
            SwingKind::Low => side_by_side(&mut self.players, &team),
            _ => {}
        }
    }

    /// `hitter` strikes the shuttle at `from` (time `t0`): choose the next shot, its receiver
    /// on the other side, and send the receiver running to meet it.
    fn hit(&mut self, hitter: usize, from: Vec3, kind: SwingKind, t0: f32) {
        let half = self.sport.half_extent();
        let side = -self.players[hitter].side;
        let rng = &mut self.rng;
        let last = self.shots_left == 0;
        self.shots_left = self.shots_left.saturating_sub(1);
        let target = Vec2::new(
            rng.random_range(-0.85..0.85) * half.x,
            side * rng.random_range(0.12..0.95) * half.y,
        );
        // The next contact: its height decides the receiver's swing.
        let (next, z) = if last {
            (None, 0.03)
        } else {
            let roll: f32 = rng.random_range(0.0..1.0);
            let deep = target.y.abs() > 0.55 * half.y;
            let k = if roll < 0.2 || (deep && roll < 0.6) {
                SwingKind::Overhead
            } else if roll < 0.7 {
                SwingKind::Drive
            } else {
                SwingKind::Low
            };
            let z = match k {
                SwingKind::Overhead => rng.random_range(2.2..3.0),
                SwingKind::Drive => rng.random_range(0.9..1.7),
                _ => rng.random_range(0.25..0.7),
            };
            (Some(k), z)
        };
        let to = Vec3::new(target.x, target.y, z);
        // Speed off the racket (m/s) and whether the shot rises first (clears, lifts, high
        // serves) or is hit flat or down (smashes, drives, net shots).
        let (speed, high) = match kind {
            SwingKind::Overhead if rng.random_bool(0.4) => (rng.random_range(40.0..70.0), false),
            SwingKind::Overhead => (rng.random_range(26.0..40.0), rng.random_bool(0.7)),
            SwingKind::Drive => (rng.random_range(18.0..30.0), false),
            SwingKind::Low | SwingKind::Serve => {
                (rng.random_range(12.0..24.0), rng.random_bool(0.5))
            }
        };
        // Clear the net (1.55 m at the posts) by 10 cm.
        let flight = Flight::launch(from, to, speed, high, 1.65, t0);
        if let Path::Physical { v0 } = flight.path {
            self.events.push(SceneEvent::Hit {
                id: self.players[hitter].id,
                pos: from,
                speed: v0.length(),
                serve: kind == SwingKind::Serve,
            });
        }
        let receiver = next.map(|k| {
            let r = self.nearest(side, target);
            let p = &mut self.players[r];
            let reach = Vec2::new(p.hand * 0.45 * p.side, 0.25 * p.side);
            p.goal = target + reach;
            p.swing = Some(Swing {
                kind: k,
                start: flight.end() - CONTACT_PHASE * SWING_TIME,
                jump: if k == SwingKind::Overhead && z > 2.55 {
                    (z - 2.45).min(0.45)
                } else {
                    0.0
                },
            });
            r
        });
        self.formation(hitter, kind);
        // Everyone else drifts back to base; the hitter recovers.
        for (i, p) in self.players.iter_mut().enumerate() {
            if Some(i) != receiver {
                p.goal = p.home;
            }
        }
        self.shuttle = Shuttle::Flying { flight, receiver };
    }

    fn nearest(&self, side: f32, to: Vec2) -> usize {
        let mut best = (usize::MAX, f32::MAX);
        for (i, p) in self.players.iter().enumerate() {
            let d = p.pos.distance(to);
            if p.side == side && d < best.1 {
                best = (i, d);
            }
        }
        best.0
    }

    /// The shuttle at time `t` (which may be a little off the current frame, for motion blur).
    pub fn shuttle_at(&self, t: f32) -> ShuttleState {
        match self.shuttle {
            Shuttle::Flying { flight, .. } => {
                let t = t.min(flight.end());
                let (a, b) = (flight.at(t - 0.01), flight.at(t + 0.01));
                let dir = (b - a).try_normalize().unwrap_or(Vec3::Y);
                ShuttleState {
                    pos: flight.at(t),
                    dir,
                }
            }
            Shuttle::Down { at, .. } => ShuttleState {
                pos: Vec3::new(at.x, at.y, 0.03),
                dir: Vec3::new(0.8, 0.6, 0.0),
            },
            Shuttle::Held { server, .. } => ShuttleState {
                pos: self
                    .players
                    .get(server)
                    .map_or(Vec3::new(0.0, 0.0, 1.0), |p| match self.sport {
                        Sport::Badminton => {
                            p.racket_point(SwingKind::Serve) + Vec3::new(0.0, 0.0, 0.1)
                        }
                        Sport::Netball => p.hold_point(),
                    }),
                dir: Vec3::Z,
            },
        }
    }

    /// Current brightness factor of the hall lights (slow drift plus a faster flicker).
    pub fn light(&self, amplitude: f32) -> f32 {
        let [a, b] = self.light_phase;
        1.0 + amplitude
            * (0.7 * (TAU * self.t / 9.0 + a).sin() + 0.3 * (TAU * self.t / 2.3 + b).sin())
    }
}

/// Smooth interpolation between keyframes `(phase, values)`.
fn keyframes<const N: usize>(frames: &[(f32, [f32; N])], s: f32) -> [f32; N] {
    let s = s.clamp(frames[0].0, frames[frames.len() - 1].0);
    for w in frames.windows(2) {
        let ((s0, a), (s1, b)) = (w[0], w[1]);
        if s <= s1 {
            let u = ((s - s0) / (s1 - s0).max(1e-6)).clamp(0.0, 1.0);
            let u = u * u * (3.0 - 2.0 * u);
            let mut out = [0.0; N];
            for i in 0..N {
                out[i] = a[i] + (b[i] - a[i]) * u;
            }
            return out;
        }
    }
    frames[frames.len() - 1].1
}

/// Racket arm keyframes: elevation from hanging (rad), azimuth from forward towards the racket
/// side (rad), elbow flex (rad), forearm bend direction (+1 forward, -1 back), torso twist.
fn racket_arm(kind: SwingKind, s: f32) -> [f32; 5] {
    match kind {
        SwingKind::Overhead => keyframes(
            &[
                (0.0, [0.8, 0.5, 1.2, 1.0, 0.0]),
                (0.35, [2.5, 1.9, 2.1, -1.0, -0.6]),
                (0.6, [2.95, 0.2, 0.1, 1.0, 0.1]),
                (0.85, [1.0, -0.9, 0.5, 1.0, 0.5]),
                (1.0, [0.8, 0.0, 1.0, 1.0, 0.1]),
            ],
            s,
        ),
        SwingKind::Drive => keyframes(
            &[
                (0.0, [0.8, 0.5, 1.2, 1.0, 0.0]),
                (0.35, [1.3, 2.3, 1.4, 1.0, -0.5]),
                (0.6, [1.45, 0.7, 0.25, 1.0, 0.1]),
                (0.85, [1.2, -0.7, 0.9, 1.0, 0.45]),
                (1.0, [0.8, 0.3, 1.1, 1.0, 0.0]),
            ],
            s,
        ),
        SwingKind::Low => keyframes(
            &[
                (0.0, [0.8, 0.5, 1.2, 1.0, 0.0]),
                (0.35, [0.9, 0.6, 0.6, 1.0, -0.2]),
                (0.6, [1.25, 0.15, 0.1, 1.0, 0.0]),
                (0.85, [1.6, -0.1, 0.5, 1.0, 0.2]),
                (1.0, [0.9, 0.4, 1.1, 1.0, 0.0]),
            ],
            s,
        ),
        SwingKind::Serve => keyframes(
            &[
                (0.0, [0.5, 2.4, 0.6, 1.0, -0.3]),
                (0.6, [0.6, 0.2, 0.2, 1.0, 0.1]),
                (1.0, [1.4, -0.4, 0.8, 1.0, 0.3]),
            ],
            s,
        ),
    }
}

/// Pose parameters before they become keypoints.
#[derive(Debug, Clone, Copy, Default)]
struct Pose {
    run: f32,
    phase: f32,
    crouch: f32,
    lunge: f32,
    lean: f32,
    jump: f32,
    /// Racket arm: elevation, azimuth, flex, bend, twist.
    arm: [f32; 5],
    /// Other arm: elevation, azimuth, flex.
    off_arm: [f32; 3],
}

/// Keypoints and body geometry of one player at one instant.
#[derive(Debug, Clone)]
pub struct Body {
    pub kpts: Skeleton3,
    /// Toe points (for the shoes), left then right.
    pub toes: [Vec3; 2],
    /// Head centre and radius.
    pub head: (Vec3, f32),
    /// Racket: grip end, head centre, head orientation (unit vectors across the head).
    pub racket: (Vec3, Vec3, Vec3, Vec3),
    /// Scale of the limbs (player height / 1.75 m).
    pub scale: f32,
    /// Facing direction (unit, horizontal).
    pub facing: Vec3,
}

impl Player {
    /// Netball player `i` of `n`: teams alternate (A attacks +y, B -y), positions in
    /// [`Role::ORDER`], each starting in its zone, both teams in their own kit.
    fn netball(
        i: usize,
        half: Vec2,
        shirts: [usize; 2],
        shorts: [[u8; 3]; 2],
        rng: &mut Pcg64Mcg,
    ) -> Player {
        let team = i % 2;
        let side = if team == 0 { 1.0 } else { -1.0 };
        let role = Role::ORDER[(i / 2).min(6)];
        let zone = zone(role, side, half);
        let home = Vec2::new(
            rng.random_range(-0.7..0.7) * half.x,
            rng.random_range(zone.0..zone.1),
        );
        Player {
            id: i as u64 + 1,
            side,
            role: Some(role),
            home,
            retarget: 0.0,
            pos: home,
            vel: Vec2::ZERO,
            goal: home,
            heading: if side > 0.0 { PI / 2.0 } else { -PI / 2.0 },
            height: rng.random_range(1.68..1.9),
            hand: if rng.random_bool(0.85) { 1.0 } else { -1.0 },
            phase: rng.random_range(0.0..TAU),
            lunge: 0.0,
            swing: None,
            outfit: Outfit {
                shirt: SHIRTS[shirts[team]],
                shorts: shorts[team],
                skin: SKINS[rng.random_range(0..SKINS.len())],
                hair: HAIRS[rng.random_range(0..HAIRS.len())],
                shoes: [235, 235, 235],
            },
        }
    }

    fn step(&mut self, t: f32, dt: f32) {
        // Run towards the goal: accelerate up to ~5.5 m/s, brake near it.
        let to = self.goal - self.pos;
        let d = to.length();
        let want = if d > 0.05 {
            to / d * (d * 4.0).min(5.5)
        } else {
            Vec2::ZERO
        };
        let dv = want - self.vel;
        let max_dv = 18.0 * dt;
        self.vel += if dv.length() > max_dv {
            dv / dv.length() * max_dv
        } else {
            dv
        };
        self.pos += self.vel * dt;
        let speed = self.vel.length();
        self.phase = (self.phase + TAU * speed * dt / 2.4) % TAU;
        // Face the net, turned towards where the player runs, side-on for overheads.
        // Badminton: towards the net; netball: towards the goal the team attacks.
        let net = if (self.side < 0.0) != self.role.is_some() {
            PI / 2.0
        } else {
            -PI / 2.0
        };
        let mut want_heading = net;
        if speed > 0.5 {
            let run_dir = self.vel.y.atan2(self.vel.x);
            let diff = wrap(run_dir - net).clamp(-1.0, 1.0);
            want_heading += diff * (speed / 5.5).min(1.0) * 0.8;
        }
        let mut lunge_target = 0.0;
        if let Some(sw) = self.swing {
            let s = (t - sw.start) / SWING_TIME;
            if (0.0..=1.0).contains(&s) {
                if sw.kind == SwingKind::Overhead {
                    want_heading -= self.hand * 0.7 * (1.0 - (s - 0.5).abs() * 2.0).max(0.0);
                }
                if sw.kind == SwingKind::Low && (0.1..0.95).contains(&s) {
                    lunge_target = 1.0;
                }
            } else if s > 1.0 {
                self.swing = None;
            }
        }
        self.lunge += (lunge_target - self.lunge) * (dt * 7.0).min(1.0);
        let turn = wrap(want_heading - self.heading);
        self.heading += turn.clamp(-6.0 * dt, 6.0 * dt);
    }

    fn pose(&self, t: f32) -> Pose {
        let speed = self.vel.length();
        let run = (speed / 4.0).min(1.0);
        let mut pose = Pose {
            run,
            phase: self.phase,
            crouch: (1.0 - run) * 0.8,
            lunge: self.lunge,
            lean: 0.12 + 0.25 * run + 0.45 * self.lunge,
            jump: 0.0,
            arm: [0.8, 0.5, 1.2, 1.0, 0.0],
            off_arm: [0.5, 0.3, 0.9],
        };
        // Arms swing against the legs when running.
        let a = 0.7 * run * (self.phase).sin();
        pose.off_arm = [
            0.5 * (1.0 - run) + (0.25 + a).abs() * run,
            if a >= 0.0 { 0.3 } else { 2.8 },
            0.9 + 0.6 * run,
        ];
        if let Some(sw) = self.swing {
            let s = (t - sw.start) / SWING_TIME;
            if (0.0..=1.0).contains(&s) {
                pose.arm = racket_arm(sw.kind, s);
                if sw.kind == SwingKind::Overhead {
                    // The other arm points up at the shuttle, then tucks in.
                    pose.off_arm = keyframes(
                        &[
                            (0.0, pose.off_arm),
                            (0.3, [2.5, 0.4, 0.3]),
                            (0.6, [1.2, -0.6, 1.4]),
                            (1.0, [0.5, 0.3, 0.9]),
                        ],
                        s,
                    );
                    let j = ((s - 0.25) / 0.7).clamp(0.0, 1.0);
                    pose.jump = sw.jump * (PI * j).sin();
                    pose.lean -= 0.2 * (1.0 - (s - 0.45).abs() * 3.0).max(0.0);
                }
            }
        }
        pose
    }

    /// Netball: where the ball is held, in both hands in front of the chest.
    fn hold_point(&self) -> Vec3 {
        let f = Vec3::new(self.heading.cos(), self.heading.sin(), 0.0);
        Vec3::new(self.pos.x, self.pos.y, 0.0) + f * 0.3 + Vec3::Z * 1.3 * self.height / 1.75
    }

    /// Where the racket meets the shuttle for a swing of `kind`, roughly.
    fn racket_point(&self, kind: SwingKind) -> Vec3 {
        let f = Vec3::new(self.heading.cos(), self.heading.sin(), 0.0);
        let right = f.cross(Vec3::Z);
        let base = Vec3::new(self.pos.x, self.pos.y, 0.0);
        let h = self.height / 1.75;
        match kind {
            SwingKind::Serve => {
                base + right * self.hand * 0.35 * h + f * 0.45 * h + Vec3::Z * 0.9 * h
            }
            _ => base + f * 0.4 + Vec3::Z * 1.2 * h,
        }
    }

    /// The player's keypoints and body geometry at time `t`.
    pub fn body(&self, t: f32) -> Body {
        let pose = self.pose(t);
        let h = self.height;
        let sc = h / 1.75;
        let f = Vec3::new(self.heading.cos(), self.heading.sin(), 0.0);
        let r = f.cross(Vec3::Z);
        let u = Vec3::Z;
        let (thigh, shin) = (0.245 * h, 0.246 * h);
        let hip_w = 0.085 * h;
        let mut k = [Vec3::ZERO; 17];
        // Legs, with the pelvis at the origin for now. Left leg = -r side.
        let racket_leg = if self.hand > 0.0 { 1 } else { 0 };
        let mut toes = [Vec3::ZERO; 2];
        for (leg, side) in [(0usize, -1.0f32), (1, 1.0)] {
            let off = if leg == 0 { 0.0 } else { PI };
            let gait = 0.55 * pose.run * (pose.phase + off).sin();
            let gait_knee = pose.run * 1.1 * (pose.phase + off + PI / 2.0).sin().max(0.0);
            let mut th = gait + 0.3 * pose.crouch;
            let mut knee = 0.15 + gait_knee + 0.55 * pose.crouch;
            if pose.lunge > 0.0 {
                let (lt, lk) = if leg == racket_leg {
                    (1.3, 1.3)
                } else {
                    (-0.75, 0.2)
                };
                th = th * (1.0 - pose.lunge) + lt * pose.lunge;
                knee = knee * (1.0 - pose.lunge) + lk * pose.lunge;
            }
            if pose.jump > 0.05 {
                knee += 0.6 * (pose.jump / 0.45).min(1.0);
            }
            let abd = 0.1 + 0.12 * pose.crouch;
            let out = r * side;
            let hip = out * hip_w;
            let dt_ = (f * th.sin() - u * th.cos() + out * abd.sin()).normalize();
            let kn = hip + dt_ * thigh;
            let ps = th - knee;
            let ds = (f * ps.sin() - u * ps.cos() + out * (abd * 0.5).sin()).normalize();
            let an = kn + ds * shin;
            let (hi, ki, ai) = if leg == 0 {
                (L_HIP, L_KNEE, L_ANKLE)
            } else {
                (R_HIP, R_KNEE, R_ANKLE)
            };
            k[hi] = hip;
            k[ki] = kn;
            k[ai] = an;
            toes[leg] = an + f * 0.17 * sc - u * 0.04 * sc;
        }
        // Ground contact: the lower ankle 7 cm up, plus the jump.
        let ankle_h = 0.075 * sc;
        let low = k[L_ANKLE].z.min(k[R_ANKLE].z);
        let pelvis = Vec3::new(self.pos.x, self.pos.y, ankle_h - low + pose.jump);
        // Torso, leaning forward and twisting with the swing.
        let lean = pose.lean;
        let twist = pose.arm[4] * self.hand;
        let rt = r * twist.cos() + f * twist.sin();
        let ft = rt.cross(u) * -1.0;
        let ft = if ft.dot(f) < 0.0 { -ft } else { ft };
        let spine = (u * lean.cos() + f * lean.sin()) * (0.29 * h);
        let shoulder_c = spine;
        k[L_SHOULDER] = shoulder_c - rt * 0.105 * h;
        k[R_SHOULDER] = shoulder_c + rt * 0.105 * h;
        // Head.
        let head_r = 0.062 * h;
        let neck_dir = (u * (lean * 0.5).cos() + f * (lean * 0.5).sin()).normalize();
        let head = shoulder_c + neck_dir * (0.115 * h);
        k[NOSE] = head + f * head_r * 0.95 - u * head_r * 0.15;
        k[L_EYE] = head + f * head_r * 0.8 + u * head_r * 0.2 - r * head_r * 0.35;
        k[R_EYE] = head + f * head_r * 0.8 + u * head_r * 0.2 + r * head_r * 0.35;
        k[L_EAR] = head - r * head_r * 0.95 - f * head_r * 0.1;
        k[R_EAR] = head + r * head_r * 0.95 - f * head_r * 0.1;
        // Arms: the racket arm is the right one for right-handers.
        let (upper, fore) = (0.186 * h, 0.146 * h);
        let arm = |shoulder: Vec3, out: Vec3, elev: f32, az: f32, flex: f32, bend: f32| {
            let horiz = ft * az.cos() + out * az.sin();
            let d = (-u * elev.cos() + horiz * elev.sin()).normalize();
            let hint = ft * bend + u * 0.5;
            let b = (hint - d * hint.dot(d)).try_normalize().unwrap_or(ft);
            let e = shoulder + d * upper;
            let fd = d * flex.cos() + b * flex.sin();
            (e, e + fd * fore, fd)
        };
        let (ri, le, re, lw, rw) = (R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST);
        let (racket_sh, off_sh) = if self.hand > 0.0 {
            (ri, L_SHOULDER)
        } else {
            (L_SHOULDER, ri)
        };
        let out_racket = if self.hand > 0.0 { rt } else { -rt };
        let [el, az, fl, bend, _] = pose.arm;
        let (e1, w1, fdir) = arm(k[racket_sh], out_racket, el, az, fl, bend);
        let [oel, oaz, ofl] = pose.off_arm;
        let (e2, w2, _) = arm(k[off_sh], -out_racket, oel, oaz, ofl, 1.0);
        if self.hand > 0.0 {
            k[re] = e1;
            k[rw] = w1;
            k[le] = e2;
            k[lw] = w2;
        } else {
            k[le] = e1;
            k[lw] = w1;
            k[re] = e2;
            k[rw] = w2;
        }
        for p in k.iter_mut() {
            *p += pelvis;
        }
        for p in toes.iter_mut() {
            *p += pelvis;
        }
        let head = head + pelvis;
        // Racket: the grip in the hand, along the forearm, bent up a little.
        let wrist = if self.hand > 0.0 { k[rw] } else { k[lw] };
        let rdir = (fdir + u * 0.3).normalize();
        let across = rdir.cross(ft).try_normalize().unwrap_or(r);
        let racket = (wrist, wrist + rdir * 0.55 * sc, rdir, across);
        Body {
            kpts: k,
            toes,
            head: (head, head_r),
            racket,
            scale: sc,
            facing: f,
        }
    }
}

/// The y range (metres) a netball position may use, for a team attacking towards `side`.
fn zone(role: Role, side: f32, half: Vec2) -> (f32, f32) {
    let third = 2.0 * half.y / 3.0;
    let (a, b) = role.thirds();
    // Counted from the team's own goal end: -y for a team attacking +y.
    let lo = -half.y + a as f32 * third;
    let hi = -half.y + (b + 1) as f32 * third;
    if side > 0.0 {
        (lo + 0.3, hi - 0.3)
    } else {
        (-hi + 0.3, -lo - 0.3)
    }
}

fn wrap(a: f32) -> f32 {
    (a + PI).rem_euclid(TAU) - PI
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_match_other_seed_other_match() {
        let run = |seed| {
            let mut s = Scene::new(Sport::Badminton, 4, seed, 1280, 720, CameraSetup::default());
            let mut out = Vec::new();
            for _ in 0..300 {
                s.step(1.0 / 30.0);
                out.push((s.shuttle_at(s.t).pos, s.players[0].body(s.t).kpts[NOSE]));
            }
            out
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn bodies_stand_on_the_floor_and_keep_their_proportions() {
        let mut s = Scene::new(Sport::Badminton, 2, 3, 1280, 720, CameraSetup::default());
        for _ in 0..900 {
            s.step(1.0 / 30.0);
            for p in &s.players {
                let b = p.body(s.t);
                let low = b.kpts[L_ANKLE].z.min(b.kpts[R_ANKLE].z);
                assert!((0.05..0.7).contains(&low), "ankle height {low}");
                let head_top = b.head.0.z + b.head.1;
                assert!(
                    head_top > low + 0.9 * p.height * 0.6,
                    "head {head_top} ankle {low}"
                );
                let upper = b.kpts[L_SHOULDER].distance(b.kpts[L_ELBOW]);
                assert!((upper - 0.186 * p.height).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn shuttle_stays_over_the_floor_and_crosses_the_net_above_it() {
        let mut s = Scene::new(Sport::Badminton, 2, 11, 1280, 720, CameraSetup::default());
        let mut prev = s.shuttle_at(s.t).pos;
        let mut crossings = 0;
        for _ in 0..3000 {
            s.step(1.0 / 60.0);
            let p = s.shuttle_at(s.t).pos;
            assert!(p.z > 0.0 && p.z < 12.0, "shuttle at {p}");
            // (A new rally moves the shuttle from the floor to the server's hand at once.)
            if prev.y * p.y < 0.0 && prev.distance(p) < 1.0 {
                crossings += 1;
                let z = (prev.z + p.z) / 2.0;
                assert!(z > 1.5, "crossed the net at {z} m");
            }
            prev = p;
        }
        assert!(crossings > 10, "only {crossings} net crossings in 50 s");
    }

    #[test]
    fn camera_fits_the_court() {
        for (w, h) in [(1280, 720), (640, 640), (720, 1280)] {
            let s = Scene::new(Sport::Badminton, 2, 5, w, h, CameraSetup::default());
            for (x, y) in [(-3.05, -6.7), (3.05, -6.7), (-3.05, 6.7), (3.05, 6.7)] {
                let (p, _) = s.camera.project(Vec3::new(x, y, 0.0)).unwrap();
                assert!(
                    p.x > 0.0 && p.x < w as f32 && p.y > 0.0 && p.y < h as f32,
                    "{p}"
                );
            }
        }
    }
}
