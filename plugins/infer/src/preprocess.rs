// SPDX-License-Identifier: MIT OR Apache-2.0
//! Letterbox preprocessing straight from a video frame into one slot of the batch tensor.
//!
//! Scale (bilinear, as cv2.INTER_LINEAR that ultralytics uses), colour conversion, padding and
//! normalisation happen in one pass per output pixel, with no intermediate frame. This is
//! written by hand because no crate fuses YUV/RGB sampling with a planar float (or f16) NCHW
//! destination: fast_image_resize and friends would need an RGB copy of the frame first.

use half::f16;

/// Pixel layouts the preprocessing reads directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Rgb,
    Rgba,
    Bgr,
    Bgrx,
    I420,
    Nv12,
}

/// YUV → RGB matrix of a YUV frame (ignored for RGB formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YuvMatrix {
    Bt601,
    Bt709,
}

/// A borrowed video frame: plane data and strides as GStreamer maps them.
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
    pub planes: [&'a [u8]; 3],
    pub strides: [usize; 3],
    pub matrix: YuvMatrix,
    pub full_range: bool,
}

/// Padding value of the letterbox border (ultralytics uses grey 114).
pub const PAD_VALUE: u8 = 114;

/// Geometry of a letterbox: where the scaled frame sits inside the model input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub src_w: usize,
    pub src_h: usize,
    /// Model input (tensor) size.
    pub dst_w: usize,
    pub dst_h: usize,
    /// Size of the scaled frame inside the tensor.
    pub new_w: usize,
    pub new_h: usize,
    pub left: usize,
    pub top: usize,
}

impl Letterbox {
    /// Ultralytics' LetterBox: scale the frame to fit `target` (h, w), keeping its aspect ratio.
    /// With `rect`, the tensor is only padded up to a multiple of `stride` (rectangular
    /// inference, for dynamic-size models); otherwise it is padded to `target`.
    pub fn new(
        src_w: usize,
        src_h: usize,
        target: (usize, usize),
        stride: usize,
        rect: bool,
    ) -> Self {
        let (th, tw) = target;
        let r = (th as f64 / src_h as f64).min(tw as f64 / src_w as f64);
        let new_w = ((src_w as f64 * r).round_ties_even() as usize).clamp(1, tw);
        let new_h = ((src_h as f64 * r).round_ties_even() as usize).clamp(1, th);
        let (dst_w, dst_h) = if rect {
            let stride = stride.max(1);
            (
                new_w.div_ceil(stride) * stride,
                new_h.div_ceil(stride) * stride,
            )
        } else {
            (tw, th)
        };
        let left = ((dst_w - new_w) as f64 / 2.0 - 0.1)
            .round_ties_even()
            .max(0.0) as usize;
        let top = ((dst_h - new_h) as f64 / 2.0 - 0.1)
            .round_ties_even()
            .max(0.0) as usize;
        Letterbox {
            src_w,
            src_h,
            dst_w,
            dst_h,
            new_w,
            new_h,
            left,
            top,
        }
    }

    /// Maps a point in model-input pixels back to frame pixels (not clipped).
    #[inline]
    pub fn to_frame(&self, x: f32, y: f32) -> (f32, f32) {
        (
            (x - self.left as f32) * (self.src_w as f32 / self.new_w as f32),
            (y - self.top as f32) * (self.src_h as f32 / self.new_h as f32),
        )
    }

    /// Values in one batch slot (3 planes).
    pub fn slot_len(&self) -> usize {
        3 * self.dst_w * self.dst_h
    }
}

/// Element types a batch tensor can hold.
pub trait TensorElem: Copy + Default + Send + Sync + std::fmt::Debug + 'static {
    fn from_f32(v: f32) -> Self;
    fn to_f32(self) -> f32;
}

impl TensorElem for f32 {
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}

