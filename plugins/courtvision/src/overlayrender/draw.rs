// SPDX-License-Identifier: MIT OR Apache-2.0
//! Drawing for overlayrender: the detections of a frame are rasterised with tiny-skia (shapes)
//! and ab_glyph (text, embedded DejaVu Sans) into an RGBA pixmap that covers only the region
//! they touch, which is then alpha-blended into the frame in its own pixel format. Blending is
//! written here because it must write RGB/BGR(x) and I420/NV12 planes in place; the
//! rasterisation itself is the crates'.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use tiny_skia::{
    Color, FillRule, Paint, PathBuilder, Pixmap, PremultipliedColorU8, Rect, Stroke, Transform,
};

use courtvision_meta::{Detection, DetectionsMeta, Keypoint};

/// ultralytics' class palette (ultralytics.utils.plotting.Colors).
const PALETTE: [u32; 20] = [
    0x042AFF, 0x0BDBEB, 0xF3F3F3, 0x00DFB7, 0x111F68, 0xFF6FDD, 0xFF444F, 0xCCED00, 0x00F344,
    0xBD00FF, 0x00B4FF, 0xDD00BA, 0x00FFFF, 0x26C000, 0x01FFB3, 0x7D24FF, 0x7B0068, 0xFF1B6C,
    0xFC6D2F, 0xA2FF0B,
];

/// ultralytics' pose palette and its per-keypoint / per-limb indices for COCO-17.
const POSE_PALETTE: [[u8; 3]; 20] = [
    [255, 128, 0],
    [255, 153, 51],
    [255, 178, 102],
    [230, 230, 0],
    [255, 153, 255],
    [153, 204, 255],
    [255, 102, 255],
    [255, 51, 255],
    [102, 178, 255],
    [51, 153, 255],
    [255, 153, 153],
    [255, 102, 102],
    [255, 51, 51],
    [153, 255, 153],
    [102, 255, 102],
    [51, 255, 51],
    [0, 255, 0],
    [0, 0, 255],
    [255, 0, 0],
    [255, 255, 255],
];
const KPT_COLOR: [usize; 17] = [16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9];
const LIMB_COLOR: [usize; 19] = [
    9, 9, 9, 9, 7, 7, 7, 0, 0, 0, 0, 0, 16, 16, 16, 16, 16, 16, 16,
];

/// The RGB colour of a class, as ultralytics draws it.
pub fn class_color(class_id: u32) -> [u8; 3] {
    let c = PALETTE[class_id as usize % PALETTE.len()];
    [(c >> 16) as u8, (c >> 8) as u8, c as u8]
}

/// What to draw and how big.
#[derive(Debug, Clone, PartialEq)]
pub struct Style {
    pub boxes: bool,
    pub labels: bool,
    pub keypoints: bool,
    pub skeleton: bool,
    pub track_ids: bool,
    /// Line width in pixels (0 = from the frame size, as ultralytics).
    pub line_width: f32,
    /// Label text height in pixels (0 = from the line width).
    pub font_size: f32,
    /// Keypoints under this score are not drawn (ultralytics: 0.5).
    pub min_keypoint_score: f32,
}

impl Default for Style {
    /// Everything drawn, sizes from the frame, keypoints from score 0.5 (ultralytics).
    fn default() -> Self {
        Style {
            boxes: true,
            labels: true,
            keypoints: true,
            skeleton: true,
            track_ids: true,
            line_width: 0.0,
            font_size: 0.0,
            min_keypoint_score: 0.5,
        }
    }
}

impl Style {
    /// Line width and font size for a frame of `w`x`h` (ultralytics: max(round((w+h)/2*0.003), 2)).
    pub fn resolved(&self, w: u32, h: u32) -> (f32, f32) {
        let lw = if self.line_width > 0.0 {
            self.line_width
        } else {
            (((w + h) as f32 / 2.0 * 0.003).round()).max(2.0)
        };
        let font = if self.font_size > 0.0 {
            self.font_size
        } else {
            (lw * 6.0).max(12.0)
        };
        (lw, font)
    }
}

