// SPDX-License-Identifier: MIT OR Apache-2.0
//! The court meta: where the court is in the frame (homography, camera, keypoints), where the
//! tracked objects stand on it in metres, the shuttle in 3D, and the frame's events (hits,
//! landings, rallies). courtcalib attaches it, objecttrack adds positions, shuttletrack the
//! shuttle and events. The same content under a second API type is courtsrc's ground truth.
//!
//! Court coordinates: metres, origin at the court's centre, `x` across, `y` along (the half
//! nearer the camera negative), `z` up.

use std::ffi::CStr;
use std::fmt;
use std::sync::Arc;

use gst::glib;
use serde::Serialize;

use crate::raw::{self, meta_statics, MetaData, RawMeta};

/// A pinhole camera with square pixels: `x_image = K (R X + t)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CameraInfo {
    /// Focal length, pixels.
    pub focal: f64,
    /// Principal point, pixels.
    pub principal: [f64; 2],
    /// Where the camera is, court metres.
    pub position: [f64; 3],
    /// World-to-camera rotation, row-major (rows: the camera's right, down, forward axes).
    pub rotation: [f64; 9],
}

/// A named court keypoint: its court position and where it is in the image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CourtKeypoint {
    pub name: Arc<str>,
    pub court: [f32; 2],
    pub image: [f32; 2],
}

/// A tracked object on the court.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CourtPosition {
    pub track_id: u64,
    pub class_id: u32,
    /// Feet point on the floor, metres.
    pub xy: [f32; 2],
    /// Speed over the floor, metres a second (smoothed).
    pub speed: f32,
    /// Distance covered since the track began, metres.
    pub distance: f32,
}

/// The shuttle (ball) in 3D.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shuttle3d {
    /// The flight (one shot between two hits) it is in.
    pub flight: u64,
    /// Position and velocity, metres and metres a second.
    pub pos: [f32; 3],
    pub vel: [f32; 3],
    pub speed_kmh: f32,
}

/// What happened in play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A player hit the shuttle (the first frame of the new flight).
    Hit,
    /// The shuttle reached the floor.
    Landing,
    RallyStart,
    RallyEnd,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Hit => "hit",
            EventKind::Landing => "landing",
            EventKind::RallyStart => "rally-start",
            EventKind::RallyEnd => "rally-end",
        }
    }
}

/// An event of this frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CourtEvent {
    pub kind: EventKind,
    /// When it happened (presentation time, ns): a hit is known for sure only once its flight
    /// has been followed, so an event may ride on a later frame than its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pts: Option<u64>,
    /// The hitter (hits), where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_id: Option<u64>,
    /// Where (hits: the shuttle; landings: the floor), metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pos: Option<[f32; 3]>,
    /// The shot's speed off the racket (hits), km/h.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f32>,
    /// Landings: inside the court's lines or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inside: Option<bool>,
    /// The rally it belongs to, counted from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rally: Option<u64>,
}

/// What the court meta holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CourtData {
    /// Which court model ("badminton", "netball").
    pub sport: Arc<str>,
    /// Court metres (z = 0) to pixels, row-major, last entry 1.
    pub homography: [f64; 9],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera: Option<CameraInfo>,
    pub keypoints: Vec<CourtKeypoint>,
    /// 0..1: share of the court's lines found where the estimate puts them.
    pub confidence: f32,
    /// Counts the views found in a stream: a new value after a cut or camera move.
    pub view: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub positions: Vec<CourtPosition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shuttle: Option<Shuttle3d>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<CourtEvent>,
}

impl CourtData {
    /// The pixel where a court point (metres, on the floor) is seen.
    pub fn to_image(&self, p: [f64; 2]) -> Option<[f64; 2]> {
        let h = &self.homography;
        let w = h[6] * p[0] + h[7] * p[1] + h[8];
        (w > 1e-12).then(|| {
            [
                (h[0] * p[0] + h[1] * p[1] + h[2]) / w,
                (h[3] * p[0] + h[4] * p[1] + h[5]) / w,
            ]
        })
    }

    /// The floor point (metres) seen at a pixel; `None` above the horizon.
    pub fn to_court(&self, q: [f64; 2]) -> Option<[f64; 2]> {
        let h = &self.homography;
        // The inverse by the adjugate (the scale does not matter).
        let inv = [
            h[4] * h[8] - h[5] * h[7],
            h[2] * h[7] - h[1] * h[8],
            h[1] * h[5] - h[2] * h[4],
            h[5] * h[6] - h[3] * h[8],
            h[0] * h[8] - h[2] * h[6],
            h[2] * h[3] - h[0] * h[5],
            h[3] * h[7] - h[4] * h[6],
            h[1] * h[6] - h[0] * h[7],
            h[0] * h[4] - h[1] * h[3],
        ];
        let det = h[0] * inv[0] + h[1] * inv[3] + h[2] * inv[6];
        let w = (inv[6] * q[0] + inv[7] * q[1] + inv[8]) / det;
        (w > 1e-12).then(|| {
            [
                (inv[0] * q[0] + inv[1] * q[1] + inv[2]) / det / w,
                (inv[3] * q[0] + inv[4] * q[1] + inv[5]) / det / w,
            ]
        })
    }

