// SPDX-License-Identifier: MIT OR Apache-2.0
//! A player's colour signature from the frame: three bands of the box (head, shirt, shorts and
//! legs), each a histogram of hue and saturation for coloured pixels and of brightness for
//! grey ones, sampled on a grid (64 points a band). Hue and saturation barely move when the
//! hall lights drift; the signature is the square root of the histograms (Hellinger), unit
//! length, so a dot product compares two. A few microseconds a box: no model, no copy.

use gst_video::VideoFormat;

/// Hue bins × two saturation levels, plus brightness bins for grey pixels.
const HUES: usize = 8;
const GREYS: usize = 4;
const BINS: usize = HUES * 2 + GREYS;
/// Bands of the box height (top, bottom) and the share of its width each samples.
const BANDS: [(f32, f32, f32); 3] = [(0.0, 0.17, 0.4), (0.2, 0.5, 0.55), (0.52, 0.85, 0.6)];
const GRID: usize = 8;

/// Length of a signature.
pub const LEN: usize = BINS * BANDS.len();

/// A readable frame: its format, size and planes.
pub struct Pixels<'a> {
    pub format: VideoFormat,
    pub width: u32,
    pub height: u32,
    pub planes: Vec<(&'a [u8], usize)>,
}

impl Pixels<'_> {
    /// The RGB of pixel (x, y), which must be inside the frame.
    fn rgb(&self, x: usize, y: usize) -> [f32; 3] {
        let packed = |bpp: usize, order: [usize; 3]| {
            let (data, stride) = self.planes[0];
            let o = y * stride + x * bpp;
            [data[o + order[0]], data[o + order[1]], data[o + order[2]]].map(f32::from)
        };
        let yuv = |yv: u8, u: u8, v: u8| {
            // BT.601, limited range.
            let c = (yv as f32 - 16.0) * 1.164;
            let (d, e) = (u as f32 - 128.0, v as f32 - 128.0);
            [c + 1.596 * e, c - 0.392 * d - 0.813 * e, c + 2.017 * d].map(|v| v.clamp(0.0, 255.0))
        };
        match self.format {
            VideoFormat::Rgb => packed(3, [0, 1, 2]),
            VideoFormat::Bgr => packed(3, [2, 1, 0]),
            VideoFormat::Rgba | VideoFormat::Rgbx => packed(4, [0, 1, 2]),
            VideoFormat::Bgra | VideoFormat::Bgrx => packed(4, [2, 1, 0]),
            VideoFormat::I420 => {
                let (yp, ys) = self.planes[0];
                let (up, us) = self.planes[1];
                let (vp, vs) = self.planes[2];
                yuv(
                    yp[y * ys + x],
                    up[(y / 2) * us + x / 2],
                    vp[(y / 2) * vs + x / 2],
                )
            }
            VideoFormat::Nv12 => {
                let (yp, ys) = self.planes[0];
                let (uv, s) = self.planes[1];
                let o = (y / 2) * s + (x / 2) * 2;
                yuv(yp[y * ys + x], uv[o], uv[o + 1])
            }
            _ => [0.0; 3],
        }
    }

    /// Whether [`signature`] can read this format.
    pub fn readable(format: VideoFormat) -> bool {
        matches!(
            format,
            VideoFormat::Rgb
                | VideoFormat::Bgr
                | VideoFormat::Rgba
                | VideoFormat::Rgbx
                | VideoFormat::Bgra
                | VideoFormat::Bgrx
                | VideoFormat::I420
                | VideoFormat::Nv12
        )
    }
}

/// The histogram bin of one colour.
fn bin([r, g, b]: [f32; 3]) -> usize {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let sat = if max > 0.0 { (max - min) / max } else { 0.0 };
    if sat < 0.25 || max < 40.0 {
        return HUES * 2 + ((max / 256.0 * GREYS as f32) as usize).min(GREYS - 1);
    }
    let d = max - min;
    let hue = if max == r {
        ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        (b - r) / d + 2.0
    } else {
        (r - g) / d + 4.0
    } / 6.0;
    let h = ((hue * HUES as f32) as usize).min(HUES - 1);
    h * 2 + usize::from(sat > 0.6)
}

