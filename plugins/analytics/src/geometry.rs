// SPDX-License-Identifier: MIT OR Apache-2.0
//! The image ↔ court-plane homography and the pinhole camera.
//!
//! - [`Homography::fit`]: the direct linear transform on normalised points (Hartley and
//!   Zisserman, Multiple View Geometry, algorithm 4.2) from four or more correspondences;
//!   [`Homography::fit_robust`]: the same inside RANSAC, for correspondences of which some are
//!   wrong (a keypoint found on a player's shoe instead of a line).
//! - [`Camera::from_homography`]: with square pixels and the principal point known (the image
//!   centre for a camera that was not cropped), the court plane's homography fixes the focal
//!   length (its two columns are images of orthogonal unit directions: Zhang's constraints,
//!   solved for 1/f² in the least-squares sense) and then the pose.

use nalgebra::{Matrix3, SymmetricEigen, Vector3};

/// A point in the image (pixels) or on the court plane (metres).
pub type Point = [f64; 2];

/// A plane-to-plane projective map: `[u, v, w] = H [x, y, 1]`, then `(u / w, v / w)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub Matrix3<f64>);

/// The similarity that moves points' centroid to the origin and their mean distance to √2.
fn normalisation(points: &[Point]) -> Option<Matrix3<f64>> {
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p[0] / n, y + p[1] / n));
    let mean = points
        .iter()
        .map(|p| (p[0] - mx).hypot(p[1] - my))
        .sum::<f64>()
        / n;
    if mean <= f64::EPSILON {
        return None;
    }
    let s = std::f64::consts::SQRT_2 / mean;
    Some(Matrix3::new(
        s,
        0.0,
        -s * mx,
        0.0,
        s,
        -s * my,
        0.0,
        0.0,
        1.0,
    ))
}

fn apply(m: &Matrix3<f64>, p: Point) -> Option<Point> {
    let v = m * Vector3::new(p[0], p[1], 1.0);
    (v[2].abs() > 1e-12).then(|| [v[0] / v[2], v[1] / v[2]])
}

impl Homography {
    /// The homography taking each `src` point to its `dst` point (least squares on the
    /// algebraic error past four points); `None` for fewer than four pairs or a degenerate
    /// configuration (three of four points on a line, all on one line).
    pub fn fit(src: &[Point], dst: &[Point]) -> Option<Homography> {
        if src.len() != dst.len() || src.len() < 4 {
            return None;
        }
        let (ts, td) = (normalisation(src)?, normalisation(dst)?);
        // AᵀA accumulated row by row: the null vector of A is its eigenvector of the least
        // eigenvalue (a 9x9 problem whatever the number of points).
        let mut ata = nalgebra::SMatrix::<f64, 9, 9>::zeros();
        for (s, d) in src.iter().zip(dst) {
            let s = apply(&ts, *s)?;
            let d = apply(&td, *d)?;
            let (x, y, u, v) = (s[0], s[1], d[0], d[1]);
            let rows = [
                [-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u],
                [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v],
            ];
            for r in rows {
                let r = nalgebra::SVector::<f64, 9>::from_row_slice(&r);
                ata += r * r.transpose();
            }
        }
        let eig = SymmetricEigen::new(ata);
        let mut order: Vec<usize> = (0..9).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
        // A second (near) null vector means the points do not fix the map.
        let scale = eig.eigenvalues[order[8]].max(f64::EPSILON);
        if eig.eigenvalues[order[1]] / scale < 1e-10 {
            return None;
        }
        let h = eig.eigenvectors.column(order[0]);
        let hn = Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]);
        let m = td.try_inverse()? * hn * ts;
        let norm = m.norm();
        if norm <= f64::EPSILON || m.determinant().abs() < 1e-12 * norm.powi(3) {
            return None;
        }
        Some(Homography(m / norm))
    }

    /// The homography most of the pairs agree on: RANSAC over minimal sets of four pairs
    /// (`tries` of them, in a fixed pseudo-random order so that a result can be reproduced),
    /// the largest set of pairs mapped within `tolerance` (in `dst` units) kept, and the
    /// homography fitted again on those. Returns it with a flag per pair (an inlier or not);
    /// `None` where no four pairs fit anything or fewer than four agree.
    pub fn fit_robust(
        src: &[Point],
        dst: &[Point],
        tolerance: f64,
        tries: usize,
    ) -> Option<(Homography, Vec<bool>)> {
        let n = src.len();
        if n != dst.len() || n < 4 {
            return None;
        }
        // A 64-bit linear congruential sequence (Knuth's MMIX constants): deterministic, and
        // plenty for choosing sets of four.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |bound: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) as usize) % bound
        };
        let inliers_of = |h: &Homography| -> Vec<bool> {
            h.errors(src, dst).iter().map(|e| *e <= tolerance).collect()
        };
        let mut best: Option<Vec<bool>> = None;
        let mut best_count = 0;
        for _ in 0..tries.max(1) {
            let mut pick = [0usize; 4];
            let mut k = 0;
            while k < 4 {
                let i = next(n);
                if !pick[..k].contains(&i) {
                    pick[k] = i;
                    k += 1;
                }
            }
            let s4: Vec<Point> = pick.iter().map(|&i| src[i]).collect();
            let d4: Vec<Point> = pick.iter().map(|&i| dst[i]).collect();
            let Some(h) = Homography::fit(&s4, &d4) else {
                continue;
            };
            let inliers = inliers_of(&h);
            let count = inliers.iter().filter(|x| **x).count();
            if count > best_count {
                best_count = count;
                best = Some(inliers);
                if count == n {
                    break;
                }
            }
        }
        let mut inliers = best?;
        let refit = |inliers: &[bool]| -> Option<Homography> {
            let (s, d): (Vec<Point>, Vec<Point>) = src
                .iter()
                .zip(dst)
                .zip(inliers)
                .filter(|(_, keep)| **keep)
                .map(|((s, d), _)| (*s, *d))
                .unzip();
            Homography::fit(&s, &d)
        };
        // Refit on the agreeing pairs, then take the pairs that agree with the refit.
        for _ in 0..2 {
            let h = refit(&inliers)?;
            let again = inliers_of(&h);
            if again.iter().filter(|x| **x).count() < 4 {
                return None;
            }
            if again == inliers {
                return Some((h, inliers));
            }
            inliers = again;
        }
        refit(&inliers).map(|h| (h, inliers))
    }

    /// Where `p` maps to (`None` on the line sent to infinity).
    pub fn apply(&self, p: Point) -> Option<Point> {
        apply(&self.0, p)
    }

    /// The same map scaled so that its last entry is 1; `None` where that entry is 0 (the
    /// origin mapped to infinity).
    pub fn normalised(&self) -> Option<Homography> {
        let s = self.0[(2, 2)];
        (s.abs() > 1e-12).then(|| Homography(self.0 / s))
    }

    /// The map back.
    pub fn inverse(&self) -> Option<Homography> {
        self.0.try_inverse().map(Homography)
    }

    /// Distances between each `dst` point and where its `src` point maps to.
    pub fn errors(&self, src: &[Point], dst: &[Point]) -> Vec<f64> {
        src.iter()
            .zip(dst)
            .map(|(s, d)| {
                self.apply(*s)
                    .map_or(f64::INFINITY, |m| (m[0] - d[0]).hypot(m[1] - d[1]))
            })
            .collect()
    }
}

