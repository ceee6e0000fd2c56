// SPDX-License-Identifier: MIT OR Apache-2.0
//! What a YOLO ONNX export says about itself: ultralytics writes task, class names, keypoint
//! shape, image size, stride, batch and NMS/end-to-end flags into the model's metadata_props.
//! This module turns those strings (Python literals) and the graph's input/output shapes into a
//! [`ModelInfo`] that the decoder and the batcher can trust.

use std::collections::HashMap;

use crate::InferError;

/// The task a model was exported for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Detect,
    Pose,
}

/// How the model's output tensor is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputLayout {
    /// `[B, 4 + nc + 3k, A]`: one-to-many head (YOLOv8/11/26 raw), boxes as cx, cy, w, h; needs NMS.
    Raw,
    /// `[B, N, 6 + 3k]`: rows x1, y1, x2, y2, score, class (+ keypoints); NMS already done
    /// (exported with nms=True, or a YOLO26/YOLOv10 end-to-end head).
    EndToEnd,
}

/// Element type of the model's input or output tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    F16,
}

impl Precision {
    /// Bytes per element.
    pub fn bytes(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
        }
    }
}

/// Everything about a model that preprocessing and decoding need.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub task: Task,
    /// Class names, index = class id.
    pub names: Vec<String>,
    /// Keypoints per object and values per keypoint (2 = x, y; 3 = x, y, visibility).
    pub kpt_shape: Option<(usize, usize)>,
    /// Input size the model was exported for, (height, width).
    pub imgsz: (usize, usize),
    pub stride: usize,
    /// `Some(n)` when the batch dimension is fixed in the graph.
    pub static_batch: Option<usize>,
    /// `true` when height and width are dynamic dimensions (rectangular inference possible).
    pub dynamic_size: bool,
    pub layout: OutputLayout,
    pub input_precision: Precision,
    pub output_precision: Precision,
    pub input_name: String,
    pub output_name: String,
}

impl ModelInfo {
    pub fn num_classes(&self) -> usize {
        self.names.len()
    }

    /// Values per keypoint times keypoints (the `3k` of the output layouts).
    pub fn keypoint_values(&self) -> usize {
        self.kpt_shape.map_or(0, |(k, d)| k * d)
    }

    /// Values per object in the output: raw channels or end-to-end row width.
    pub fn values_per_object(&self) -> usize {
        match self.layout {
            OutputLayout::Raw => 4 + self.num_classes() + self.keypoint_values(),
            OutputLayout::EndToEnd => 6 + self.keypoint_values(),
        }
    }
}

/// The graph's side of introspection: shapes as ONNX Runtime reports them (`-1` = dynamic).
#[derive(Debug, Clone)]
pub struct GraphSignature {
    pub input_name: String,
    pub input_shape: Vec<i64>,
    pub input_precision: Precision,
    pub output_name: String,
    pub output_shape: Vec<i64>,
    pub output_precision: Precision,
}