/// Lines of HUD text, drawn top-left.
pub type Hud = Vec<String>;

/// A tracked object's recent path, oldest point first, drawn fading out towards its start.
#[derive(Debug, Clone, PartialEq)]
pub struct Trail {
    pub points: Vec<(f32, f32)>,
    pub color: [u8; 3],
}

/// The court drawn over the frame: its lines as estimated (frame pixels), and a mini-map
/// panel with its own lines, dots (players, shuttle) and text (the last shot's speed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CourtDrawing {
    pub lines: Vec<Vec<(f32, f32)>>,
    pub panel: Option<[f32; 4]>,
    pub map_lines: Vec<Vec<(f32, f32)>>,
    /// Centre, radius, colour.
    pub dots: Vec<((f32, f32), f32, [u8; 3])>,
    /// Top-left, text.
    pub text: Vec<((f32, f32), String)>,
}

/// An RGBA (premultiplied) layer placed at (x, y) in the frame.
pub struct Layer {
    pub pixmap: Pixmap,
    pub x: i32,
    pub y: i32,
}

pub fn font() -> FontRef<'static> {
    FontRef::try_from_slice(dejavu::sans::regular()).expect("the embedded DejaVu Sans parses")
}

fn text_width(font: &FontRef, px: f32, text: &str) -> f32 {
    let f = font.as_scaled(PxScale::from(px));
    text.chars().map(|c| f.h_advance(f.glyph_id(c))).sum()
}

/// Draws `text` with its top-left at (x, y) (layer coordinates), blending by glyph coverage.
fn draw_text(
    pixmap: &mut Pixmap,
    font: &FontRef,
    px: f32,
    x: f32,
    y: f32,
    rgb: [u8; 3],
    text: &str,
) {
    let scale = PxScale::from(px);
    let f = font.as_scaled(scale);
    let (w, h) = (pixmap.width() as i32, pixmap.height() as i32);
    let pixels = pixmap.pixels_mut();
    let mut pen = x;
    for c in text.chars() {
        let id = f.glyph_id(c);
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(pen, y + f.ascent()));
        pen += f.h_advance(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let b = outline.px_bounds();
        outline.draw(|gx, gy, cov| {
            let (px_, py) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
            if px_ < 0 || py < 0 || px_ >= w || py >= h || cov <= 0.0 {
                return;
            }
            let p = &mut pixels[(py * w + px_) as usize];
            let a = cov.min(1.0);
            let blend = |src: u8, dst: u8| (src as f32 * a + dst as f32 * (1.0 - a)).round() as u8;
            let out = [
                blend(rgb[0], p.red()),
                blend(rgb[1], p.green()),
                blend(rgb[2], p.blue()),
                blend(255, p.alpha()),
            ];
            // Premultiplied: colour never exceeds alpha.
            let alpha = out[3];
            *p = PremultipliedColorU8::from_rgba(
                out[0].min(alpha),
                out[1].min(alpha),
                out[2].min(alpha),
                alpha,
            )
            .expect("premultiplied");
        });
    }
}

fn paint(rgb: [u8; 3]) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(Color::from_rgba8(rgb[0], rgb[1], rgb[2], 255));
    p.anti_alias = true;
    p
}

/// Bounds (x0, y0, x1, y1) in frame pixels of everything drawn for `d`.
fn bounds(
    d: &Detection,
    kps: &[Keypoint],
    style: &Style,
    lw: f32,
    label_w: f32,
    label_h: f32,
) -> [f32; 4] {
    let b = d.bbox;
    let mut r = [b.x - lw, b.y - lw, b.x + b.w + lw, b.y + b.h + lw];
    if style.labels {
        r[1] = r[1].min(b.y - label_h - lw);
        r[2] = r[2].max(b.x + label_w + lw);
    }
    if style.keypoints || style.skeleton {
        for k in kps {
            r = [
                r[0].min(k.x - 2.0 * lw),
                r[1].min(k.y - 2.0 * lw),
                r[2].max(k.x + 2.0 * lw),
                r[3].max(k.y + 2.0 * lw),
            ];
        }
    }
    r
}

