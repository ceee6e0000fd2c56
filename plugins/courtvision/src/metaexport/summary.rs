// SPDX-License-Identifier: MIT OR Apache-2.0
//! The match summary metaexport writes at the end of a stream (`summary-location`): rallies
//! with their shots and landings, the fastest shot, and each player's distance, from the court
//! meta's events and positions.

use std::collections::BTreeMap;

use courtvision_meta::{CourtData, EventKind};
use serde::Serialize;

/// A rally: when it started and ended (seconds), its shots, where it landed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rally {
    pub rally: u64,
    pub start: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    pub shots: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landing: Option<[f32; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inside: Option<bool>,
}

/// A shot: when (seconds), who, how fast off the racket.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Shot {
    pub time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_id: Option<u64>,
    pub speed_kmh: f32,
}

/// A player over the match.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Player {
    /// Distance covered on the court, metres.
    pub distance: f32,
    /// Frames it was placed on the court, and its greatest speed (m/s).
    pub frames: u64,
    pub top_speed: f32,
    pub shots: u32,
}

/// The whole match.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub schema: u32,
    pub frames: u64,
    /// Seconds from the first frame to the last.
    pub duration: f64,
    pub rallies: Vec<Rally>,
    pub shots: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fastest_shot: Option<Shot>,
    pub players: BTreeMap<u64, Player>,
    #[serde(skip)]
    first: Option<f64>,
}

impl Summary {
    /// Adds a frame at `time` seconds with its court meta (if any).
    pub fn add(&mut self, time: Option<f64>, court: Option<&CourtData>) {
        self.frames += 1;
        if let Some(t) = time {
            let first = *self.first.get_or_insert(t);
            self.duration = self.duration.max(t - first);
        }
        let Some(c) = court else { return };
        for p in &c.positions {
            let e = self.players.entry(p.track_id).or_default();
            e.distance = e.distance.max(p.distance);
            e.frames += 1;
            e.top_speed = e.top_speed.max(p.speed);
        }
        for e in &c.events {
            let at = e.pts.map_or(time.unwrap_or(0.0), |p| p as f64 / 1e9);
            match e.kind {
                EventKind::RallyStart => self.rallies.push(Rally {
                    rally: e.rally.unwrap_or(self.rallies.len() as u64 + 1),
                    start: at,
                    ..Default::default()
                }),
                EventKind::Hit => {
                    self.shots += 1;
                    if let Some(r) = self.rallies.last_mut().filter(|r| r.end.is_none()) {
                        r.shots += 1;
                    }
                    if let Some(id) = e.track_id {
                        self.players.entry(id).or_default().shots += 1;
                    }
                    let speed = e.speed_kmh.unwrap_or(0.0);
                    if self
                        .fastest_shot
                        .as_ref()
                        .is_none_or(|f| speed > f.speed_kmh)
                    {
                        self.fastest_shot = Some(Shot {
                            time: at,
                            track_id: e.track_id,
                            speed_kmh: speed,
                        });
                    }
                }
                EventKind::Landing => {
                    if let Some(r) = self.rallies.last_mut().filter(|r| r.end.is_none()) {
                        r.landing = e.pos.map(|p| [p[0], p[1]]);
                        r.inside = e.inside;
                    }
                }
                EventKind::RallyEnd => {
                    if let Some(r) = self.rallies.last_mut().filter(|r| r.end.is_none()) {
                        r.end = Some(at);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use courtvision_meta::{CourtEvent, CourtPosition};

    fn event(kind: EventKind, t: f64, speed: Option<f32>) -> CourtEvent {
        CourtEvent {
            kind,
            pts: Some((t * 1e9) as u64),
            track_id: Some(2),
            pos: Some([1.0, 5.0, 0.0]),
            speed_kmh: speed,
            inside: Some(true),
            rally: Some(1),
        }
    }

    #[test]
    fn rallies_shots_and_distances_add_up() {
        let mut s = Summary::default();
        let frame = |events: Vec<CourtEvent>, d: f32| CourtData {
            events,
            positions: vec![CourtPosition {
                track_id: 2,
                class_id: 0,
                xy: [0.0, 0.0],
                speed: 2.0,
                distance: d,
            }],
            ..Default::default()
        };
        s.add(
            Some(0.0),
            Some(&frame(
                vec![
                    event(EventKind::RallyStart, 0.0, None),
                    event(EventKind::Hit, 0.0, Some(120.0)),
                ],
                0.0,
            )),
        );
        s.add(
            Some(1.0),
            Some(&frame(vec![event(EventKind::Hit, 1.0, Some(250.0))], 3.0)),
        );
        s.add(
            Some(2.0),
            Some(&frame(
                vec![
                    event(EventKind::Landing, 1.8, None),
                    event(EventKind::RallyEnd, 1.8, None),
                ],
                4.5,
            )),
        );
        s.add(Some(3.0), None);
        assert_eq!(s.frames, 4);
        assert_eq!(s.duration, 3.0);
        assert_eq!(s.shots, 2);
        assert_eq!(s.rallies.len(), 1);
        assert_eq!(s.rallies[0].shots, 2);
        assert_eq!(s.rallies[0].end, Some(1.8));
        assert_eq!(s.rallies[0].inside, Some(true));
        assert_eq!(s.fastest_shot.as_ref().unwrap().speed_kmh, 250.0);
        assert_eq!(s.players[&2].distance, 4.5);
        assert_eq!(s.players[&2].shots, 2);
    }
}
