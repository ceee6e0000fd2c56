// SPDX-License-Identifier: MIT OR Apache-2.0
//! The detections meta: every object found in a frame, with its keypoints.

use std::ffi::CStr;
use std::fmt;
use std::sync::Arc;

use gst::glib;

use crate::raw::{self, meta_statics, MetaData, RawMeta};
use gst::prelude::*;
use serde::Serialize;

/// A box in frame pixels: top-left corner and size.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct BBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl BBox {
    /// From corners (x1, y1, x2, y2).
    pub fn from_corners(c: [f32; 4]) -> Self {
        BBox {
            x: c[0],
            y: c[1],
            w: (c[2] - c[0]).max(0.0),
            h: (c[3] - c[1]).max(0.0),
        }
    }

    /// The box as whole pixels (x, y, w, h), for GstVideoRegionOfInterestMeta.
    pub fn to_pixels(&self) -> (u32, u32, u32, u32) {
        let x = self.x.max(0.0).round() as u32;
        let y = self.y.max(0.0).round() as u32;
        let x2 = (self.x + self.w).max(0.0).round() as u32;
        let y2 = (self.y + self.h).max(0.0).round() as u32;
        (x, y, x2.saturating_sub(x), y2.saturating_sub(y))
    }
}

/// A keypoint in frame pixels with its visibility/confidence score.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Keypoint {
    pub x: f32,
    pub y: f32,
    pub score: f32,
}

/// Serialized as `[x, y, score]`, compact for per-frame JSON.
impl Serialize for Keypoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [self.x, self.y, self.score].serialize(s)
    }
}

/// The skeleton a detection's keypoints belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Skeleton {
    /// The 17 COCO person keypoints (ultralytics pose models).
    Coco17,
    /// Keypoints of a custom model: no known edges.
    Custom,
}

/// COCO-17 keypoint names, index = keypoint id.
pub const COCO17_KEYPOINTS: [&str; 17] = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
];

/// COCO-17 skeleton edges (pairs of keypoint ids), as ultralytics draws them.
pub const COCO17_EDGES: [(u8, u8); 19] = [
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
];

impl Skeleton {
    /// The skeleton for `k` keypoints: COCO-17 when k is 17.
    pub fn for_keypoints(k: usize) -> Option<Skeleton> {
        match k {
            0 => None,
            17 => Some(Skeleton::Coco17),
            _ => Some(Skeleton::Custom),
        }
    }

    /// Edges between keypoint ids.
    pub fn edges(&self) -> &'static [(u8, u8)] {
        match self {
            Skeleton::Coco17 => &COCO17_EDGES,
            Skeleton::Custom => &[],
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Skeleton::Coco17 => "coco17",
            Skeleton::Custom => "custom",
        }
    }
}

/// One detected object. Keypoints live in the meta's shared list (see [`DetectionsMeta::keypoints`]),
/// so a detection owns no heap memory: label and source are shared `Arc<str>`s.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub class_id: u32,
    pub label: Arc<str>,
    pub confidence: f32,
    #[serde(rename = "box")]
    pub bbox: BBox,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_id: Option<u64>,
    /// Velocity of the box centre in the image, pixels a second (a tracker's estimate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub velocity: Option<[f32; 2]>,
    /// Name of the element (and so model) that produced it.
    pub source: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skeleton: Option<Skeleton>,
    /// `true` when filled in for a frame that was not inferred.
    pub filled: bool,
    #[serde(skip)]
    kpt_start: u32,
    #[serde(skip)]
    kpt_len: u32,
}

impl Detection {
    pub fn new(
        class_id: u32,
        label: Arc<str>,
        confidence: f32,
        bbox: BBox,
        source: Arc<str>,
    ) -> Self {
        Detection {
            class_id,
            label,
            confidence,
            bbox,
            track_id: None,
            velocity: None,
            source,
            skeleton: None,
            filled: false,
            kpt_start: 0,
            kpt_len: 0,
        }
    }
}

/// The list behind the meta.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetectionList {
    detections: Vec<Detection>,
    keypoints: Vec<Keypoint>,
}

/// Per-buffer detections meta. Read it with `buffer.meta::<DetectionsMeta>()`; add to it with
/// [`add_detection`] (which also mirrors the object as a GstVideoRegionOfInterestMeta).
#[repr(transparent)]
pub struct DetectionsMeta(RawMeta<DetectionList>);

unsafe impl Send for DetectionsMeta {}
unsafe impl Sync for DetectionsMeta {}