/// Builds [`ModelInfo`] from the graph signature and ultralytics metadata (key → value).
/// Missing metadata falls back to what the shapes allow; contradictions are errors.
pub fn introspect(
    sig: &GraphSignature,
    meta: &HashMap<String, String>,
) -> Result<ModelInfo, InferError> {
    let unsupported = |why: String| InferError::UnsupportedModel(why);
    if sig.input_shape.len() != 4 {
        return Err(unsupported(format!(
            "input '{}' has shape {:?}; expected [batch, 3, height, width]",
            sig.input_name, sig.input_shape
        )));
    }
    if sig.input_shape[1] != 3 && sig.input_shape[1] != -1 {
        return Err(unsupported(format!(
            "input '{}' has {} channels; expected 3 (RGB)",
            sig.input_name, sig.input_shape[1]
        )));
    }
    if sig.output_shape.len() != 3 {
        return Err(unsupported(format!(
            "output '{}' has shape {:?}; supported layouts are [batch, 4+classes(+3k), anchors] \
             and [batch, detections, 6(+3k)]",
            sig.output_name, sig.output_shape
        )));
    }

    let kpt_shape = match meta.get("kpt_shape") {
        Some(s) => {
            let v = parse_int_list(s).ok_or_else(|| unsupported(format!("bad kpt_shape '{s}'")))?;
            match v.as_slice() {
                [k, d] if *k > 0 && (*d == 2 || *d == 3) => Some((*k, *d)),
                _ => return Err(unsupported(format!("bad kpt_shape '{s}'"))),
            }
        }
        None => None,
    };
    let task = match meta.get("task").map(String::as_str) {
        Some("pose") => Task::Pose,
        Some("detect") | None => {
            if kpt_shape.is_some() {
                Task::Pose
            } else {
                Task::Detect
            }
        }
        Some(other) => {
            return Err(unsupported(format!(
                "task '{other}' is not supported (detect and pose are)"
            )))
        }
    };
    if task == Task::Pose && kpt_shape.is_none() {
        return Err(unsupported(
            "pose model without kpt_shape metadata".to_string(),
        ));
    }
    let kv = kpt_shape.map_or(0, |(k, d)| k * d);

    let end2end_meta = meta.get("end2end").is_some_and(|v| is_true(v))
        || meta
            .get("args")
            .is_some_and(|a| python_dict_value(a, "nms").is_some_and(is_true));
    let d1 = sig.output_shape[1];
    let d2 = sig.output_shape[2];

    let mut names = meta
        .get("names")
        .map(|s| parse_names(s))
        .unwrap_or_default();

    // Without metadata, a fixed row width of 6(+3k) that is not a raw channel count means rows.
    let rows_by_shape =
        d2 > 0 && d2 as usize == 6 + kv && (d1 < 0 || d1 as usize != 4 + names.len() + kv);
    let layout = if end2end_meta || rows_by_shape {
        OutputLayout::EndToEnd
    } else {
        OutputLayout::Raw
    };

    match layout {
        OutputLayout::Raw => {
            if d1 > 0 {
                let channels = d1 as usize;
                if channels < 5 + kv {
                    return Err(unsupported(format!(
                        "output '{}' has {channels} channels per anchor: too few for 4 box values{} \
                         and at least one class",
                        sig.output_name,
                        if kv > 0 { format!(" + {kv} keypoint values") } else { String::new() }
                    )));
                }
                let nc = channels - 4 - kv;
                if names.is_empty() {
                    names = (0..nc).map(|i| i.to_string()).collect();
                } else if names.len() != nc {
                    return Err(unsupported(format!(
                        "output '{}' has {channels} channels but the metadata names {} classes \
                         and {kv} keypoint values (expected {})",
                        sig.output_name,
                        names.len(),
                        4 + names.len() + kv
                    )));
                }
            } else if names.is_empty() {
                return Err(unsupported(format!(
                    "output '{}' has a dynamic channel dimension and no class names in the \
                     metadata: cannot tell classes from keypoints",
                    sig.output_name
                )));
            }
        }
        OutputLayout::EndToEnd => {
            if d2 > 0 && d2 as usize != 6 + kv {
                return Err(unsupported(format!(
                    "output '{}' rows have {d2} values; an end-to-end/NMS output has 6{}",
                    sig.output_name,
                    if kv > 0 {
                        format!(" + {kv}")
                    } else {
                        String::new()
                    }
                )));
            }
        }
    }

    let imgsz = meta
        .get("imgsz")
        .and_then(|s| parse_int_list(s))
        .and_then(|v| match v.as_slice() {
            [s] => Some((*s, *s)),
            [h, w] => Some((*h, *w)),
            _ => None,
        });
    let (ih, iw) = (sig.input_shape[2], sig.input_shape[3]);
    let dynamic_size = ih < 0 || iw < 0;
    let imgsz = if dynamic_size {
        imgsz.unwrap_or((640, 640))
    } else {
        (ih as usize, iw as usize)
    };
    let stride = meta
        .get("stride")
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(32);
    let static_batch = (sig.input_shape[0] > 0).then_some(sig.input_shape[0] as usize);

    Ok(ModelInfo {
        task,
        names,
        kpt_shape,
        imgsz,
        stride,
        static_batch,
        dynamic_size,
        layout,
        input_precision: sig.input_precision,
        output_precision: sig.output_precision,
        input_name: sig.input_name.clone(),
        output_name: sig.output_name.clone(),
    })
}

fn is_true(v: &str) -> bool {
    matches!(v.trim(), "True" | "true" | "1")
}

/// `"[17, 3]"` → `[17, 3]`; `"640"` → `[640]`.
fn parse_int_list(s: &str) -> Option<Vec<usize>> {
    let inner = s
        .trim()
        .trim_start_matches(['[', '('])
        .trim_end_matches([']', ')']);
    inner
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim().parse().ok())
        .collect()
}

/// The value of `key` in a flat Python dict literal such as ultralytics' `args`.
fn python_dict_value<'a>(dict: &'a str, key: &str) -> Option<&'a str> {
    for quote in ['\'', '"'] {
        let pat = format!("{quote}{key}{quote}:");
        if let Some(pos) = dict.find(&pat) {
            let rest = &dict[pos + pat.len()..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            return Some(rest[..end].trim());
        }
    }
    None
}

