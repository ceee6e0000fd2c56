// SPDX-License-Identifier: MIT OR Apache-2.0
//! Decoding of YOLO output tensors into objects in frame pixels, with NMS for raw heads.

use crate::model::{ModelInfo, OutputLayout};
use crate::preprocess::Letterbox;

/// Candidate boxes considered by NMS at most (ultralytics' max_nms).
const MAX_NMS: usize = 30_000;
/// Offset that separates classes in class-aware NMS (ultralytics' max_wh).
const MAX_WH: f32 = 7680.0;

/// Thresholds and filters of one decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeParams {
    pub conf_threshold: f32,
    pub iou_threshold: f32,
    pub max_detections: usize,
    /// Class ids to keep; `None` keeps all.
    pub classes: Option<Vec<usize>>,
    /// NMS across classes instead of per class.
    pub agnostic: bool,
}

impl Default for DecodeParams {
    fn default() -> Self {
        DecodeParams {
            conf_threshold: 0.25,
            iou_threshold: 0.45,
            max_detections: 300,
            classes: None,
            agnostic: false,
        }
    }
}

/// One decoded object, box in frame pixels (x1, y1, x2, y2), clipped to the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Object {
    pub class_id: usize,
    pub score: f32,
    pub bbox: [f32; 4],
}

/// A keypoint in frame pixels with its visibility score (1.0 when the model has none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
    pub score: f32,
}

/// Objects of one frame; keypoints flat, `keypoints_per_object` per object, in object order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameObjects {
    pub objects: Vec<Object>,
    pub keypoints: Vec<Point>,
    pub keypoints_per_object: usize,
}

impl FrameObjects {
    pub fn keypoints_of(&self, i: usize) -> &[Point] {
        let k = self.keypoints_per_object;
        &self.keypoints[i * k..(i + 1) * k]
    }

    pub fn clear(&mut self) {
        self.objects.clear();
        self.keypoints.clear();
    }
}

/// What the class rows of a raw head's output hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassRows {
    /// One score row per class, as exported: `[4 + nc + 3k, A]`.
    All,
    /// The best class's score, then its class id: `[4 + 2 + 3k, A]` (the engine's best-class
    /// output, see [`crate::augment`]). Not for a class filter: the best class may be filtered
    /// out where another allowed class still passes.
    Best,
}

/// Decodes one frame's part of the output. `data` is that frame's slice of the output tensor,
/// `dims` the output's (dim1, dim2) as run: raw `[4+nc+3k, A]` (or `[6+3k, A]` with
/// [`ClassRows::Best`]) or end-to-end `[N, 6+3k]`.
pub fn decode_frame(
    info: &ModelInfo,
    params: &DecodeParams,
    data: &[f32],
    (dims, rows): ((usize, usize), ClassRows),
    lb: &Letterbox,
    out: &mut FrameObjects,
) {
    out.clear();
    out.keypoints_per_object = info.kpt_shape.map_or(0, |(k, _)| k);
    match info.layout {
        OutputLayout::Raw => decode_raw(info, params, data, dims, rows, lb, out),
        OutputLayout::EndToEnd => decode_end_to_end(info, params, data, dims, lb, out),
    }
}

struct Candidate {
    index: usize,
    class_id: usize,
    score: f32,
    /// x1, y1, x2, y2 in model-input pixels.
    bbox: [f32; 4],
}

fn class_allowed(params: &DecodeParams, class_id: usize) -> bool {
    params
        .classes
        .as_ref()
        .is_none_or(|c| c.contains(&class_id))
}

