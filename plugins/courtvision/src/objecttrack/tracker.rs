// SPDX-License-Identifier: MIT OR Apache-2.0
//! The multi-object tracker behind `objecttrack`: ByteTrack's scheme (Zhang et al., 2022) with
//! an appearance cue.
//!
//! - Motion: a Kalman filter per track on (centre x, centre y, aspect w/h, height) with a
//!   constant velocity, noise scaled by the box height (as SORT and ByteTrack do).
//! - Association in two passes, each an optimal assignment (the Hungarian method):
//!   first the confident detections (score ≥ `high`) against every live track (confirmed and
//!   lost), on overlap with the predicted box blended with appearance; then the low-score
//!   detections (≥ `low`) against the confirmed tracks still unmatched, on overlap alone (they
//!   are often the occluded half of a crossing); then tentative tracks against what confident
//!   detections are left.
//! - Recovery: a lost track whose box no longer overlaps its object's (it moved on while
//!   hidden behind another player) takes a confident detection left over near its predicted
//!   centre (within a reach in box heights growing with the frames lost, a similar size, and
//!   the appearance blended in), before any new track starts.
//! - Lifecycle: a confident detection (≥ `new_track`) left over starts a tentative track,
//!   confirmed after `confirm` matches in a row (at once in a stream's first frame) and dropped
//!   if it misses before; a confirmed track that misses is lost, kept and predicted for
//!   `lost_frames` frames (a match brings it back with its identity), then removed.
//! - Merged boxes: where two players overlap, the detector often finds one box around both,
//!   sometimes beside the two. A box around two confident others takes no part. A detection
//!   that holds most of the predicted boxes of two or more tracks seen just before, none with
//!   a detection of its own, and is clearly larger than each, updates none of them: they go on
//!   predicted, kept inside that box, reported as hidden (the element writes their predicted
//!   boxes, marked filled), for at most `MAX_HIDDEN` frames. Once the box is no larger than one
//!   player, the track it matches keeps it and the others stay hidden behind it until found
//!   again (by overlap or by recovery). A confident detection that mostly covers a confirmed
//!   track's box starts no track (a merged or duplicate box, not a new player).
//! - Appearance: a colour signature per detection (see `appearance`), blended into the cost
//!   with weight `appearance`; a track's signature is a running mean updated only from
//!   detections that overlap no other, so two players crossing do not swap colours.

use courtvision_infer::decode::iou;
use courtvision_infer::track_eval::best_assignment;
use nalgebra::{SMatrix, SVector};

type V8 = SVector<f32, 8>;
type M8 = SMatrix<f32, 8, 8>;
type M4x8 = SMatrix<f32, 4, 8>;
type M4 = SMatrix<f32, 4, 4>;
type V4 = SVector<f32, 4>;

/// A box as corners (x1, y1, x2, y2), pixels.
pub type Corners = [f32; 4];

/// How the tracker decides; the defaults are ByteTrack's for 30 frames/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Detections at or above this score take part in the first association.
    pub high: f32,
    /// Detections below this score are ignored.
    pub low: f32,
    /// A confident detection left unmatched starts a track when at or above this score.
    pub new_track: f32,
    /// The least overlap (IoU with the predicted box) of a first-pass match.
    pub match_iou: f32,
    /// The least overlap of a second-pass (low-score) match.
    pub low_iou: f32,
    /// Matches in a row that confirm a tentative track.
    pub confirm: u32,
    /// Frames a lost track is kept and predicted before it is removed.
    pub lost_frames: u32,
    /// Weight of appearance against overlap in the first pass (0: overlap alone).
    pub appearance: f32,
    /// Running-mean rate of a track's appearance.
    pub appearance_rate: f32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            high: 0.5,
            low: 0.1,
            new_track: 0.6,
            match_iou: 0.2,
            low_iou: 0.5,
            confirm: 2,
            lost_frames: 30,
            appearance: 0.5,
            appearance_rate: 0.1,
        }
    }
}

/// One detection given to [`Tracker::update`].
#[derive(Debug, Clone)]
pub struct Input {
    pub bbox: Corners,
    pub score: f32,
    /// Appearance signature (unit length), where the frame could be read.
    pub feature: Option<Vec<f32>>,
}

/// The lifecycle state of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackState {
    Tentative,
    Confirmed,
    Lost,
}

