// SPDX-License-Identifier: MIT OR Apache-2.0
//! Letterbox preprocessing as an ONNX graph, run by ONNX Runtime on the model's execution
//! provider: frames go in as uint8 (a quarter of the bytes of float32) and come out as the
//! letterboxed, normalised float NCHW batch, computed in the same order as the CPU path in
//! [`crate::preprocess`] (chroma repeated over 2x2 blocks, bilinear in the frame's own channels,
//! then YUV → RGB, clamp, pad 114, / 255). Unlike the CPU path the bilinear resize runs on
//! uint8 and drops the fraction of its result (within one level, 1/255 after normalising):
//! every full-resolution step moves bytes, and only the model-size image is widened to float.
//! Built with ORT's model editor, so no ONNX protobuf handling is written here.
//!
//! Input: `frames`, uint8 `[batch, frame_len]`, each frame in its tight layout (see
//! [`tight_len`] and [`copy_tight`]): packed rows of `width * bpp` bytes, or the Y plane
//! followed by the chroma plane(s) of `ceil(w/2) x ceil(h/2)` samples.

use half::f16;
use ort::editor::{Graph, Model, Node, Opset, ONNX_DOMAIN};
use ort::memory::Allocator;
use ort::operator::Attribute;
use ort::session::Session;
use ort::value::{
    Outlet, Shape, SymbolicDimensions, Tensor, TensorElementType, TensorRef, ValueType,
};

use crate::model::Precision;
use crate::preprocess::{yuv_coeffs, FrameView, Letterbox, PixelFormat, YuvMatrix};
use crate::InferError;

/// What a preprocessing graph is built for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GraphSpec {
    pub format: PixelFormat,
    pub matrix: YuvMatrix,
    pub full_range: bool,
    pub batch: usize,
    pub letterbox: Letterbox,
    pub output: Precision,
}

fn bpp(format: PixelFormat) -> usize {
    match format {
        PixelFormat::Rgb | PixelFormat::Bgr => 3,
        PixelFormat::Rgba | PixelFormat::Bgrx => 4,
        PixelFormat::I420 | PixelFormat::Nv12 => 1,
    }
}

/// Bytes of one frame in its tight layout.
pub fn tight_len(format: PixelFormat, w: usize, h: usize) -> usize {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    match format {
        PixelFormat::I420 | PixelFormat::Nv12 => w * h + 2 * cw * ch,
        f => w * h * bpp(f),
    }
}

/// A frame's tight layout: (plane, bytes per row, rows) of each plane, in order.
pub fn tight_planes(
    format: PixelFormat,
    w: usize,
    h: usize,
) -> impl Iterator<Item = (usize, usize, usize)> {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (planes, n) = match format {
        PixelFormat::I420 => ([(0, w, h), (1, cw, ch), (2, cw, ch)], 3),
        PixelFormat::Nv12 => ([(0, w, h), (1, 2 * cw, ch), (2, 0, 0)], 2),
        f => ([(0, w * bpp(f), h), (1, 0, 0), (2, 0, 0)], 1),
    };
    planes.into_iter().take(n)
}

/// Copies a frame's planes, row by row without stride padding, into `dst` (tight layout).
pub fn copy_tight(frame: &FrameView, dst: &mut [u8]) {
    copy_tight_threads(frame, dst, 1)
}

/// [`copy_tight`] with each plane's rows split into up to `threads` tasks on rayon's pool (8
/// workers copy a batch of 32 1080p NV12 frames into pinned memory in 7 ms on the H100 host).
pub fn copy_tight_threads(frame: &FrameView, dst: &mut [u8], threads: usize) {
    use rayon::prelude::*;
    let mut rest = dst;
    for (plane, row, n) in tight_planes(frame.format, frame.width, frame.height) {
        let (out, tail) = rest.split_at_mut(row * n);
        rest = tail;
        if out.is_empty() {
            continue;
        }
        let (src, stride) = (frame.planes[plane], frame.strides[plane]);
        // Rows per task: all of them on one thread, else at least 16 (small tasks cost more
        // than they copy).
        let per_task = if threads > 1 {
            n.div_ceil(threads).max(16)
        } else {
            n.max(1)
        };
        let copy = |(i, block): (usize, &mut [u8])| {
            for (k, line) in block.chunks_exact_mut(row).enumerate() {
                let s = (i * per_task + k) * stride;
                line.copy_from_slice(&src[s..s + row]);
            }
        };
        if threads > 1 {
            out.par_chunks_mut(row * per_task)
                .enumerate()
                .for_each(copy);
        } else {
            out.chunks_mut(row * per_task).enumerate().for_each(copy);
        }
    }
}

