// SPDX-License-Identifier: MIT OR Apache-2.0
//! Draws a [`Scene`] with tiny-skia and works out the ground truth of what was drawn: the hall
//! and court are drawn once per caps into a background; each frame copies it, adds shadows,
//! the players beyond the net, the net, the players before it and the shuttle (with motion
//! blur), then lighting and sensor noise on the way into the output buffer.

use glam::{Vec2, Vec3};
use rayon::prelude::*;
use tiny_skia::{
    Color, FillRule, GradientStop, LineCap, LinearGradient, Paint, PathBuilder, Pixmap,
    PixmapPaint, Point, RadialGradient, Shader, SpreadMode, Stroke, Transform,
};

use super::scene::*;

/// Keypoints in pixels with whether they are inside the frame.
pub type Keypoints2 = [(f32, f32, bool); 17];

/// A player in a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthPlayer {
    /// The player's identity for the whole match (1, 2, ...).
    pub id: u64,
    /// Box (x1, y1, x2, y2).
    pub bbox: [f32; 4],
    /// Keypoints (x, y, visible).
    pub kpts: Keypoints2,
}

/// What is in a frame: players with their 17 keypoints and the shuttle (ball), in pixels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Truth {
    pub players: Vec<TruthPlayer>,
    /// Box (x1, y1, x2, y2) of the shuttle, including its motion blur.
    pub ball: Option<[f32; 4]>,
    /// Where the shuttle's centre is at the frame's time.
    pub ball_centre: Option<(f32, f32)>,
}

pub struct Renderer {
    width: u32,
    height: u32,
    background: Pixmap,
    net: Option<(Pixmap, i32, i32)>,
    canvas: Pixmap,
    /// Off only in tests, to see what exactly a player or the shuttle adds to the picture.
    shadows: bool,
    ball: bool,
}

fn rgb(c: [u8; 3], k: f32) -> Color {
    let f = |v: u8| (v as f32 / 255.0 * k).clamp(0.0, 1.0);
    Color::from_rgba(f(c[0]), f(c[1]), f(c[2]), 1.0).expect("valid colour")
}

fn solid(c: Color) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(c);
    p.anti_alias = true;
    p
}

/// A paint shading colour `c` from `from` to `to` with brightness stops `(position, factor)`:
/// what gives limbs and torsos their volume.
fn shaded(c: [u8; 3], from: Vec2, to: Vec2, stops: [(f32, f32); 3]) -> Paint<'static> {
    let shader = LinearGradient::new(
        Point::from_xy(from.x, from.y),
        Point::from_xy(to.x, to.y),
        stops
            .iter()
            .map(|&(at, k)| GradientStop::new(at, rgb(c, k)))
            .collect(),
        SpreadMode::Pad,
        Transform::identity(),
    )
    .unwrap_or(Shader::SolidColor(rgb(c, 1.0)));
    Paint {
        shader,
        anti_alias: true,
        ..Default::default()
    }
}

/// Fills `path` (non-zero winding, no transform).
fn fill(pm: &mut Pixmap, path: &tiny_skia::Path, paint: &Paint) {
    pm.fill_path(path, paint, FillRule::Winding, Transform::identity(), None);
}

fn fill_poly(pm: &mut Pixmap, pts: &[Vec2], paint: &Paint) {
    let mut pb = PathBuilder::new();
    for (i, p) in pts.iter().enumerate() {
        if i == 0 {
            pb.move_to(p.x, p.y);
        } else {
            pb.line_to(p.x, p.y);
        }
    }
    pb.close();
    if let Some(path) = pb.finish() {
        fill(pm, &path, paint);
    }
}

/// Projects a polygon lying in the world; `None` if a corner is behind the camera.
fn project_all(scene: &Scene, pts: &[Vec3]) -> Option<Vec<Vec2>> {
    pts.iter()
        .map(|p| scene.camera.project(*p).map(|(q, _)| q))
        .collect()
}

/// A floor rectangle (a court line, the court) from (x0, y0) to (x1, y1).
fn floor_rect(pm: &mut Pixmap, scene: &Scene, x0: f32, y0: f32, x1: f32, y1: f32, paint: &Paint) {
    let z = 0.001;
    if let Some(q) = project_all(
        scene,
        &[
            Vec3::new(x0, y0, z),
            Vec3::new(x1, y0, z),
            Vec3::new(x1, y1, z),
            Vec3::new(x0, y1, z),
        ],
    ) {
        fill_poly(pm, &q, paint);
    }
}

/// A line on the floor of width `w` from `a` to `b`.
fn floor_line(pm: &mut Pixmap, scene: &Scene, a: Vec2, b: Vec2, w: f32, paint: &Paint) {
    let d = (b - a).normalize_or_zero();
    let n = d.perp() * (w / 2.0);
    let (a, b) = (a - d * w / 2.0, b + d * w / 2.0);
    if let Some(q) = project_all(
        scene,
        &[
            (a + n).extend(0.002),
            (b + n).extend(0.002),
            (b - n).extend(0.002),
            (a - n).extend(0.002),
        ],
    ) {
        fill_poly(pm, &q, paint);
    }
}

