// SPDX-License-Identifier: MIT OR Apache-2.0
//! Finding the court in a frame: its homography (court metres to pixels) from the painted
//! lines, by line detection and model fitting (Farin et al., "Robust camera calibration for
//! sport videos using court models", 2004, in outline):
//!
//! 1. Line pixels: pixels brighter by `contrast` than both neighbours a few pixels away across
//!    (horizontally or vertically): thin bright ridges, not bright areas.
//! 2. Candidate lines: a Hough transform of those pixels at half resolution, peaks refitted by
//!    least squares on their pixels.
//! 3. Model fitting: every pair of near-horizontal lines taken as two of the court's lines
//!    across it, every pair of the other lines as two lines along it, in the order they appear
//!    (the camera stands behind a baseline, as for badminton and netball analysis); the four
//!    crossings give a homography, scored by how many points along all the court's lines
//!    land on line pixels.
//! 4. Refinement: points every 20 cm along the model's lines are projected, the line is looked
//!    for across each (nearest ridge, sub-pixel), and the homography is refitted to those
//!    positions (point-to-line distances, Levenberg–Marquardt, Huber weights): sub-pixel where
//!    the lines are visible, robust to players standing on them.
//!
//! A stable view is kept by [`CourtFinder::score`] (a hundred-odd pixel reads) instead of
//! being recomputed.

use nalgebra::{Matrix3, SMatrix, SVector, Vector3};

use crate::court::CourtModel;
use crate::geometry::{Camera, Homography, Point};

/// A grey-level image read pixel by pixel (a luma plane, or packed RGB read as luma).
pub trait Gray {
    fn width(&self) -> usize;
    fn height(&self) -> usize;
    /// The grey level at a pixel; coordinates clamped to the image.
    fn at(&self, x: isize, y: isize) -> f64;

    /// Bilinear read at a sub-pixel position (pixel centres at integer + 0.5).
    fn sample(&self, x: f64, y: f64) -> f64 {
        let (x, y) = (x - 0.5, y - 0.5);
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (x0, y0) = (x0 as isize, y0 as isize);
        let a = self.at(x0, y0) * (1.0 - fx) + self.at(x0 + 1, y0) * fx;
        let b = self.at(x0, y0 + 1) * (1.0 - fx) + self.at(x0 + 1, y0 + 1) * fx;
        a * (1.0 - fy) + b * fy
    }

    fn inside(&self, p: Point, margin: f64) -> bool {
        p[0] >= margin
            && p[1] >= margin
            && p[0] < self.width() as f64 - margin
            && p[1] < self.height() as f64 - margin
    }
}

/// A pixel position clamped into a `width` x `height` image.
fn clamped(x: isize, y: isize, width: usize, height: usize) -> (usize, usize) {
    (
        x.clamp(0, width as isize - 1) as usize,
        y.clamp(0, height as isize - 1) as usize,
    )
}

/// An 8-bit luma plane.
#[derive(Debug, Clone, Copy)]
pub struct Luma<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    /// Bytes from one row to the next.
    pub stride: usize,
}

impl Gray for Luma<'_> {
    fn width(&self) -> usize {
        self.width
    }

    fn height(&self) -> usize {
        self.height
    }

    fn at(&self, x: isize, y: isize) -> f64 {
        let (x, y) = clamped(x, y, self.width, self.height);
        self.data[y * self.stride + x] as f64
    }
}

/// Packed 8-bit RGB (any byte order, 3 or 4 bytes a pixel) read as luma (BT.601 weights).
#[derive(Debug, Clone, Copy)]
pub struct PackedRgb<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub stride: usize,
    /// Bytes a pixel and the offsets of red, green and blue in it.
    pub bpp: usize,
    pub rgb: [usize; 3],
}

impl PackedRgb<'_> {
    /// The whole image as a luma plane (for [`CourtFinder::find`]).
    pub fn to_luma(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.width * self.height];
        for y in 0..self.height {
            let row = &self.data[y * self.stride..];
            for x in 0..self.width {
                let p = &row[x * self.bpp..];
                let v = 77 * p[self.rgb[0]] as u32
                    + 150 * p[self.rgb[1]] as u32
                    + 29 * p[self.rgb[2]] as u32;
                out[y * self.width + x] = (v >> 8) as u8;
            }
        }
        out
    }
}

impl Gray for PackedRgb<'_> {
    fn width(&self) -> usize {
        self.width
    }

    fn height(&self) -> usize {
        self.height
    }

    fn at(&self, x: isize, y: isize) -> f64 {
        let (x, y) = clamped(x, y, self.width, self.height);
        let p = &self.data[y * self.stride + x * self.bpp..];
        (0.299 * p[self.rgb[0]] as f64)
            + 0.587 * p[self.rgb[1]] as f64
            + 0.114 * p[self.rgb[2]] as f64
    }
}