/// The ONNX element type of a model tensor in `precision`.
fn element_type(precision: Precision) -> TensorElementType {
    match precision {
        Precision::F32 => TensorElementType::Float32,
        Precision::F16 => TensorElementType::Float16,
    }
}

fn outlet(name: &str, ty: TensorElementType, dims: &[i64]) -> Outlet {
    Outlet::new(
        name,
        ValueType::Tensor {
            ty,
            shape: Shape::new(dims.iter().copied()),
            dimension_symbols: SymbolicDimensions::empty(dims.len()),
        },
    )
}

/// Builds the graph's nodes and initializers.
struct Builder {
    graph: Graph,
    alloc: Allocator,
    n: usize,
}

impl Builder {
    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<Attribute>) -> ort::Result<String> {
        self.n += 1;
        let out = format!("t{}", self.n);
        self.graph.add_node(Node::new(
            op,
            ONNX_DOMAIN,
            &out,
            inputs,
            [out.as_str()],
            attrs,
        )?)?;
        Ok(out)
    }

    fn ints(&mut self, values: &[i64]) -> ort::Result<String> {
        self.n += 1;
        let name = format!("c{}", self.n);
        let mut t = Tensor::<i64>::new(&self.alloc, [values.len() as i64])?;
        t.extract_tensor_mut().1.copy_from_slice(values);
        self.graph.add_initializer(&name, t, false)?;
        Ok(name)
    }

    fn floats(&mut self, dims: &[i64], values: &[f32]) -> ort::Result<String> {
        self.n += 1;
        let name = format!("c{}", self.n);
        let mut t = Tensor::<f32>::new(&self.alloc, dims.to_vec())?;
        t.extract_tensor_mut().1.copy_from_slice(values);
        self.graph.add_initializer(&name, t, false)?;
        Ok(name)
    }

    /// `x[.., start:end]` along `axis`.
    fn slice(&mut self, x: &str, axis: i64, start: i64, end: i64) -> ort::Result<String> {
        let (s, e, a) = (
            self.ints(&[start])?,
            self.ints(&[end])?,
            self.ints(&[axis])?,
        );
        self.node("Slice", &[x, &s, &e, &a], vec![])
    }

    fn reshape(&mut self, x: &str, dims: &[i64]) -> ort::Result<String> {
        let d = self.ints(dims)?;
        self.node("Reshape", &[x, &d], vec![])
    }

    fn resize(
        &mut self,
        x: &str,
        sizes: &[i64],
        mode: &str,
        coords: &str,
        nearest: &str,
    ) -> ort::Result<String> {
        let s = self.ints(sizes)?;
        self.node(
            "Resize",
            &[x, "", "", &s],
            vec![
                Attribute::new("mode", mode.to_string())?,
                Attribute::new("coordinate_transformation_mode", coords.to_string())?,
                Attribute::new("nearest_mode", nearest.to_string())?,
            ],
        )
    }
}

