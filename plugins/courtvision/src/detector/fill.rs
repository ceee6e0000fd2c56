// SPDX-License-Identifier: MIT OR Apache-2.0
//! Results for frames the detectors did not infer (motionskip's skipped frames): hold the last
//! inferred frame's objects, or interpolate between the inferred frames on either side, with
//! objects matched by class and overlap. Also the speeds behind the feedback event.

use gst::glib;

use courtvision_meta::{BBox, Detection, Keypoint};

/// `fill` property: what skipped frames get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstCourtvisionFill")]
pub enum Fill {
    /// Skipped frames carry no results.
    #[default]
    #[enum_value(name = "None: skipped frames get no results", nick = "none")]
    None = 0,
    #[enum_value(name = "Hold: the last inferred frame's results", nick = "hold")]
    Hold = 1,
    #[enum_value(
        name = "Interpolate between the inferred frames around them (adds latency)",
        nick = "interpolate"
    )]
    Interpolate = 2,
}

/// One object with its keypoints.
pub type Object = (Detection, Vec<Keypoint>);

/// The objects of an inferred frame and its timestamp (ns).
#[derive(Debug, Clone, Default)]
pub struct Inferred {
    pub pts: Option<u64>,
    pub objects: Vec<Object>,
}

fn iou(a: &BBox, b: &BBox) -> f32 {
    let iw = ((a.x + a.w).min(b.x + b.w) - a.x.max(b.x)).max(0.0);
    let ih = ((a.y + a.h).min(b.y + b.h) - a.y.max(b.y)).max(0.0);
    let inter = iw * ih;
    let union = a.w * a.h + b.w * b.h - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

fn center(b: &BBox) -> (f32, f32) {
    (b.x + b.w / 2.0, b.y + b.h / 2.0)
}

/// Pairs (index in `a`, index in `b`) of the same class, greedily by overlap; pairs that do not
/// overlap are matched by centre distance when it is under the larger box's size (fast objects
/// such as a shuttle move more than their size between inferred frames only rarely).
pub fn match_objects(a: &[Object], b: &[Object]) -> Vec<(usize, usize)> {
    let mut cands: Vec<(f32, usize, usize)> = Vec::new();
    for (i, (da, _)) in a.iter().enumerate() {
        for (j, (db, _)) in b.iter().enumerate() {
            if da.class_id != db.class_id {
                continue;
            }
            let o = iou(&da.bbox, &db.bbox);
            let score = if o > 0.0 {
                1.0 + o
            } else {
                let (ca, cb) = (center(&da.bbox), center(&db.bbox));
                let d = ((ca.0 - cb.0).powi(2) + (ca.1 - cb.1).powi(2)).sqrt();
                let size = da
                    .bbox
                    .w
                    .max(da.bbox.h)
                    .max(db.bbox.w)
                    .max(db.bbox.h)
                    .max(1.0);
                if d > 2.0 * size {
                    continue;
                }
                1.0 - d / (2.0 * size)
            };
            cands.push((score, i, j));
        }
    }
    cands.sort_by(|x, y| y.0.total_cmp(&x.0));
    let (mut used_a, mut used_b) = (vec![false; a.len()], vec![false; b.len()]);
    let mut pairs = Vec::new();
    for (_, i, j) in cands {
        if !used_a[i] && !used_b[j] {
            used_a[i] = true;
            used_b[j] = true;
            pairs.push((i, j));
        }
    }
    pairs
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// The objects of `a` marked as filled (hold).
pub fn hold(a: &Inferred) -> Vec<Object> {
    a.objects
        .iter()
        .map(|(d, k)| {
            let mut d = d.clone();
            d.filled = true;
            (d, k.clone())
        })
        .collect()
}

/// Objects at fraction `t` (0 = `a`, 1 = `b`) between two inferred frames: matched objects
/// interpolated (box, score, keypoints); unmatched ones kept on the nearer side.
pub fn interpolate(a: &Inferred, b: &Inferred, t: f32) -> Vec<Object> {
    let pairs = match_objects(&a.objects, &b.objects);
    let mut out = Vec::with_capacity(a.objects.len().max(b.objects.len()));
    let (mut in_a, mut in_b) = (vec![false; a.objects.len()], vec![false; b.objects.len()]);
    for &(i, j) in &pairs {
        in_a[i] = true;
        in_b[j] = true;
        let ((da, ka), (db, kb)) = (&a.objects[i], &b.objects[j]);
        let mut d = da.clone();
        d.bbox = BBox {
            x: lerp(da.bbox.x, db.bbox.x, t),
            y: lerp(da.bbox.y, db.bbox.y, t),
            w: lerp(da.bbox.w, db.bbox.w, t),
            h: lerp(da.bbox.h, db.bbox.h, t),
        };
        d.confidence = lerp(da.confidence, db.confidence, t);
        d.filled = true;
        let k = if ka.len() == kb.len() {
            ka.iter()
                .zip(kb)
                .map(|(p, q)| Keypoint {
                    x: lerp(p.x, q.x, t),
                    y: lerp(p.y, q.y, t),
                    score: lerp(p.score, q.score, t),
                })
                .collect()
        } else {
            ka.clone()
        };
        out.push((d, k));
    }
    let side: Vec<&Object> = if t < 0.5 {
        a.objects
            .iter()
            .zip(&in_a)
            .filter(|(_, m)| !**m)
            .map(|(o, _)| o)
            .collect()
    } else {
        b.objects
            .iter()
            .zip(&in_b)
            .filter(|(_, m)| !**m)
            .map(|(o, _)| o)
            .collect()
    };
    for (d, k) in side {
        let mut d = d.clone();
        d.filled = true;
        out.push((d, k.clone()));
    }
    out
}

/// Fastest matched object between two inferred frames, in pixels per second (0 when the
/// timestamps are unknown or equal).
pub fn max_speed(a: &Inferred, b: &Inferred) -> f64 {
    let (Some(ta), Some(tb)) = (a.pts, b.pts) else {
        return 0.0;
    };
    if tb <= ta {
        return 0.0;
    }
    let dt = (tb - ta) as f64 / 1e9;
    match_objects(&a.objects, &b.objects)
        .into_iter()
        .map(|(i, j)| {
            let (ca, cb) = (center(&a.objects[i].0.bbox), center(&b.objects[j].0.bbox));
            (((ca.0 - cb.0) as f64).powi(2) + ((ca.1 - cb.1) as f64).powi(2)).sqrt() / dt
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn obj(class: u32, x: f32, y: f32, kx: f32) -> Object {
        let d = Detection::new(
            class,
            Arc::from("c"),
            0.8,
            BBox {
                x,
                y,
                w: 20.0,
                h: 40.0,
            },
            Arc::from("t"),
        );
        (
            d,
            vec![Keypoint {
                x: kx,
                y: 1.0,
                score: 0.9,
            }],
        )
    }

    #[test]
    fn interpolates_matched_objects_linearly() {
        let a = Inferred {
            pts: Some(0),
            objects: vec![obj(0, 0.0, 0.0, 10.0), obj(1, 100.0, 100.0, 0.0)],
        };
        let b = Inferred {
            pts: Some(1_000_000_000),
            objects: vec![obj(1, 110.0, 100.0, 0.0), obj(0, 8.0, 4.0, 30.0)],
        };
        let mid = interpolate(&a, &b, 0.25);
        assert_eq!(mid.len(), 2);
        let zero = mid.iter().find(|(d, _)| d.class_id == 0).unwrap();
        assert_eq!((zero.0.bbox.x, zero.0.bbox.y), (2.0, 1.0));
        assert_eq!(zero.1[0].x, 15.0);
        assert!(zero.0.filled);
        let one = mid.iter().find(|(d, _)| d.class_id == 1).unwrap();
        assert_eq!(one.0.bbox.x, 102.5);
        assert!(
            (max_speed(&a, &b) - 10.0).abs() < 1e-6,
            "{}",
            max_speed(&a, &b)
        );
    }

    #[test]
    fn unmatched_objects_stay_on_the_nearer_side() {
        let a = Inferred {
            pts: Some(0),
            objects: vec![obj(0, 0.0, 0.0, 0.0)],
        };
        let b = Inferred {
            pts: Some(10),
            objects: vec![obj(2, 300.0, 300.0, 0.0)],
        };
        assert_eq!(interpolate(&a, &b, 0.2)[0].0.class_id, 0);
        assert_eq!(interpolate(&a, &b, 0.8)[0].0.class_id, 2);
        assert_eq!(hold(&a)[0].0.bbox.x, 0.0);
        assert!(hold(&a)[0].0.filled);
    }

    #[test]
    fn classes_never_match_across() {
        let a = vec![obj(0, 0.0, 0.0, 0.0)];
        let b = vec![obj(1, 0.0, 0.0, 0.0)];
        assert!(match_objects(&a, &b).is_empty());
    }
}