/// A pinhole camera with square pixels: focal length `f` and principal point `(cx, cy)` in
/// pixels; a world point `X` (court metres) is seen at `K (R X + t)`. The image's `y` grows
/// downwards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    pub f: f64,
    pub cx: f64,
    pub cy: f64,
    /// World to camera rotation (rows: the camera's right, down and forward axes in court
    /// coordinates).
    pub r: Matrix3<f64>,
    pub t: Vector3<f64>,
}

impl Camera {
    /// The camera at `position` looking at `target` (court metres), level (no roll).
    pub fn looking_at(f: f64, cx: f64, cy: f64, position: [f64; 3], target: [f64; 3]) -> Camera {
        let c = Vector3::from(position);
        let fwd = (Vector3::from(target) - c).normalize();
        let right = fwd.cross(&Vector3::z()).normalize();
        let down = fwd.cross(&right);
        let r = Matrix3::from_rows(&[right.transpose(), down.transpose(), fwd.transpose()]);
        Camera {
            f,
            cx,
            cy,
            r,
            t: -(r * c),
        }
    }

    fn k(&self) -> Matrix3<f64> {
        Matrix3::new(self.f, 0.0, self.cx, 0.0, self.f, self.cy, 0.0, 0.0, 1.0)
    }

    /// Where the camera is, in court metres.
    pub fn position(&self) -> [f64; 3] {
        (-(self.r.transpose() * self.t)).into()
    }

    /// The pixel where a court point `p` (metres, `z` up) is seen, with its depth; `None`
    /// behind the camera.
    pub fn project(&self, p: [f64; 3]) -> Option<(Point, f64)> {
        let c = self.r * Vector3::from(p) + self.t;
        (c[2] > 1e-9).then(|| {
            (
                [
                    self.f * c[0] / c[2] + self.cx,
                    self.f * c[1] / c[2] + self.cy,
                ],
                c[2],
            )
        })
    }

    /// The homography from the court plane (`z = 0`) to the image.
    pub fn homography(&self) -> Homography {
        let m = Matrix3::from_columns(&[self.r.column(0).into(), self.r.column(1).into(), self.t]);
        let h = self.k() * m;
        Homography(h / h.norm())
    }

