// SPDX-License-Identifier: MIT OR Apache-2.0
//! A match's results as rows for the database, read from metaexport's JSON Lines: every
//! frame, every detection (keypoints packed as little-endian f32 x, y, score), the tracks,
//! the court estimates (one per view), the hits (shots) and the rallies from the events.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::Deserialize;

#[derive(Deserialize)]
struct Line {
    frame: u64,
    time: Option<f64>,
    width: u32,
    height: u32,
    #[serde(default)]
    players: Vec<PlayerLine>,
    ball: Option<BallLine>,
    court: Option<CourtLine>,
    #[serde(default)]
    events: Vec<EventLine>,
    #[serde(default)]
    detections: Vec<DetectionLine>,
}

#[derive(Deserialize)]
struct PlayerLine {
    track_id: Option<u64>,
    court: Option<[f64; 2]>,
    distance: Option<f64>,
}

#[derive(Deserialize)]
struct BallLine {
    x: f64,
    y: f64,
    speed_kmh: Option<f64>,
}

#[derive(Deserialize)]
struct CourtLine {
    sport: String,
    homography: [f64; 9],
    camera: Option<serde_json::Value>,
    confidence: f64,
    view: u64,
}

#[derive(Deserialize)]
struct EventLine {
    kind: String,
    pts: Option<u64>,
    track_id: Option<u64>,
    pos: Option<[f64; 3]>,
    speed_kmh: Option<f64>,
    inside: Option<bool>,
    rally: Option<u64>,
}