/// The signature of the box (x1, y1, x2, y2) in `frame`; `None` when too small to say.
pub fn signature(frame: &Pixels, b: [f32; 4]) -> Option<Vec<f32>> {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    if w < 4.0 || h < 8.0 {
        return None;
    }
    let mut v = vec![0f32; LEN];
    let cx = (b[0] + b[2]) / 2.0;
    for (band, &(top, bottom, share)) in BANDS.iter().enumerate() {
        let hist = &mut v[band * BINS..(band + 1) * BINS];
        for i in 0..GRID {
            for j in 0..GRID {
                let x = cx + w * share * ((i as f32 + 0.5) / GRID as f32 - 0.5);
                let y = b[1] + h * (top + (bottom - top) * (j as f32 + 0.5) / GRID as f32);
                if x < 0.0 || y < 0.0 || x >= frame.width as f32 || y >= frame.height as f32 {
                    continue;
                }
                hist[bin(frame.rgb(x as usize, y as usize))] += 1.0;
            }
        }
    }
    let norm = v.iter().sum::<f32>();
    if norm == 0.0 {
        return None;
    }
    v.iter_mut().for_each(|x| *x = x.sqrt());
    let len = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= len);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of `w` x `h` RGB with the top half one colour and the bottom half another.
    fn two_tone(w: usize, h: usize, top: [u8; 3], bottom: [u8; 3]) -> Vec<u8> {
        (0..h)
            .flat_map(|y| (0..w).flat_map(move |_| if y < h / 2 { top } else { bottom }))
            .collect()
    }

    #[test]
    fn same_kit_matches_other_kit_does_not() {
        let (w, h) = (40, 80);
        let red_black = two_tone(w, h, [200, 30, 40], [20, 20, 25]);
        let red_white = two_tone(w, h, [200, 30, 40], [240, 240, 240]);
        let blue_black = two_tone(w, h, [30, 70, 190], [20, 20, 25]);
        fn frame(d: &[u8], w: usize, h: usize) -> Pixels<'_> {
            Pixels {
                format: VideoFormat::Rgb,
                width: w as u32,
                height: h as u32,
                planes: vec![(d, w * 3)],
            }
        }
        let b = [0.0, 0.0, w as f32, h as f32];
        let a = signature(&frame(&red_black, w, h), b).unwrap();
        let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
        assert!((dot(&a, &a) - 1.0).abs() < 1e-4);
        let shorts = dot(&a, &signature(&frame(&red_white, w, h), b).unwrap());
        let shirt = dot(&a, &signature(&frame(&blue_black, w, h), b).unwrap());
        assert!(shorts < 0.8 && shirt < 0.8, "{shorts} {shirt}");
        // Darker light: same signature, near enough.
        let dim = two_tone(w, h, [150, 22, 30], [15, 15, 19]);
        assert!(dot(&a, &signature(&frame(&dim, w, h), b).unwrap()) > 0.95);
        assert!(signature(&frame(&red_black, w, h), [0.0, 0.0, 2.0, 2.0]).is_none());
    }

    #[test]
    fn yuv_frames_read_as_their_rgb() {
        // Pure red in BT.601 limited range: Y 81, U 90, V 240.
        let (w, h) = (4usize, 4usize);
        let y = vec![81u8; w * h];
        let u = vec![90u8; w * h / 4];
        let v = vec![240u8; w * h / 4];
        let frame = Pixels {
            format: VideoFormat::I420,
            width: w as u32,
            height: h as u32,
            planes: vec![(&y, w), (&u, w / 2), (&v, w / 2)],
        };
        let [r, g, b] = frame.rgb(1, 1);
        assert!(r > 230.0 && g < 30.0 && b < 30.0, "{r} {g} {b}");
        let uv: Vec<u8> = u.iter().zip(&v).flat_map(|(a, b)| [*a, *b]).collect();
        let nv12 = Pixels {
            format: VideoFormat::Nv12,
            width: w as u32,
            height: h as u32,
            planes: vec![(&y, w), (&uv, w)],
        };
        assert_eq!(nv12.rgb(3, 3), frame.rgb(3, 3));
    }
}