/// A track as the element reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackView {
    pub id: u64,
    pub state: TrackState,
    /// The Kalman estimate for the current frame.
    pub bbox: Corners,
    /// Velocity of the box centre, pixels a frame.
    pub velocity: (f32, f32),
    /// Inside a merged box this frame: predicted, not seen on its own.
    pub hidden: bool,
}

/// Kalman filter on (cx, cy, a, h) with constant velocity.
#[derive(Debug, Clone)]
struct Kalman {
    x: V8,
    p: M8,
}

const STD_POS: f32 = 1.0 / 20.0;
/// Weight of appearance for a track in a crossing.
const CROWDED_APPEARANCE: f32 = 0.8;
/// Velocity noise, per box height: twice ByteTrack's (players change pace far more than
/// pedestrians).
const STD_VEL: f32 = 1.0 / 80.0;
/// A merged box holds at least this share of each hidden track's predicted box...
const MERGED_COVER: f32 = 0.6;
/// ...and is at least this much larger than the largest of them...
const MERGED_GROWTH: f32 = 1.3;
/// ...each of them seen at most this many frames ago (or hidden already).
const MERGED_RECENT: u32 = 2;
/// Frames in a row a track may go on predicted inside a merged box.
const MAX_HIDDEN: u32 = 90;
/// A confident detection that holds this share of a track's box starts no track.
const DUPLICATE_COVER: f32 = 0.6;

fn area(b: &Corners) -> f32 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

/// The share of `inner`'s area inside `outer`.
fn cover(outer: &Corners, inner: &Corners) -> f32 {
    let w = (outer[2].min(inner[2]) - outer[0].max(inner[0])).max(0.0);
    let h = (outer[3].min(inner[3]) - outer[1].max(inner[1])).max(0.0);
    w * h / area(inner).max(1e-6)
}

fn xyah(b: &Corners) -> V4 {
    let w = (b[2] - b[0]).max(1e-3);
    let h = (b[3] - b[1]).max(1e-3);
    V4::new(b[0] + w / 2.0, b[1] + h / 2.0, w / h, h)
}

fn corners(m: &V4) -> Corners {
    let h = m[3].max(1e-3);
    let w = (m[2] * h).max(1e-3);
    [
        m[0] - w / 2.0,
        m[1] - h / 2.0,
        m[0] + w / 2.0,
        m[1] + h / 2.0,
    ]
}

fn transition() -> M8 {
    let mut f = M8::identity();
    for i in 0..4 {
        f[(i, i + 4)] = 1.0;
    }
    f
}

fn observation() -> M4x8 {
    let mut h = M4x8::zeros();
    for i in 0..4 {
        h[(i, i)] = 1.0;
    }
    h
}

impl Kalman {
    fn new(b: &Corners) -> Kalman {
        let m = xyah(b);
        let h = m[3];
        let mut x = V8::zeros();
        x.fixed_rows_mut::<4>(0).copy_from(&m);
        let std = [
            2.0 * STD_POS * h,
            2.0 * STD_POS * h,
            1e-2,
            2.0 * STD_POS * h,
            10.0 * STD_VEL * h,
            10.0 * STD_VEL * h,
            1e-5,
            10.0 * STD_VEL * h,
        ];
        let p = M8::from_diagonal(&V8::from_iterator(std.iter().map(|s| s * s)));
        Kalman { x, p }
    }

    fn predict(&mut self) {
        let h = self.x[3];
        let std = [
            STD_POS * h,
            STD_POS * h,
            1e-2,
            STD_POS * h,
            STD_VEL * h,
            STD_VEL * h,
            1e-5,
            STD_VEL * h,
        ];
        let q = M8::from_diagonal(&V8::from_iterator(std.iter().map(|s| s * s)));
        let f = transition();
        self.x = f * self.x;
        self.p = f * self.p * f.transpose() + q;
    }

    fn update(&mut self, b: &Corners) {
        let z = xyah(b);
        let h = self.x[3];
        let std = [STD_POS * h, STD_POS * h, 1e-1, STD_POS * h];
        let r = M4::from_diagonal(&V4::from_iterator(std.iter().map(|s| s * s)));
        let hm = observation();
        let s = hm * self.p * hm.transpose() + r;
        let Some(s_inv) = s.try_inverse() else { return };
        let k = self.p * hm.transpose() * s_inv;
        self.x += k * (z - hm * self.x);
        self.p = (M8::identity() - k * hm) * self.p;
    }