fn label_text(d: &Detection, style: &Style) -> String {
    match d.track_id.filter(|_| style.track_ids) {
        Some(t) => format!("#{t} {} {:.2}", d.label, d.confidence),
        None => format!("{} {:.2}", d.label, d.confidence),
    }
}

/// Rasterises the detections (and HUD lines) of a `w`x`h` frame into a layer covering only what
/// is drawn. None when there is nothing to draw.
#[allow(clippy::too_many_arguments)]
pub fn render(
    meta: Option<&DetectionsMeta>,
    hud: &Hud,
    trails: &[Trail],
    court: &CourtDrawing,
    w: u32,
    h: u32,
    style: &Style,
    font: &FontRef,
) -> Option<Layer> {
    let (lw, px) = style.resolved(w, h);
    let label_h = (px * 1.25).ceil();
    let items: Vec<(&Detection, &[Keypoint], String, f32)> = meta
        .map(|m| {
            m.iter()
                .map(|(d, k)| {
                    let text = label_text(d, style);
                    let tw = text_width(font, px, &text) + lw * 2.0;
                    (d, k, text, tw)
                })
                .collect()
        })
        .unwrap_or_default();
    let draws_dets = style.boxes || style.labels || style.keypoints || style.skeleton;
    let mut region: Option<[f32; 4]> = None;
    let mut grow = |r: [f32; 4]| {
        region = Some(match region {
            None => r,
            Some(a) => [
                a[0].min(r[0]),
                a[1].min(r[1]),
                a[2].max(r[2]),
                a[3].max(r[3]),
            ],
        })
    };
    if draws_dets {
        for (d, k, _, tw) in &items {
            grow(bounds(d, k, style, lw, *tw, label_h));
        }
    }
    for t in trails.iter().filter(|t| t.points.len() > 1) {
        for &(x, y) in &t.points {
            grow([x - lw, y - lw, x + lw, y + lw]);
        }
    }
    for line in court.lines.iter().chain(&court.map_lines) {
        for &(x, y) in line {
            grow([x - lw, y - lw, x + lw, y + lw]);
        }
    }
    if let Some(r) = court.panel {
        grow(r);
    }
    for &((x, y), r, _) in &court.dots {
        grow([x - r, y - r, x + r, y + r]);
    }
    for ((x, y), text) in &court.text {
        grow([*x, *y, x + text_width(font, px, text) + 4.0, y + label_h]);
    }
    let hud_w = hud
        .iter()
        .map(|l| text_width(font, px, l))
        .fold(0.0, f32::max);
    if !hud.is_empty() {
        grow([
            0.0,
            0.0,
            hud_w + 2.0 * lw + 4.0,
            label_h * hud.len() as f32 + 2.0 * lw,
        ]);
    }
    let r = region?;
    let x0 = (r[0].floor().max(0.0)) as i32;
    let y0 = (r[1].floor().max(0.0)) as i32;
    let x1 = (r[2].ceil().min(w as f32)) as i32;
    let y1 = (r[3].ceil().min(h as f32)) as i32;
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let mut pixmap = Pixmap::new((x1 - x0) as u32, (y1 - y0) as u32)?;
    let t = Transform::from_translate(-x0 as f32, -y0 as f32);
    let stroke = Stroke {
        width: lw,
        ..Stroke::default()
    };

    draw_court(&mut pixmap, court, t, lw, px, font, x0, y0);
    for trail in trails {
        let n = trail.points.len();
        for (i, pair) in trail.points.windows(2).enumerate() {
            let mut pb = PathBuilder::new();
            pb.move_to(pair[0].0, pair[0].1);
            pb.line_to(pair[1].0, pair[1].1);
            let Some(path) = pb.finish() else { continue };
            // Older segments fainter.
            let alpha = (64 + 191 * (i + 1) / n.max(1)) as u8;
            let [r, g, b] = trail.color;
            let mut p = Paint::default();
            p.set_color_rgba8(r, g, b, alpha);
            p.anti_alias = true;
            let width = (lw * 0.75).max(1.0);
            pixmap.stroke_path(
                &path,
                &p,
                &Stroke {
                    width,
                    line_cap: tiny_skia::LineCap::Round,
                    ..Stroke::default()
                },
                t,
                None,
            );
        }
    }
    for (d, kps, text, tw) in items.iter().filter(|_| draws_dets) {
        let color = class_color(d.class_id);
        let b = d.bbox;
        if style.boxes {
            if let Some(rect) = Rect::from_xywh(b.x, b.y, b.w.max(1.0), b.h.max(1.0)) {
                pixmap.stroke_path(
                    &PathBuilder::from_rect(rect),
                    &paint(color),
                    &stroke,
                    t,
                    None,
                );
            }
        }
        if style.skeleton {
            if let Some(sk) = d.skeleton {
                for (i, &(a, c)) in sk.edges().iter().enumerate() {
                    let (Some(p), Some(q)) = (kps.get(a as usize), kps.get(c as usize)) else {
                        continue;
                    };
                    if p.score < style.min_keypoint_score || q.score < style.min_keypoint_score {
                        continue;
                    }
                    let mut pb = PathBuilder::new();
                    pb.move_to(p.x, p.y);
                    pb.line_to(q.x, q.y);
                    if let Some(path) = pb.finish() {
                        let c = POSE_PALETTE[LIMB_COLOR[i % LIMB_COLOR.len()]];
                        pixmap.stroke_path(
                            &path,
                            &paint(c),
                            &Stroke {
                                width: (lw / 2.0).max(1.0),
                                ..Stroke::default()
                            },
                            t,
                            None,
                        );
                    }
                }
            }
        }
        if style.keypoints {
            for (i, k) in kps
                .iter()
                .enumerate()
                .filter(|(_, k)| k.score >= style.min_keypoint_score)
            {
                let c = if kps.len() == 17 {
                    POSE_PALETTE[KPT_COLOR[i]]
                } else {
                    color
                };
                if let Some(circle) = PathBuilder::from_circle(k.x, k.y, lw.max(2.0)) {
                    pixmap.fill_path(&circle, &paint(c), FillRule::Winding, t, None);
                }
            }
        }
        if style.labels {
            // Label box on top of the box (inside it when the box touches the frame top).
            let top = if b.y - label_h >= 0.0 {
                b.y - label_h
            } else {
                b.y
            };
            if let Some(rect) = Rect::from_xywh(b.x - lw / 2.0, top, *tw, label_h) {
                pixmap.fill_rect(rect, &paint(color), t, None);
            }
            let luma = 0.299 * color[0] as f32 + 0.587 * color[1] as f32 + 0.114 * color[2] as f32;
            let fg = if luma > 150.0 {
                [0, 0, 0]
            } else {
                [255, 255, 255]
            };
            draw_text(
                &mut pixmap,
                font,
                px,
                b.x + lw / 2.0 - x0 as f32,
                top + (label_h - px) / 2.0 - y0 as f32,
                fg,
                text,
            );
        }
    }
    if !hud.is_empty() {
        let bg = Rect::from_xywh(
            0.0,
            0.0,
            hud_w + 2.0 * lw + 4.0,
            label_h * hud.len() as f32 + 2.0 * lw,
        );
        if let Some(bg) = bg {
            let mut p = Paint::default();
            p.set_color(Color::from_rgba8(0, 0, 0, 160));
            pixmap.fill_rect(bg, &p, t, None);
        }
        for (i, line) in hud.iter().enumerate() {
            draw_text(
                &mut pixmap,
                font,
                px,
                lw + 2.0 - x0 as f32,
                lw + label_h * i as f32 - y0 as f32,
                [255, 255, 255],
                line,
            );
        }
    }
    Some(Layer {
        pixmap,
        x: x0,
        y: y0,
    })
}