/// A court found in a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Court metres (z = 0) to pixels.
    pub homography: Homography,
    /// The camera, where the homography fits one with square pixels and its principal point
    /// at the image centre.
    pub camera: Option<Camera>,
    /// Share of the model's points inside the frame that lie on a line (0..1).
    pub score: f64,
    /// Root mean square distance of those points from their lines after the fit, pixels.
    pub residual: f64,
    /// Share of the model's lines in the frame found along at least 40% of their visible
    /// length.
    pub lines: f64,
}

/// A point on one of the model's lines, with the line's direction there.
#[derive(Debug, Clone, Copy)]
struct Sample {
    p: Point,
    dir: Point,
    /// Which of the model's lines and arcs it is on.
    line: usize,
}

/// An image line `n · p = c` (unit `n`).
#[derive(Debug, Clone, Copy)]
struct ImageLine {
    n: Point,
    c: f64,
}

impl ImageLine {
    fn homogeneous(&self) -> Vector3<f64> {
        Vector3::new(self.n[0], self.n[1], -self.c)
    }

    /// `y` where the line crosses column `x` (near-horizontal lines).
    fn y_at(&self, x: f64) -> f64 {
        (self.c - self.n[0] * x) / self.n[1]
    }

    /// `x` where the line crosses row `y` (steep lines).
    fn x_at(&self, y: f64) -> f64 {
        (self.c - self.n[1] * y) / self.n[0]
    }
}

/// Finds one sport's court in frames.
#[derive(Debug, Clone)]
pub struct CourtFinder {
    model: CourtModel,
    /// Every 20 cm along every line and arc (refinement).
    fine: Vec<Sample>,
    /// Every 50 cm (scoring).
    coarse: Vec<Sample>,
    /// The model's full straight lines across the court (`y` constant, far first) and along it
    /// (`x` constant, left first): the ones an initial fit pairs with image lines.
    across: Vec<f64>,
    along: Vec<f64>,
    /// Luma difference between a line and the floor beside it.
    pub contrast: f64,
}

/// Painted line width (metres): 40 mm in the laws, a little more as rendered and filmed.
const LINE_WIDTH: f64 = 0.045;

fn samples(model: &CourtModel, step: f64) -> Vec<Sample> {
    model
        .paths(step)
        .into_iter()
        .enumerate()
        .flat_map(|(line, path)| {
            path.into_iter()
                .map(move |(p, dir)| Sample { p, dir, line })
        })
        .collect()
}