impl TensorElem for f16 {
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        f16::from_f32(v)
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

/// Errors of a frame that does not fit its declared format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("frame {width}x{height} {format:?}: {why}")]
pub struct FrameError {
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
    pub why: String,
}

/// Bilinear taps along one axis: for each output index, (first source index, second, weight of second).
fn taps(src: usize, dst: usize) -> Vec<(u32, u32, f32)> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|i| {
            let f = (i as f64 + 0.5) * scale - 0.5;
            let mut i0 = f.floor();
            let mut w = f - i0;
            if i0 < 0.0 {
                i0 = 0.0;
                w = 0.0;
            }
            let mut i0 = i0 as usize;
            if i0 >= src - 1 {
                i0 = src - 1;
                w = 0.0;
            }
            let i1 = (i0 + 1).min(src - 1);
            (i0 as u32, i1 as u32, w as f32)
        })
        .collect()
}

/// Coefficients of YUV → RGB: (y scale, y offset, uv scale, r_v, g_u, g_v, b_u).
pub(crate) fn yuv_coeffs(matrix: YuvMatrix, full_range: bool) -> [f32; 7] {
    let (kr, kb) = match matrix {
        YuvMatrix::Bt601 => (0.299f32, 0.114f32),
        YuvMatrix::Bt709 => (0.2126f32, 0.0722f32),
    };
    let kg = 1.0 - kr - kb;
    let (ys, yo, cs) = if full_range {
        (1.0, 0.0, 1.0)
    } else {
        (255.0 / 219.0, 16.0, 255.0 / 224.0)
    };
    [
        ys,
        yo,
        cs,
        2.0 * (1.0 - kr),
        -2.0 * kb * (1.0 - kb) / kg,
        -2.0 * kr * (1.0 - kr) / kg,
        2.0 * (1.0 - kb),
    ]
}

#[inline(always)]
fn yuv_to_rgb(c: &[f32; 7], [y, u, v]: [f32; 3]) -> [f32; 3] {
    let y = (y - c[1]) * c[0];
    let u = (u - 128.0) * c[2];
    let v = (v - 128.0) * c[2];
    [
        (y + c[3] * v).clamp(0.0, 255.0),
        (y + c[4] * u + c[5] * v).clamp(0.0, 255.0),
        (y + c[6] * u).clamp(0.0, 255.0),
    ]
}

/// Reads a source pixel's channels (R, G, B for packed formats; Y, U, V for YUV) and turns an
/// interpolated value into RGB (0..255). Interpolating before converting costs one colour
/// conversion per output pixel instead of four; it equals converting first except where a
/// colour clips.
trait Sampler {
    fn raw(&self, x: usize, y: usize) -> [f32; 3];
    fn to_rgb(&self, v: [f32; 3]) -> [f32; 3];
}

struct Packed<'a> {
    data: &'a [u8],
    stride: usize,
    bpp: usize,
    /// Offsets of R, G, B inside a pixel.
    order: [usize; 3],
}

impl Sampler for Packed<'_> {
    #[inline(always)]
    fn raw(&self, x: usize, y: usize) -> [f32; 3] {
        let p = &self.data[y * self.stride + x * self.bpp..];
        [
            p[self.order[0]] as f32,
            p[self.order[1]] as f32,
            p[self.order[2]] as f32,
        ]
    }
    #[inline(always)]
    fn to_rgb(&self, v: [f32; 3]) -> [f32; 3] {
        v
    }
}

struct Planar420<'a> {
    y: &'a [u8],
    u: &'a [u8],
    v: &'a [u8],
    strides: [usize; 3],
    coeffs: [f32; 7],
}

impl Sampler for Planar420<'_> {
    #[inline(always)]
    fn raw(&self, x: usize, y: usize) -> [f32; 3] {
        let (cx, cy) = (x / 2, y / 2);
        [
            self.y[y * self.strides[0] + x] as f32,
            self.u[cy * self.strides[1] + cx] as f32,
            self.v[cy * self.strides[2] + cx] as f32,
        ]
    }
    #[inline(always)]
    fn to_rgb(&self, v: [f32; 3]) -> [f32; 3] {
        yuv_to_rgb(&self.coeffs, v)
    }
}

struct SemiPlanar420<'a> {
    y: &'a [u8],
    uv: &'a [u8],
    strides: [usize; 2],
    coeffs: [f32; 7],
}