/// A circle (arc from `a0` to `a1`) on the floor.
#[allow(clippy::too_many_arguments)]
fn floor_arc(
    pm: &mut Pixmap,
    scene: &Scene,
    c: Vec2,
    r: f32,
    a0: f32,
    a1: f32,
    w: f32,
    paint: &Paint,
) {
    let n = 48;
    let pts: Vec<Vec2> = (0..=n)
        .map(|i| {
            let a = a0 + (a1 - a0) * i as f32 / n as f32;
            c + Vec2::new(a.cos(), a.sin()) * r
        })
        .collect();
    for w2 in pts.windows(2) {
        floor_line(pm, scene, w2[0], w2[1], w, paint);
    }
}

/// Bounds of what is drawn for one object, in pixels.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    lo: Vec2,
    hi: Vec2,
}

impl Bounds {
    fn new() -> Bounds {
        Bounds {
            lo: Vec2::splat(f32::MAX),
            hi: Vec2::splat(f32::MIN),
        }
    }

    fn add(&mut self, p: Vec2, r: f32) {
        self.lo = self.lo.min(p - Vec2::splat(r));
        self.hi = self.hi.max(p + Vec2::splat(r));
    }

    fn is_empty(&self) -> bool {
        self.lo.x > self.hi.x
    }
}

/// One piece of a player, drawn back to front.
enum Part {
    Limb(Vec3, f32, Vec3, f32, [u8; 3]),
    Torso,
    Head,
    Racket,
}

impl Renderer {
    pub fn new(scene: &Scene, width: u32, height: u32) -> Renderer {
        let mut background = Pixmap::new(width, height).expect("frame size checked by caps");
        draw_hall(&mut background, scene);
        let net = (scene.sport == Sport::Badminton)
            .then(|| draw_net(scene, width, height))
            .flatten();
        Renderer {
            width,
            height,
            canvas: background.clone(),
            background,
            net,
            shadows: true,
            ball: true,
        }
    }