    fn bbox(&self) -> Corners {
        corners(&self.x.fixed_rows::<4>(0).into_owned())
    }
}

#[derive(Debug, Clone)]
struct Track {
    id: u64,
    state: TrackState,
    kalman: Kalman,
    /// Matches in a row (tentative tracks).
    hits: u32,
    /// Frames since the last match.
    missed: u32,
    /// Frames in a row inside a merged box.
    hidden: u32,
    feature: Option<Vec<f32>>,
}

/// Cosine distance of two unit signatures, 0 (same) to 1.
fn appearance_distance(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    (1.0 - dot).clamp(0.0, 1.0)
}

/// A motion cost blended with the appearance distance of a track's and a detection's
/// signatures, `weight` the appearance's share; motion alone where either has none.
fn with_appearance(
    motion: f32,
    weight: f32,
    track: &Option<Vec<f32>>,
    det: &Option<Vec<f32>>,
) -> f32 {
    match (track, det) {
        (Some(a), Some(b)) if weight > 0.0 => {
            (1.0 - weight) * motion + weight * appearance_distance(a, b)
        }
        _ => motion,
    }
}

/// Records the optimal pairs of `tracks` and `dets` (indices) under `cost(track, detection)`:
/// each detection its track, each track matched.
fn take_pairs(
    det_track: &mut [Option<usize>],
    matched: &mut [bool],
    tracks: &[usize],
    dets: &[usize],
    cost: impl Fn(usize, usize) -> Option<f32>,
) {
    for (ti, di) in assign(tracks.len(), dets.len(), |i, j| cost(tracks[i], dets[j])) {
        det_track[dets[di]] = Some(tracks[ti]);
        matched[tracks[ti]] = true;
    }
}

/// The optimal one-to-one assignment of rows to columns with `cost` (0 best, up to 2), pairs
/// whose cost is `None` (gated out) never matched: the Hungarian method, through the
/// evaluator's assignment (the same code scores the tracks). Returns (row, column) pairs.
pub fn assign(
    rows: usize,
    cols: usize,
    cost: impl Fn(usize, usize) -> Option<f32>,
) -> Vec<(usize, usize)> {
    best_assignment(rows, cols, false, |r, c| {
        cost(r, c).map(|v| 2.0 - v.clamp(0.0, 2.0) as f64)
    })
}

/// The tracker of one stream.
#[derive(Debug, Clone)]
pub struct Tracker {
    params: Params,
    tracks: Vec<Track>,
    next_id: u64,
    frames: u64,
}