fn build(spec: &GraphSpec) -> ort::Result<Model> {
    let lb = &spec.letterbox;
    let (w, h) = (lb.src_w as i64, lb.src_h as i64);
    let (cw, ch) = ((lb.src_w.div_ceil(2)) as i64, (lb.src_h.div_ceil(2)) as i64);
    let b = spec.batch as i64;
    let len = tight_len(spec.format, lb.src_w, lb.src_h) as i64;
    let out_ty = element_type(spec.output);
    let mut g = Graph::new()?;
    g.set_inputs([outlet("frames", TensorElementType::Uint8, &[b, len])])?;
    g.set_outputs([outlet(
        "images",
        out_ty,
        &[b, 3, lb.dst_h as i64, lb.dst_w as i64],
    )])?;
    let mut x = Builder {
        graph: g,
        alloc: Allocator::default(),
        n: 0,
    };
    // Everything up to the resize stays uint8 (a quarter of the bytes of float at full
    // resolution); the cast to float comes after it, at model-input size.
    let f = "frames".to_string();
    let yuv = matches!(spec.format, PixelFormat::I420 | PixelFormat::Nv12);
    // [B, C, H, W] in the frame's own channels.
    let chans = if yuv {
        let y = x.slice(&f, 1, 0, w * h)?;
        let y = x.reshape(&y, &[b, 1, h, w])?;
        let uv = match spec.format {
            PixelFormat::Nv12 => {
                let uv = x.slice(&f, 1, w * h, len)?;
                let uv = x.reshape(&uv, &[b, ch, cw, 2])?;
                x.node(
                    "Transpose",
                    &[&uv],
                    vec![Attribute::new("perm", vec![0i64, 3, 1, 2])?],
                )?
            }
            _ => {
                let u = x.slice(&f, 1, w * h, w * h + cw * ch)?;
                let v = x.slice(&f, 1, w * h + cw * ch, len)?;
                let u = x.reshape(&u, &[b, 1, ch, cw])?;
                let v = x.reshape(&v, &[b, 1, ch, cw])?;
                x.node("Concat", &[&u, &v], vec![Attribute::new("axis", 1i64)?])?
            }
        };
        // Each chroma sample over its 2x2 block (x_src = floor(x / 2)), cropped to the frame.
        let up = x.resize(
            &uv,
            &[b, 2, 2 * ch, 2 * cw],
            "nearest",
            "asymmetric",
            "floor",
        )?;
        let up = x.slice(&up, 2, 0, h)?;
        let up = x.slice(&up, 3, 0, w)?;
        x.node("Concat", &[&y, &up], vec![Attribute::new("axis", 1i64)?])?
    } else {
        let p = bpp(spec.format) as i64;
        let img = x.reshape(&f, &[b, h, w, p])?;
        let nchw = x.node(
            "Transpose",
            &[&img],
            vec![Attribute::new("perm", vec![0i64, 3, 1, 2])?],
        )?;
        let order: &[i64] = match spec.format {
            PixelFormat::Bgr | PixelFormat::Bgrx => &[2, 1, 0],
            _ => &[0, 1, 2],
        };
        let idx = x.ints(order)?;
        x.node(
            "Gather",
            &[&nchw, &idx],
            vec![Attribute::new("axis", 1i64)?],
        )?
    };
    let small = x.resize(
        &chans,
        &[b, 3, lb.new_h as i64, lb.new_w as i64],
        "linear",
        "half_pixel",
        "round_prefer_floor",
    )?;
    let mut img = x.node("Cast", &[&small], vec![Attribute::new("to", 1i64)?])?;
    if yuv {
        // YUV → RGB as a 1x1 convolution (the colour matrix) with the offsets in the bias.
        let c = yuv_coeffs(spec.matrix, spec.full_range);
        let (ys, yo, cs) = (c[0], c[1], c[2]);
        let weights = [
            ys,
            0.0,
            c[3] * cs,
            ys,
            c[4] * cs,
            c[5] * cs,
            ys,
            c[6] * cs,
            0.0,
        ];
        let bias = [
            -yo * ys - 128.0 * cs * c[3],
            -yo * ys - 128.0 * cs * (c[4] + c[5]),
            -yo * ys - 128.0 * cs * c[6],
        ];
        let wt = x.floats(&[3, 3, 1, 1], &weights)?;
        let bs = x.floats(&[3], &bias)?;
        let rgb = x.node("Conv", &[&img, &wt, &bs], vec![])?;
        let (lo, hi) = (x.floats(&[], &[0.0])?, x.floats(&[], &[255.0])?);
        img = x.node("Clip", &[&rgb, &lo, &hi], vec![])?;
    }
    let (top, left) = (lb.top as i64, lb.left as i64);
    let bottom = (lb.dst_h - lb.new_h - lb.top) as i64;
    let right = (lb.dst_w - lb.new_w - lb.left) as i64;
    let pads = x.ints(&[0, 0, top, left, 0, 0, bottom, right])?;
    let pad_value = x.floats(&[], &[crate::preprocess::PAD_VALUE as f32])?;
    let padded = x.node("Pad", &[&img, &pads, &pad_value], vec![])?;
    let inv = x.floats(&[], &[1.0 / 255.0])?;
    let last = match spec.output {
        Precision::F32 => "images".to_string(),
        Precision::F16 => "normalised".to_string(),
    };
    x.graph.add_node(Node::new(
        "Mul",
        ONNX_DOMAIN,
        "normalise",
        [padded.as_str(), inv.as_str()],
        [last.as_str()],
        [],
    )?)?;
    if spec.output == Precision::F16 {
        x.graph.add_node(Node::new(
            "Cast",
            ONNX_DOMAIN,
            "to_f16",
            ["normalised"],
            ["images"],
            [Attribute::new("to", 10i64)?],
        )?)?;
    }
    let mut model = Model::new([Opset::new(ONNX_DOMAIN, 18)?])?;
    model.set_graph(x.graph)?;
    Ok(model)
}