    /// Draws the scene at its current time; `exposure` (s) smears the shuttle when > 0.
    pub fn render(&mut self, scene: &Scene, exposure: f32) -> Truth {
        self.canvas
            .data_mut()
            .copy_from_slice(self.background.data());
        let t = scene.t;
        let bodies: Vec<(usize, Body)> = scene
            .players
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.body(t)))
            .collect();
        let shuttle = scene.shuttle_at(t);
        if self.shadows {
            for (i, b) in &bodies {
                self.shadow(scene, &scene.players[*i], b);
            }
            self.ball_shadow(scene, shuttle.pos);
        }
        // Back to front: beyond the net (far first), the net, then the near side.
        let depth = |b: &Body| {
            scene
                .camera
                .project(b.kpts[L_HIP].lerp(b.kpts[R_HIP], 0.5))
                .map_or(0.0, |(_, d)| d)
        };
        let mut order: Vec<&(usize, Body)> = bodies.iter().collect();
        order.sort_by(|a, b| depth(&b.1).total_cmp(&depth(&a.1)));
        let mut truth = Truth::default();
        let mut boxes = vec![None; bodies.len()];
        let ball_far = shuttle.pos.y > 0.0;
        let mut ball_drawn = false;
        let mut net_drawn = false;
        for (i, b) in order {
            let far = scene.players[*i].pos.y > 0.0;
            if !far && !net_drawn {
                if ball_far {
                    truth_ball(
                        &mut truth,
                        self.draw_ball(scene, exposure),
                        self.width,
                        self.height,
                    );
                    ball_drawn = true;
                }
                self.draw_net_layer();
                net_drawn = true;
            }
            boxes[*i] = Some(self.draw_player(scene, &scene.players[*i], b));
        }
        if !net_drawn {
            if ball_far {
                truth_ball(
                    &mut truth,
                    self.draw_ball(scene, exposure),
                    self.width,
                    self.height,
                );
                ball_drawn = true;
            }
            self.draw_net_layer();
        }
        if !ball_drawn {
            truth_ball(
                &mut truth,
                self.draw_ball(scene, exposure),
                self.width,
                self.height,
            );
        }
        truth.ball_centre = scene
            .camera
            .project(shuttle.pos)
            .map(|(p, _)| (p.x, p.y))
            .filter(|&(x, y)| self.inside(x, y));
        if truth.ball_centre.is_none() {
            truth.ball = None;
        }
        for ((i, body), bounds) in bodies.iter().zip(boxes) {
            let Some(bounds) = bounds else { continue };
            if bounds.is_empty() {
                continue;
            }
            let full = [bounds.lo.x, bounds.lo.y, bounds.hi.x, bounds.hi.y];
            let clipped = self.clip(full);
            let area = |b: [f32; 4]| (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0);
            // Mostly outside the frame: not labelled (as annotators would skip it).
            if area(clipped) < 0.3 * area(full) {
                continue;
            }
            let mut kpts = [(0.0, 0.0, false); 17];
            for (k, p) in body.kpts.iter().enumerate() {
                if let Some((q, _)) = scene.camera.project(*p) {
                    kpts[k] = (q.x, q.y, self.inside(q.x, q.y));
                }
            }
            truth.players.push(TruthPlayer {
                id: scene.players[*i].id,
                bbox: clipped,
                kpts,
            });
        }
        truth
    }

    /// The frame as premultiplied RGBA (opaque, so plain RGBA).
    pub fn rgba(&self) -> &[u8] {
        self.canvas.data()
    }

    fn inside(&self, x: f32, y: f32) -> bool {
        x >= 0.0 && y >= 0.0 && x < self.width as f32 && y < self.height as f32
    }

    fn clip(&self, b: [f32; 4]) -> [f32; 4] {
        let (w, h) = (self.width as f32, self.height as f32);
        [
            b[0].clamp(0.0, w),
            b[1].clamp(0.0, h),
            b[2].clamp(0.0, w),
            b[3].clamp(0.0, h),
        ]
    }

    fn draw_net_layer(&mut self) {
        if let Some((net, x, y)) = &self.net {
            self.canvas.draw_pixmap(
                *x,
                *y,
                net.as_ref(),
                &PixmapPaint::default(),
                Transform::identity(),
                None,
            );
        }
    }

    fn shadow(&mut self, scene: &Scene, p: &Player, b: &Body) {
        let lift = (b.kpts[L_ANKLE].z.min(b.kpts[R_ANKLE].z) - 0.07).max(0.0);
        let (rx, ry) = (0.42 * b.scale, 0.3 * b.scale);
        let pts: Vec<Vec3> = (0..20)
            .map(|i| {
                let a = i as f32 / 20.0 * std::f32::consts::TAU;
                Vec3::new(p.pos.x + rx * a.cos(), p.pos.y + ry * a.sin() - 0.1, 0.003)
            })
            .collect();
        if let Some(q) = project_all(scene, &pts) {
            let alpha = (0.32 - lift).clamp(0.05, 0.32);
            fill_poly(
                &mut self.canvas,
                &q,
                &solid(Color::from_rgba(0.0, 0.0, 0.0, alpha).unwrap()),
            );
        }
    }

    fn ball_shadow(&mut self, scene: &Scene, pos: Vec3) {
        if let Some((q, d)) = scene.camera.project(Vec3::new(pos.x, pos.y, 0.002)) {
            let r = scene.camera.radius(0.04 + 0.01 * pos.z, d).max(0.8);
            let alpha = (0.25 - 0.03 * pos.z).clamp(0.04, 0.25);
            if let Some(path) = PathBuilder::from_oval(
                tiny_skia::Rect::from_xywh(q.x - r, q.y - r * 0.5, 2.0 * r, r)
                    .unwrap_or(tiny_skia::Rect::from_xywh(q.x, q.y, 1.0, 1.0).expect("unit rect")),
            ) {
                let shade = solid(Color::from_rgba(0.0, 0.0, 0.0, alpha).unwrap());
                fill(&mut self.canvas, &path, &shade);
            }
        }
    }

    /// Draws a player back to front and returns the pixel bounds of the body (racket excluded).
    fn draw_player(&mut self, scene: &Scene, p: &Player, b: &Body) -> Bounds {
        let o = &p.outfit;
        let s = b.scale;
        let k = &b.kpts;
        let mut parts: Vec<(f32, Part)> = Vec::with_capacity(20);
        let cam = &scene.camera;
        let depth = |a: Vec3| cam.project(a).map_or(f32::MAX, |(_, d)| d);
        let mut limb = |a: Vec3, ra: f32, bb: Vec3, rb: f32, c: [u8; 3]| {
            parts.push((depth(a.lerp(bb, 0.5)), Part::Limb(a, ra * s, bb, rb * s, c)));
        };
        for (hip, knee, ankle, toe) in [(L_HIP, L_KNEE, L_ANKLE, 0), (R_HIP, R_KNEE, R_ANKLE, 1)] {
            let shorts_end = k[hip].lerp(k[knee], 0.45);
            limb(k[hip].lerp(k[knee], 0.3), 0.07, k[knee], 0.05, o.skin);
            limb(k[hip], 0.088, shorts_end, 0.08, o.shorts);
            limb(k[knee], 0.05, k[ankle], 0.036, o.skin);
            limb(
                k[ankle].lerp(k[knee], 0.25),
                0.04,
                k[ankle],
                0.037,
                [240, 240, 240],
            );
            limb(k[ankle], 0.045, b.toes[toe], 0.04, o.shoes);
        }
        limb(k[L_HIP], 0.095, k[R_HIP], 0.095, o.shorts);
        for (sh, el, wr) in [
            (L_SHOULDER, L_ELBOW, L_WRIST),
            (R_SHOULDER, R_ELBOW, R_WRIST),
        ] {
            limb(k[sh], 0.05, k[sh].lerp(k[el], 0.55), 0.045, o.shirt);
            limb(k[sh].lerp(k[el], 0.45), 0.038, k[el], 0.034, o.skin);
            limb(k[el], 0.034, k[wr], 0.027, o.skin);
        }
        let torso_c = k[L_SHOULDER].lerp(k[R_HIP], 0.5);
        // The torso goes behind the limbs at its depth (shorts over the shirt's hem, arms at
        // its sides), the neck behind the torso.
        let neck_top = b.head.0 - Vec3::Z * b.head.1 * 0.6;
        let neck_base = k[L_SHOULDER].lerp(k[R_SHOULDER], 0.5) + Vec3::Z * 0.03 * s;
        let nd = depth(torso_c) + 0.2;
        parts.push((
            nd,
            Part::Limb(neck_base, 0.05 * s, neck_top, 0.045 * s, o.skin),
        ));
        parts.push((depth(torso_c) + 0.1, Part::Torso));
        parts.push((depth(b.head.0) - 0.01, Part::Head));
        if scene.sport == Sport::Badminton {
            parts.push((depth(b.racket.1), Part::Racket));
        }
        parts.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut bounds = Bounds::new();
        for (_, part) in parts {
            match part {
                Part::Limb(a, ra, bb, rb, c) => {
                    self.capsule(cam, a, ra, bb, rb, c, &mut bounds);
                }
                Part::Torso => self.torso(cam, b, o.shirt, &mut bounds),
                Part::Head => self.head(cam, b, p, &mut bounds),
                Part::Racket => self.racket(cam, b),
            }
        }
        bounds
    }

    #[allow(clippy::too_many_arguments)]
    fn capsule(
        &mut self,
        cam: &Camera,
        a: Vec3,
        ra: f32,
        b: Vec3,
        rb: f32,
        c: [u8; 3],
        bounds: &mut Bounds,
    ) {
        let (Some((pa, da)), Some((pb, db))) = (cam.project(a), cam.project(b)) else {
            return;
        };
        let (ra, rb) = (cam.radius(ra, da).max(0.6), cam.radius(rb, db).max(0.6));
        bounds.add(pa, ra);
        bounds.add(pb, rb);
        let d = pb - pa;
        let len = d.length();
        let mut pb_ = PathBuilder::new();
        if len > 0.5 {
            let n = d.perp() / len;
            pb_.move_to(pa.x + n.x * ra, pa.y + n.y * ra);
            pb_.line_to(pb.x + n.x * rb, pb.y + n.y * rb);
            pb_.line_to(pb.x - n.x * rb, pb.y - n.y * rb);
            pb_.line_to(pa.x - n.x * ra, pa.y - n.y * ra);
            pb_.close();
        }
        pb_.push_circle(pa.x, pa.y, ra);
        pb_.push_circle(pb.x, pb.y, rb);
        let Some(path) = pb_.finish() else { return };
        // Shading across the limb gives it volume: light from above-left.
        let r = ra.max(rb);
        let n = if len > 0.5 { d.perp() / len } else { Vec2::X };
        let n = if n.y > 0.0 { -n } else { n };
        let m = (pa + pb) / 2.0;
        let paint = shaded(
            c,
            m + n * r,
            m - n * r,
            [(0.0, 1.12), (0.4, 1.0), (1.0, 0.62)],
        );
        fill(&mut self.canvas, &path, &paint);
    }

    fn torso(&mut self, cam: &Camera, b: &Body, shirt: [u8; 3], bounds: &mut Bounds) {
        let k = &b.kpts;
        let corners = [
            k[L_SHOULDER],
            k[R_SHOULDER],
            k[R_HIP].lerp(k[R_SHOULDER], 0.08),
            k[L_HIP].lerp(k[L_SHOULDER], 0.08),
        ];
        let Some(q) = corners
            .iter()
            .map(|p| cam.project(*p))
            .collect::<Option<Vec<_>>>()
        else {
            return;
        };
        let depth = q.iter().map(|x| x.1).sum::<f32>() / 4.0;
        let r = cam.radius(0.055 * b.scale, depth);
        let pts: Vec<Vec2> = q.iter().map(|x| x.0).collect();
        for p in &pts {
            bounds.add(*p, r);
        }
        let mut pb = PathBuilder::new();
        pb.move_to(pts[0].x, pts[0].y);
        for p in &pts[1..] {
            pb.line_to(p.x, p.y);
        }
        pb.close();
        let Some(path) = pb.finish() else { return };
        let (l, rr) = (pts[0].lerp(pts[3], 0.5), pts[1].lerp(pts[2], 0.5));
        let paint = shaded(shirt, l, rr, [(0.0, 0.72), (0.45, 1.08), (1.0, 0.7)]);
        fill(&mut self.canvas, &path, &paint);
        let stroke = Stroke {
            width: 2.0 * r,
            line_cap: LineCap::Round,
            line_join: tiny_skia::LineJoin::Round,
            ..Default::default()
        };
        self.canvas
            .stroke_path(&path, &paint, &stroke, Transform::identity(), None);
    }

    fn head(&mut self, cam: &Camera, b: &Body, p: &Player, bounds: &mut Bounds) {
        let (c, r) = b.head;
        let Some((q, d)) = cam.project(c) else { return };
        let rp = cam.radius(r, d).max(1.0);
        bounds.add(q, rp);
        let hair = solid(rgb(p.outfit.hair, 1.0));
        if let Some(path) = PathBuilder::from_circle(q.x, q.y, rp) {
            fill(&mut self.canvas, &path, &hair);
        }
        // The face shows where the head turns towards the camera.
        let to_cam = (cam.pos - c).normalize();
        let towards = b.facing.dot(to_cam);
        if towards > -0.4 {
            if let Some((fq, _)) = cam.project(c + b.facing * r * 0.35 - Vec3::Z * r * 0.12) {
                let fr = rp * (0.62 + 0.2 * towards.max(0.0));
                let shader = RadialGradient::new(
                    Point::from_xy(fq.x - fr * 0.3, fq.y - fr * 0.3),
                    0.0,
                    Point::from_xy(fq.x, fq.y),
                    fr,
                    vec![
                        GradientStop::new(0.0, rgb(p.outfit.skin, 1.1)),
                        GradientStop::new(1.0, rgb(p.outfit.skin, 0.8)),
                    ],
                    SpreadMode::Pad,
                    Transform::identity(),
                )
                .unwrap_or(Shader::SolidColor(rgb(p.outfit.skin, 1.0)));
                let paint = Paint {
                    shader,
                    anti_alias: true,
                    ..Default::default()
                };
                if let Some(path) = PathBuilder::from_circle(fq.x, fq.y, fr) {
                    fill(&mut self.canvas, &path, &paint);
                }
            }
        }
    }

    fn racket(&mut self, cam: &Camera, b: &Body) {
        let (grip, head, along, across) = b.racket;
        let (Some((g, _)), Some((_, dh))) = (cam.project(grip), cam.project(head)) else {
            return;
        };
        let shaft_end = head - along * 0.12;
        let Some((se, _)) = cam.project(shaft_end) else {
            return;
        };
        let w = cam.radius(0.012, dh).max(0.7);
        let frame = solid(Color::from_rgba8(35, 35, 40, 255));
        let mut pb = PathBuilder::new();
        pb.move_to(g.x, g.y);
        pb.line_to(se.x, se.y);
        if let Some(path) = pb.finish() {
            let stroke = Stroke {
                width: w,
                line_cap: LineCap::Round,
                ..Default::default()
            };
            self.canvas
                .stroke_path(&path, &frame, &stroke, Transform::identity(), None);
        }
        let mut pb = PathBuilder::new();
        for i in 0..=16 {
            let a = i as f32 / 16.0 * std::f32::consts::TAU;
            let p = head + along * (0.125 * a.cos()) + across * (0.1 * a.sin());
            let Some((q, _)) = cam.project(p) else { return };
            if i == 0 {
                pb.move_to(q.x, q.y);
            } else {
                pb.line_to(q.x, q.y);
            }
        }
        pb.close();
        if let Some(path) = pb.finish() {
            let strings = solid(Color::from_rgba(1.0, 1.0, 1.0, 0.18).unwrap());
            fill(&mut self.canvas, &path, &strings);
            let stroke = Stroke {
                width: w,
                ..Default::default()
            };
            self.canvas
                .stroke_path(&path, &frame, &stroke, Transform::identity(), None);
        }
    }

    /// Draws the shuttle (ball) over the exposure and returns the bounds of what was drawn.
    fn draw_ball(&mut self, scene: &Scene, exposure: f32) -> Bounds {
        if !self.ball {
            return Bounds::new();
        }
        let cam = &scene.camera;
        // A smear, not a row of copies: samples no more than ~1.5 px apart along the path
        // (at least 7), each so faint that where they all overlap (a slow shuttle) the sum is
        // as opaque as 7 at 0.45, and a fast one leaves a fainter, continuous streak.
        let samples = if exposure > 0.0 {
            let ends = [-0.5, 0.5].map(|k| {
                cam.project(scene.shuttle_at(scene.t + exposure * k).pos)
                    .map(|(q, _)| q)
            });
            let travel = match ends {
                [Some(a), Some(b)] => (a - b).length(),
                _ => 0.0,
            };
            ((travel / 1.5).ceil() as usize + 1).clamp(7, 48)
        } else {
            1
        };
        let alpha = if samples > 1 {
            1.0 - 0.55f32.powf(7.0 / samples as f32)
        } else {
            1.0
        };
        let mut bounds = Bounds::new();
        for i in 0..samples {
            let dt = if samples > 1 {
                exposure * (i as f32 / (samples - 1) as f32 - 0.5)
            } else {
                0.0
            };
            let st = scene.shuttle_at(scene.t + dt);
            match scene.sport {
                Sport::Badminton => {
                    let Some((c, d)) = cam.project(st.pos) else {
                        continue;
                    };
                    let to_cam = (cam.pos - st.pos).normalize();
                    let w = st.dir.cross(to_cam).try_normalize().unwrap_or(Vec3::X);
                    let quad = [
                        st.pos - st.dir * 0.012 + w * 0.012,
                        st.pos - st.dir * 0.075 + w * 0.033,
                        st.pos - st.dir * 0.075 - w * 0.033,
                        st.pos - st.dir * 0.012 - w * 0.012,
                    ];
                    let Some(q) = project_all(scene, &quad) else {
                        continue;
                    };
                    // Never thinner than a pixel: a real sensor still sees it.
                    let grow = (1.2 - (q[1] - q[2]).length()).max(0.0) / 2.0;
                    let q: Vec<Vec2> = q
                        .iter()
                        .zip([1.0, 1.0, -1.0, -1.0])
                        .map(|(p, s)| *p + (q[1] - q[2]).normalize_or_zero() * grow * s)
                        .collect();
                    for p in &q {
                        bounds.add(*p, 0.5);
                    }
                    let skirt = solid(Color::from_rgba(0.97, 0.97, 0.95, alpha * 0.9).unwrap());
                    fill_poly(&mut self.canvas, &q, &skirt);
                    let r = cam.radius(0.014, d).max(0.8);
                    bounds.add(c, r);
                    let cork = solid(Color::from_rgba(0.93, 0.88, 0.75, alpha).unwrap());
                    if let Some(path) = PathBuilder::from_circle(c.x, c.y, r) {
                        fill(&mut self.canvas, &path, &cork);
                    }
                }
                Sport::Netball => {
                    let Some((c, d)) = cam.project(st.pos) else {
                        continue;
                    };
                    let r = cam.radius(0.11, d).max(1.0);
                    bounds.add(c, r);
                    let paint = solid(Color::from_rgba(0.98, 0.9, 0.3, alpha).unwrap());
                    if let Some(path) = PathBuilder::from_circle(c.x, c.y, r) {
                        fill(&mut self.canvas, &path, &paint);
                    }
                }
            }
        }
        bounds
    }
}