impl Tracker {
    pub fn new(params: Params) -> Tracker {
        Tracker {
            params,
            tracks: Vec::new(),
            next_id: 1,
            frames: 0,
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Forgets every track (a new stream); identities start again at 1.
    pub fn reset(&mut self) {
        *self = Tracker::new(self.params);
    }

    /// Tracks in the current frame (tentative, confirmed and lost).
    pub fn tracks(&self) -> Vec<TrackView> {
        self.tracks
            .iter()
            .map(|t| TrackView {
                id: t.id,
                state: t.state,
                bbox: t.kalman.bbox(),
                velocity: (t.kalman.x[4], t.kalman.x[5]),
                hidden: t.hidden > 0,
            })
            .collect()
    }

    /// Advances one frame without detections (a frame that was not inferred): every track is
    /// predicted; none is matched, lost or removed for it.
    pub fn predict_only(&mut self) {
        self.frames += 1;
        self.predict_all();
    }

    /// Every track one frame on; a lost track slows down (an occluded player's last motion
    /// says less and less about where it is).
    fn predict_all(&mut self) {
        for t in &mut self.tracks {
            if t.state == TrackState::Lost {
                for v in 4..8 {
                    t.kalman.x[v] *= 0.85;
                }
            }
            t.kalman.predict();
        }
    }

    /// Advances one frame with its detections; returns, per detection, the identity of the
    /// confirmed track it belongs to (`None`: below `low`, unmatched, or a tentative track).
    pub fn update(&mut self, dets: &[Input]) -> Vec<Option<u64>> {
        let p = self.params;
        self.frames += 1;
        self.predict_all();
        let predicted: Vec<Corners> = self.tracks.iter().map(|t| t.kalman.bbox()).collect();
        let mut det_track: Vec<Option<usize>> = vec![None; dets.len()];
        let mut matched = vec![false; self.tracks.len()];
        // A box around two or more confident others is their union (the detector found the
        // players and the pair): it takes no part.
        let mut merged: Vec<bool> = dets
            .iter()
            .map(|d| {
                dets.iter()
                    .filter(|o| {
                        o.score >= p.high
                            && cover(&d.bbox, &o.bbox) >= MERGED_COVER
                            && area(&d.bbox) >= MERGED_GROWTH * area(&o.bbox)
                    })
                    .count()
                    >= 2
            })
            .collect();
        let high: Vec<usize> = (0..dets.len())
            .filter(|&i| dets[i].score >= p.high && !merged[i])
            .collect();
        let low: Vec<usize> = (0..dets.len())
            .filter(|&i| dets[i].score >= p.low && dets[i].score < p.high && !merged[i])
            .collect();

        // First pass: confident detections, every confirmed or lost track.
        let live: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| self.tracks[t].state != TrackState::Tentative)
            .collect();
        // Tracks in a crossing (their predicted box overlaps another's): overlap cannot tell
        // the two apart, so appearance weighs more there.
        let crowded: Vec<bool> = (0..self.tracks.len())
            .map(|t| {
                live.iter()
                    .any(|&o| o != t && iou(&predicted[t], &predicted[o]) > 0.1)
            })
            .collect();
        take_pairs(&mut det_track, &mut matched, &live, &high, |t, d| {
            let overlap = iou(&predicted[t], &dets[d].bbox);
            if overlap < p.match_iou {
                return None;
            }
            // No appearance at all where it is switched off, even in a crossing.
            let w = match p.appearance {
                0.0 => 0.0,
                w if crowded[t] => w.max(CROWDED_APPEARANCE),
                w => w,
            };
            Some(with_appearance(
                1.0 - overlap,
                w,
                &self.tracks[t].feature,
                &dets[d].feature,
            ))
        });

        // Second pass: low-score detections, confirmed tracks still unmatched, overlap only.
        let waiting: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&t| !matched[t] && self.tracks[t].state == TrackState::Confirmed)
            .collect();
        take_pairs(&mut det_track, &mut matched, &waiting, &low, |t, d| {
            let overlap = iou(&predicted[t], &dets[d].bbox);
            (overlap >= p.low_iou).then_some(1.0 - overlap)
        });

        // Tentative tracks: the confident detections left.
        let tentative: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| self.tracks[t].state == TrackState::Tentative)
            .collect();
        let left = |det_track: &[Option<usize>]| -> Vec<usize> {
            high.iter()
                .copied()
                .filter(|&d| det_track[d].is_none())
                .collect()
        };
        let unmatched = left(&det_track);
        take_pairs(
            &mut det_track,
            &mut matched,
            &tentative,
            &unmatched,
            |t, d| {
                let overlap = iou(&predicted[t], &dets[d].bbox);
                (overlap >= p.match_iou).then_some(1.0 - overlap)
            },
        );

