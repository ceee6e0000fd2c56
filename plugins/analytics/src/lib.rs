// SPDX-License-Identifier: MIT OR Apache-2.0
//! What courtvision computes about the court and the shuttle, apart from GStreamer and from
//! inference, so that it is unit-tested on synthetic data with known answers:
//!
//! - [`court`]: the court models in metres (badminton, netball): keypoints and lines.
//! - [`geometry`]: the homography between the image and the court plane, and the camera
//!   (focal length and pose) recovered from it.
//! - [`calib`]: finding the court's homography in a frame from its painted lines.
//! - [`flight`]: the shuttle as a point mass under gravity and air drag.
//!
//! Court coordinates are metres with the origin at the centre of the court, `x` across it,
//! `y` along it (the near half negative for a camera behind the near baseline) and `z` up.

pub mod calib;
pub mod court;
pub mod flight;
pub mod geometry;