/// Records the shuttle's box: what was drawn, padded to a minimum size (2% of the frame height,
/// at least 6 px) so that a detector at 640 px input still has something to localise.
fn truth_ball(truth: &mut Truth, b: Bounds, width: u32, height: u32) {
    if b.is_empty() {
        return;
    }
    let min = (0.02 * height as f32).max(6.0);
    let c = (b.lo + b.hi) / 2.0;
    let half = ((b.hi - b.lo) / 2.0 + Vec2::splat(1.0)).max(Vec2::splat(min / 2.0));
    let (w, h) = (width as f32, height as f32);
    let bx = [
        (c.x - half.x).clamp(0.0, w),
        (c.y - half.y).clamp(0.0, h),
        (c.x + half.x).clamp(0.0, w),
        (c.y + half.y).clamp(0.0, h),
    ];
    if bx[2] > bx[0] && bx[3] > bx[1] {
        truth.ball = Some(bx);
    }
}

/// The hall: wall, floor, court surface and lines, and a pool of light over the court.
fn draw_hall(pm: &mut Pixmap, scene: &Scene) {
    let (w, h) = (pm.width() as f32, pm.height() as f32);
    pm.fill(rgb(scene.wall_rgb, 1.0));
    let half = scene.sport.half_extent();
    let near = scene.camera.pos.y + 0.5;
    let far = half.y + 4.0;
    let floor = solid(rgb(scene.floor_rgb, 1.0));
    floor_rect(pm, scene, -40.0, near, 40.0, far, &floor);
    // Floorboards give the floor texture and perspective cues.
    let seam = solid(rgb(scene.floor_rgb, 0.8));
    let mut x = -12.0;
    while x < 12.0 {
        floor_line(
            pm,
            scene,
            Vec2::new(x, near),
            Vec2::new(x, far),
            0.012,
            &seam,
        );
        x += 0.4;
    }
    let court = solid(rgb(scene.court_rgb, 1.0));
    floor_rect(
        pm,
        scene,
        -half.x - 0.6,
        -half.y - 0.8,
        half.x + 0.6,
        half.y + 0.8,
        &court,
    );
    let white = solid(Color::from_rgba8(240, 240, 236, 255));
    let lw = 0.045;
    let line = |pm: &mut Pixmap, a: (f32, f32), b: (f32, f32)| {
        floor_line(
            pm,
            scene,
            Vec2::new(a.0, a.1),
            Vec2::new(b.0, b.1),
            lw,
            &white,
        )
    };
    let (x, y) = (half.x, half.y);
    for sx in [-1.0, 1.0] {
        line(pm, (sx * x, -y), (sx * x, y));
    }
    for sy in [-1.0, 1.0] {
        line(pm, (-x, sy * y), (x, sy * y));
    }
    match scene.sport {
        Sport::Badminton => {
            for sx in [-1.0, 1.0] {
                line(pm, (sx * 2.59, -y), (sx * 2.59, y));
            }
            for sy in [-1.0f32, 1.0] {
                line(pm, (-x, sy * 5.94), (x, sy * 5.94));
                line(pm, (-x, sy * 1.98), (x, sy * 1.98));
                line(pm, (0.0, sy * 1.98), (0.0, sy * y));
            }
        }
        Sport::Netball => {
            for sy in [-1.0f32, 1.0] {
                line(pm, (-x, sy * y / 3.0), (x, sy * y / 3.0));
                let (a0, a1) = if sy < 0.0 {
                    (0.0, std::f32::consts::PI)
                } else {
                    (std::f32::consts::PI, std::f32::consts::TAU)
                };
                floor_arc(pm, scene, Vec2::new(0.0, sy * y), 4.9, a0, a1, lw, &white);
            }
            floor_arc(
                pm,
                scene,
                Vec2::ZERO,
                0.45,
                0.0,
                std::f32::consts::TAU,
                lw,
                &white,
            );
        }
    }
    // Light pool over the court.
    if let Some((c, _)) = scene.camera.project(Vec3::new(0.0, 0.0, 0.0)) {
        if let Some(shader) = RadialGradient::new(
            Point::from_xy(c.x, c.y),
            0.0,
            Point::from_xy(c.x, c.y),
            0.75 * w.max(h),
            vec![
                GradientStop::new(0.0, Color::from_rgba(1.0, 1.0, 0.95, 0.14).unwrap()),
                GradientStop::new(1.0, Color::from_rgba(0.0, 0.0, 0.0, 0.12).unwrap()),
            ],
            SpreadMode::Pad,
            Transform::identity(),
        ) {
            let paint = Paint {
                shader,
                anti_alias: false,
                ..Default::default()
            };
            pm.fill_rect(
                tiny_skia::Rect::from_xywh(0.0, 0.0, w, h).expect("frame rect"),
                &paint,
                Transform::identity(),
                None,
            );
        }
    }
}