#[allow(clippy::too_many_arguments)]
fn draw_court(
    pixmap: &mut Pixmap,
    court: &CourtDrawing,
    t: Transform,
    lw: f32,
    px: f32,
    font: &FontRef,
    x0: i32,
    y0: i32,
) {
    let polyline = |pixmap: &mut Pixmap, line: &[(f32, f32)], rgba: [u8; 4], width: f32| {
        let mut pb = PathBuilder::new();
        let Some(&(x, y)) = line.first() else { return };
        pb.move_to(x, y);
        for &(x, y) in &line[1..] {
            pb.line_to(x, y);
        }
        if let Some(path) = pb.finish() {
            let mut p = Paint::default();
            p.set_color_rgba8(rgba[0], rgba[1], rgba[2], rgba[3]);
            p.anti_alias = true;
            pixmap.stroke_path(
                &path,
                &p,
                &Stroke {
                    width,
                    ..Stroke::default()
                },
                t,
                None,
            );
        }
    };
    for line in &court.lines {
        polyline(pixmap, line, [0, 230, 255, 170], (lw * 0.5).max(1.0));
    }
    if let Some([a, b, c, d]) = court.panel {
        if let Some(rect) = Rect::from_ltrb(a, b, c, d) {
            let mut p = Paint::default();
            p.set_color(Color::from_rgba8(10, 40, 30, 190));
            pixmap.fill_rect(rect, &p, t, None);
        }
    }
    for line in &court.map_lines {
        polyline(pixmap, line, [235, 235, 235, 230], 1.0);
    }
    for &((x, y), r, [cr, cg, cb]) in &court.dots {
        if let Some(path) = PathBuilder::from_circle(x, y, r) {
            let mut p = Paint::default();
            p.set_color_rgba8(cr, cg, cb, 255);
            p.anti_alias = true;
            pixmap.fill_path(&path, &p, tiny_skia::FillRule::Winding, t, None);
        }
    }
    for ((x, y), text) in &court.text {
        let w = text_width(font, px, text) + 4.0;
        if let Some(bg) = Rect::from_xywh(*x, *y, w, px * 1.25) {
            let mut p = Paint::default();
            p.set_color(Color::from_rgba8(0, 0, 0, 160));
            pixmap.fill_rect(bg, &p, t, None);
        }
        draw_text(
            pixmap,
            font,
            px,
            x + 2.0 - x0 as f32,
            y - y0 as f32,
            [255, 230, 0],
            text,
        );
    }
}