impl CourtFinder {
    pub fn new(model: CourtModel) -> CourtFinder {
        let (hw, hl) = (model.width / 2.0, model.length / 2.0);
        let full = |a: &Point, b: &Point| (a[0] - b[0]).abs() >= 2.0 * hw - 1e-6;
        let mut across: Vec<f64> = model
            .lines
            .iter()
            .filter(|(a, b)| (a[1] - b[1]).abs() < 1e-9 && full(a, b))
            .map(|(a, _)| a[1])
            .collect();
        across.sort_by(|a, b| b.total_cmp(a));
        let mut along: Vec<f64> = model
            .lines
            .iter()
            .filter(|(a, b)| (a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() >= 2.0 * hl - 1e-6)
            .map(|(a, _)| a[0])
            .collect();
        along.sort_by(|a, b| a.total_cmp(b));
        CourtFinder {
            fine: samples(&model, 0.2),
            coarse: samples(&model, 0.5),
            model,
            across,
            along,
            contrast: 25.0,
        }
    }

    pub fn model(&self) -> &CourtModel {
        &self.model
    }

    /// Finds the court with no estimate to start from; `None` where no court is seen.
    pub fn find(&self, img: &Luma) -> Option<Calibration> {
        let half = downscale(img);
        let hl = Luma {
            data: &half.0,
            width: half.1,
            height: half.2,
            stride: half.1,
        };
        let mask = ridge_mask(&hl, 3, self.contrast * 0.6);
        let lines = hough_lines(&mask, hl.width, hl.height, 30);
        let mut candidates = self.hypotheses(&lines, &mask, hl.width, hl.height);
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut best: Option<Calibration> = None;
        for (_, h) in candidates.into_iter().take(16) {
            // From half resolution to full.
            let h = Homography(Matrix3::new(2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0) * h.0);
            if let Some(c) = self.refine(img, &h) {
                // Most of the court's points and lines where they should be: that is it.
                let clear = c.score >= 0.8 && c.lines >= 0.8 && self.accept(&c, img.width);
                if best.as_ref().is_none_or(|b| c.score > b.score) {
                    best = Some(c);
                }
                if clear {
                    break;
                }
            }
        }
        best.filter(|c| self.accept(c, img.width))
    }

    /// Whether a fit is a court: most of its points and of its lines found, tightly, seen by
    /// a camera that could film it (above the floor, within a few court lengths, a focal
    /// length between a fish-eye's and a long zoom's).
    fn accept(&self, c: &Calibration, width: usize) -> bool {
        let camera = c.camera.is_some_and(|cam| {
            let p = cam.position();
            let reach = 4.0 * self.model.length;
            cam.f > 0.2 * width as f64
                && cam.f < 5.0 * width as f64
                && p[2] > 0.3
                && p[0].hypot(p[1]).hypot(p[2]) < reach
        });
        c.score >= 0.6 && c.lines >= 0.6 && c.residual <= 2.5 && camera
    }

    /// Refits `h` (court to pixels) to the lines near where it puts them; `None` where too few
    /// of them are found or the fit does not hold.
    pub fn refine(&self, img: &impl Gray, h: &Homography) -> Option<Calibration> {
        let mut h = h.normalised()?;
        for radius in [12.0, 8.0, 5.0, 3.0, 3.0] {
            let found = self.correspondences(img, &h, radius);
            if found.len() < 12 {
                return None;
            }
            h = lm_step(&h, &found, 1.5)?;
        }
        let found = self.correspondences(img, &h, 3.0);
        let n_lines = self.model.lines.len() + self.model.arcs.len();
        let mut per_line = vec![(0usize, 0usize); n_lines];
        let mut visible = 0;
        for smp in &self.fine {
            if project(&h, smp.p).is_some_and(|q| img.inside(q, 2.0)) {
                visible += 1;
                per_line[smp.line].0 += 1;
            }
        }
        if visible < 12 || found.len() < 12 {
            return None;
        }
        let mut close = Vec::with_capacity(found.len());
        for m in &found {
            let r = m.residual(&h);
            if r.abs() < 2.0 {
                close.push(r);
                per_line[m.line].1 += 1;
            }
        }
        let residual =
            (close.iter().map(|r| r * r).sum::<f64>() / close.len().max(1) as f64).sqrt();
        let seen_lines = per_line.iter().filter(|(v, _)| *v >= 3).count();
        let found_lines = per_line
            .iter()
            .filter(|(v, f)| *v >= 3 && *f * 5 >= *v * 2)
            .count();
        let camera =
            Camera::from_homography(&h, img.width() as f64 / 2.0, img.height() as f64 / 2.0);
        Some(Calibration {
            homography: h,
            camera,
            score: close.len() as f64 / visible as f64,
            residual,
            lines: found_lines as f64 / seen_lines.max(1) as f64,
        })
    }

    /// Refines and accepts: the estimate for a frame of a view already found.
    pub fn track(&self, img: &impl Gray, h: &Homography) -> Option<Calibration> {
        self.refine(img, h).filter(|c| self.accept(c, img.width()))
    }

    /// Share of the model's points (every 50 cm) inside the frame that `h` puts on a line
    /// pixel: near the score at calibration while the view holds, low after a cut.
    pub fn score(&self, img: &impl Gray, h: &Homography) -> f64 {
        let (mut seen, mut hit) = (0usize, 0usize);
        for s in &self.coarse {
            let Some((q, n, w)) = self.project_sample(h, s) else {
                continue;
            };
            if !img.inside(q, w + 3.0) {
                continue;
            }
            seen += 1;
            let on = (-1..=1).any(|k| {
                let c = [q[0] + n[0] * k as f64, q[1] + n[1] * k as f64];
                let v = img.sample(c[0], c[1]);
                let a = img.sample(c[0] - n[0] * w, c[1] - n[1] * w);
                let b = img.sample(c[0] + n[0] * w, c[1] + n[1] * w);
                v - a > self.contrast && v - b > self.contrast
            });
            hit += on as usize;
        }
        if seen < 8 {
            0.0
        } else {
            hit as f64 / seen as f64
        }
    }

    /// Where a sample is seen, the image normal of its line there, and how far to look beside
    /// the line (half its width in pixels plus two).
    fn project_sample(&self, h: &Homography, s: &Sample) -> Option<(Point, Point, f64)> {
        let q = project(h, s.p)?;
        let e = 0.05;
        let q2 = project(h, [s.p[0] + s.dir[0] * e, s.p[1] + s.dir[1] * e])?;
        let (tx, ty) = (q2[0] - q[0], q2[1] - q[1]);
        let len = tx.hypot(ty);
        if len < 1e-6 {
            return None;
        }
        let n = [-ty / len, tx / len];
        let side = project(
            h,
            [
                s.p[0] - s.dir[1] * LINE_WIDTH,
                s.p[1] + s.dir[0] * LINE_WIDTH,
            ],
        )?;
        let width = (side[0] - q[0]).hypot(side[1] - q[1]);
        Some((q, n, width / 2.0 + 2.0))
    }

    /// For each model point in the frame, the nearest ridge across its projected line within
    /// `radius` pixels.
    fn correspondences(&self, img: &impl Gray, h: &Homography, radius: f64) -> Vec<Match> {
        let mut out = Vec::with_capacity(self.fine.len());
        let r = radius.ceil() as isize;
        let mut resp = vec![0.0; (2 * r + 3) as usize];
        for s in &self.fine {
            let Some((q, n, w)) = self.project_sample(h, s) else {
                continue;
            };
            if !img.inside(q, radius + w + 2.0) {
                continue;
            }
            for (i, k) in (-r - 1..=r + 1).enumerate() {
                let c = [q[0] + n[0] * k as f64, q[1] + n[1] * k as f64];
                let v = img.sample(c[0], c[1]);
                let a = img.sample(c[0] - n[0] * w, c[1] - n[1] * w);
                let b = img.sample(c[0] + n[0] * w, c[1] + n[1] * w);
                resp[i] = if v - a > self.contrast && v - b > self.contrast {
                    v - 0.5 * (a + b)
                } else {
                    0.0
                };
            }
            // The local maximum nearest the prediction.
            let mut best: Option<(f64, isize)> = None;
            for k in -r..=r {
                let i = (k + r + 1) as usize;
                let v = resp[i];
                if v > 0.0 && v >= resp[i - 1] && v >= resp[i + 1] {
                    let d = k.abs() as f64;
                    if best.is_none_or(|(bd, _)| d < bd) {
                        best = Some((d, k));
                    }
                }
            }
            let Some((_, k)) = best else {
                continue;
            };
            let i = (k + r + 1) as usize;
            let (l, c, rr) = (resp[i - 1], resp[i], resp[i + 1]);
            let den = l - 2.0 * c + rr;
            let off = if den < -1e-9 {
                (0.5 * (l - rr) / den).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            let t = k as f64 + off;
            out.push(Match {
                court: s.p,
                image: [q[0] + n[0] * t, q[1] + n[1] * t],
                normal: n,
                line: s.line,
            });
        }
        out
    }

    /// Homographies from pairs of image lines matched to pairs of model lines, with a coarse
    /// score on the half-resolution mask.
    fn hypotheses(
        &self,
        lines: &[ImageLine],
        mask: &[u8],
        w: usize,
        h: usize,
    ) -> Vec<(f64, Homography)> {
        let (wf, hf) = (w as f64, h as f64);
        // The line's direction is (n.y, -n.x): flat when the normal is near vertical. Lines
        // at 20-40° from the horizontal may be either (a side line seen from a corner).
        let (flat_max, steep_min) = (40f64.to_radians().sin(), 20f64.to_radians().sin());
        let mut flat: Vec<ImageLine> = Vec::new();
        let mut steep: Vec<ImageLine> = Vec::new();
        for l in lines {
            if l.n[0].abs() < flat_max {
                flat.push(*l);
            }
            if l.n[0].abs() > steep_min {
                steep.push(*l);
            }
        }
        flat.truncate(10);
        steep.truncate(8);
        flat.sort_by(|a, b| a.y_at(wf / 2.0).total_cmp(&b.y_at(wf / 2.0)));
        steep.sort_by(|a, b| a.x_at(hf / 2.0).total_cmp(&b.x_at(hf / 2.0)));
        let mut out: Vec<(f64, Homography)> = Vec::new();
        let quick: Vec<Sample> = self.coarse.iter().step_by(3).copied().collect();
        let mut keep = |score: f64, hm: Homography| {
            if out.len() < 64 {
                out.push((score, hm));
            } else if let Some(worst) = out
                .iter_mut()
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .filter(|w| w.0 < score)
            {
                *worst = (score, hm);
            }
        };
        let cross = |a: &ImageLine, b: &ImageLine| -> Option<Point> {
            let p = a.homogeneous().cross(&b.homogeneous());
            (p[2].abs() > 1e-9).then(|| [p[0] / p[2], p[1] / p[2]])
        };
        let near = |p: Point| p[0] > -wf && p[0] < 2.0 * wf && p[1] > -hf && p[1] < 2.0 * hf;
        for i in 0..flat.len() {
            for j in i + 1..flat.len() {
                for k in 0..steep.len() {
                    for l in k + 1..steep.len() {
                        let pts = [
                            cross(&flat[i], &steep[k]),
                            cross(&flat[i], &steep[l]),
                            cross(&flat[j], &steep[k]),
                            cross(&flat[j], &steep[l]),
                        ];
                        let Some(img) = pts
                            .iter()
                            .map(|p| p.filter(|p| near(*p)))
                            .collect::<Option<Vec<Point>>>()
                        else {
                            continue;
                        };
                        for a in 0..self.across.len() {
                            for b in a + 1..self.across.len() {
                                for c in 0..self.along.len() {
                                    for d in c + 1..self.along.len() {
                                        let (ya, yb) = (self.across[a], self.across[b]);
                                        let (xc, xd) = (self.along[c], self.along[d]);
                                        let court = [[xc, ya], [xd, ya], [xc, yb], [xd, yb]];
                                        let Some(hm) = four_point(&court, &img) else {
                                            continue;
                                        };
                                        if !self.plausible(&hm, wf, hf) {
                                            continue;
                                        }
                                        let s = mask_score(&quick, &hm, mask, w, h);
                                        if s > 0.3 {
                                            let full = mask_score(&self.coarse, &hm, mask, w, h);
                                            keep(full, hm);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The court in front of the camera, the right way round, not tiny, its centre near the
    /// frame.
    fn plausible(&self, h: &Homography, w: f64, hh: f64) -> bool {
        let (x, y) = (self.model.width / 2.0, self.model.length / 2.0);
        let corners = [[-x, -y], [x, -y], [x, y], [-x, y]];
        let mut q = [[0.0; 2]; 4];
        let (mut wmin, mut wmax) = (f64::MAX, 0.0f64);
        for (i, c) in corners.iter().enumerate() {
            let v = h.0 * Vector3::new(c[0], c[1], 1.0);
            if v[2] <= 1e-9 {
                return false;
            }
            wmin = wmin.min(v[2]);
            wmax = wmax.max(v[2]);
            q[i] = [v[0] / v[2], v[1] / v[2]];
        }
        // Depths across the court within a factor of 12: not folded onto the horizon.
        if wmax > 12.0 * wmin {
            return false;
        }
        // Convex, counter-clockwise in court coordinates = clockwise on screen (y down), with
        // sides of some length and corners of at least 8°.
        let min_side = 0.03 * (w + hh);
        for i in 0..4 {
            let (a, b, c) = (q[i], q[(i + 1) % 4], q[(i + 2) % 4]);
            let (u, v) = ([b[0] - a[0], b[1] - a[1]], [c[0] - b[0], c[1] - b[1]]);
            let (lu, lv) = (u[0].hypot(u[1]), v[0].hypot(v[1]));
            if lu < min_side || lv < min_side {
                return false;
            }
            let z = (u[0] * v[1] - u[1] * v[0]) / (lu * lv);
            if z > -8f64.to_radians().sin() {
                return false;
            }
        }
        let area = 0.5
            * (0..4)
                .map(|i| {
                    let (a, b) = (q[i], q[(i + 1) % 4]);
                    a[0] * b[1] - b[0] * a[1]
                })
                .sum::<f64>()
                .abs();
        let Some(c) = project(h, [0.0, 0.0]) else {
            return false;
        };
        area > 0.03 * w * hh && c[0] > 0.0 && c[0] < w && c[1] > 0.0 && c[1] < hh
    }
}

/// A model point and where its line was found in the image, with the line's normal there.
#[derive(Debug, Clone, Copy)]
struct Match {
    court: Point,
    image: Point,
    normal: Point,
    line: usize,
}

impl Match {
    /// Signed distance (pixels) across the line from where `h` puts the point to the line.
    fn residual(&self, h: &Homography) -> f64 {
        project(h, self.court).map_or(f64::INFINITY, |q| {
            (q[0] - self.image[0]) * self.normal[0] + (q[1] - self.image[1]) * self.normal[1]
        })
    }
}

fn project(h: &Homography, p: Point) -> Option<Point> {
    let v = h.0 * Vector3::new(p[0], p[1], 1.0);
    (v[2] > 1e-9).then(|| [v[0] / v[2], v[1] / v[2]])
}

/// The homography taking four points to four (an 8x8 linear solve).
fn four_point(src: &[Point; 4], dst: &[Point]) -> Option<Homography> {
    let mut a = SMatrix::<f64, 8, 8>::zeros();
    let mut b = SVector::<f64, 8>::zeros();
    for i in 0..4 {
        let ([x, y], [u, v]) = (src[i], dst[i]);
        let r = 2 * i;
        a.row_mut(r)
            .copy_from_slice(&[x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y]);
        a.row_mut(r + 1)
            .copy_from_slice(&[0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y]);
        b[r] = u;
        b[r + 1] = v;
    }
    let h = a.lu().solve(&b)?;
    Some(Homography(Matrix3::new(
        h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0,
    )))
}

/// One Levenberg–Marquardt update of `h` (last entry 1) towards the matches, by their
/// point-to-line distances with Huber weights (`huber` pixels); a few inner tries of the
/// damping.
fn lm_step(h: &Homography, found: &[Match], huber: f64) -> Option<Homography> {
    let cost = |h: &Homography| -> f64 {
        found
            .iter()
            .map(|m| {
                let r = m.residual(h).abs();
                if r <= huber {
                    0.5 * r * r
                } else {
                    huber * (r - 0.5 * huber)
                }
            })
            .sum()
    };
    let mut current = *h;
    let mut c0 = cost(&current);
    let mut lambda = 1e-3;
    for _ in 0..4 {
        let mut jtj = SMatrix::<f64, 8, 8>::zeros();
        let mut jtr = SVector::<f64, 8>::zeros();
        let m = current.0;
        for f in found {
            let [x, y] = f.court;
            let w = m[(2, 0)] * x + m[(2, 1)] * y + m[(2, 2)];
            if w <= 1e-9 {
                continue;
            }
            let u = (m[(0, 0)] * x + m[(0, 1)] * y + m[(0, 2)]) / w;
            let v = (m[(1, 0)] * x + m[(1, 1)] * y + m[(1, 2)]) / w;
            let r = (u - f.image[0]) * f.normal[0] + (v - f.image[1]) * f.normal[1];
            let weight = if r.abs() <= huber {
                1.0
            } else {
                huber / r.abs()
            };
            let (nx, ny) = (f.normal[0] / w, f.normal[1] / w);
            let j = SVector::<f64, 8>::from_row_slice(&[
                nx * x,
                nx * y,
                nx,
                ny * x,
                ny * y,
                ny,
                -(nx * u + ny * v) * x,
                -(nx * u + ny * v) * y,
            ]);
            jtj += j * j.transpose() * weight;
            jtr += j * (r * weight);
        }
        let mut improved = false;
        for _ in 0..6 {
            let mut a = jtj;
            for i in 0..8 {
                a[(i, i)] += lambda * jtj[(i, i)].max(1e-12);
            }
            let Some(delta) = a.lu().solve(&(-jtr)) else {
                lambda *= 10.0;
                continue;
            };
            let mut next = current.0;
            for i in 0..8 {
                next[(i / 3, i % 3)] += delta[i];
            }
            let cand = Homography(next);
            let c1 = cost(&cand);
            if c1.is_finite() && c1 <= c0 {
                current = cand;
                c0 = c1;
                lambda = (lambda / 10.0).max(1e-9);
                improved = true;
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    Some(current)
}

/// Half-size luma (2x2 means).
fn downscale(img: &Luma) -> (Vec<u8>, usize, usize) {
    let (w, h) = (img.width / 2, img.height / 2);
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let r0 = &img.data[2 * y * img.stride..];
        let r1 = &img.data[(2 * y + 1) * img.stride..];
        for x in 0..w {
            let s =
                r0[2 * x] as u32 + r0[2 * x + 1] as u32 + r1[2 * x] as u32 + r1[2 * x + 1] as u32;
            out[y * w + x] = ((s + 2) / 4) as u8;
        }
    }
    (out, w, h)
}

/// Line pixels: 1 where a ridge runs across `x` (a steep line), 2 across `y` (a flat line),
/// 3 both.
fn ridge_mask(img: &Luma, d: usize, contrast: f64) -> Vec<u8> {
    let (w, h) = (img.width, img.height);
    let mut mask = vec![0u8; w * h];
    let t = contrast.round() as i32;
    for y in d..h.saturating_sub(d) {
        let row = &img.data[y * img.stride..];
        let up = &img.data[(y - d) * img.stride..];
        let down = &img.data[(y + d) * img.stride..];
        for x in d..w - d {
            let v = row[x] as i32;
            let mut m = 0;
            if v - row[x - d] as i32 > t && v - row[x + d] as i32 > t {
                m |= 1;
            }
            if v - up[x] as i32 > t && v - down[x] as i32 > t {
                m |= 2;
            }
            mask[y * w + x] = m;
        }
    }
    mask
}

/// Share of `samples` that `h` puts on (or one pixel from) a mask pixel, each 2x2 cell of
/// the image counted once: a fit that folds the court onto one line scores low.
fn mask_score(samples: &[Sample], h: &Homography, mask: &[u8], w: usize, hh: usize) -> f64 {
    let mut cells: Vec<usize> = Vec::with_capacity(samples.len());
    for s in samples {
        let v = h.0 * Vector3::new(s.p[0], s.p[1], 1.0);
        if v[2] <= 1e-9 {
            continue;
        }
        let (x, y) = (v[0] / v[2], v[1] / v[2]);
        if x < 1.0 || y < 1.0 || x >= w as f64 - 1.0 || y >= hh as f64 - 1.0 {
            continue;
        }
        let (xi, yi) = (x as usize, y as usize);
        let on = (yi - 1..=yi + 1).any(|yy| (xi - 1..=xi + 1).any(|xx| mask[yy * w + xx] != 0));
        if on {
            cells.push((yi / 2) * w + xi / 2);
        }
    }
    cells.sort_unstable();
    cells.dedup();
    // Over all the samples: a fit that puts much of the court outside the frame explains less.
    cells.len() as f64 / samples.len() as f64
}

/// Straight lines through the mask's pixels: Hough peaks (0.5°, 1 px), each refitted by total
/// least squares to the pixels within 1.5 px of it, strongest first.
fn hough_lines(mask: &[u8], w: usize, h: usize, max: usize) -> Vec<ImageLine> {
    const BINS: usize = 360;
    let diag = ((w * w + h * h) as f64).sqrt().ceil() as usize;
    let rows = 2 * diag + 1;
    let trig: Vec<(f64, f64)> = (0..BINS)
        .map(|i| {
            let t = i as f64 * std::f64::consts::PI / BINS as f64;
            (t.cos(), t.sin())
        })
        .collect();
    let mut acc = vec![0u32; BINS * rows];
    let mut pixels = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let m = mask[y * w + x];
            if m == 0 {
                continue;
            }
            pixels.push((x, y));
            // A ridge across x is a steep line: normal near horizontal (θ near 0 or 180°).
            let ranges: &[(usize, usize)] = match m {
                1 => &[(0, BINS / 4 + 10), (3 * BINS / 4 - 10, BINS)],
                2 => &[(BINS / 4 - 10, 3 * BINS / 4 + 10)],
                _ => &[(0, BINS)],
            };
            let (xf, yf) = (x as f64 + 0.5, y as f64 + 0.5);
            for &(a, b) in ranges {
                for (t, &(c, s)) in trig.iter().enumerate().take(b).skip(a) {
                    let rho = (xf * c + yf * s).round() as isize + diag as isize;
                    acc[t * rows + rho as usize] += 1;
                }
            }
        }
    }
    let min_votes = (w.min(h) / 12).max(12) as u32;
    let mut peaks: Vec<(u32, usize, usize)> = Vec::new();
    for t in 0..BINS {
        for r in 0..rows {
            let v = acc[t * rows + r];
            if v < min_votes {
                continue;
            }
            let mut is_max = true;
            'win: for dt in -3isize..=3 {
                let tt = (t as isize + dt).rem_euclid(BINS as isize) as usize;
                for dr in -4isize..=4 {
                    let rr = r as isize + dr;
                    if rr < 0 || rr >= rows as isize || (dt == 0 && dr == 0) {
                        continue;
                    }
                    let o = acc[tt * rows + rr as usize];
                    if o > v || (o == v && (dt, dr) < (0, 0)) {
                        is_max = false;
                        break 'win;
                    }
                }
            }
            if is_max {
                peaks.push((v, t, r));
            }
        }
    }
    peaks.sort_by_key(|p| std::cmp::Reverse(p.0));
    let mut out: Vec<ImageLine> = Vec::new();
    for (_, t, r) in peaks {
        let (c, s) = trig[t];
        let rho = r as f64 - diag as f64;
        // Total least squares on the pixels along the peak.
        let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for &(x, y) in &pixels {
            let (xf, yf) = (x as f64 + 0.5, y as f64 + 0.5);
            if (xf * c + yf * s - rho).abs() <= 1.5 {
                n += 1.0;
                sx += xf;
                sy += yf;
                sxx += xf * xf;
                syy += yf * yf;
                sxy += xf * yf;
            }
        }
        if n < 2.0 {
            continue;
        }
        let (mx, my) = (sx / n, sy / n);
        let (cxx, cyy, cxy) = (sxx / n - mx * mx, syy / n - my * my, sxy / n - mx * my);
        // The normal is the eigenvector of the smaller eigenvalue of the scatter.
        let angle = 0.5 * (2.0 * cxy).atan2(cxx - cyy);
        let (dx, dy) = (angle.cos(), angle.sin());
        let mut nn = [-dy, dx];
        if nn[0] * c + nn[1] * s < 0.0 {
            nn = [dy, -dx];
        }
        let line = ImageLine {
            n: nn,
            c: nn[0] * mx + nn[1] * my,
        };
        let dup = out.iter().any(|o| {
            let dot = (o.n[0] * line.n[0] + o.n[1] * line.n[1]).abs();
            dot > 2f64.to_radians().cos() && (o.c.abs() - line.c.abs()).abs() < 4.0
        });
        if !dup {
            out.push(line);
            if out.len() == max {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A court drawn in grey levels: floor 80, lines 230 of their true width, seen by `cam`,
    /// with a few bright blobs (players' shirts) on it.
    fn render(model: &CourtModel, cam: &Camera, w: usize, h: usize) -> Vec<u8> {
        let hm = cam.homography();
        let inv = hm.inverse().unwrap();
        let mut img = vec![60u8; w * h];
        let (hw, hl) = (model.width / 2.0, model.length / 2.0);
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                // 3x3 supersampling.
                for sy in 0..3 {
                    for sx in 0..3 {
                        let p = [
                            x as f64 + (sx as f64 + 0.5) / 3.0,
                            y as f64 + (sy as f64 + 0.5) / 3.0,
                        ];
                        let Some(c) = inv.apply(p) else { continue };
                        let floor = if c[0].abs() < hw + 1.0 && c[1].abs() < hl + 1.5 {
                            80.0
                        } else {
                            60.0
                        };
                        let on = model.lines.iter().any(|(a, b)| {
                            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
                            let len2 = dx * dx + dy * dy;
                            let t =
                                (((c[0] - a[0]) * dx + (c[1] - a[1]) * dy) / len2).clamp(0.0, 1.0);
                            let (px, py) = (a[0] + dx * t - c[0], a[1] + dy * t - c[1]);
                            px.hypot(py) <= LINE_WIDTH / 2.0
                        }) || model.arcs.iter().any(|&(o, r, _, _)| {
                            ((c[0] - o[0]).hypot(c[1] - o[1]) - r).abs() <= LINE_WIDTH / 2.0
                        });
                        acc += if on { 230.0 } else { floor };
                    }
                }
                img[y * w + x] = (acc / 9.0) as u8;
            }
        }
        // Players: bright rectangles standing on lines.
        for (cx, cy) in [(0.4, 0.8), (0.6, 0.35), (0.25, 0.55)] {
            let (x0, y0) = ((cx * w as f64) as usize, (cy * h as f64) as usize);
            for y in y0.saturating_sub(60)..y0 {
                for x in x0..(x0 + 25).min(w) {
                    img[y * w + x] = 200;
                }
            }
        }
        img
    }

    fn camera(model: &CourtModel, w: f64, h: f64, pos: [f64; 3], f: f64) -> Camera {
        let s = model.length / 13.4;
        Camera::looking_at(
            f,
            w / 2.0,
            h / 2.0,
            [pos[0] * s, pos[1] * s, pos[2] * s.sqrt()],
            [0.0, -0.5 * s, 0.0],
        )
    }

    fn keypoint_error(model: &CourtModel, a: &Homography, b: &Homography) -> f64 {
        let mut errs: Vec<f64> = model
            .keypoints
            .iter()
            .map(|(_, p)| {
                let (x, y) = (a.apply(*p).unwrap(), b.apply(*p).unwrap());
                (x[0] - y[0]).hypot(x[1] - y[1])
            })
            .collect();
        errs.sort_by(|a, b| a.total_cmp(b));
        errs[errs.len() / 2]
    }

    #[test]
    fn finds_the_badminton_court_to_a_pixel_from_the_lines() {
        let model = CourtModel::badminton();
        let finder = CourtFinder::new(model.clone());
        for (pos, f) in [([0.5, -12.0, 5.0], 700.0), ([-1.2, -10.5, 4.0], 600.0)] {
            let cam = camera(&model, 1280.0, 720.0, pos, f);
            let img = render(&model, &cam, 1280, 720);
            let luma = Luma {
                data: &img,
                width: 1280,
                height: 720,
                stride: 1280,
            };
            let c = finder.find(&luma).expect("court found");
            let err = keypoint_error(&model, &c.homography, &cam.homography());
            assert!(err < 1.0, "median keypoint error {err} px");
            let found = c.camera.expect("camera");
            assert!((found.f - f).abs() / f < 0.03, "focal {} vs {f}", found.f);
            assert!(finder.score(&luma, &c.homography) > 0.6);
        }
    }

    #[test]
    fn finds_the_netball_court() {
        let model = CourtModel::netball();
        let finder = CourtFinder::new(model.clone());
        let cam = camera(&model, 1280.0, 720.0, [0.0, -10.0, 5.5], 420.0);
        let img = render(&model, &cam, 1280, 720);
        let luma = Luma {
            data: &img,
            width: 1280,
            height: 720,
            stride: 1280,
        };
        let c = finder.find(&luma).expect("court found");
        let err = keypoint_error(&model, &c.homography, &cam.homography());
        assert!(err < 1.5, "median keypoint error {err} px");
    }

    #[test]
    fn a_frame_without_a_court_has_none() {
        let finder = CourtFinder::new(CourtModel::badminton());
        let (w, h) = (640usize, 360usize);
        // Gradient, noise and a few bright bars: lines, but no court.
        let mut img = vec![0u8; w * h];
        let mut s = 12345u32;
        for y in 0..h {
            for x in 0..w {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                img[y * w + x] = (60 + x / 8 + (s >> 28) as usize) as u8;
            }
        }
        for y in (40..h).step_by(90) {
            for x in 30..w - 30 {
                img[y * w + x] = 230;
                img[(y + 1) * w + x] = 230;
            }
        }
        let luma = Luma {
            data: &img,
            width: w,
            height: h,
            stride: w,
        };
        assert!(finder.find(&luma).is_none());
    }
}