    /// The camera whose court-plane homography is `h` (court metres to pixels), given its
    /// principal point: `None` where `h` does not fit a real camera with square pixels (the
    /// solved 1/f² not positive) or the court is seen from below.
    pub fn from_homography(h: &Homography, cx: f64, cy: f64) -> Option<Camera> {
        let shift = Matrix3::new(1.0, 0.0, -cx, 0.0, 1.0, -cy, 0.0, 0.0, 1.0);
        let m = shift * h.0;
        let (h1, h2) = (m.column(0), m.column(1));
        // With ω = diag(1/f², 1/f², 1): h1ᵀωh2 = 0 and h1ᵀωh1 = h2ᵀωh2, linear in w = 1/f².
        let (a1, b1) = (h1[0] * h2[0] + h1[1] * h2[1], h1[2] * h2[2]);
        let (a2, b2) = (
            h1[0] * h1[0] + h1[1] * h1[1] - h2[0] * h2[0] - h2[1] * h2[1],
            h1[2] * h1[2] - h2[2] * h2[2],
        );
        let den = a1 * a1 + a2 * a2;
        if den <= f64::EPSILON * (b1 * b1 + b2 * b2).max(f64::MIN_POSITIVE) {
            return None;
        }
        let w = -(a1 * b1 + a2 * b2) / den;
        if !(w.is_finite() && w > 0.0) {
            return None;
        }
        let f = 1.0 / w.sqrt();
        let k_inv = Matrix3::new(1.0 / f, 0.0, 0.0, 0.0, 1.0 / f, 0.0, 0.0, 0.0, 1.0);
        let (r1, r2, t) = (k_inv * h1, k_inv * h2, k_inv * m.column(2));
        let mut lambda = 2.0 / (r1.norm() + r2.norm());
        // The court (its centre, the origin) is in front of the camera.
        if t[2] * lambda < 0.0 {
            lambda = -lambda;
        }
        let (r1, r2, t) = (r1 * lambda, r2 * lambda, t * lambda);
        let r3 = r1.cross(&r2);
        // The nearest rotation (polar decomposition) to the estimated columns.
        let approx = Matrix3::from_columns(&[r1, r2, r3]);
        let svd = approx.svd(true, true);
        let (u, v_t) = (svd.u?, svd.v_t?);
        let r = u * v_t;
        if r.determinant() < 0.0 {
            return None;
        }
        let cam = Camera { f, cx, cy, r, t };
        // Seen from above: the camera is over the floor.
        (cam.position()[2] > 0.0).then_some(cam)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::court::CourtModel;

    /// A camera as a broadcast or club camera sees a court: behind and above the near
    /// baseline, looking at the court, 1280x720.
    fn camera(court: &CourtModel) -> Camera {
        let s = court.length / 13.4;
        Camera::looking_at(
            1100.0 / s.sqrt(),
            640.0,
            360.0,
            [0.8, -12.5 * s, 5.2 * s.sqrt()],
            [0.0, 0.5, 0.6],
        )
    }

    fn seen(cam: &Camera, court: &CourtModel) -> (Vec<Point>, Vec<Point>) {
        court
            .keypoints
            .iter()
            .map(|(_, p)| (*p, cam.project([p[0], p[1], 0.0]).unwrap().0))
            .unzip()
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    #[test]
    fn a_homography_is_recovered_from_exact_points() {
        let h = Homography(Matrix3::new(
            120.0, 15.0, 640.0, -8.0, 60.0, 300.0, 0.002, 0.03, 1.0,
        ));
        let court = CourtModel::badminton();
        let src: Vec<Point> = court.keypoints.iter().map(|(_, p)| *p).collect();
        let dst: Vec<Point> = src.iter().map(|p| h.apply(*p).unwrap()).collect();
        let fit = Homography::fit(&src, &dst).unwrap();
        assert!(fit.errors(&src, &dst).iter().all(|e| *e < 1e-6));
        // The four corners are enough; the inverse maps back.
        let corners: Vec<Point> = [
            "back-near-left",
            "back-near-right",
            "back-far-left",
            "back-far-right",
        ]
        .iter()
        .map(|n| court.keypoint(n).unwrap())
        .collect();
        let seen: Vec<Point> = corners.iter().map(|p| h.apply(*p).unwrap()).collect();
        let fit4 = Homography::fit(&corners, &seen).unwrap();
        let inv = fit4.inverse().unwrap();
        for (s, d) in src.iter().zip(&dst) {
            let back = inv.apply(*d).unwrap();
            assert!((back[0] - s[0]).hypot(back[1] - s[1]) < 1e-6);
        }
    }

    #[test]
    fn too_few_or_collinear_points_fit_nothing() {
        let line: Vec<Point> = (0..6).map(|i| [i as f64, 2.0 * i as f64]).collect();
        let img: Vec<Point> = (0..6).map(|i| [10.0 * i as f64, 5.0]).collect();
        assert!(Homography::fit(&line, &img).is_none());
        let sq = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]];
        assert!(Homography::fit(&sq, &sq).is_none());
        // Three of four on one line.
        let bad = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]];
        let img = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]];
        assert!(Homography::fit(&bad, &img).is_none());
    }

    #[test]
    fn the_camera_is_recovered_from_the_court_homography() {
        for court in [CourtModel::badminton(), CourtModel::netball()] {
            let cam = camera(&court);
            let (src, dst) = seen(&cam, &court);
            let h = Homography::fit(&src, &dst).unwrap();
            let got = Camera::from_homography(&h, 640.0, 360.0).unwrap();
            assert!(
                (got.f - cam.f).abs() < 1e-6 * cam.f,
                "{} f {}",
                court.name,
                got.f
            );
            let (p, q) = (got.position(), cam.position());
            let d = ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt();
            assert!(d < 1e-6, "{}: position {p:?} for {q:?}", court.name);
            // A point above the court (the net's top) is seen where the true camera sees it.
            let a = cam.project([1.0, 0.0, 1.524]).unwrap().0;
            let b = got.project([1.0, 0.0, 1.524]).unwrap().0;
            assert!((a[0] - b[0]).hypot(a[1] - b[1]) < 1e-6);
        }
    }

    /// Keypoints found with a pixel of noise: the court plane within centimetres, the focal
    /// length within a few percent.
    #[test]
    fn noise_of_a_pixel_moves_the_court_little() {
        let court = CourtModel::badminton();
        let cam = camera(&court);
        let (src, dst) = seen(&cam, &court);
        // A fixed pseudo-random pattern of up to one pixel.
        let noisy: Vec<Point> = dst
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let a = (i as f64 * 2.399).sin();
                let b = (i as f64 * 1.731).cos();
                [p[0] + a, p[1] + b]
            })
            .collect();
        let h = Homography::fit(&src, &noisy).unwrap();
        let back = h.inverse().unwrap();
        let plane: Vec<f64> = src
            .iter()
            .zip(&dst)
            .map(|(s, d)| {
                let m = back.apply(*d).unwrap();
                (m[0] - s[0]).hypot(m[1] - s[1])
            })
            .collect();
        assert!(median(plane.clone()) < 0.02, "court-plane error {plane:?}");
        assert!(median(h.errors(&src, &noisy)) < 1.0);
        let got = Camera::from_homography(&h, 640.0, 360.0).unwrap();
        assert!((got.f / cam.f - 1.0).abs() < 0.05, "f {}", got.f);
    }

    /// A quarter of the keypoints found far from where they are (players on the lines):
    /// the plain fit is pulled off, the robust one finds the camera's homography and names
    /// the wrong ones.
    #[test]
    fn wrong_keypoints_are_set_aside() {
        let court = CourtModel::badminton();
        let cam = camera(&court);
        let (src, mut dst) = seen(&cam, &court);
        let wrong: Vec<usize> = (0..src.len()).filter(|i| i % 4 == 1).collect();
        for (k, &i) in wrong.iter().enumerate() {
            dst[i][0] += 40.0 + 7.0 * k as f64;
            dst[i][1] -= 25.0;
        }
        let truth = cam.homography();
        let off = |h: &Homography| {
            src.iter()
                .map(|p| {
                    let (a, b) = (h.apply(*p).unwrap(), truth.apply(*p).unwrap());
                    (a[0] - b[0]).hypot(a[1] - b[1])
                })
                .fold(0.0, f64::max)
        };
        let plain = Homography::fit(&src, &dst).unwrap();
        assert!(
            off(&plain) > 5.0,
            "the plain fit is pulled off: {}",
            off(&plain)
        );
        let (robust, inliers) = Homography::fit_robust(&src, &dst, 2.0, 200).unwrap();
        assert!(off(&robust) < 1e-6, "{}", off(&robust));
        for (i, inlier) in inliers.iter().enumerate() {
            assert_eq!(*inlier, !wrong.contains(&i), "keypoint {i}");
        }
        // The same answer every time.
        let again = Homography::fit_robust(&src, &dst, 2.0, 200).unwrap();
        assert_eq!(again.1, inliers);
        assert!(Homography::fit_robust(&src[..3], &dst[..3], 2.0, 200).is_none());
    }

    #[test]
    fn a_homography_of_no_camera_gives_none() {
        // A pure scaling and shift of the plane: the court seen straight from infinitely far
        // (an affine map) fixes no focal length.
        let h = Homography(Matrix3::new(
            50.0, 0.0, 640.0, 0.0, 50.0, 360.0, 0.0, 0.0, 1.0,
        ));
        assert!(Camera::from_homography(&h, 640.0, 360.0).is_none());
    }
}