        // Recovery: a lost track and a confident detection left over, near where the track
        // was predicted (its box no longer overlaps after a few frames behind another player),
        // within a reach that grows with the frames lost.
        let lost: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| {
                !matched[t]
                    && (self.tracks[t].state == TrackState::Lost || self.tracks[t].hidden > 0)
            })
            .collect();
        let unmatched = left(&det_track);
        take_pairs(&mut det_track, &mut matched, &lost, &unmatched, |t, d| {
            let track = &self.tracks[t];
            let (a, b) = (&predicted[t], &dets[d].bbox);
            let h = (a[3] - a[1]).max(1.0);
            let dist =
                ((a[0] + a[2] - b[0] - b[2]) / 2.0).hypot((a[1] + a[3] - b[1] - b[3]) / 2.0) / h;
            let reach = (0.4 + 0.1 * track.missed as f32).min(1.5);
            let size = (b[3] - b[1]) / h;
            if dist > reach || !(0.7..1.4).contains(&size) {
                return None;
            }
            Some(with_appearance(
                dist / reach,
                p.appearance,
                &track.feature,
                &dets[d].feature,
            ))
        });

        // Merged boxes: a detection over two or more tracks that have none of their own (the
        // one it was matched to included) is no track's; they go on predicted, hidden.
        let mut hidden = vec![false; self.tracks.len()];
        for d in 0..dets.len() {
            if dets[d].score < p.low || merged[d] {
                continue;
            }
            let b = &dets[d].bbox;
            let inside: Vec<usize> = live
                .iter()
                .copied()
                .filter(|&t| {
                    let track = &self.tracks[t];
                    (det_track[d] == Some(t) || !matched[t])
                        && (track.missed <= MERGED_RECENT || track.hidden > 0)
                        && track.hidden < MAX_HIDDEN
                        && cover(b, &predicted[t]) >= MERGED_COVER
                })
                .collect();
            if inside.len() < 2 {
                continue;
            }
            let largest = inside
                .iter()
                .map(|&t| area(&predicted[t]))
                .fold(0.0, f32::max);
            if area(b) < MERGED_GROWTH * largest {
                // No bigger than one of them: the one in front, seen, keeps it; the others
                // already hidden stay hidden behind it.
                if det_track[d].is_some() {
                    for t in inside {
                        if det_track[d] != Some(t) && self.tracks[t].hidden > 0 {
                            hidden[t] = true;
                        }
                    }
                }
                continue;
            }
            merged[d] = true;
            if let Some(t) = det_track[d].take() {
                matched[t] = false;
            }
            for t in inside {
                hidden[t] = true;
                // Where the merged box says it is: its predicted box moved inside.
                let k = &mut self.tracks[t].kalman;
                let (w, h) = (k.x[2] * k.x[3], k.x[3]);
                let within = |c: f32, half: f32, lo: f32, hi: f32| {
                    if hi - lo <= 2.0 * half {
                        (lo + hi) / 2.0
                    } else {
                        c.clamp(lo + half, hi - half)
                    }
                };
                k.x[0] = within(k.x[0], w / 2.0, b[0], b[2]);
                k.x[1] = within(k.x[1], h / 2.0, b[1], b[3]);
            }
        }

        // Updates: the matched tracks take their detection.
        for (d, t) in det_track.iter().enumerate() {
            let Some(t) = *t else { continue };
            let alone = dets.iter().enumerate().all(|(o, other)| {
                o == d || other.score < p.low || iou(&other.bbox, &dets[d].bbox) < 0.3
            });
            let track = &mut self.tracks[t];
            track.kalman.update(&dets[d].bbox);
            track.missed = 0;
            track.hidden = 0;
            track.hits += 1;
            match track.state {
                TrackState::Tentative if track.hits >= p.confirm => {
                    track.state = TrackState::Confirmed
                }
                TrackState::Lost => track.state = TrackState::Confirmed,
                _ => {}
            }
            if let (Some(f), true) = (&dets[d].feature, alone) {
                track.feature = Some(match track.feature.take() {
                    Some(old) => blend(&old, f, p.appearance_rate),
                    None => f.clone(),
                });
            }
        }
        // Misses: a tentative track goes, a confirmed one is lost, a lost one ages out; a
        // hidden one is confirmed, not seen.
        let mut gone = vec![false; self.tracks.len()];
        for (t, track) in self.tracks.iter_mut().enumerate() {
            if matched[t] {
                continue;
            }
            track.missed += 1;
            track.hits = 0;
            if hidden[t] {
                track.hidden += 1;
                track.state = TrackState::Confirmed;
                continue;
            }
            track.hidden = 0;
            match track.state {
                TrackState::Tentative => gone[t] = true,
                TrackState::Confirmed => track.state = TrackState::Lost,
                TrackState::Lost => gone[t] = track.missed > p.lost_frames,
            }
        }
        // Identities are given at confirmation, so they count confirmed tracks only.
        for track in &mut self.tracks {
            if track.state == TrackState::Confirmed && track.id == 0 {
                track.id = self.next_id;
                self.next_id += 1;
            }
        }
        let mut ids: Vec<Option<u64>> = det_track
            .iter()
            .map(|t| {
                t.map(|t| &self.tracks[t])
                    .filter(|t| t.state == TrackState::Confirmed)
                    .map(|t| t.id)
            })
            .collect();
        let mut i = 0;
        self.tracks.retain(|_| {
            i += 1;
            !gone[i - 1]
        });

        // New tracks from confident detections nobody took: confirmed at once in the first
        // frame (nothing could have confirmed them), tentative after; none from a merged box
        // or one over a confirmed track's box.
        let first = self.frames == 1;
        let known: Vec<Corners> = self
            .tracks
            .iter()
            .filter(|t| t.state == TrackState::Confirmed)
            .map(|t| t.kalman.bbox())
            .collect();
        for (d, det) in dets.iter().enumerate() {
            if det_track[d].is_some() || det.score < p.new_track || merged[d] {
                continue;
            }
            if !first && known.iter().any(|k| cover(&det.bbox, k) >= DUPLICATE_COVER) {
                continue;
            }
            let (state, id) = if first || p.confirm <= 1 {
                self.next_id += 1;
                ids[d] = Some(self.next_id - 1);
                (TrackState::Confirmed, self.next_id - 1)
            } else {
                (TrackState::Tentative, 0)
            };
            self.tracks.push(Track {
                id,
                state,
                kalman: Kalman::new(&det.bbox),
                hits: 1,
                missed: 0,
                hidden: 0,
                feature: det.feature.clone(),
            });
        }
        ids
    }
}

