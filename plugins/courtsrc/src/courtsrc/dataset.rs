// SPDX-License-Identifier: MIT OR Apache-2.0
//! courtsrc's `dataset-dir`: the frames it renders as a YOLO-format detection dataset
//! (`detect/`: classes player and shuttle) and pose dataset (`pose/`: player with 17 COCO
//! keypoints), with a data YAML for each, ready for `yolo train data=DIR/detect.yaml`.
//! Several sources (seeds) may write into one directory: file names carry the seed.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::render::Truth;

/// Left/right swaps of the COCO keypoints, for horizontal flip augmentation.
pub const FLIP_IDX: [usize; 17] = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15];

pub struct DatasetWriter {
    dir: PathBuf,
    seed: u64,
}

impl DatasetWriter {
    /// Creates the folders and data YAMLs (kept if they exist).
    pub fn create(dir: &Path, seed: u64, ball_label: &str) -> io::Result<DatasetWriter> {
        for sub in [
            "detect/images",
            "detect/labels",
            "pose/images",
            "pose/labels",
        ] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let abs = fs::canonicalize(dir)?;
        let detect = abs.join("detect.yaml");
        if !detect.exists() {
            fs::write(
                &detect,
                format!(
                    "# courtsrc detection dataset (YOLO format)\npath: {}\ntrain: images\nval: images\nnames:\n  0: player\n  1: {ball_label}\n",
                    abs.join("detect").display()
                ),
            )?;
        }
        let pose = abs.join("pose.yaml");
        if !pose.exists() {
            let flip: Vec<String> = FLIP_IDX.iter().map(|i| i.to_string()).collect();
            fs::write(
                &pose,
                format!(
                    "# courtsrc pose dataset (YOLO format)\npath: {}\ntrain: images\nval: images\nkpt_shape: [17, 3]\nflip_idx: [{}]\nnames:\n  0: player\n",
                    abs.join("pose").display(),
                    flip.join(", ")
                ),
            )?;
        }
        Ok(DatasetWriter { dir: abs, seed })
    }

    /// Writes frame `n`: the JPEG (from tight RGB) and both label files.
    pub fn write(
        &self,
        n: u64,
        rgb: &[u8],
        width: u32,
        height: u32,
        truth: &Truth,
    ) -> io::Result<()> {
        let name = format!("s{}-f{:06}", self.seed, n);
        let image = self.dir.join("detect/images").join(format!("{name}.jpg"));
        let encoder = jpeg_encoder::Encoder::new_file(&image, 90).map_err(io::Error::other)?;
        encoder
            .encode(
                rgb,
                width as u16,
                height as u16,
                jpeg_encoder::ColorType::Rgb,
            )
            .map_err(io::Error::other)?;
        let pose_image = self.dir.join("pose/images").join(format!("{name}.jpg"));
        let _ = fs::remove_file(&pose_image);
        if fs::hard_link(&image, &pose_image).is_err() {
            fs::copy(&image, &pose_image)?;
        }
        let (det, pose) = labels(truth, width as f32, height as f32);
        fs::write(
            self.dir.join("detect/labels").join(format!("{name}.txt")),
            det,
        )?;
        fs::write(
            self.dir.join("pose/labels").join(format!("{name}.txt")),
            pose,
        )?;
        Ok(())
    }
}

/// YOLO label lines: `class cx cy w h` normalised (detect), plus `x y v` per keypoint (pose;
/// v = 2 visible, 0 outside the frame with x = y = 0).
pub fn labels(truth: &Truth, w: f32, h: f32) -> (String, String) {
    let mut det = String::new();
    let mut pose = String::new();
    let norm = |b: &[f32; 4]| {
        format!(
            "{:.6} {:.6} {:.6} {:.6}",
            (b[0] + b[2]) / 2.0 / w,
            (b[1] + b[3]) / 2.0 / h,
            (b[2] - b[0]) / w,
            (b[3] - b[1]) / h
        )
    };
    for p in &truth.players {
        let _ = writeln!(det, "0 {}", norm(&p.bbox));
        let _ = write!(pose, "0 {}", norm(&p.bbox));
        for &(x, y, v) in &p.kpts {
            if v {
                let _ = write!(pose, " {:.6} {:.6} 2", x / w, y / h);
            } else {
                pose.push_str(" 0 0 0");
            }
        }
        pose.push('\n');
    }
    if let Some(b) = &truth.ball {
        let _ = writeln!(det, "1 {}", norm(b));
    }
    (det, pose)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::courtsrc::render::TruthPlayer;

    #[test]
    fn label_lines_are_normalised_yolo() {
        let mut kpts = [(64.0, 36.0, true); 17];
        kpts[3] = (0.0, 0.0, false);
        let truth = Truth {
            players: vec![TruthPlayer {
                id: 1,
                bbox: [0.0, 0.0, 64.0, 72.0],
                kpts,
            }],
            ball: Some([120.0, 60.0, 128.0, 72.0]),
            ball_centre: Some((124.0, 66.0)),
        };
        let (det, pose) = labels(&truth, 128.0, 72.0);
        assert_eq!(
            det,
            "0 0.250000 0.500000 0.500000 1.000000\n1 0.968750 0.916667 0.062500 0.166667\n"
        );
        let fields: Vec<&str> = pose.split_whitespace().collect();
        assert_eq!(fields.len(), 5 + 17 * 3);
        assert_eq!(&fields[5..8], ["0.500000", "0.500000", "2"]);
        assert_eq!(&fields[5 + 9..5 + 12], ["0", "0", "0"]);
    }
}
