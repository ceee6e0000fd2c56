// SPDX-License-Identifier: MIT OR Apache-2.0
//! Nodes appended to a YOLO model on its device: the best-class output.
//!
//! A raw head gives `[B, 4 + nc + kv, A]`: every class score of every anchor. The host decoder
//! only wants each anchor's best class, so [`with_best_class`] appends nodes that keep per
//! anchor the box, the best score, its class id and the keypoints, as float32 `[B, 6 + kv, A]`
//! ([`BEST_OUTPUT`]). Run where the model runs, that shrinks what crosses to the host and what
//! the host scans by `(4 + nc) / 6`: 14x for 80 classes, 54 MB → 4 MB for a batch of 32 at
//! 640x384, and most of the host scan gone (0.45 ms per 640x640 frame for 80 classes on a
//! 2-core EPYC). The exported output stays an output (the full rows, for a class filter).
//!
//! The nodes are added by protobuf merge: a serialised ModelProto followed by another one is
//! the two merged, repeated fields (nodes, initializers, graph outputs) appended. So the model
//! is never parsed here, only a small ModelProto of the new nodes is encoded, with prost and
//! the handful of onnx.proto messages it needs declared below. (ONNX Runtime's model editor
//! would do this, but ort's editable session cannot be opened with its `api-23` features on,
//! which the memory-info calls need.) The nodes run under the model's own opset: Slice, ArgMax,
//! GatherElements, Cast and Concat mean the same from opset 13 on.

use prost::Message;

/// Name of the output [`with_best_class`] adds.
pub const BEST_OUTPUT: &str = "courtvision_best";

/// onnx.proto's TensorProto.DataType values used here.
const FLOAT: i32 = 1;
const INT64: i32 = 7;
const FLOAT16: i32 = 10;

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

/// An INT attribute (type 2).
#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(int64, tag = "3")]
    i: i64,
    #[prost(int32, tag = "20")]
    r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(string, tag = "8")]
    name: String,
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    elem_type: i32,
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

/// A dimension: its size, or none (dynamic).
#[derive(Clone, PartialEq, Message)]
struct Dimension {
    #[prost(int64, optional, tag = "1")]
    dim_value: Option<i64>,
}

/// Collects the new nodes and initializers, every name prefixed so none meets the model's.
struct Nodes {
    graph: GraphProto,
    n: usize,
}

impl Nodes {
    fn name(&mut self) -> String {
        self.n += 1;
        format!("courtvision_{}", self.n)
    }

    /// Adds `op` with integer attributes; returns its `outputs` output names (or `named`).
    fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: &[(&str, i64)],
        outputs: usize,
        named: Option<&str>,
    ) -> Vec<String> {
        let name = self.name();
        let output = match named {
            Some(n) => vec![n.to_string()],
            None => (0..outputs).map(|i| format!("{name}_{i}")).collect(),
        };
        self.graph.node.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: output.clone(),
            name,
            op_type: op.into(),
            attribute: attrs
                .iter()
                .map(|&(name, i)| AttributeProto {
                    name: name.into(),
                    i,
                    r#type: 2,
                })
                .collect(),
        });
        output
    }

    fn ints(&mut self, values: &[i64]) -> String {
        let name = self.name();
        self.graph.initializer.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: INT64,
            name: name.clone(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// `x[:, start:end]`.
    fn rows(&mut self, x: &str, start: i64, end: i64) -> String {
        let (s, e, a) = (self.ints(&[start]), self.ints(&[end]), self.ints(&[1]));
        self.node("Slice", &[x, &s, &e, &a], &[], 1, None).remove(0)
    }
}

/// `model` (a serialised ONNX model) with [`BEST_OUTPUT`] appended to its raw head `output` of
/// `nc` classes and `kv` keypoint values; `f16` when that output is float16. `dims` are the
/// output's dimensions, `-1` where dynamic.
pub fn with_best_class(
    model: &[u8],
    output: &str,
    f16: bool,
    dims: [i64; 3],
    nc: usize,
    kv: usize,
) -> Vec<u8> {
    let mut x = Nodes {
        graph: GraphProto::default(),
        n: 0,
    };
    let (nc, kv) = (nc as i64, kv as i64);
    let boxes = x.rows(output, 0, 4);
    let scores = x.rows(output, 4, 4 + nc);
    // The first class with the largest score (ArgMax's order, select_last_index 0), and that
    // score. Not TopK with k=1 on the class axis: a top-k search per anchor, slow on ONNX
    // Runtime's CUDA provider (H100, yolo11n fp16 b32 at 640x384: the elements' run took
    // 6.75 ms a batch with TopK against 6.48 with these two nodes; two sessions side by side
    // 5733 against 6542 frames/s).
    let best = x
        .node(
            "ArgMax",
            &[&scores],
            &[("axis", 1), ("keepdims", 1)],
            1,
            None,
        )
        .remove(0);
    let score = x
        .node("GatherElements", &[&scores, &best], &[("axis", 1)], 1, None)
        .remove(0);
    let ty = if f16 { FLOAT16 } else { FLOAT };
    let class = x
        .node("Cast", &[&best], &[("to", ty as i64)], 1, None)
        .remove(0);
    let mut parts = vec![boxes, score, class];
    if kv > 0 {
        parts.push(x.rows(output, 4 + nc, 4 + nc + kv));
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    if f16 {
        let rows = x.node("Concat", &parts, &[("axis", 1)], 1, None).remove(0);
        x.node(
            "Cast",
            &[&rows],
            &[("to", FLOAT as i64)],
            1,
            Some(BEST_OUTPUT),
        );
    } else {
        x.node("Concat", &parts, &[("axis", 1)], 1, Some(BEST_OUTPUT));
    }
    let dim = |d: i64| Dimension {
        dim_value: (d >= 0).then_some(d),
    };
    x.graph.output.push(ValueInfoProto {
        name: BEST_OUTPUT.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto {
                    dim: vec![dim(dims[0]), dim(6 + kv), dim(dims[2])],
                }),
            }),
        }),
    });
    let mut bytes = model.to_vec();
    ModelProto {
        graph: Some(x.graph),
    }
    .encode(&mut bytes)
    .expect("a Vec grows as needed");
    bytes
}