/// Parses ultralytics' `names`, a Python dict literal `{0: 'person', 1: "it's"}`.
/// Written by hand: it is a Python literal, not JSON, and no crate parses that subset.
pub fn parse_names(s: &str) -> Vec<String> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let idx: usize = match s[start..i].parse() {
                Ok(v) => v,
                Err(_) => continue,
            };
            while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b':') {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'\'' || bytes[i] == b'"') {
                let q = bytes[i];
                i += 1;
                let mut name = String::new();
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\\' && i + 1 < bytes.len() {
                        i += 1;
                    }
                    let ch_len = utf8_len(bytes[i]);
                    name.push_str(&s[i..i + ch_len]);
                    i += ch_len;
                }
                out.push((idx, name));
            }
        }
        i += 1;
    }
    out.sort_by_key(|(i, _)| *i);
    let n = out.last().map_or(0, |(i, _)| i + 1);
    let mut names: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    for (i, name) in out {
        names[i] = name;
    }
    names
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Reads a labels file: one name per line (blank lines kept as empty names are skipped at the end).
pub fn parse_labels_file(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    while names.last().is_some_and(|l| l.is_empty()) {
        names.pop();
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(input: &[i64], output: &[i64]) -> GraphSignature {
        GraphSignature {
            input_name: "images".into(),
            input_shape: input.to_vec(),
            input_precision: Precision::F32,
            output_name: "output0".into(),
            output_shape: output.to_vec(),
            output_precision: Precision::F32,
        }
    }

    fn meta(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_literal() {
        assert_eq!(
            parse_names("{0: 'person', 1: \"it's\", 2: 'sports ball'}"),
            vec!["person", "it's", "sports ball"]
        );
        assert_eq!(parse_names("{1: 'b'}"), vec!["0", "b"]);
    }

    #[test]
    fn raw_detect_dynamic() {
        let m = meta(&[
            ("task", "detect"),
            ("names", "{0: 'a', 1: 'b'}"),
            ("imgsz", "[640, 640]"),
            ("stride", "32"),
            ("args", "{'batch': 1, 'nms': None, 'dynamic': True}"),
        ]);
        let info = introspect(&sig(&[-1, 3, -1, -1], &[-1, 6, -1]), &m).unwrap();
        assert_eq!(info.layout, OutputLayout::Raw);
        assert!(info.dynamic_size);
        assert_eq!(info.static_batch, None);
        assert_eq!(info.names, vec!["a", "b"]);
    }

    #[test]
    fn nms_export_is_end_to_end() {
        let m = meta(&[
            ("task", "detect"),
            ("names", "{0: 'a'}"),
            ("args", "{'nms': True}"),
        ]);
        let info = introspect(&sig(&[1, 3, 640, 640], &[-1, -1, -1]), &m).unwrap();
        assert_eq!(info.layout, OutputLayout::EndToEnd);
        assert_eq!(info.static_batch, Some(1));
        assert_eq!(info.imgsz, (640, 640));
    }

    #[test]
    fn pose_layouts() {
        let m = meta(&[
            ("task", "pose"),
            ("names", "{0: 'person'}"),
            ("kpt_shape", "[17, 3]"),
        ]);
        let raw = introspect(&sig(&[1, 3, 640, 640], &[1, 56, 8400]), &m).unwrap();
        assert_eq!(raw.layout, OutputLayout::Raw);
        assert_eq!(raw.kpt_shape, Some((17, 3)));
        let e2e = introspect(&sig(&[1, 3, 640, 640], &[1, 300, 57]), &m).unwrap();
        assert_eq!(e2e.layout, OutputLayout::EndToEnd);
    }

    #[test]
    fn contradictions_are_errors() {
        let m = meta(&[("names", "{0: 'a', 1: 'b'}")]);
        assert!(introspect(&sig(&[1, 3, 640, 640], &[1, 10, 8400]), &m).is_err());
        assert!(introspect(&sig(&[1, 3, 640, 640], &[1, 10]), &m).is_err());
        assert!(introspect(&sig(&[1, 640, 640], &[1, 6, 8400]), &m).is_err());
        let pose = meta(&[("task", "pose")]);
        assert!(introspect(&sig(&[1, 3, 640, 640], &[1, 56, 8400]), &pose).is_err());
    }

    #[test]
    fn no_metadata_falls_back_to_shapes() {
        let info = introspect(&sig(&[1, 3, 320, 320], &[1, 7, 2100]), &HashMap::new()).unwrap();
        assert_eq!(info.names.len(), 3);
        assert_eq!(info.imgsz, (320, 320));
        assert!(!info.dynamic_size);
    }
}