/// A running mean of two unit signatures, unit again.
fn blend(old: &[f32], new: &[f32], rate: f32) -> Vec<f32> {
    let mut v: Vec<f32> = old
        .iter()
        .zip(new)
        .map(|(a, b)| (1.0 - rate) * a + rate * b)
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, score: f32, feature: Option<Vec<f32>>) -> Input {
        Input {
            bbox: [x, y, x + 40.0, y + 100.0],
            score,
            feature,
        }
    }

    fn unit(i: usize) -> Option<Vec<f32>> {
        let mut v = vec![0.0; 4];
        v[i] = 1.0;
        Some(v)
    }

    #[test]
    fn assignment_is_optimal_and_keeps_to_its_gates() {
        // Greedy would take (0, 0) and leave row 1 alone.
        let c = [[Some(0.1), Some(0.2)], [Some(0.15), None]];
        let mut got = assign(2, 2, |r, k| c[r][k]);
        got.sort();
        assert_eq!(got, [(0, 1), (1, 0)]);
        // More rows than columns, and a row that may match nothing.
        let c = [[Some(0.5)], [Some(0.1)], [None]];
        assert_eq!(assign(3, 1, |r, k| c[r][k]), [(1, 0)]);
        assert!(assign(2, 2, |_, _| None).is_empty());
        assert!(assign(0, 3, |_, _| Some(0.0)).is_empty());
    }

    #[test]
    fn the_kalman_filter_learns_a_constant_velocity() {
        let mut k = Kalman::new(&[0.0, 0.0, 40.0, 100.0]);
        for i in 1..=20 {
            k.predict();
            let x = 5.0 * i as f32;
            k.update(&[x, 0.0, x + 40.0, 100.0]);
        }
        k.predict();
        let b = k.bbox();
        assert!((b[0] - 105.0).abs() < 1.5, "{b:?}");
        assert!((k.x[4] - 5.0).abs() < 0.3, "velocity {}", k.x[4]);
        assert!((b[3] - b[1] - 100.0).abs() < 1.0);
    }

    /// Two players run towards each other and cross: the boxes overlap for several frames,
    /// the one behind is found with a low score, and each keeps its identity after.
    #[test]
    fn identities_survive_a_crossing() {
        for appearance in [0.0, 0.5] {
            let mut t = Tracker::new(Params {
                appearance,
                ..Params::default()
            });
            let mut first = None;
            for f in 0..60 {
                let a = 100.0 + 6.0 * f as f32;
                let b = 460.0 - 6.0 * f as f32;
                // The one further away (b) is half hidden while they overlap.
                let overlap = (a - b).abs() < 40.0;
                let dets = [
                    det(a, 200.0, 0.9, unit(0)),
                    det(b, 195.0, if overlap { 0.3 } else { 0.85 }, unit(1)),
                ];
                let ids = t.update(&dets);
                if f == 0 {
                    first = Some((ids[0].unwrap(), ids[1].unwrap()));
                }
                let (ia, ib) = first.unwrap();
                assert_eq!(ids[0], Some(ia), "frame {f}, appearance {appearance}");
                assert_eq!(ids[1], Some(ib), "frame {f}, appearance {appearance}");
            }
        }
    }

    #[test]
    fn a_lost_track_comes_back_and_an_old_one_is_forgotten() {
        let p = Params::default();
        let mut t = Tracker::new(p);
        let mut x = 100.0;
        let id = t.update(&[det(x, 100.0, 0.9, None)])[0].unwrap();
        for _ in 0..10 {
            x += 4.0;
            assert_eq!(t.update(&[det(x, 100.0, 0.9, None)])[0], Some(id));
        }
        // Hidden for ten frames, found where its motion took it.
        for _ in 0..10 {
            x += 4.0;
            t.update(&[]);
        }
        assert_eq!(t.tracks()[0].state, TrackState::Lost);
        x += 4.0;
        assert_eq!(t.update(&[det(x, 100.0, 0.9, None)])[0], Some(id));
        // Gone for longer than lost-frames: forgotten; a new object gets a new identity.
        for _ in 0..=p.lost_frames {
            t.update(&[]);
        }
        assert!(t.tracks().is_empty());
        let again = [det(x, 100.0, 0.9, None)];
        assert_eq!(t.update(&again)[0], None, "tentative first");
        assert_eq!(t.update(&again)[0], Some(id + 1));
    }

    /// Two players cross and the detector sees one box around both while they are closer
    /// than a box's width: neither takes the merged box, both go on hidden inside it
    /// (reported, predicted), and each has its identity when they are seen apart again.
    #[test]
    fn a_merged_box_hides_both_players_and_takes_no_identity() {
        let mut t = Tracker::new(Params::default());
        let mut ids = None;
        let mut merged = 0;
        for f in 0..60 {
            let a: f32 = 100.0 + 3.0 * f as f32;
            let b: f32 = 260.0 - 3.0 * f as f32;
            if (a - b).abs() < 40.0 {
                merged += 1;
                let m = [a.min(b) - 5.0, 95.0, a.max(b) + 45.0, 205.0];
                let got = t.update(&[Input {
                    bbox: m,
                    score: 0.9,
                    feature: None,
                }]);
                assert_eq!(got, [None], "frame {f}: the merged box is nobody's");
                let views = t.tracks();
                assert_eq!(views.len(), 2, "frame {f}: no track from the merged box");
                assert!(views
                    .iter()
                    .all(|v| v.hidden && v.state == TrackState::Confirmed));
                continue;
            }
            let got = t.update(&[det(a, 100.0, 0.9, None), det(b, 100.0, 0.9, None)]);
            let pair = (got[0].unwrap(), got[1].unwrap());
            assert_eq!(*ids.get_or_insert(pair), pair, "frame {f}");
            assert!(t.tracks().iter().all(|v| !v.hidden));
        }
        assert!(merged >= 10, "{merged} frames merged");
    }

    /// A box around two confident detections (the detector found the pair as well as each):
    /// no part in tracking, no track of its own.
    #[test]
    fn a_box_around_two_found_players_is_ignored() {
        let mut t = Tracker::new(Params::default());
        let pair = [
            det(100.0, 100.0, 0.9, None),
            det(150.0, 110.0, 0.9, None),
            Input {
                bbox: [95.0, 95.0, 195.0, 215.0],
                score: 0.8,
                feature: None,
            },
        ];
        for f in 0..5 {
            let ids = t.update(&pair);
            assert!(ids[0].is_some() && ids[1].is_some(), "frame {f}");
            assert_eq!(ids[2], None, "frame {f}");
            assert_eq!(t.tracks().len(), 2, "frame {f}");
        }
    }

    #[test]
    fn a_spurious_detection_never_gets_an_identity() {
        let mut t = Tracker::new(Params::default());
        t.update(&[det(0.0, 0.0, 0.9, None)]);
        let ids = t.update(&[det(0.0, 0.0, 0.9, None), det(500.0, 300.0, 0.95, None)]);
        assert_eq!(ids[1], None);
        t.update(&[det(0.0, 0.0, 0.9, None)]);
        assert_eq!(
            t.tracks().len(),
            1,
            "the tentative track went with its miss"
        );
        // Below low-threshold: ignored; between low and high: keeps a track, starts none.
        let ids = t.update(&[det(0.0, 0.0, 0.05, None), det(300.0, 0.0, 0.4, None)]);
        assert_eq!(ids, [None, None]);
        assert_eq!(t.tracks().len(), 1);
    }
}