impl Sampler for SemiPlanar420<'_> {
    #[inline(always)]
    fn raw(&self, x: usize, y: usize) -> [f32; 3] {
        let c = (y / 2) * self.strides[1] + (x / 2) * 2;
        [
            self.y[y * self.strides[0] + x] as f32,
            self.uv[c] as f32,
            self.uv[c + 1] as f32,
        ]
    }
    #[inline(always)]
    fn to_rgb(&self, v: [f32; 3]) -> [f32; 3] {
        yuv_to_rgb(&self.coeffs, v)
    }
}

/// Checks that the planes hold the bytes the format, size and strides promise.
pub(crate) fn check_frame(f: &FrameView) -> Result<(), FrameError> {
    let err = |why: String| FrameError {
        format: f.format,
        width: f.width,
        height: f.height,
        why,
    };
    if f.width == 0 || f.height == 0 {
        return Err(err("empty frame".into()));
    }
    let need = |plane: usize, row_bytes: usize, rows: usize| -> Result<(), FrameError> {
        let stride = f.strides[plane];
        if stride < row_bytes {
            return Err(err(format!(
                "plane {plane} stride {stride} < row size {row_bytes}"
            )));
        }
        let len = stride * (rows - 1) + row_bytes;
        if f.planes[plane].len() < len {
            return Err(err(format!(
                "plane {plane} has {} bytes, needs {len}",
                f.planes[plane].len()
            )));
        }
        Ok(())
    };
    let (cw, ch) = (f.width.div_ceil(2), f.height.div_ceil(2));
    match f.format {
        PixelFormat::Rgb | PixelFormat::Bgr => need(0, f.width * 3, f.height),
        PixelFormat::Rgba | PixelFormat::Bgrx => need(0, f.width * 4, f.height),
        PixelFormat::I420 => {
            need(0, f.width, f.height)?;
            need(1, cw, ch)?;
            need(2, cw, ch)
        }
        PixelFormat::Nv12 => {
            need(0, f.width, f.height)?;
            need(1, cw * 2, ch)
        }
    }
}

/// Letterboxes `frame` into `dst` (one batch slot: 3 planes of `dst_h * dst_w`, RGB, 0..1).
pub fn letterbox_into<T: TensorElem>(
    frame: &FrameView,
    lb: &Letterbox,
    dst: &mut [T],
) -> Result<(), FrameError> {
    letterbox_into_threads(frame, lb, dst, 1)
}

/// [`letterbox_into`] with the output rows split over up to `threads` workers of rayon's pool
/// (the result is identical: every output pixel is computed the same way).
pub fn letterbox_into_threads<T: TensorElem>(
    frame: &FrameView,
    lb: &Letterbox,
    dst: &mut [T],
    threads: usize,
) -> Result<(), FrameError> {
    check_frame(frame)?;
    if frame.width != lb.src_w || frame.height != lb.src_h || dst.len() != lb.slot_len() {
        return Err(FrameError {
            format: frame.format,
            width: frame.width,
            height: frame.height,
            why: format!(
                "does not match the letterbox ({}x{} into {} values)",
                lb.src_w,
                lb.src_h,
                dst.len()
            ),
        });
    }
    let coeffs = yuv_coeffs(frame.matrix, frame.full_range);
    let packed = |bpp, order| Packed {
        data: frame.planes[0],
        stride: frame.strides[0],
        bpp,
        order,
    };
    match frame.format {
        PixelFormat::Rgb => fill(&packed(3, [0, 1, 2]), lb, dst, threads),
        PixelFormat::Bgr => fill(&packed(3, [2, 1, 0]), lb, dst, threads),
        PixelFormat::Rgba => fill(&packed(4, [0, 1, 2]), lb, dst, threads),
        PixelFormat::Bgrx => fill(&packed(4, [2, 1, 0]), lb, dst, threads),
        PixelFormat::I420 => fill(
            &Planar420 {
                y: frame.planes[0],
                u: frame.planes[1],
                v: frame.planes[2],
                strides: frame.strides,
                coeffs,
            },
            lb,
            dst,
            threads,
        ),
        PixelFormat::Nv12 => fill(
            &SemiPlanar420 {
                y: frame.planes[0],
                uv: frame.planes[1],
                strides: [frame.strides[0], frame.strides[1]],
                coeffs,
            },
            lb,
            dst,
            threads,
        ),
    }
    Ok(())
}