/// The net with its posts and tape, cropped to what it covers.
fn draw_net(scene: &Scene, width: u32, height: u32) -> Option<(Pixmap, i32, i32)> {
    let mut pm = Pixmap::new(width, height)?;
    let x = scene.sport.half_extent().x;
    let (top, bottom) = (1.55, 0.79);
    let mesh = solid(Color::from_rgba(0.06, 0.06, 0.07, 0.3).unwrap());
    if let Some(q) = project_all(
        scene,
        &[
            Vec3::new(-x, 0.0, top),
            Vec3::new(x, 0.0, top),
            Vec3::new(x, 0.0, bottom),
            Vec3::new(-x, 0.0, bottom),
        ],
    ) {
        fill_poly(&mut pm, &q, &mesh);
    }
    let cords = solid(Color::from_rgba(0.05, 0.05, 0.05, 0.35).unwrap());
    let thin = Stroke {
        width: 0.6,
        ..Default::default()
    };
    let seg = |pm: &mut Pixmap, a: Vec3, b: Vec3, paint: &Paint, stroke: &Stroke| {
        if let (Some((p, _)), Some((q, _))) = (scene.camera.project(a), scene.camera.project(b)) {
            let mut pb = PathBuilder::new();
            pb.move_to(p.x, p.y);
            pb.line_to(q.x, q.y);
            if let Some(path) = pb.finish() {
                pm.stroke_path(&path, paint, stroke, Transform::identity(), None);
            }
        }
    };
    let mut cx = -x;
    while cx <= x {
        seg(
            &mut pm,
            Vec3::new(cx, 0.0, bottom),
            Vec3::new(cx, 0.0, top),
            &cords,
            &thin,
        );
        cx += 0.2;
    }
    let mut z = bottom;
    while z <= top {
        seg(
            &mut pm,
            Vec3::new(-x, 0.0, z),
            Vec3::new(x, 0.0, z),
            &cords,
            &thin,
        );
        z += 0.12;
    }
    let depth = scene.camera.project(Vec3::ZERO).map_or(10.0, |(_, d)| d);
    let tape = Stroke {
        width: scene.camera.radius(0.075, depth).max(1.0),
        ..Default::default()
    };
    seg(
        &mut pm,
        Vec3::new(-x, 0.0, top - 0.035),
        Vec3::new(x, 0.0, top - 0.035),
        &solid(Color::from_rgba8(245, 245, 245, 255)),
        &tape,
    );
    let post = Stroke {
        width: scene.camera.radius(0.045, depth).max(1.2),
        line_cap: LineCap::Butt,
        ..Default::default()
    };
    for sx in [-1.0, 1.0] {
        seg(
            &mut pm,
            Vec3::new(sx * x, 0.0, 0.0),
            Vec3::new(sx * x, 0.0, top + 0.02),
            &solid(Color::from_rgba8(30, 30, 35, 255)),
            &post,
        );
    }
    // Crop to the pixels the net touches.
    let (w, h) = (width as usize, height as usize);
    let data = pm.data();
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for yy in 0..h {
        for xx in 0..w {
            if data[(yy * w + xx) * 4 + 3] != 0 {
                x0 = x0.min(xx);
                x1 = x1.max(xx);
                y0 = y0.min(yy);
                y1 = y1.max(yy);
            }
        }
    }
    if x1 < x0 || y1 < y0 {
        return None;
    }
    let rect = tiny_skia::IntRect::from_xywh(
        x0 as i32,
        y0 as i32,
        (x1 - x0 + 1) as u32,
        (y1 - y0 + 1) as u32,
    )?;
    Some((pm.clone_rect(rect)?, x0 as i32, y0 as i32))
}