#[cfg(test)]
mod tests {
    use crate::decode::{decode_frame, ClassRows, DecodeParams, FrameObjects};
    use crate::engine::{Engine, EngineConfig};
    use crate::preprocess::{max_abs_diff, Letterbox, PixelFormat, TestFrame, YuvMatrix};

    /// The best-class output holds, per anchor, the box, the largest class score and the first
    /// class with it, as computed from the exported output; decoding it gives the objects
    /// decoding every class row gives; and every class row is still there for a class filter.
    #[test]
    fn best_class_output_is_the_best_of_the_class_rows() {
        let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/models/tiny-det-raw-80.onnx");
        assert!(model.exists(), "{} is missing", model.display());
        let load = |plain_output| {
            Engine::load(&EngineConfig {
                model: model.clone(),
                plain_output,
                ..Default::default()
            })
            .unwrap()
            .0
        };
        let (mut plain, mut best) = (load(true), load(false));
        let nc = plain.info.num_classes();
        assert_eq!(nc, 80);
        let lb = Letterbox::new(320, 180, (160, 160), 32, true);
        let mut batch = plain.new_batch(2, lb);
        for i in 0..2 {
            let frame = TestFrame::random(PixelFormat::Rgb, 320, 180, 11 + i as u32);
            batch.fill_slot(i, &frame.view(YuvMatrix::Bt709)).unwrap();
        }
        let full = plain.run(&batch, ClassRows::Best).unwrap();
        // No best-class output on the plain engine: every class row, whatever was asked.
        assert_eq!(full.rows, ClassRows::All);
        let (full_data, full_shape) = (full.data.to_vec(), full.shape);
        let out = best.run(&batch, ClassRows::Best).unwrap();
        assert_eq!(out.rows, ClassRows::Best);
        let anchors = full_shape[2];
        assert_eq!(out.shape, [2, 6, anchors]);
        let best_data = out.data.to_vec();
        // Frame `f` of a `[2, rows, anchors]` output.
        let frame = |data: &[f32], f: usize, rows: usize| {
            data[f * rows * anchors..][..rows * anchors].to_vec()
        };
        let mut scores = Vec::new();
        for f in 0..2 {
            let (full_f, best_f) = (frame(&full_data, f, 4 + nc), frame(&best_data, f, 6));
            for a in 0..anchors {
                let at = |data: &[f32], row: usize| data[row * anchors + a];
                for r in 0..4 {
                    assert!(
                        (at(&best_f, r) - at(&full_f, r)).abs() < 1e-4,
                        "box row {r}"
                    );
                }
                let (mut top, mut class) = (f32::NEG_INFINITY, 0);
                for c in 0..nc {
                    if at(&full_f, 4 + c) > top {
                        (top, class) = (at(&full_f, 4 + c), c);
                    }
                }
                assert!((at(&best_f, 4) - top).abs() < 1e-5, "score of anchor {a}");
                assert_eq!(at(&best_f, 5), class as f32, "class of anchor {a}");
                scores.push(top);
            }
        }
        // A threshold some tenth of the anchors pass, so that there are objects to compare.
        scores.sort_by(f32::total_cmp);
        let params = DecodeParams {
            conf_threshold: scores[scores.len() * 9 / 10],
            ..Default::default()
        };
        let (mut want, mut got) = (FrameObjects::default(), FrameObjects::default());
        let info = &plain.info;
        for f in 0..2 {
            let (full_f, best_f) = (frame(&full_data, f, 4 + nc), frame(&best_data, f, 6));
            let all_rows = ((4 + nc, anchors), ClassRows::All);
            decode_frame(info, &params, &full_f, all_rows, &lb, &mut want);
            let best_rows = ((6, anchors), ClassRows::Best);
            decode_frame(info, &params, &best_f, best_rows, &lb, &mut got);
            assert!(!want.objects.is_empty());
            assert_eq!(got.objects.len(), want.objects.len());
            for (g, w) in got.objects.iter().zip(&want.objects) {
                assert_eq!(g.class_id, w.class_id);
                assert!((g.score - w.score).abs() < 1e-5);
                assert!(g
                    .bbox
                    .iter()
                    .zip(&w.bbox)
                    .all(|(a, b)| (a - b).abs() < 1e-2));
            }
        }
        // Every class row, from the same session, for a class filter.
        let all = best.run(&batch, ClassRows::All).unwrap();
        assert_eq!(all.rows, ClassRows::All);
        assert_eq!(all.shape, full_shape);
        let worst = max_abs_diff(all.data, &full_data);
        assert!(worst < 1e-4, "worst difference {worst}");
    }
}
