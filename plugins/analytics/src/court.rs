// SPDX-License-Identifier: MIT OR Apache-2.0
//! Court models: the named keypoints (line intersections on the floor) and lines of each
//! sport's court, in metres (see the crate's coordinates). Dimensions are the rules' nominal
//! ones, measured to the outer edges of the boundary lines (badminton's lines, 40 mm wide, are
//! part of the area they bound).

/// A point on the court plane (metres).
pub type Point = [f64; 2];

/// A sport's court.
#[derive(Debug, Clone, PartialEq)]
pub struct CourtModel {
    pub name: &'static str,
    /// Outer width (across, `x`) and length (along, `y`).
    pub width: f64,
    pub length: f64,
    /// Named line intersections on the floor.
    pub keypoints: Vec<(String, Point)>,
    /// Straight line segments on the floor.
    pub lines: Vec<(Point, Point)>,
    /// Circles and arcs on the floor: centre, radius, start and end angle (radians, from `x`
    /// towards `y`).
    pub arcs: Vec<(Point, f64, f64, f64)>,
    /// Height of the net's top at the centre and at the posts, and the posts' `x` (badminton).
    pub net: Option<Net>,
}

/// The badminton net: its top above the floor along `y = 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Net {
    pub centre_height: f64,
    pub post_height: f64,
    pub post_x: f64,
}

impl Net {
    /// The top of the net at `x` (metres): the cord sags from the posts to the centre; a
    /// parabola through the three known heights.
    pub fn height_at(&self, x: f64) -> f64 {
        let u = (x / self.post_x).clamp(-1.0, 1.0);
        self.centre_height + (self.post_height - self.centre_height) * u * u
    }
}

fn named(prefix: &str, x: f64, y: f64) -> (String, Point) {
    let side = |v: f64, neg: &str, pos: &str| {
        if v < 0.0 {
            neg.to_string()
        } else if v > 0.0 {
            pos.to_string()
        } else {
            "centre".to_string()
        }
    };
    (
        format!(
            "{prefix}{}-{}",
            side(y, "near", "far"),
            side(x, "left", "right")
        ),
        [x, y],
    )
}

impl CourtModel {
    /// The badminton court (BWF): 13.40 m by 6.10 m (doubles), singles side lines 0.46 m
    /// inside, short service lines 1.98 m from the net, doubles long service lines 0.76 m
    /// inside the back lines, the centre line between the short service and back lines; the
    /// net 1.524 m high at the centre, 1.55 m at the posts on the doubles side lines.
    pub fn badminton() -> CourtModel {
        let (hw, hl) = (6.10 / 2.0, 13.40 / 2.0);
        let singles = 5.18 / 2.0;
        let short = 1.98;
        let long = hl - 0.76;
        let xs = [-hw, -singles, singles, hw];
        let mut keypoints = Vec::new();
        for (prefix, y) in [
            ("back", hl),
            ("long-service", long),
            ("short-service", short),
        ] {
            for sy in [-1.0, 1.0] {
                for (i, &x) in xs.iter().enumerate() {
                    let kind = if i == 0 || i == 3 { "" } else { "singles-" };
                    keypoints.push(named(&format!("{prefix}-{kind}"), x, sy * y));
                }
                keypoints.push(named(&format!("{prefix}-"), 0.0, sy * y));
            }
        }
        let mut lines = Vec::new();
        for x in xs {
            lines.push(([x, -hl], [x, hl]));
        }
        for y in [hl, long, short] {
            for sy in [-1.0, 1.0] {
                lines.push(([-hw, sy * y], [hw, sy * y]));
            }
        }
        for sy in [-1.0, 1.0] {
            lines.push(([0.0, sy * short], [0.0, sy * hl]));
        }
        CourtModel {
            name: "badminton",
            width: 2.0 * hw,
            length: 2.0 * hl,
            keypoints,
            lines,
            arcs: Vec::new(),
            net: Some(Net {
                centre_height: 1.524,
                post_height: 1.55,
                post_x: hw,
            }),
        }
    }

    /// The netball court (World Netball): 30.5 m by 15.25 m in thirds, a centre circle of
    /// 0.9 m diameter, a goal circle (semicircle) of 4.9 m radius at each goal line's centre.
    pub fn netball() -> CourtModel {
        let (hw, hl) = (15.25 / 2.0, 30.5 / 2.0);
        let third = hl / 3.0;
        let goal = 4.9;
        let mut keypoints = Vec::new();
        for (prefix, y) in [("goal-line", hl), ("transverse", third)] {
            for sy in [-1.0, 1.0] {
                for x in [-hw, hw] {
                    keypoints.push(named(&format!("{prefix}-"), x, sy * y));
                }
            }
        }
        for sy in [-1.0, 1.0] {
            for x in [-goal, goal] {
                keypoints.push(named("goal-circle-", x, sy * hl));
            }
            keypoints.push(named("goal-circle-top-", 0.0, sy * (hl - goal)));
        }
        keypoints.push(("centre".to_string(), [0.0, 0.0]));
        let mut lines = vec![([-hw, -hl], [-hw, hl]), ([hw, -hl], [hw, hl])];
        for y in [hl, third] {
            for sy in [-1.0, 1.0] {
                lines.push(([-hw, sy * y], [hw, sy * y]));
            }
        }
        let pi = std::f64::consts::PI;
        let arcs = vec![
            ([0.0, 0.0], 0.45, 0.0, 2.0 * pi),
            ([0.0, -hl], goal, 0.0, pi),
            ([0.0, hl], goal, pi, 2.0 * pi),
        ];
        CourtModel {
            name: "netball",
            width: 2.0 * hw,
            length: 2.0 * hl,
            keypoints,
            lines,
            arcs,
            net: None,
        }
    }

