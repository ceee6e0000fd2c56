// SPDX-License-Identifier: MIT OR Apache-2.0
//! Tracked players on the court: each one's feet point in metres (from the ankles where the
//! pose model found them, else the bottom of the box), smoothed over frames, with its speed and
//! the distance it covered.

use std::collections::HashMap;

use courtvision_meta::{BBox, CourtData, CourtPosition, Keypoint};

/// Height of the ankle joint above the floor, metres (an adult's is 7-9 cm).
const ANKLE_HEIGHT: f64 = 0.08;
/// Keypoints below this score are not used.
const MIN_SCORE: f32 = 0.3;
/// COCO's ankles.
const ANKLES: [usize; 2] = [15, 16];
/// Smoothing of the position (share of the new measurement) and of the speed.
const POSITION_GAIN: f64 = 0.5;
const SPEED_GAIN: f64 = 0.3;
/// A track unseen this long (seconds) starts again from its next position.
const FORGET: f64 = 1.0;

/// The feet point of a player on the court: the middle of its ankles taken to their height
/// through the camera (one ankle where only one is found), else the middle of the box's bottom
/// edge on the floor.
pub fn feet(court: &CourtData, bbox: &BBox, keypoints: &[Keypoint]) -> Option<[f64; 2]> {
    let ankles: Vec<[f64; 2]> = ANKLES
        .iter()
        .filter_map(|&i| keypoints.get(i))
        .filter(|k| k.score >= MIN_SCORE)
        .filter_map(|k| court.at_height([k.x as f64, k.y as f64], ANKLE_HEIGHT))
        .map(|p| [p[0], p[1]])
        .collect();
    if !ankles.is_empty() {
        let n = ankles.len() as f64;
        return Some([
            ankles.iter().map(|p| p[0]).sum::<f64>() / n,
            ankles.iter().map(|p| p[1]).sum::<f64>() / n,
        ]);
    }
    court.to_court([(bbox.x + bbox.w / 2.0) as f64, (bbox.y + bbox.h) as f64])
}

#[derive(Debug, Clone, Copy)]
struct Motion {
    xy: [f64; 2],
    time: f64,
    speed: f64,
    distance: f64,
}

/// Positions, speeds and distances of the tracks over the stream.
#[derive(Debug, Default)]
pub struct CourtMotion {
    tracks: HashMap<u64, Motion>,
}

impl CourtMotion {
    pub fn reset(&mut self) {
        self.tracks.clear();
    }

    /// Track `id` measured at `xy` (metres) at `time` (seconds): its smoothed position, speed
    /// and distance so far.
    pub fn update(&mut self, id: u64, class_id: u32, xy: [f64; 2], time: f64) -> CourtPosition {
        let m = self
            .tracks
            .entry(id)
            .and_modify(|m| {
                let dt = time - m.time;
                if !(dt > 0.0 && dt < FORGET) {
                    m.xy = xy;
                    m.speed = 0.0;
                    m.time = time;
                    return;
                }
                let next = [
                    m.xy[0] + POSITION_GAIN * (xy[0] - m.xy[0]),
                    m.xy[1] + POSITION_GAIN * (xy[1] - m.xy[1]),
                ];
                let step = (next[0] - m.xy[0]).hypot(next[1] - m.xy[1]);
                m.distance += step;
                m.speed += SPEED_GAIN * (step / dt - m.speed);
                m.xy = next;
                m.time = time;
            })
            .or_insert(Motion {
                xy,
                time,
                speed: 0.0,
                distance: 0.0,
            });
        CourtPosition {
            track_id: id,
            class_id,
            xy: [m.xy[0] as f32, m.xy[1] as f32],
            speed: m.speed as f32,
            distance: m.distance as f32,
        }
    }

    /// Forgets the tracks not seen for ten times `FORGET` (keeps the map small).
    pub fn prune(&mut self, time: f64) {
        self.tracks.retain(|_, m| time - m.time < 10.0 * FORGET);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_player_running_at_constant_speed_has_that_speed_and_distance() {
        let mut m = CourtMotion::default();
        let mut last = None;
        for i in 0..=60 {
            let t = i as f64 / 30.0;
            // 3 m/s along y.
            last = Some(m.update(7, 0, [1.0, -5.0 + 3.0 * t], t));
        }
        let p = last.unwrap();
        assert!((p.speed - 3.0).abs() < 0.05, "speed {}", p.speed);
        // The smoothed position lags one frame's step behind; the distance nearly 6 m.
        assert!((p.distance - 6.0).abs() < 0.15, "distance {}", p.distance);
        assert!((p.xy[1] - 1.0).abs() < 0.15, "{:?}", p.xy);
    }
}