impl DetectionsMeta {
    /// The buffer's detections meta, added (empty) if it has none.
    pub fn get_or_add(
        buffer: &mut gst::BufferRef,
    ) -> gst::MetaRefMut<'_, Self, gst::meta::Standalone> {
        if buffer.meta::<Self>().is_none() {
            Self::add_list(buffer, DetectionList::default());
        }
        buffer.meta_mut::<Self>().expect("meta was just added")
    }

    fn add_list(buffer: &mut gst::BufferRef, list: DetectionList) {
        raw::add(buffer, list);
    }

    pub fn detections(&self) -> &[Detection] {
        self.0.data.detections()
    }

    pub fn len(&self) -> usize {
        self.0.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.data.is_empty()
    }

    /// Keypoints of `det` (empty for plain detections).
    pub fn keypoints(&self, det: &Detection) -> &[Keypoint] {
        self.0.data.keypoints(det)
    }

    /// Detections with their keypoints.
    pub fn iter(&self) -> impl Iterator<Item = (&Detection, &[Keypoint])> {
        self.0.data.iter()
    }

    /// Appends a detection with its keypoints.
    pub fn push(&mut self, det: Detection, keypoints: &[Keypoint]) {
        self.0.data.push(det, keypoints)
    }

    /// Reserves room for `n` more detections with `k` keypoints each.
    pub fn reserve(&mut self, n: usize, k: usize) {
        self.0.data.reserve(n, k)
    }

    /// Sets the track identity and velocity of detection `index` (see [`set_track`], which
    /// also updates its region-of-interest mirror).
    pub fn set_track(&mut self, index: usize, id: Option<u64>, velocity: Option<[f32; 2]>) {
        if let Some(d) = self.0.data.detections.get_mut(index) {
            d.track_id = id;
            d.velocity = velocity;
        }
    }
}

/// Sets the track identity and velocity (pixels a second) of detection `index` of the
/// buffer's detections meta, and the `track-id` and `velocity` of its
/// GstVideoRegionOfInterestMeta mirror (the one whose id is `index`).
pub fn set_track(
    buffer: &mut gst::BufferRef,
    index: usize,
    id: Option<u64>,
    velocity: Option<[f32; 2]>,
) {
    if let Some(mut meta) = buffer.meta_mut::<DetectionsMeta>() {
        meta.set_track(index, id, velocity);
    }
    for mut roi in buffer.iter_meta_mut::<gst_video::VideoRegionOfInterestMeta>() {
        if roi.id() != index as i32 {
            continue;
        }
        // SAFETY: the ROI meta belongs to this buffer, which is writable (`&mut`); its param
        // structures are owned by the meta, and the pointer is used while the meta is borrowed.
        unsafe {
            use glib::translate::ToGlibPtr;
            let raw = roi.as_mut_ptr();
            let param = gst_video::ffi::gst_video_region_of_interest_meta_get_param(
                raw,
                ROI_PARAM.to_glib_none().0,
            );
            if !param.is_null() {
                let s = gst::StructureRef::from_glib_borrow_mut(param);
                match id {
                    Some(id) => s.set("track-id", id),
                    None => s.remove_field("track-id"),
                }
                match velocity {
                    Some([vx, vy]) => s.set("velocity", gst::Array::new([vx as f64, vy as f64])),
                    None => s.remove_field("velocity"),
                }
            }
        }
    }
}

/// Keeps the detections of the buffer's detections meta for which `keep(index, detection)` is
/// true (with their
/// keypoints) and removes the others' GstVideoRegionOfInterestMeta mirrors; the mirrors left
/// are numbered again to match. Returns how many were removed.
pub fn retain_detections(
    buffer: &mut gst::BufferRef,
    mut keep: impl FnMut(usize, &Detection) -> bool,
) -> usize {
    let Some(mut meta) = buffer.meta_mut::<DetectionsMeta>() else {
        return 0;
    };
    let old = &meta.0.data;
    let kept: Vec<bool> = old
        .detections
        .iter()
        .enumerate()
        .map(|(i, d)| keep(i, d))
        .collect();
    if kept.iter().all(|&k| k) {
        return 0;
    }
    let mut list = DetectionList::default();
    for ((d, kpts), &k) in old.iter().zip(&kept) {
        if k {
            list.push(d.clone(), kpts);
        }
    }
    meta.0.data = list;
    // Old index -> new index of each kept detection.
    let mut renumber = Vec::with_capacity(kept.len());
    let mut n = 0;
    for &k in &kept {
        renumber.push(k.then(|| {
            n += 1;
            n - 1
        }));
    }
    let removed = kept.iter().filter(|&&k| !k).count();
    buffer.foreach_meta_mut(|mut m| {
        if let Some(roi) = m.downcast_mut::<gst_video::VideoRegionOfInterestMeta>() {
            let at = usize::try_from(roi.id())
                .ok()
                .and_then(|i| renumber.get(i).copied());
            match at {
                Some(Some(new)) => roi.set_id(new),
                Some(None) => {
                    return std::ops::ControlFlow::Continue(
                        gst::buffer::BufferMetaForeachAction::Remove,
                    )
                }
                None => {}
            }
        }
        std::ops::ControlFlow::Continue(gst::buffer::BufferMetaForeachAction::Keep)
    });
    removed
}