fn decode_raw(
    info: &ModelInfo,
    params: &DecodeParams,
    data: &[f32],
    (channels, anchors): (usize, usize),
    rows: ClassRows,
    lb: &Letterbox,
    out: &mut FrameObjects,
) {
    let nc = info.num_classes();
    let class_rows = match rows {
        ClassRows::All => nc,
        ClassRows::Best => 2,
    };
    debug_assert_eq!(channels, 4 + class_rows + info.keypoint_values());
    let row = |c: usize| &data[c * anchors..(c + 1) * anchors];
    let (cx, cy, w, h) = (row(0), row(1), row(2), row(3));
    let candidate = |a: usize, class_id: usize, score: f32| Candidate {
        index: a,
        class_id,
        score,
        bbox: [
            cx[a] - w[a] / 2.0,
            cy[a] - h[a] / 2.0,
            cx[a] + w[a] / 2.0,
            cy[a] + h[a] / 2.0,
        ],
    };
    let mut cands: Vec<Candidate> = match rows {
        ClassRows::Best => {
            debug_assert!(
                params.classes.is_none(),
                "a class filter needs every class row"
            );
            let class = row(5);
            row(4)
                .iter()
                .enumerate()
                .filter(|(_, &s)| s > params.conf_threshold)
                .map(|(a, &s)| candidate(a, class[a] as usize, s))
                .collect()
        }
        ClassRows::All => {
            // Best class per anchor, class rows scanned contiguously (channel-major tensor).
            let mut best = vec![f32::NEG_INFINITY; anchors];
            let mut best_class = vec![0u32; anchors];
            for c in (0..nc).filter(|&c| class_allowed(params, c)) {
                for (a, &s) in row(4 + c).iter().enumerate() {
                    if s > best[a] {
                        best[a] = s;
                        best_class[a] = c as u32;
                    }
                }
            }
            best.iter()
                .enumerate()
                .filter(|(_, &s)| s > params.conf_threshold)
                .map(|(a, &s)| candidate(a, best_class[a] as usize, s))
                .collect()
        }
    };
    cands.sort_by(|a, b| b.score.total_cmp(&a.score));
    cands.truncate(MAX_NMS);
    let keep = nms(
        &cands,
        params.iou_threshold,
        params.agnostic,
        params.max_detections,
    );

    let kpt_base = 4 + class_rows;
    for &i in &keep {
        let c = &cands[i];
        push_object(out, lb, c.class_id, c.score, c.bbox);
        if let Some((k, d)) = info.kpt_shape {
            for j in 0..k {
                let x = row(kpt_base + j * d)[c.index];
                let y = row(kpt_base + j * d + 1)[c.index];
                let s = if d == 3 {
                    row(kpt_base + j * d + 2)[c.index]
                } else {
                    1.0
                };
                push_point(out, lb, x, y, s);
            }
        }
    }
}

fn decode_end_to_end(
    info: &ModelInfo,
    params: &DecodeParams,
    data: &[f32],
    (rows, width): (usize, usize),
    lb: &Letterbox,
    out: &mut FrameObjects,
) {
    let mut picked: Vec<usize> = (0..rows)
        .filter(|&r| {
            let v = &data[r * width..(r + 1) * width];
            v[4] > params.conf_threshold && v[5] >= 0.0 && class_allowed(params, v[5] as usize)
        })
        .collect();
    picked.sort_by(|&a, &b| data[b * width + 4].total_cmp(&data[a * width + 4]));
    picked.truncate(params.max_detections);
    for r in picked {
        let v = &data[r * width..(r + 1) * width];
        push_object(out, lb, v[5] as usize, v[4], [v[0], v[1], v[2], v[3]]);
        if let Some((k, d)) = info.kpt_shape {
            for j in 0..k {
                let p = &v[6 + j * d..6 + (j + 1) * d];
                push_point(out, lb, p[0], p[1], if d == 3 { p[2] } else { 1.0 });
            }
        }
    }
}

fn push_object(out: &mut FrameObjects, lb: &Letterbox, class_id: usize, score: f32, b: [f32; 4]) {
    let (x1, y1) = lb.to_frame(b[0], b[1]);
    let (x2, y2) = lb.to_frame(b[2], b[3]);
    let (w, h) = (lb.src_w as f32, lb.src_h as f32);
    out.objects.push(Object {
        class_id,
        score,
        bbox: [
            x1.clamp(0.0, w),
            y1.clamp(0.0, h),
            x2.clamp(0.0, w),
            y2.clamp(0.0, h),
        ],
    });
}