    /// The keypoint called `name`.
    /// The court of a sport by its model's name (`badminton`, `netball`).
    pub fn named(name: &str) -> Option<CourtModel> {
        match name {
            "badminton" => Some(CourtModel::badminton()),
            "netball" => Some(CourtModel::netball()),
            _ => None,
        }
    }

    /// Each line, then each arc, as points at most `step` metres apart (ends included; an arc
    /// at least four steps) with the unit direction of the line there.
    pub fn paths(&self, step: f64) -> Vec<Vec<(Point, Point)>> {
        let mut out = Vec::with_capacity(self.lines.len() + self.arcs.len());
        for (a, b) in &self.lines {
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let len = dx.hypot(dy);
            let n = (len / step).ceil().max(1.0) as usize;
            let dir = [dx / len, dy / len];
            out.push(
                (0..=n)
                    .map(|i| {
                        let s = i as f64 / n as f64;
                        ([a[0] + dx * s, a[1] + dy * s], dir)
                    })
                    .collect(),
            );
        }
        for &(c, r, a0, a1) in &self.arcs {
            let n = ((a1 - a0).abs() * r / step).ceil().max(4.0) as usize;
            out.push(
                (0..=n)
                    .map(|i| {
                        let a = a0 + (a1 - a0) * i as f64 / n as f64;
                        (
                            [c[0] + r * a.cos(), c[1] + r * a.sin()],
                            [-a.sin(), a.cos()],
                        )
                    })
                    .collect(),
            );
        }
        out
    }

    pub fn keypoint(&self, name: &str) -> Option<Point> {
        self.keypoints
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| *p)
    }

    /// Whether a court point lies on the court (its boundary lines included).
    pub fn contains(&self, p: Point) -> bool {
        p[0].abs() <= self.width / 2.0 && p[1].abs() <= self.length / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(a: Point, b: Point) -> f64 {
        (a[0] - b[0]).hypot(a[1] - b[1])
    }

    #[test]
    fn badminton_dimensions_follow_the_laws() {
        let c = CourtModel::badminton();
        assert_eq!(c.keypoints.len(), 30);
        let k = |n: &str| c.keypoint(n).unwrap_or_else(|| panic!("{n}"));
        assert!((dist(k("back-near-left"), k("back-near-right")) - 6.10).abs() < 1e-9);
        assert!((dist(k("back-near-left"), k("back-far-left")) - 13.40).abs() < 1e-9);
        assert!(
            (dist(k("back-singles-near-left"), k("back-singles-near-right")) - 5.18).abs() < 1e-9
        );
        // Short service line 1.98 m from the net, long service line 0.76 m inside the back.
        assert!((k("short-service-far-centre")[1] - 1.98).abs() < 1e-9);
        assert!((dist(k("back-far-centre"), k("long-service-far-centre")) - 0.76).abs() < 1e-9);
        let net = c.net.unwrap();
        assert!((net.height_at(0.0) - 1.524).abs() < 1e-9);
        assert!((net.height_at(3.05) - 1.55).abs() < 1e-9);
        assert!((net.height_at(-3.05) - 1.55).abs() < 1e-9);
        // Names are unique.
        let mut names: Vec<&String> = c.keypoints.iter().map(|(n, _)| n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), c.keypoints.len());
    }

    #[test]
    fn netball_dimensions_follow_the_rules() {
        let c = CourtModel::netball();
        let k = |n: &str| c.keypoint(n).unwrap_or_else(|| panic!("{n}"));
        assert!((dist(k("goal-line-near-left"), k("goal-line-near-right")) - 15.25).abs() < 1e-9);
        assert!((dist(k("goal-line-near-left"), k("goal-line-far-left")) - 30.5).abs() < 1e-9);
        // Thirds.
        assert!(
            (dist(k("goal-line-near-left"), k("transverse-near-left")) - 30.5 / 3.0).abs() < 1e-9
        );
        assert!((dist(k("goal-circle-near-left"), k("goal-circle-near-right")) - 9.8).abs() < 1e-9);
        assert!((dist(k("goal-circle-top-near-centre"), [0.0, -15.25]) - 4.9).abs() < 1e-9);
        assert!(c.contains(k("centre")) && !c.contains([8.0, 0.0]));
    }
}