fn fill<S: Sampler + Sync, T: TensorElem>(s: &S, lb: &Letterbox, dst: &mut [T], threads: usize) {
    let plane = lb.dst_w * lb.dst_h;
    let (r_plane, rest) = dst.split_at_mut(plane);
    let (g_plane, b_plane) = rest.split_at_mut(plane);
    let unscaled = lb.new_w == lb.src_w && lb.new_h == lb.src_h;
    let (xt, yt) = if unscaled {
        (Vec::new(), Vec::new())
    } else {
        (taps(lb.src_w, lb.new_w), taps(lb.src_h, lb.new_h))
    };
    let threads = threads.clamp(1, lb.dst_h);
    if threads == 1 {
        fill_rows(s, lb, &xt, &yt, 0, r_plane, g_plane, b_plane);
        return;
    }
    let band = lb.dst_h.div_ceil(threads) * lb.dst_w;
    let (xt, yt) = (&xt, &yt);
    rayon::scope(|scope| {
        let bands = r_plane
            .chunks_mut(band)
            .zip(g_plane.chunks_mut(band))
            .zip(b_plane.chunks_mut(band));
        for (i, ((r, g), b)) in bands.enumerate() {
            scope.spawn(move |_| fill_rows(s, lb, xt, yt, i * band / lb.dst_w, r, g, b));
        }
    });
}

/// Fills output rows from `first_row` on (as many as the plane slices hold).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn fill_rows<S: Sampler, T: TensorElem>(
    s: &S,
    lb: &Letterbox,
    xt: &[(u32, u32, f32)],
    yt: &[(u32, u32, f32)],
    first_row: usize,
    r_plane: &mut [T],
    g_plane: &mut [T],
    b_plane: &mut [T],
) {
    let pad = T::from_f32(PAD_VALUE as f32 / 255.0);
    let inv = 1.0 / 255.0;
    let unscaled = xt.is_empty();
    for (i, ty) in (first_row..first_row + r_plane.len() / lb.dst_w).enumerate() {
        let row = i * lb.dst_w;
        let (r, g, b) = (
            &mut r_plane[row..row + lb.dst_w],
            &mut g_plane[row..row + lb.dst_w],
            &mut b_plane[row..row + lb.dst_w],
        );
        if ty < lb.top || ty >= lb.top + lb.new_h {
            r.fill(pad);
            g.fill(pad);
            b.fill(pad);
            continue;
        }
        let (l, rgt) = (lb.left, lb.left + lb.new_w);
        for p in [&mut *r, &mut *g, &mut *b] {
            p[..l].fill(pad);
            p[rgt..].fill(pad);
        }
        let y = ty - lb.top;
        if unscaled {
            for x in 0..lb.new_w {
                let c = s.to_rgb(s.raw(x, y));
                r[l + x] = T::from_f32(c[0] * inv);
                g[l + x] = T::from_f32(c[1] * inv);
                b[l + x] = T::from_f32(c[2] * inv);
            }
        } else {
            let (y0, y1, wy) = yt[y];
            let (y0, y1) = (y0 as usize, y1 as usize);
            for (x, &(x0, x1, wx)) in xt.iter().enumerate() {
                let (x0, x1) = (x0 as usize, x1 as usize);
                let (a, bb, c, d) = (s.raw(x0, y0), s.raw(x1, y0), s.raw(x0, y1), s.raw(x1, y1));
                let mut v = [0f32; 3];
                for k in 0..3 {
                    let top = a[k] + (bb[k] - a[k]) * wx;
                    let bot = c[k] + (d[k] - c[k]) * wx;
                    v[k] = top + (bot - top) * wy;
                }
                let out = s.to_rgb(v);
                r[l + x] = T::from_f32(out[0] * inv);
                g[l + x] = T::from_f32(out[1] * inv);
                b[l + x] = T::from_f32(out[2] * inv);
            }
        }
    }
}

/// The largest absolute difference between two equally long float slices (tests, GPU checks).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max)
}

/// Pseudo-random frames with padded strides in any format, for the tests and the GPU checks
/// (`examples/letterbox_check.rs`).
pub struct TestFrame {
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
    pub planes: Vec<Vec<u8>>,
    pub strides: [usize; 3],
}