impl DetectionList {
    pub fn detections(&self) -> &[Detection] {
        &self.detections
    }

    pub fn len(&self) -> usize {
        self.detections.len()
    }

    pub fn is_empty(&self) -> bool {
        self.detections.is_empty()
    }

    /// Keypoints of `det` (empty for plain detections).
    pub fn keypoints(&self, det: &Detection) -> &[Keypoint] {
        let s = det.kpt_start as usize;
        self.keypoints
            .get(s..s + det.kpt_len as usize)
            .unwrap_or(&[])
    }

    /// Detections with their keypoints.
    pub fn iter(&self) -> impl Iterator<Item = (&Detection, &[Keypoint])> {
        self.detections.iter().map(move |d| (d, self.keypoints(d)))
    }

    /// Appends a detection with its keypoints.
    pub fn push(&mut self, mut det: Detection, keypoints: &[Keypoint]) {
        det.kpt_start = self.keypoints.len() as u32;
        det.kpt_len = keypoints.len() as u32;
        if !keypoints.is_empty() && det.skeleton.is_none() {
            det.skeleton = Skeleton::for_keypoints(keypoints.len());
        }
        self.keypoints.extend_from_slice(keypoints);
        self.detections.push(det);
    }

    /// Reserves room for `n` more detections with `k` keypoints each.
    pub fn reserve(&mut self, n: usize, k: usize) {
        self.detections.reserve(n);
        self.keypoints.reserve(n * k);
    }
}

unsafe impl gst::MetaAPI for DetectionsMeta {
    type GstType = RawMeta<DetectionList>;

    fn meta_api() -> glib::Type {
        DetectionList::api_type()
    }
}

impl MetaData for DetectionList {
    const API_NAME: &'static CStr = c"CourtvisionDetectionsMetaAPI";
    const IMPL_NAME: &'static CStr = c"CourtvisionDetectionsMeta";
    // Like GstVideoRegionOfInterestMeta: boxes are in frame pixels.
    const TAGS: &'static [&'static CStr] = &[c"video", c"size", c"orientation"];

    fn merge(&mut self, other: &Self) {
        for d in &other.detections {
            let s = d.kpt_start as usize;
            let mut d = d.clone();
            d.kpt_start = self.keypoints.len() as u32;
            self.keypoints
                .extend_from_slice(&other.keypoints[s..s + d.kpt_len as usize]);
            self.detections.push(d);
        }
    }

    fn scale(&mut self, sx: f32, sy: f32) {
        for d in &mut self.detections {
            d.bbox = BBox {
                x: d.bbox.x * sx,
                y: d.bbox.y * sy,
                w: d.bbox.w * sx,
                h: d.bbox.h * sy,
            };
        }
        for k in &mut self.keypoints {
            k.x *= sx;
            k.y *= sy;
        }
    }

    meta_statics!(DetectionList);
}

impl fmt::Debug for DetectionsMeta {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("DetectionsMeta")
            .field("detections", &self.0.data.detections)
            .finish()
    }
}

/// Name of the GstStructure param that every mirrored ROI meta carries.
pub const ROI_PARAM: &str = "detection";

/// Adds `det` to the buffer's detections meta and mirrors it as a GstVideoRegionOfInterestMeta
/// (label as roi type; a `detection` structure with confidence, class-id, label, source,
/// track-id, filled and keypoints as an array of `<x, y, score>` arrays).
pub fn add_detection(buffer: &mut gst::BufferRef, det: Detection, keypoints: &[Keypoint]) {
    let mut s = gst::Structure::builder(ROI_PARAM)
        .field("confidence", det.confidence as f64)
        .field("class-id", det.class_id)
        .field("label", det.label.as_ref())
        .field("source", det.source.as_ref())
        .field("filled", det.filled)
        .build();
    if let Some(t) = det.track_id {
        s.set("track-id", t);
    }
    if let Some([vx, vy]) = det.velocity {
        s.set("velocity", gst::Array::new([vx as f64, vy as f64]));
    }
    if !keypoints.is_empty() {
        let arr: gst::Array = keypoints
            .iter()
            .map(|k| gst::Array::new([k.x as f64, k.y as f64, k.score as f64]).to_send_value())
            .collect();
        s.set("keypoints", arr);
        if let Some(sk) = det
            .skeleton
            .or_else(|| Skeleton::for_keypoints(keypoints.len()))
        {
            s.set("skeleton", sk.as_str());
        }
    }
    let rect = det.bbox.to_pixels();
    let label = det.label.clone();
    let id = {
        let mut meta = DetectionsMeta::get_or_add(buffer);
        meta.push(det, keypoints);
        meta.len() as i32 - 1
    };
    let mut roi = gst_video::VideoRegionOfInterestMeta::add(buffer, &label, rect);
    roi.set_id(id);
    roi.add_param(s);
}