/// A preprocessing session: uint8 frames in, the model's input batch out.
pub struct GraphPreprocess {
    session: Session,
    spec: GraphSpec,
}

impl GraphPreprocess {
    /// Builds the graph for `spec` and opens it with `builder` (which carries the execution
    /// provider: the graph runs where the model runs).
    pub fn new(
        spec: GraphSpec,
        builder: &ort::session::builder::SessionBuilder,
    ) -> Result<Self, InferError> {
        let err = |e: ort::Error| InferError::Runtime(format!("preprocessing graph: {e}"));
        let model = build(&spec).map_err(err)?;
        let session = model.into_session(builder).map_err(err)?;
        Ok(GraphPreprocess { session, spec })
    }

    pub fn spec(&self) -> &GraphSpec {
        &self.spec
    }

    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    pub(crate) fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Runs on host memory and returns the batch as f32 (for tests and the CPU provider).
    pub fn run_to_host(&mut self, frames: &[u8]) -> Result<Vec<f32>, InferError> {
        let err = |e: ort::Error| InferError::Runtime(format!("preprocessing graph: {e}"));
        let len = tight_len(
            self.spec.format,
            self.spec.letterbox.src_w,
            self.spec.letterbox.src_h,
        );
        let input = TensorRef::from_array_view(([self.spec.batch, len], frames)).map_err(err)?;
        let out = self
            .session
            .run(ort::inputs!["frames" => input])
            .map_err(err)?;
        Ok(match self.spec.output {
            Precision::F32 => out["images"]
                .try_extract_tensor::<f32>()
                .map_err(err)?
                .1
                .to_vec(),
            Precision::F16 => out["images"]
                .try_extract_tensor::<f16>()
                .map_err(err)?
                .1
                .iter()
                .map(|v| v.to_f32())
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ensure_runtime, environment};
    use crate::preprocess::{letterbox_into, max_abs_diff, TestFrame};

    /// The graph gives what the CPU letterbox gives, for every format, scaled both ways.
    #[test]
    fn graph_matches_cpu_letterbox() {
        if ensure_runtime(None).is_err() {
            panic!("ONNX Runtime is needed for this test (./setup.sh installs it)");
        }
        let env = environment().unwrap();
        let formats = [
            PixelFormat::Rgb,
            PixelFormat::Rgba,
            PixelFormat::Bgr,
            PixelFormat::Bgrx,
            PixelFormat::I420,
            PixelFormat::Nv12,
        ];
        for format in formats {
            for (w, h, target) in [(97usize, 61usize, 64usize), (41, 29, 96)] {
                let lb = Letterbox::new(w, h, (target, target), 32, true);
                let batch = 2;
                let spec = GraphSpec {
                    format,
                    matrix: YuvMatrix::Bt601,
                    full_range: false,
                    batch,
                    letterbox: lb,
                    output: Precision::F32,
                };
                let mut g = GraphPreprocess::new(spec, &Session::builder(env).unwrap()).unwrap();
                let len = tight_len(format, w, h);
                let mut tight = vec![0u8; batch * len];
                let mut want = Vec::new();
                for i in 0..batch {
                    let frame = TestFrame::random(format, w, h, 0x9E37_79B9 + i as u32);
                    let view = frame.view(YuvMatrix::Bt601);
                    copy_tight(&view, &mut tight[i * len..(i + 1) * len]);
                    let mut cpu = vec![0f32; lb.slot_len()];
                    letterbox_into(&view, &lb, &mut cpu).unwrap();
                    want.extend(cpu);
                }
                let got = g.run_to_host(&tight).unwrap();
                assert_eq!(got.len(), want.len());
                let worst = max_abs_diff(&got, &want);
                // The uint8 resize drops the fraction (ONNX Runtime's CPU kernel truncates): up to
                // one level, before the colour matrix for YUV (luma gain 1.16 plus a chroma gain
                // up to 2.3 at limited range).
                let bound = if matches!(format, PixelFormat::I420 | PixelFormat::Nv12) {
                    3.5 / 255.0
                } else {
                    1.0 / 255.0 + 1e-5
                };
                assert!(
                    worst <= bound,
                    "{format:?} {w}x{h} -> {lb:?}: worst difference {worst}"
                );
            }
        }
    }

    #[test]
    fn threaded_tight_copy_is_the_same_copy() {
        for format in [
            PixelFormat::Bgr,
            PixelFormat::Bgrx,
            PixelFormat::I420,
            PixelFormat::Nv12,
        ] {
            let (w, h) = (203, 301);
            let frame = TestFrame::random(format, w, h, 11);
            let view = frame.view(YuvMatrix::Bt601);
            let len = tight_len(format, w, h);
            let (mut one, mut four) = (vec![0u8; len], vec![1u8; len]);
            copy_tight(&view, &mut one);
            copy_tight_threads(&view, &mut four, 4);
            assert!(one == four, "{format:?}");
            // Row 200 of plane 0 starts at 200 tight rows.
            let row = len_of_row(format, w);
            assert_eq!(
                &one[200 * row..201 * row],
                &view.planes[0][200 * view.strides[0]..][..row]
            );
        }
    }

    /// Bytes of one row of plane 0, worked out here rather than by `tight_planes`, so the
    /// test does not check the copy against its own layout.
    fn len_of_row(format: PixelFormat, w: usize) -> usize {
        match format {
            PixelFormat::I420 | PixelFormat::Nv12 => w,
            f => w * bpp(f),
        }
    }

    /// The chained path (frames batch, graph preprocessing, IoBinding, model) gives the model
    /// output the CPU-letterbox path gives.
    #[test]
    fn frames_batch_matches_host_batch() {
        use crate::decode::ClassRows;
        use crate::engine::{Engine, EngineConfig};
        let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/models/planted-det-raw-dyn.onnx");
        let (mut engine, _) = Engine::load(&EngineConfig {
            model,
            ..Default::default()
        })
        .unwrap();
        let (w, h, batch) = (160usize, 90usize, 3usize);
        let lb = Letterbox::new(w, h, engine.info.imgsz, engine.info.stride, true);
        for format in [PixelFormat::Bgrx, PixelFormat::Nv12] {
            let spec = GraphSpec {
                format,
                matrix: YuvMatrix::Bt709,
                full_range: false,
                batch,
                letterbox: lb,
                output: engine.info.input_precision,
            };
            let mut host = engine.new_batch(batch, lb);
            let mut frames = engine
                .new_frames_batch(spec, crate::FramesIn::Host)
                .unwrap();
            assert_eq!(host.graph_spec(), None);
            assert_eq!(frames.graph_spec(), Some(&spec));
            for i in 0..batch {
                let frame = TestFrame::random(format, w, h, 7 + i as u32);
                host.fill_slot(i, &frame.view(YuvMatrix::Bt709)).unwrap();
                frames.fill_slot(i, &frame.view(YuvMatrix::Bt709)).unwrap();
            }
            let want = engine.run(&host, ClassRows::All).unwrap().data.to_vec();
            let got = engine.run(&frames, ClassRows::All).unwrap();
            assert_eq!(got.shape[0], batch);
            assert_eq!(got.data.len(), want.len());
            let worst = max_abs_diff(got.data, &want);
            // The planted score is the frame mean: equal within the uint8 resize's rounding
            // (at most one level, 1/255 ≈ 0.0039; about half of that on average).
            assert!(worst < 3e-3, "{format:?}: worst difference {worst}");
            // A frame of another size is refused, not copied out of bounds.
            let other = TestFrame::random(format, w / 2, h, 1);
            let e = frames
                .fill_slot(0, &other.view(YuvMatrix::Bt709))
                .unwrap_err();
            assert!(e.why.contains("the batch holds"), "{}", e.why);
            // A slot past the batch is refused, not written out of bounds.
            let e = frames
                .fill_slot(
                    batch,
                    &TestFrame::random(format, w, h, 2).view(YuvMatrix::Bt709),
                )
                .unwrap_err();
            assert!(e.why.contains("slot out of range"), "{}", e.why);
            // Device frames go only to a batch in device memory.
            assert!(!frames.frames_on_device());
            let device = crate::cuda::DeviceFrame {
                format,
                width: w,
                height: h,
                planes: [0; 3],
                strides: [w; 3],
                context: std::ptr::null_mut(),
            };
            for batch in [&mut frames, &mut host] {
                // SAFETY: refused before any address is touched.
                let e = unsafe { batch.fill_slot_device(0, &device) }.unwrap_err();
                assert!(
                    e.why.contains("host memory") || e.why.contains("letterboxed"),
                    "{}",
                    e.why
                );
            }
        }
    }
}