/// Pixel layouts overlayrender writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Packed: bytes per pixel and offsets of R, G, B.
    Packed {
        bpp: usize,
        order: [usize; 3],
    },
    I420,
    Nv12,
}

/// A writable frame.
pub struct FrameMut<'a> {
    pub target: Target,
    pub width: usize,
    pub height: usize,
    pub planes: Vec<&'a mut [u8]>,
    pub strides: Vec<usize>,
    /// Kr, Kb of the YUV matrix, and limited (video) range.
    pub kr_kb: (f32, f32),
    pub limited: bool,
}

/// RGB (premultiplied, 0..255) → YUV contributions for alpha `a` (0..1): the values to add to
/// `(1 - a) * dst`.
fn rgb_to_yuv(kr: f32, kb: f32, limited: bool, rgb: [f32; 3], a: f32) -> [f32; 3] {
    let kg = 1.0 - kr - kb;
    let y = kr * rgb[0] + kg * rgb[1] + kb * rgb[2];
    let u = (rgb[2] - y) / (2.0 * (1.0 - kb));
    let v = (rgb[0] - y) / (2.0 * (1.0 - kr));
    if limited {
        [
            16.0 * a + y * 219.0 / 255.0,
            128.0 * a + u * 224.0 / 255.0,
            128.0 * a + v * 224.0 / 255.0,
        ]
    } else {
        [y, 128.0 * a + u, 128.0 * a + v]
    }
}