impl TestFrame {
    pub fn random(format: PixelFormat, w: usize, h: usize, mut seed: u32) -> Self {
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed >> 8) as u8
        };
        let mut plane =
            |stride: usize, rows: usize| (0..stride * rows).map(|_| next()).collect::<Vec<u8>>();
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let (planes, strides) = match format {
            PixelFormat::Rgb | PixelFormat::Bgr => (vec![plane(w * 3 + 5, h)], [w * 3 + 5, 0, 0]),
            PixelFormat::Rgba | PixelFormat::Bgrx => (vec![plane(w * 4 + 8, h)], [w * 4 + 8, 0, 0]),
            PixelFormat::I420 => (
                vec![plane(w + 3, h), plane(cw + 1, ch), plane(cw + 2, ch)],
                [w + 3, cw + 1, cw + 2],
            ),
            PixelFormat::Nv12 => (
                vec![plane(w + 4, h), plane(cw * 2 + 2, ch)],
                [w + 4, cw * 2 + 2, 0],
            ),
        };
        TestFrame {
            format,
            width: w,
            height: h,
            planes,
            strides,
        }
    }

    pub fn view(&self, matrix: YuvMatrix) -> FrameView<'_> {
        let plane = |i: usize| self.planes.get(i).map_or(&[][..], |p| p.as_slice());
        FrameView {
            format: self.format,
            width: self.width,
            height: self.height,
            planes: [plane(0), plane(1), plane(2)],
            strides: self.strides,
            matrix,
            full_range: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain reference: the whole frame as a float image of its channels (RGB, or YUV with
    /// chroma repeated over each 2x2 block), textbook bilinear resize (cv2 INTER_LINEAR
    /// coordinates), YUV → RGB per output pixel, then pad. Slow and obvious on purpose.
    fn reference(frame: &FrameView, lb: &Letterbox) -> Vec<f32> {
        let (w, h) = (frame.width, frame.height);
        let coeffs = yuv_coeffs(frame.matrix, frame.full_range);
        let mut px = vec![[0f32; 3]; w * h];
        for y in 0..h {
            for x in 0..w {
                let p0 = frame.planes[0];
                let s0 = frame.strides[0];
                px[y * w + x] = match frame.format {
                    PixelFormat::Rgb => {
                        let o = y * s0 + x * 3;
                        [p0[o] as f32, p0[o + 1] as f32, p0[o + 2] as f32]
                    }
                    PixelFormat::Bgr => {
                        let o = y * s0 + x * 3;
                        [p0[o + 2] as f32, p0[o + 1] as f32, p0[o] as f32]
                    }
                    PixelFormat::Rgba => {
                        let o = y * s0 + x * 4;
                        [p0[o] as f32, p0[o + 1] as f32, p0[o + 2] as f32]
                    }
                    PixelFormat::Bgrx => {
                        let o = y * s0 + x * 4;
                        [p0[o + 2] as f32, p0[o + 1] as f32, p0[o] as f32]
                    }
                    PixelFormat::I420 => [
                        p0[y * s0 + x] as f32,
                        frame.planes[1][(y / 2) * frame.strides[1] + x / 2] as f32,
                        frame.planes[2][(y / 2) * frame.strides[2] + x / 2] as f32,
                    ],
                    PixelFormat::Nv12 => {
                        let c = (y / 2) * frame.strides[1] + (x / 2) * 2;
                        [
                            p0[y * s0 + x] as f32,
                            frame.planes[1][c] as f32,
                            frame.planes[1][c + 1] as f32,
                        ]
                    }
                };
            }
        }
        let plane = lb.dst_w * lb.dst_h;
        let mut out = vec![PAD_VALUE as f32 / 255.0; 3 * plane];
        let coord = |i: usize, src: usize, dst: usize| -> (usize, usize, f32) {
            let f = (i as f32 + 0.5) * src as f32 / dst as f32 - 0.5;
            let f = f.clamp(0.0, (src - 1) as f32);
            let i0 = f.floor() as usize;
            (i0, (i0 + 1).min(src - 1), f - i0 as f32)
        };
        let yuv = matches!(frame.format, PixelFormat::I420 | PixelFormat::Nv12);
        for y in 0..lb.new_h {
            let (y0, y1, wy) = coord(y, h, lb.new_h);
            for x in 0..lb.new_w {
                let (x0, x1, wx) = coord(x, w, lb.new_w);
                let mut v = [0f32; 3];
                for (k, v) in v.iter_mut().enumerate() {
                    *v = px[y0 * w + x0][k] * (1.0 - wx) * (1.0 - wy)
                        + px[y0 * w + x1][k] * wx * (1.0 - wy)
                        + px[y1 * w + x0][k] * (1.0 - wx) * wy
                        + px[y1 * w + x1][k] * wx * wy;
                }
                if yuv {
                    v = yuv_to_rgb(&coeffs, v);
                }
                for (k, v) in v.iter().enumerate() {
                    out[k * plane + (y + lb.top) * lb.dst_w + x + lb.left] = v / 255.0;
                }
            }
        }
        out
    }

    fn check(format: PixelFormat, w: usize, h: usize, target: (usize, usize), rect: bool) {
        let test_frame = TestFrame::random(format, w, h, 0x1234_5678);
        let frame = test_frame.view(YuvMatrix::Bt601);
        let lb = Letterbox::new(w, h, target, 32, rect);
        let mut got = vec![0f32; lb.slot_len()];
        letterbox_into(&frame, &lb, &mut got).unwrap();
        let want = reference(&frame, &lb);
        let worst = max_abs_diff(&got, &want);
        assert!(
            worst < 1e-4,
            "{format:?} {w}x{h} -> {lb:?}: max error {worst}"
        );

        for threads in [2, 3, 7] {
            let mut par = vec![0f32; lb.slot_len()];
            letterbox_into_threads(&frame, &lb, &mut par, threads).unwrap();
            assert!(
                par == got,
                "{format:?} with {threads} threads differs from one thread"
            );
        }

        let mut half = vec![f16::ZERO; lb.slot_len()];
        letterbox_into(&frame, &lb, &mut half).unwrap();
        let worst = half
            .iter()
            .zip(&want)
            .map(|(a, b)| (a.to_f32() - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 2e-3, "f16 {format:?}: max error {worst}");
    }

    const ALL: [PixelFormat; 6] = [
        PixelFormat::Rgb,
        PixelFormat::Rgba,
        PixelFormat::Bgr,
        PixelFormat::Bgrx,
        PixelFormat::I420,
        PixelFormat::Nv12,
    ];

    #[test]
    fn every_format_matches_reference_downscaled_square() {
        for f in ALL {
            check(f, 97, 61, (64, 64), false);
        }
    }

    #[test]
    fn every_format_matches_reference_rect_and_upscaled() {
        for f in ALL {
            check(f, 40, 30, (96, 96), true);
            check(f, 64, 48, (64, 64), true); // unscaled fast path
        }
    }

    #[test]
    fn letterbox_geometry_matches_ultralytics() {
        // 1920x1080 into 640 with rect: 640x360 padded to 640x384, 12 rows on top.
        let lb = Letterbox::new(1920, 1080, (640, 640), 32, true);
        assert_eq!(
            (lb.new_w, lb.new_h, lb.dst_w, lb.dst_h, lb.left, lb.top),
            (640, 360, 640, 384, 0, 12)
        );
        let sq = Letterbox::new(1920, 1080, (640, 640), 32, false);
        assert_eq!((sq.dst_w, sq.dst_h, sq.top), (640, 640, 140));
        assert_eq!(sq.to_frame(320.0, 140.0), (960.0, 0.0));
        let lb = Letterbox::new(640, 480, (640, 640), 32, true);
        assert_eq!((lb.dst_w, lb.dst_h, lb.left, lb.top), (640, 480, 0, 0));
    }

    #[test]
    fn short_plane_is_an_error_not_a_panic() {
        let data = vec![0u8; 10];
        let frame = FrameView {
            format: PixelFormat::Rgb,
            width: 8,
            height: 8,
            planes: [&data, &[], &[]],
            strides: [24, 0, 0],
            matrix: YuvMatrix::Bt601,
            full_range: false,
        };
        let lb = Letterbox::new(8, 8, (8, 8), 1, false);
        let mut dst = vec![0f32; lb.slot_len()];
        assert!(letterbox_into(&frame, &lb, &mut dst).is_err());
    }
}
