//! The letterbox as an ONNX graph built with ORT's model editor (uint8 NHWC frame in, float NCHW
//! out: Cast, Transpose, Resize linear/half_pixel, Pad 114, Mul 1/255), compared with the CPU
//! letterbox on the same frame. The groundwork for issue 3: run as its own session on the GPU,
//! chained to the model's session through device memory, frames travel as uint8.
//!
//!     cargo run -p courtvision-infer --example preprocess_graph
use courtvision_infer::engine::ensure_runtime;
use courtvision_infer::preprocess::{letterbox_into, FrameView, Letterbox, PixelFormat, YuvMatrix};
use ort::editor::{Graph, Model, Node, Opset, ONNX_DOMAIN};
use ort::memory::Allocator;
use ort::operator::Attribute;
use ort::value::{Outlet, Shape, SymbolicDimensions, Tensor, TensorElementType, ValueType};

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

fn main() -> ort::Result<()> {
    ensure_runtime(None).expect("ORT");
    let (w, h, c) = (97usize, 61usize, 3usize);
    let lb = Letterbox::new(w, h, (64, 64), 32, false);
    let mut g = Graph::new()?;
    g.set_inputs([outlet(
        "frames",
        TensorElementType::Uint8,
        &[1, h as i64, w as i64, c as i64],
    )])?;
    g.set_outputs([outlet(
        "images",
        TensorElementType::Float32,
        &[1, 3, lb.dst_h as i64, lb.dst_w as i64],
    )])?;
    g.add_node(Node::new(
        "Cast",
        ONNX_DOMAIN,
        "cast",
        ["frames"],
        ["f"],
        [Attribute::new("to", 1i64)?],
    )?)?;
    g.add_node(Node::new(
        "Transpose",
        ONNX_DOMAIN,
        "nchw",
        ["f"],
        ["nchw"],
        [Attribute::new("perm", vec![0i64, 3, 1, 2])?],
    )?)?;
    g.add_node(Node::new(
        "Resize",
        ONNX_DOMAIN,
        "resize",
        ["nchw", "", "", "sizes"],
        ["resized"],
        [
            Attribute::new("mode", "linear".to_string())?,
            Attribute::new("coordinate_transformation_mode", "half_pixel".to_string())?,
        ],
    )?)?;
    g.add_node(Node::new(
        "Pad",
        ONNX_DOMAIN,
        "pad",
        ["resized", "pads", "padval"],
        ["padded"],
        [],
    )?)?;
    g.add_node(Node::new(
        "Mul",
        ONNX_DOMAIN,
        "norm",
        ["padded", "inv255"],
        ["images"],
        [],
    )?)?;
    let alloc = Allocator::default();
    let mut t = Tensor::<i64>::new(&alloc, [4i64])?;
    t.extract_tensor_mut()
        .1
        .copy_from_slice(&[1, 3, lb.new_h as i64, lb.new_w as i64]);
    g.add_initializer("sizes", t, false)?;
    let (top, left) = (lb.top as i64, lb.left as i64);
    let (bottom, right) = (
        (lb.dst_h - lb.new_h - lb.top) as i64,
        (lb.dst_w - lb.new_w - lb.left) as i64,
    );
    let mut t = Tensor::<i64>::new(&alloc, [8i64])?;
    t.extract_tensor_mut()
        .1
        .copy_from_slice(&[0, 0, top, left, 0, 0, bottom, right]);
    g.add_initializer("pads", t, false)?;
    let mut t = Tensor::<f32>::new(&alloc, [0i64; 0])?;
    t.extract_tensor_mut().1[0] = 114.0;
    g.add_initializer("padval", t, false)?;
    let mut t = Tensor::<f32>::new(&alloc, [0i64; 0])?;
    t.extract_tensor_mut().1[0] = 1.0 / 255.0;
    g.add_initializer("inv255", t, false)?;
    let mut model = Model::new([Opset::new(ONNX_DOMAIN, 18)?])?;
    model.set_graph(g)?;
    let env = courtvision_infer::engine::environment().expect("environment");
    let mut session = model.into_session(&ort::session::Session::builder(env)?)?;

    let frame: Vec<u8> = (0..w * h * c)
        .map(|i| ((i * 2654435761usize) >> 13) as u8)
        .collect();
    let view = FrameView {
        format: PixelFormat::Rgb,
        width: w,
        height: h,
        planes: [&frame, &[], &[]],
        strides: [w * c, 0, 0],
        matrix: YuvMatrix::Bt601,
        full_range: false,
    };
    let mut cpu = vec![0f32; lb.slot_len()];
    letterbox_into(&view, &lb, &mut cpu).unwrap();
    let input = Tensor::<u8>::from_array(([1usize, h, w, c], frame.clone()))?;
    let out = session.run(ort::inputs!["frames" => input])?;
    let (_, graph) = out["images"].try_extract_tensor::<f32>()?;
    let worst = graph
        .iter()
        .zip(&cpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    println!("letterbox {lb:?}: graph vs CPU worst difference {worst:e}");
    Ok(())
}