    /// The pixel where a point in space (metres) is seen, with the camera.
    pub fn project(&self, p: [f64; 3]) -> Option<[f64; 2]> {
        let c = self.camera?;
        let r = &c.rotation;
        let d = [
            p[0] - c.position[0],
            p[1] - c.position[1],
            p[2] - c.position[2],
        ];
        let x = r[0] * d[0] + r[1] * d[1] + r[2] * d[2];
        let y = r[3] * d[0] + r[4] * d[1] + r[5] * d[2];
        let z = r[6] * d[0] + r[7] * d[1] + r[8] * d[2];
        (z > 1e-6).then(|| {
            [
                c.focal * x / z + c.principal[0],
                c.focal * y / z + c.principal[1],
            ]
        })
    }

    /// The point at height `z` (metres) seen at pixel `q`, with the camera: where a joint that
    /// far above the floor stands. `None` without a camera, or where the ray does not reach
    /// that height in front of the camera.
    pub fn at_height(&self, q: [f64; 2], z: f64) -> Option<[f64; 3]> {
        let c = self.camera?;
        let r = &c.rotation;
        let d = [
            (q[0] - c.principal[0]) / c.focal,
            (q[1] - c.principal[1]) / c.focal,
            1.0,
        ];
        // World direction: Rᵀ d.
        let w = [
            r[0] * d[0] + r[3] * d[1] + r[6] * d[2],
            r[1] * d[0] + r[4] * d[1] + r[7] * d[2],
            r[2] * d[0] + r[5] * d[1] + r[8] * d[2],
        ];
        if w[2].abs() < 1e-9 {
            return None;
        }
        let t = (z - c.position[2]) / w[2];
        (t > 0.0).then(|| [c.position[0] + t * w[0], c.position[1] + t * w[1], z])
    }

    /// Sets the keypoints: each named court point (metres) where the homography puts it in the
    /// image.
    pub fn place_keypoints<'a>(
        &mut self,
        points: impl IntoIterator<Item = (&'a Arc<str>, [f64; 2])>,
    ) {
        let placed = points
            .into_iter()
            .filter_map(|(name, p)| {
                let q = self.to_image(p)?;
                Some(CourtKeypoint {
                    name: name.clone(),
                    court: [p[0] as f32, p[1] as f32],
                    image: [q[0] as f32, q[1] as f32],
                })
            })
            .collect();
        self.keypoints = placed;
    }

    /// The position of a tracked object, where it has one.
    pub fn position(&self, track_id: u64) -> Option<&CourtPosition> {
        self.positions.iter().find(|p| p.track_id == track_id)
    }
}

/// The court as estimated (courtcalib). Read with `buffer.meta::<CourtMeta>()`.
#[repr(transparent)]
pub struct CourtMeta(RawMeta<CourtList>);

/// The court as courtsrc built it: the ground truth. Read with
/// `buffer.meta::<CourtTruthMeta>()`.
#[repr(transparent)]
pub struct CourtTruthMeta(RawMeta<CourtTruthList>);

/// The data behind [`CourtMeta`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CourtList(pub CourtData);

/// The data behind [`CourtTruthMeta`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CourtTruthList(pub CourtData);

unsafe impl Send for CourtMeta {}
unsafe impl Sync for CourtMeta {}
unsafe impl Send for CourtTruthMeta {}
unsafe impl Sync for CourtTruthMeta {}

impl CourtMeta {
    /// Attaches `data` (replacing the buffer's court meta if it has one).
    pub fn add(buffer: &mut gst::BufferRef, data: CourtData) {
        match buffer.meta_mut::<Self>() {
            Some(mut m) => m.0.data.0 = data,
            None => raw::add(buffer, CourtList(data)),
        }
    }

    pub fn data(&self) -> &CourtData {
        &self.0.data.0
    }

    pub fn data_mut(&mut self) -> &mut CourtData {
        &mut self.0.data.0
    }
}

impl CourtTruthMeta {
    pub fn add(buffer: &mut gst::BufferRef, data: CourtData) {
        match buffer.meta_mut::<Self>() {
            Some(mut m) => m.0.data.0 = data,
            None => raw::add(buffer, CourtTruthList(data)),
        }
    }

    pub fn data(&self) -> &CourtData {
        &self.0.data.0
    }
}