/// Blends the layer into the frame (source-over).
pub fn blend(layer: &Layer, frame: &mut FrameMut) {
    let (lw, lh) = (
        layer.pixmap.width() as usize,
        layer.pixmap.height() as usize,
    );
    let px = layer.pixmap.pixels();
    let (x0, y0) = (layer.x.max(0) as usize, layer.y.max(0) as usize);
    let x1 = (x0 + lw).min(frame.width);
    let y1 = (y0 + lh).min(frame.height);
    let at = |x: usize, y: usize| px[(y - y0) * lw + (x - x0)];
    let mix =
        |src: f32, dst: u8, a: f32| (src + dst as f32 * (1.0 - a)).round().clamp(0.0, 255.0) as u8;
    match frame.target {
        Target::Packed { bpp, order } => {
            let stride = frame.strides[0];
            let data = &mut *frame.planes[0];
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = at(x, y);
                    if p.alpha() == 0 {
                        continue;
                    }
                    let a = p.alpha() as f32 / 255.0;
                    let o = y * stride + x * bpp;
                    let src = [p.red(), p.green(), p.blue()];
                    for c in 0..3 {
                        data[o + order[c]] = mix(src[c] as f32, data[o + order[c]], a);
                    }
                }
            }
        }
        Target::I420 | Target::Nv12 => {
            let (kr, kb) = frame.kr_kb;
            let limited = frame.limited;
            let ys = frame.strides[0];
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = at(x, y);
                    if p.alpha() == 0 {
                        continue;
                    }
                    let a = p.alpha() as f32 / 255.0;
                    let yuv = rgb_to_yuv(
                        kr,
                        kb,
                        limited,
                        [p.red() as f32, p.green() as f32, p.blue() as f32],
                        a,
                    );
                    let d = &mut frame.planes[0][y * ys + x];
                    *d = mix(yuv[0], *d, a);
                }
            }
            // Chroma: each sample covers a 2x2 block; blend with the block's mean contribution.
            for cy in y0 / 2..y1.div_ceil(2) {
                for cx in x0 / 2..x1.div_ceil(2) {
                    let (mut su, mut sv, mut sa, mut n) = (0.0, 0.0, 0.0, 0.0);
                    for (x, y) in [
                        (2 * cx, 2 * cy),
                        (2 * cx + 1, 2 * cy),
                        (2 * cx, 2 * cy + 1),
                        (2 * cx + 1, 2 * cy + 1),
                    ] {
                        if x >= frame.width || y >= frame.height {
                            continue;
                        }
                        n += 1.0;
                        if x < x0 || y < y0 || x >= x1 || y >= y1 {
                            continue;
                        }
                        let p = at(x, y);
                        let a = p.alpha() as f32 / 255.0;
                        let yuv = rgb_to_yuv(
                            kr,
                            kb,
                            limited,
                            [p.red() as f32, p.green() as f32, p.blue() as f32],
                            a,
                        );
                        su += yuv[1];
                        sv += yuv[2];
                        sa += a;
                    }
                    if sa == 0.0 {
                        continue;
                    }
                    let (u, v, a) = (su / n, sv / n, sa / n);
                    match frame.target {
                        Target::I420 => {
                            let (us, vs) = (frame.strides[1], frame.strides[2]);
                            let du = &mut frame.planes[1][cy * us + cx];
                            *du = mix(u, *du, a);
                            let dv = &mut frame.planes[2][cy * vs + cx];
                            *dv = mix(v, *dv, a);
                        }
                        _ => {
                            let o = cy * frame.strides[1] + cx * 2;
                            let uv = &mut frame.planes[1];
                            uv[o] = mix(u, uv[o], a);
                            uv[o + 1] = mix(v, uv[o + 1], a);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_matches_ultralytics() {
        assert_eq!(class_color(0), [0x04, 0x2A, 0xFF]);
        assert_eq!(class_color(21), class_color(1));
    }

    #[test]
    fn auto_sizes_follow_ultralytics() {
        let s = Style::default();
        assert_eq!(s.resolved(1920, 1080).0, 5.0);
        assert_eq!(s.resolved(640, 480).0, 2.0);
    }

    #[test]
    fn white_on_limited_range_yuv_is_235() {
        let yuv = rgb_to_yuv(0.299, 0.114, true, [255.0, 255.0, 255.0], 1.0);
        assert!((yuv[0] - 235.0).abs() < 1e-3 && (yuv[1] - 128.0).abs() < 1e-3);
    }
}