fn push_point(out: &mut FrameObjects, lb: &Letterbox, x: f32, y: f32, score: f32) {
    let (fx, fy) = lb.to_frame(x, y);
    out.keypoints.push(Point {
        x: fx.clamp(0.0, lb.src_w as f32),
        y: fy.clamp(0.0, lb.src_h as f32),
        score,
    });
}

/// Overlap of two boxes given as corners (x1, y1, x2, y2): intersection over union.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// Greedy NMS over candidates sorted by descending score; returns kept indices in score order.
/// Class-aware unless `agnostic` (boxes of different classes never suppress each other).
fn nms(cands: &[Candidate], iou_threshold: f32, agnostic: bool, max_keep: usize) -> Vec<usize> {
    let offset = |c: &Candidate| {
        let o = if agnostic {
            0.0
        } else {
            c.class_id as f32 * MAX_WH
        };
        [c.bbox[0] + o, c.bbox[1] + o, c.bbox[2] + o, c.bbox[3] + o]
    };
    let boxes: Vec<[f32; 4]> = cands.iter().map(offset).collect();
    let mut suppressed = vec![false; cands.len()];
    let mut keep = Vec::new();
    for i in 0..cands.len() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        if keep.len() >= max_keep {
            break;
        }
        for j in i + 1..cands.len() {
            if !suppressed[j] && iou(&boxes[i], &boxes[j]) > iou_threshold {
                suppressed[j] = true;
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Precision, Task};

    fn info(nc: usize, kpt: Option<(usize, usize)>, layout: OutputLayout) -> ModelInfo {
        ModelInfo {
            task: if kpt.is_some() {
                Task::Pose
            } else {
                Task::Detect
            },
            names: (0..nc).map(|i| format!("c{i}")).collect(),
            kpt_shape: kpt,
            imgsz: (640, 640),
            stride: 32,
            static_batch: None,
            dynamic_size: true,
            layout,
            input_precision: Precision::F32,
            output_precision: Precision::F32,
            input_name: "images".into(),
            output_name: "output0".into(),
        }
    }

    /// Decodes a raw or end-to-end tensor of every class row.
    fn decode(
        m: &ModelInfo,
        p: &DecodeParams,
        t: &[f32],
        dims: (usize, usize),
        lb: &Letterbox,
    ) -> FrameObjects {
        let mut out = FrameObjects::default();
        decode_frame(m, p, t, (dims, ClassRows::All), lb, &mut out);
        out
    }

    /// Builds a raw `[C, A]` tensor with the given anchors (cx, cy, w, h, class, score, keypoints).
    fn raw_tensor(
        nc: usize,
        kv: usize,
        anchors: &[([f32; 4], usize, f32, Vec<f32>)],
        total: usize,
    ) -> Vec<f32> {
        let c = 4 + nc + kv;
        let mut t = vec![0f32; c * total];
        for (a, (b, cls, s, k)) in anchors.iter().enumerate() {
            for i in 0..4 {
                t[i * total + a] = b[i];
            }
            t[(4 + cls) * total + a] = *s;
            for (j, v) in k.iter().enumerate() {
                t[(4 + nc + j) * total + a] = *v;
            }
        }
        t
    }

    #[test]
    fn raw_boxes_come_back_in_frame_pixels() {
        // 1280x720 frame, rect letterbox to 640x384: scale 0.5, 12 rows of top padding.
        let lb = Letterbox::new(1280, 720, (640, 640), 32, true);
        assert_eq!((lb.dst_w, lb.dst_h, lb.top), (640, 384, 12));
        let m = info(3, None, OutputLayout::Raw);
        let t = raw_tensor(3, 0, &[([100.0, 112.0, 40.0, 20.0], 2, 0.9, vec![])], 50);
        let out = decode(&m, &DecodeParams::default(), &t, (7, 50), &lb);
        assert_eq!(out.objects.len(), 1);
        let o = out.objects[0];
        assert_eq!(o.class_id, 2);
        assert!((o.score - 0.9).abs() < 1e-6);
        assert_eq!(o.bbox, [160.0, 180.0, 240.0, 220.0]);
    }

    #[test]
    fn boxes_are_clipped_to_the_frame() {
        let lb = Letterbox::new(640, 480, (640, 640), 32, true);
        let m = info(1, None, OutputLayout::Raw);
        let t = raw_tensor(1, 0, &[([5.0, 470.0, 40.0, 40.0], 0, 0.8, vec![])], 10);
        let out = decode(&m, &DecodeParams::default(), &t, (5, 10), &lb);
        assert_eq!(out.objects[0].bbox, [0.0, 450.0, 25.0, 480.0]);
    }

    #[test]
    fn nms_suppresses_same_class_keeps_other_class() {
        let lb = Letterbox::new(640, 640, (640, 640), 32, false);
        let m = info(2, None, OutputLayout::Raw);
        let anchors = [
            ([100.0, 100.0, 50.0, 50.0], 0, 0.9, vec![]),
            ([102.0, 101.0, 50.0, 50.0], 0, 0.8, vec![]), // overlaps the first: suppressed
            ([101.0, 100.0, 50.0, 50.0], 1, 0.7, vec![]), // other class: kept unless agnostic
            ([300.0, 300.0, 50.0, 50.0], 0, 0.6, vec![]), // far away: kept
            ([500.0, 500.0, 50.0, 50.0], 0, 0.1, vec![]), // under the threshold
        ];
        let t = raw_tensor(2, 0, &anchors, 20);
        let mut out = FrameObjects::default();
        let mut p = DecodeParams::default();
        decode_frame(&m, &p, &t, ((6, 20), ClassRows::All), &lb, &mut out);
        let got: Vec<(usize, f32)> = out.objects.iter().map(|o| (o.class_id, o.score)).collect();
        assert_eq!(got, vec![(0, 0.9), (1, 0.7), (0, 0.6)]);

        p.agnostic = true;
        decode_frame(&m, &p, &t, ((6, 20), ClassRows::All), &lb, &mut out);
        let got: Vec<(usize, f32)> = out.objects.iter().map(|o| (o.class_id, o.score)).collect();
        assert_eq!(got, vec![(0, 0.9), (0, 0.6)]);

        p.agnostic = false;
        p.classes = Some(vec![1]);
        decode_frame(&m, &p, &t, ((6, 20), ClassRows::All), &lb, &mut out);
        let got: Vec<(usize, f32)> = out.objects.iter().map(|o| (o.class_id, o.score)).collect();
        assert_eq!(got, vec![(1, 0.7)]);

        p.classes = None;
        p.max_detections = 1;
        decode_frame(&m, &p, &t, ((6, 20), ClassRows::All), &lb, &mut out);
        assert_eq!(out.objects.len(), 1);
        assert_eq!(out.objects[0].score, 0.9);
    }

    #[test]
    fn raw_pose_keypoints_unletterboxed() {
        let lb = Letterbox::new(1280, 720, (640, 640), 32, true); // scale 0.5, top 12
        let m = info(1, Some((2, 3)), OutputLayout::Raw);
        let kp = vec![100.0, 62.0, 0.9, 200.0, 112.0, 0.2];
        let t = raw_tensor(1, 6, &[([150.0, 87.0, 100.0, 50.0], 0, 0.95, kp)], 8);
        let out = decode(&m, &DecodeParams::default(), &t, (11, 8), &lb);
        assert_eq!(out.objects.len(), 1);
        assert_eq!(out.objects[0].bbox, [200.0, 100.0, 400.0, 200.0]);
        assert_eq!(
            out.keypoints_of(0),
            &[
                Point {
                    x: 200.0,
                    y: 100.0,
                    score: 0.9
                },
                Point {
                    x: 400.0,
                    y: 200.0,
                    score: 0.2
                }
            ]
        );
    }

    /// The best-class rows (box, best score, its class id, keypoints) decode to what every
    /// class row decodes to, keypoints included.
    #[test]
    fn best_class_rows_decode_as_every_class_row() {
        let lb = Letterbox::new(1280, 720, (640, 640), 32, true);
        let m = info(3, Some((2, 3)), OutputLayout::Raw);
        let (kp1, kp2) = (vec![100.0, 62.0, 0.9, 200.0, 112.0, 0.2], vec![1.0; 6]);
        let anchors = [
            ([150.0, 87.0, 100.0, 50.0], 2, 0.95, kp1),
            ([400.0, 300.0, 60.0, 60.0], 1, 0.5, kp2),
        ];
        let n = 9;
        let all = raw_tensor(3, 6, &anchors, n);
        // Row by row: the box, the best of the three class rows and its index, the keypoints.
        let row = |r: usize| &all[r * n..(r + 1) * n];
        let mut best = Vec::new();
        for r in 0..4 {
            best.extend_from_slice(row(r));
        }
        let top = |a: usize| {
            (0..3).fold((0, f32::MIN), |t, c| {
                if row(4 + c)[a] > t.1 {
                    (c, row(4 + c)[a])
                } else {
                    t
                }
            })
        };
        best.extend((0..n).map(|a| top(a).1));
        best.extend((0..n).map(|a| top(a).0 as f32));
        for r in 7..13 {
            best.extend_from_slice(row(r));
        }
        let want = decode(&m, &DecodeParams::default(), &all, (13, n), &lb);
        let mut got = FrameObjects::default();
        let p = DecodeParams::default();
        decode_frame(&m, &p, &best, ((12, n), ClassRows::Best), &lb, &mut got);
        assert_eq!(want.objects.len(), 2);
        assert_eq!(got, want);
    }

    #[test]
    fn end_to_end_rows_without_second_nms() {
        let lb = Letterbox::new(640, 640, (640, 640), 32, false);
        let m = info(80, None, OutputLayout::EndToEnd);
        // Two heavily overlapping boxes of one class: an end-to-end output keeps both.
        let mut t = vec![0f32; 6 * 5];
        t[..6].copy_from_slice(&[10.0, 10.0, 50.0, 50.0, 0.7, 3.0]);
        t[6..12].copy_from_slice(&[11.0, 10.0, 51.0, 50.0, 0.9, 3.0]);
        t[12..18].copy_from_slice(&[100.0, 100.0, 150.0, 150.0, 0.5, 7.0]);
        t[18..24].copy_from_slice(&[0.0, 0.0, 1.0, 1.0, 0.1, 1.0]);
        let mut out = FrameObjects::default();
        let mut p = DecodeParams::default();
        decode_frame(&m, &p, &t, ((5, 6), ClassRows::All), &lb, &mut out);
        let got: Vec<(usize, f32)> = out.objects.iter().map(|o| (o.class_id, o.score)).collect();
        assert_eq!(got, vec![(3, 0.9), (3, 0.7), (7, 0.5)]);
        assert_eq!(out.objects[2].bbox, [100.0, 100.0, 150.0, 150.0]);
        p.classes = Some(vec![7]);
        decode_frame(&m, &p, &t, ((5, 6), ClassRows::All), &lb, &mut out);
        assert_eq!(out.objects.len(), 1);
        p.classes = None;
        p.max_detections = 2;
        decode_frame(&m, &p, &t, ((5, 6), ClassRows::All), &lb, &mut out);
        assert_eq!(out.objects.len(), 2);
    }

    #[test]
    fn end_to_end_pose_rows() {
        let lb = Letterbox::new(1280, 720, (640, 640), 32, false); // scale 0.5, top 140
        let m = info(1, Some((1, 3)), OutputLayout::EndToEnd);
        let t = vec![10.0, 150.0, 30.0, 170.0, 0.8, 0.0, 20.0, 160.0, 0.5];
        let out = decode(&m, &DecodeParams::default(), &t, (1, 9), &lb);
        assert_eq!(out.objects[0].bbox, [20.0, 20.0, 60.0, 60.0]);
        assert_eq!(
            out.keypoints_of(0),
            &[Point {
                x: 40.0,
                y: 40.0,
                score: 0.5
            }]
        );
    }
}