/// A frame scaled by (sx, sy): pixels move, metres stay; the camera holds only for a uniform
/// scale.
fn scale(d: &mut CourtData, sx: f32, sy: f32) {
    let (sx64, sy64) = (sx as f64, sy as f64);
    for i in 0..3 {
        d.homography[i] *= sx64;
        d.homography[3 + i] *= sy64;
    }
    for k in &mut d.keypoints {
        k.image = [k.image[0] * sx, k.image[1] * sy];
    }
    d.camera = d.camera.filter(|_| (sx - sy).abs() < 1e-4).map(|mut c| {
        c.focal *= sx64;
        c.principal = [c.principal[0] * sx64, c.principal[1] * sy64];
        c
    });
}

macro_rules! court_meta {
    ($meta:ty, $list:ty, $api:literal, $impl_name:literal) => {
        unsafe impl gst::MetaAPI for $meta {
            type GstType = RawMeta<$list>;

            fn meta_api() -> glib::Type {
                <$list>::api_type()
            }
        }

        impl MetaData for $list {
            const API_NAME: &'static CStr = $api;
            const IMPL_NAME: &'static CStr = $impl_name;
            const TAGS: &'static [&'static CStr] = &[c"video", c"size", c"orientation"];

            /// A copy onto a buffer that has one already: the newer one stands.
            fn merge(&mut self, other: &Self) {
                self.0 = other.0.clone();
            }

            fn scale(&mut self, sx: f32, sy: f32) {
                scale(&mut self.0, sx, sy)
            }

            meta_statics!($list);
        }

        impl fmt::Debug for $meta {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                fmt::Debug::fmt(&self.0.data.0, f)
            }
        }
    };
}

court_meta!(
    CourtMeta,
    CourtList,
    c"CourtvisionCourtMetaAPI",
    c"CourtvisionCourtMeta"
);
court_meta!(
    CourtTruthMeta,
    CourtTruthList,
    c"CourtvisionCourtTruthMetaAPI",
    c"CourtvisionCourtTruthMeta"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn court_and_image_points_map_both_ways() {
        // A homography with perspective.
        let d = CourtData {
            homography: [80.0, 10.0, 640.0, 2.0, -30.0, 400.0, 0.001, -0.04, 1.0],
            ..Default::default()
        };
        for p in [[0.0, 0.0], [3.05, -6.7], [-2.59, 5.94]] {
            let q = d.to_image(p).unwrap();
            let back = d.to_court(q).unwrap();
            assert!((back[0] - p[0]).abs() < 1e-9 && (back[1] - p[1]).abs() < 1e-9);
        }
    }

    #[test]
    fn a_pixel_goes_back_to_the_point_at_a_height() {
        // A camera 5 m up behind the court, looking along +y and down 30°.
        let (s, c) = (30f64.to_radians().sin(), 30f64.to_radians().cos());
        let d = CourtData {
            camera: Some(CameraInfo {
                focal: 1000.0,
                principal: [640.0, 360.0],
                position: [0.5, -12.0, 5.0],
                // Rows: right (x), down, forward.
                rotation: [1.0, 0.0, 0.0, 0.0, -s, -c, 0.0, c, -s],
            }),
            ..Default::default()
        };
        for p in [[0.0, 0.0, 0.08], [2.0, -5.0, 1.5], [-3.0, 6.0, 0.0]] {
            let q = d.project(p).unwrap();
            let back = d.at_height(q, p[2]).unwrap();
            for i in 0..3 {
                assert!((back[i] - p[i]).abs() < 1e-9, "{back:?} vs {p:?}");
            }
        }
    }

    #[test]
    fn the_meta_travels_with_the_buffer_and_scales() {
        gst::init().unwrap();
        let mut buffer = gst::Buffer::new();
        let data = CourtData {
            sport: Arc::from("badminton"),
            homography: [80.0, 0.0, 640.0, 0.0, -30.0, 400.0, 0.0, -0.04, 1.0],
            keypoints: vec![CourtKeypoint {
                name: Arc::from("centre"),
                court: [0.0, 0.0],
                image: [640.0, 400.0],
            }],
            confidence: 0.9,
            view: 1,
            ..Default::default()
        };
        CourtMeta::add(buffer.get_mut().unwrap(), data.clone());
        assert_eq!(buffer.meta::<CourtMeta>().unwrap().data(), &data);
        assert!(buffer.meta::<CourtTruthMeta>().is_none());
        let mut d = data;
        scale(&mut d, 0.5, 0.5);
        assert_eq!(d.keypoints[0].image, [320.0, 200.0]);
        let q = d.to_image([0.0, 0.0]).unwrap();
        assert!((q[0] - 320.0).abs() < 1e-9 && (q[1] - 200.0).abs() < 1e-9);
    }
}