#[derive(Deserialize)]
struct BoxLine {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

#[derive(Deserialize)]
struct DetectionLine {
    class_id: u32,
    label: String,
    confidence: f64,
    #[serde(rename = "box")]
    bbox: BoxLine,
    track_id: Option<u64>,
    #[serde(default)]
    filled: bool,
    #[serde(default)]
    keypoints: Vec<[f32; 3]>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FrameRow {
    pub frame: i64,
    pub t: Option<f64>,
    pub court: bool,
    pub shuttle: Option<[f64; 2]>,
    pub shuttle_kmh: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DetectionRow {
    pub frame: i64,
    pub class_id: i64,
    pub label: String,
    pub confidence: f64,
    pub bbox: [f64; 4],
    pub track_id: Option<i64>,
    pub filled: bool,
    pub court: Option<[f64; 2]>,
    pub keypoints: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrackRow {
    pub track_id: i64,
    pub label: String,
    pub first_frame: i64,
    pub last_frame: i64,
    pub frames: i64,
    pub distance_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CourtRow {
    pub view: i64,
    pub first_frame: i64,
    pub sport: String,
    /// Row-major image-to-court homography, as JSON.
    pub homography: String,
    /// The camera (focal, principal point, position, rotation) as JSON, where known.
    pub camera: Option<String>,
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShotRow {
    pub shot: i64,
    pub frame: i64,
    pub t: Option<f64>,
    pub rally: Option<i64>,
    pub track_id: Option<i64>,
    pub speed_kmh: Option<f64>,
    pub pos: Option<[f64; 3]>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RallyRow {
    pub rally: i64,
    pub start_s: f64,
    pub end_s: Option<f64>,
    pub shots: i64,
    pub landing: Option<[f64; 2]>,
    pub inside: Option<bool>,
}

/// Everything a match stores.
#[derive(Debug, Clone, Default)]
pub struct MatchResults {
    pub width: i64,
    pub height: i64,
    pub duration_s: f64,
    pub frames: Vec<FrameRow>,
    pub detections: Vec<DetectionRow>,
    pub tracks: Vec<TrackRow>,
    pub courts: Vec<CourtRow>,
    pub shots: Vec<ShotRow>,
    pub rallies: Vec<RallyRow>,
    /// metaexport's match summary, where it wrote one.
    pub summary: Option<String>,
}

pub fn pack_keypoints(k: &[[f32; 3]]) -> Vec<u8> {
    k.iter().flatten().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn unpack_keypoints(b: &[u8]) -> Vec<[f32; 3]> {
    b.chunks_exact(12)
        .map(|c| {
            let f = |i: usize| f32::from_le_bytes(c[i..i + 4].try_into().unwrap());
            [f(0), f(4), f(8)]
        })
        .collect()
}

impl MatchResults {
    /// Reads metaexport's JSON Lines; a line that does not parse is an error naming it.
    pub fn from_jsonl(r: impl BufRead, summary: Option<String>) -> Result<MatchResults, String> {
        let mut m = MatchResults {
            summary,
            ..Default::default()
        };
        let mut tracks: BTreeMap<i64, TrackRow> = BTreeMap::new();
        let mut first_t = None;
        for (n, line) in r.lines().enumerate() {
            let line = line.map_err(|e| format!("results line {}: {e}", n + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let l: Line =
                serde_json::from_str(&line).map_err(|e| format!("results line {}: {e}", n + 1))?;
            let frame = l.frame as i64;
            m.width = l.width as i64;
            m.height = l.height as i64;
            if let Some(t) = l.time {
                let f = *first_t.get_or_insert(t);
                m.duration_s = m.duration_s.max(t - f);
            }
            m.frames.push(FrameRow {
                frame,
                t: l.time,
                court: l.court.is_some(),
                shuttle: l.ball.as_ref().map(|b| [b.x, b.y]),
                shuttle_kmh: l.ball.as_ref().and_then(|b| b.speed_kmh),
            });
            let court_of = |id: Option<u64>| {
                id.and_then(|id| l.players.iter().find(|p| p.track_id == Some(id)))
                    .and_then(|p| p.court)
            };
            for d in &l.detections {
                let track_id = d.track_id.map(|t| t as i64);
                m.detections.push(DetectionRow {
                    frame,
                    class_id: d.class_id as i64,
                    label: d.label.clone(),
                    confidence: d.confidence,
                    bbox: [d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h],
                    track_id,
                    filled: d.filled,
                    court: court_of(d.track_id),
                    keypoints: (!d.keypoints.is_empty()).then(|| pack_keypoints(&d.keypoints)),
                });
                if let Some(id) = track_id {
                    let t = tracks.entry(id).or_insert_with(|| TrackRow {
                        track_id: id,
                        label: d.label.clone(),
                        first_frame: frame,
                        last_frame: frame,
                        frames: 0,
                        distance_m: None,
                    });
                    t.last_frame = frame;
                    t.frames += 1;
                }
            }
            for p in &l.players {
                if let (Some(id), Some(d)) = (p.track_id, p.distance) {
                    if let Some(t) = tracks.get_mut(&(id as i64)) {
                        t.distance_m = Some(t.distance_m.unwrap_or(0.0).max(d));
                    }
                }
            }
            if let Some(c) = &l.court {
                if m.courts.last().map(|r| r.view) != Some(c.view as i64) {
                    m.courts.push(CourtRow {
                        view: c.view as i64,
                        first_frame: frame,
                        sport: c.sport.clone(),
                        homography: serde_json::to_string(&c.homography).unwrap(),
                        camera: c.camera.as_ref().map(|v| v.to_string()),
                        confidence: c.confidence,
                    });
                }
            }
            for e in &l.events {
                let t = e.pts.map(|p| p as f64 / 1e9).or(l.time);
                let rally = e.rally.map(|r| r as i64);
                match e.kind.as_str() {
                    "hit" => m.shots.push(ShotRow {
                        shot: m.shots.len() as i64 + 1,
                        frame,
                        t,
                        rally,
                        track_id: e.track_id.map(|t| t as i64),
                        speed_kmh: e.speed_kmh,
                        pos: e.pos,
                    }),
                    "rally-start" => m.rallies.push(RallyRow {
                        rally: rally.unwrap_or(m.rallies.len() as i64 + 1),
                        start_s: t.unwrap_or(0.0),
                        end_s: None,
                        shots: 0,
                        landing: None,
                        inside: None,
                    }),
                    "rally-end" | "landing" => {
                        let Some(r) = m
                            .rallies
                            .iter_mut()
                            .rev()
                            .find(|r| rally.is_none_or(|n| n == r.rally))
                        else {
                            continue;
                        };
                        if e.kind == "rally-end" {
                            r.end_s = t;
                        } else {
                            r.landing = e.pos.map(|p| [p[0], p[1]]);
                            r.inside = e.inside;
                        }
                    }
                    _ => {}
                }
            }
        }
        for r in &mut m.rallies {
            r.shots = m.shots.iter().filter(|s| s.rally == Some(r.rally)).count() as i64;
        }
        m.tracks = tracks.into_values().collect();
        Ok(m)
    }
}

/// A made-up match for tests and benchmarks: `frames` frames, each with `players` players
/// (tracks 1.., with 17 keypoints and court positions) and the shuttle, a rally every 100
/// frames with three shots.
pub fn synthetic_match(frames: i64, players: i64) -> MatchResults {
    let mut m = MatchResults {
        width: 1280,
        height: 720,
        duration_s: frames as f64 / 30.0,
        ..Default::default()
    };
    let kp = pack_keypoints(&[[1.0, 2.0, 0.9]; 17]);
    for f in 0..frames {
        let t = f as f64 / 30.0;
        m.frames.push(FrameRow {
            frame: f,
            t: Some(t),
            court: true,
            shuttle: Some([f as f64, 10.0]),
            shuttle_kmh: Some(50.0),
        });
        for id in 1..=players {
            m.detections.push(DetectionRow {
                frame: f,
                class_id: 0,
                label: "player".into(),
                confidence: 0.9,
                bbox: [10.0 * id as f64, 20.0, 30.0, 60.0],
                track_id: Some(id),
                filled: f % 2 == 1,
                court: Some([id as f64, f as f64 / 1000.0]),
                keypoints: Some(kp.clone()),
            });
        }
        m.detections.push(DetectionRow {
            frame: f,
            class_id: 1,
            label: "shuttle".into(),
            confidence: 0.5,
            bbox: [f as f64, 10.0, 4.0, 4.0],
            track_id: None,
            filled: false,
            court: None,
            keypoints: None,
        });
        if f % 100 == 0 {
            let rally = f / 100 + 1;
            m.rallies.push(RallyRow {
                rally,
                start_s: t,
                end_s: Some(t + 3.0),
                shots: 3,
                landing: Some([1.0, 2.0]),
                inside: Some(rally % 2 == 0),
            });
            for k in 0..3 {
                m.shots.push(ShotRow {
                    shot: m.shots.len() as i64 + 1,
                    frame: f + 10 * k,
                    t: Some(t + k as f64 / 3.0),
                    rally: Some(rally),
                    track_id: Some(1 + k % 2),
                    speed_kmh: Some(100.0 + (f + k) as f64 / 10.0),
                    pos: Some([1.0, 2.0, 3.0]),
                });
            }
        }
    }
    for id in 1..=players {
        m.tracks.push(TrackRow {
            track_id: id,
            label: "player".into(),
            first_frame: 0,
            last_frame: frames - 1,
            frames,
            distance_m: Some(12.5 * id as f64),
        });
    }
    m.courts.push(CourtRow {
        view: 1,
        first_frame: 0,
        sport: "badminton".into(),
        homography: "[1,0,0,0,1,0,0,0,1]".into(),
        camera: None,
        confidence: 0.95,
    });
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_rows() {
        let jsonl = r#"{"schema":1,"frame":0,"pts":0,"time":0.0,"width":640,"height":360,"players":[{"box":{"x":1,"y":2,"w":3,"h":4},"confidence":0.9,"track_id":3,"filled":false,"court":[1.5,2.5],"distance":0.0}],"ball":null,"court":{"sport":"badminton","homography":[1,0,0,0,1,0,0,0,1],"keypoints":[],"confidence":0.9,"view":1},"events":[{"kind":"rally-start","pts":0,"rally":1}],"detections":[{"class_id":0,"label":"player","confidence":0.9,"box":{"x":1,"y":2,"w":3,"h":4},"track_id":3,"source":"pose","filled":false,"keypoints":[[1.0,2.0,0.5]]}]}
{"schema":1,"frame":1,"pts":33333333,"time":0.0333,"width":640,"height":360,"players":[{"box":{"x":1,"y":2,"w":3,"h":4},"confidence":0.9,"track_id":3,"filled":false,"court":[1.6,2.5],"distance":0.1}],"ball":{"x":10.0,"y":20.0,"confidence":0.5,"box":{"x":9,"y":19,"w":2,"h":2},"filled":false,"speed_kmh":120.0},"court":null,"events":[{"kind":"hit","pts":33333333,"track_id":3,"speed_kmh":120.0,"pos":[1.0,2.0,2.5],"rally":1},{"kind":"landing","pos":[3.0,4.0,0.0],"inside":true,"rally":1},{"kind":"rally-end","pts":33333333,"rally":1}],"detections":[{"class_id":1,"label":"shuttle","confidence":0.5,"box":{"x":9,"y":19,"w":2,"h":2},"source":"det","filled":false}]}
"#;
        let m = MatchResults::from_jsonl(jsonl.as_bytes(), None).unwrap();
        assert_eq!(
            (m.width, m.height, m.frames.len(), m.detections.len()),
            (640, 360, 2, 2)
        );
        assert_eq!(m.detections[0].court, Some([1.5, 2.5]));
        assert_eq!(
            unpack_keypoints(m.detections[0].keypoints.as_ref().unwrap()),
            [[1.0, 2.0, 0.5]]
        );
        assert_eq!(m.tracks.len(), 1);
        assert_eq!(m.tracks[0].distance_m, Some(0.1));
        assert_eq!(m.courts.len(), 1);
        assert_eq!(m.frames[1].shuttle_kmh, Some(120.0));
        assert_eq!(m.shots.len(), 1);
        assert_eq!(m.rallies.len(), 1);
        let r = &m.rallies[0];
        assert_eq!(
            (r.shots, r.inside, r.landing),
            (1, Some(true), Some([3.0, 4.0]))
        );
        assert!(r.end_s.unwrap() > 0.03);
        assert!(MatchResults::from_jsonl("{\"frame\":".as_bytes(), None)
            .unwrap_err()
            .contains("line 1"));
    }
}