/// Output layouts courtsrc writes: byte offsets of R, G, B (and of the fourth byte, alpha or
/// padding, written 255) and bytes per pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub r: usize,
    pub g: usize,
    pub b: usize,
    pub alpha: Option<usize>,
    pub bpp: usize,
}

/// Writes the canvas into `dst` (rows of `stride` bytes) with the light's `gain` and sensor
/// noise of up to `noise` levels, different for every frame `seed`.
#[allow(clippy::too_many_arguments)]
pub fn write_frame(
    src: &[u8],
    width: usize,
    dst: &mut [u8],
    stride: usize,
    layout: Layout,
    gain: f32,
    noise: u32,
    seed: u64,
) {
    let g = (gain.clamp(0.0, 4.0) * 256.0) as i32;
    let amp = noise as i32;
    dst.par_chunks_mut(stride)
        .zip(src.par_chunks(width * 4))
        .enumerate()
        .for_each(|(row, (out, inp))| {
            // xorshift per row: cheap, deterministic noise (no crate needed for 3 lines).
            let mut state = (seed ^ (row as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_mul(0xBF58_476D_1CE4_E5B9)
                | 1;
            for (x, px) in inp.chunks_exact(4).enumerate() {
                let n = if amp > 0 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state
                } else {
                    0
                };
                let o = &mut out[x * layout.bpp..(x + 1) * layout.bpp];
                for (c, off) in [(0usize, layout.r), (1, layout.g), (2, layout.b)] {
                    let v = (px[c] as i32 * g) >> 8;
                    let noise = if amp > 0 {
                        // Two 8-bit draws per channel: a triangular distribution in ±amp.
                        let a =
                            ((n >> (c * 16)) & 0xff) as i32 + ((n >> (c * 16 + 8)) & 0xff) as i32;
                        (a - 255) * amp / 255
                    } else {
                        0
                    };
                    o[off] = (v + noise).clamp(0, 255) as u8;
                }
                if let Some(a) = layout.alpha {
                    o[a] = 255;
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pixels where two renders differ, as (x, y).
    fn diff(a: &[u8], b: &[u8], w: usize) -> Vec<(usize, usize)> {
        a.chunks_exact(4)
            .zip(b.chunks_exact(4))
            .enumerate()
            .filter(|(_, (p, q))| p != q)
            .map(|(i, _)| (i % w, i / w))
            .collect()
    }

    #[test]
    fn player_boxes_are_tight_around_what_is_drawn_and_hold_the_keypoints() {
        let (w, h) = (960u32, 540u32);
        let mut scene = Scene::new(Sport::Badminton, 4, 21, w, h, CameraSetup::default());
        let mut checked = 0;
        for frame in 0..240 {
            scene.step(1.0 / 30.0);
            if frame % 20 != 0 {
                continue;
            }
            let mut r = Renderer::new(&scene, w, h);
            r.shadows = false;
            r.ball = false;
            let mut empty = scene.clone();
            empty.players.clear();
            assert!(r.render(&empty, 0.0).players.is_empty());
            let base = r.rgba().to_vec();
            for i in 0..scene.players.len() {
                let mut alone = scene.clone();
                alone.players = vec![scene.players[i].clone()];
                let truth = r.render(&alone, 0.0);
                let drawn = diff(r.rgba(), &base, w as usize);
                let [x1, y1, x2, y2] = truth.players[0].bbox;
                assert!(!drawn.is_empty());
                let body: Vec<_> = drawn
                    .iter()
                    .filter(|&&(x, y)| {
                        x as f32 >= x1 - 1.0
                            && x as f32 <= x2 + 1.0
                            && y as f32 >= y1 - 1.0
                            && y as f32 <= y2 + 1.0
                    })
                    .collect();
                // Only the racket may leave the body's box.
                assert!(
                    body.len() * 10 >= drawn.len() * 8,
                    "most of the player is inside its box"
                );
                // Tight: drawn pixels reach every edge of the box.
                let near = |a: f32, b: usize| (a - b as f32).abs() <= 2.0;
                assert!(body.iter().any(|p| near(x1, p.0)), "left edge {x1}");
                assert!(body.iter().any(|p| near(x2 - 1.0, p.0)), "right edge {x2}");
                assert!(body.iter().any(|p| near(y1, p.1)), "top edge {y1}");
                assert!(body.iter().any(|p| near(y2 - 1.0, p.1)), "bottom edge {y2}");
                for &(x, y, v) in &truth.players[0].kpts {
                    if v {
                        assert!(
                            x >= x1 && x <= x2 && y >= y1 && y <= y2,
                            "keypoint ({x}, {y}) outside {:?}",
                            truth.players[0].bbox
                        );
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 40);
    }

    #[test]
    fn shuttle_box_surrounds_the_drawn_shuttle() {
        let (w, h) = (1280u32, 720u32);
        let mut scene = Scene::new(Sport::Badminton, 2, 4, w, h, CameraSetup::default());
        let mut seen = 0;
        for frame in 0..600 {
            scene.step(1.0 / 30.0);
            if frame % 15 != 0 {
                continue;
            }
            let mut r = Renderer::new(&scene, w, h);
            r.shadows = false;
            r.ball = false;
            r.render(&scene, 1.0 / 60.0);
            let without = r.rgba().to_vec();
            r.ball = true;
            let truth = r.render(&scene, 1.0 / 60.0);
            let drawn = diff(r.rgba(), &without, w as usize);
            let Some([x1, y1, x2, y2]) = truth.ball else {
                assert!(drawn.is_empty() || truth.ball_centre.is_none());
                continue;
            };
            let (cx, cy) = truth.ball_centre.expect("centre of a labelled shuttle");
            assert!(cx >= x1 && cx <= x2 && cy >= y1 && cy <= y2);
            assert!(!drawn.is_empty(), "a labelled shuttle is visible");
            for (x, y) in drawn {
                assert!(
                    x as f32 >= x1 - 1.0
                        && x as f32 <= x2 + 1.0
                        && y as f32 >= y1 - 1.0
                        && y as f32 <= y2 + 1.0,
                    "shuttle pixel ({x}, {y}) outside its box [{x1}, {y1}, {x2}, {y2}]"
                );
            }
            seen += 1;
        }
        // High clears and lifts leave the frame at the top, as they do on camera.
        assert!(seen >= 20, "{seen}");
    }

    #[test]
    fn noise_and_light_are_deterministic_and_bounded() {
        let src: Vec<u8> = (0..64 * 4 * 8).map(|i| (i % 251) as u8).collect();
        let layout = Layout {
            r: 2,
            g: 1,
            b: 0,
            alpha: Some(3),
            bpp: 4,
        };
        let run = |seed| {
            let mut out = vec![0u8; 64 * 4 * 8];
            write_frame(&src, 64, &mut out, 64 * 4, layout, 1.0, 8, seed);
            out
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let out = run(1);
        for (p, q) in src.chunks_exact(4).zip(out.chunks_exact(4)) {
            assert_eq!(q[3], 255);
            for (c, off) in [(0, 2), (1, 1), (2, 0)] {
                assert!((p[c] as i32 - q[off] as i32).abs() <= 8);
            }
        }
        let mut clean = vec![0u8; 64 * 4 * 8];
        write_frame(&src, 64, &mut clean, 64 * 4, layout, 1.0, 0, 1);
        assert_eq!(clean[0..3], [src[2], src[1], src[0]]);
    }
}
