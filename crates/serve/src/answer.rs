//! The JSON text that every prediction answer of a model repeats, made once when the
//! model loads: the heads of the native and KServe V2 answers (model name, version, API
//! version) and each class as a JSON value and as JSON text. The native, V2 and MLflow
//! answers copy these bytes and write only what changes per request (the request id,
//! the labels picked, the numbers), instead of serialising the same strings, with their
//! escaping, for every answer.
//!
//! Numbers are written as serde_json writes them: the shortest text that reads back to
//! the same `f64`, and `null` for a NaN or an infinity.

use ferry_core::{ClassLabel, Predictions};
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter as _};

use crate::request::API_VERSION;

/// One model's answer text (see the module docs), held by its
/// [`LoadedModel`](crate::model_set::LoadedModel).
#[derive(Debug, Clone)]
pub struct AnswerText {
    /// `,"model":"iris","model_version":1,"api_version":"v1","predictions":[`: what a
    /// native answer carries between its request id and its predictions.
    native_head: Box<[u8]>,
    /// `{"model_name":"iris","model_version":"1"`: how a KServe V2 answer starts (the
    /// protocol gives versions as strings).
    v2_head: Box<[u8]>,
    /// A classifier's classes in the model's order; `None` for a regressor.
    classes: Option<Box<[ClassText]>>,
}

/// One class as answer text.
#[derive(Debug, Clone)]
struct ClassText {
    /// As a JSON value, the label as the training data had it: `"setosa"`, `1`, `true`.
    value: Box<[u8]>,
    /// As JSON text (its `Display`): `"setosa"`, `"1"`, `"true"`. With a colon, the key
    /// of its probability.
    text: Box<[u8]>,
}

/// Model output that does not fit the model it came from (an internal fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OutputMismatch {
    /// A class index past the model's classes.
    #[error("class index {0} out of range")]
    ClassIndex(usize),
    /// Fewer probabilities than rows times classes.
    #[error("probabilities shorter than the batch")]
    Probabilities,
    /// Labels from a regressor or values from a classifier.
    #[error("model output does not match its task")]
    Task,
}

/// How a list of predictions is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Ferry's native objects: `{"label": ..., "probabilities": {...}}` for a
    /// classifier (probabilities when the model gives them), `{"value": ...}` for a
    /// regressor.
    Native,
    /// MLflow's scoring answer: each row's label or value alone.
    Mlflow,
}

impl AnswerText {
    /// The answer text of the model `name`, version `version`, with `classes` (`None`
    /// for a regressor).
    #[must_use]
    pub fn new(name: &str, version: u64, classes: Option<&[ClassLabel]>) -> Self {
        let mut native_head = b",\"model\":".to_vec();
        push_json(&mut native_head, name);
        native_head.extend_from_slice(b",\"model_version\":");
        push_json(&mut native_head, &version);
        native_head.extend_from_slice(b",\"api_version\":");
        push_json(&mut native_head, API_VERSION);
        native_head.extend_from_slice(b",\"predictions\":[");
        let classes = classes.map(|classes| {
            classes
                .iter()
                .map(|label| {
                    let mut value = Vec::new();
                    push_json(&mut value, label);
                    let mut text = Vec::new();
                    push_json(&mut text, &label.to_string());
                    ClassText {
                        value: value.into_boxed_slice(),
                        text: text.into_boxed_slice(),
                    }
                })
                .collect()
        });
        let mut v2_head = b"{\"model_name\":".to_vec();
        push_json(&mut v2_head, name);
        v2_head.extend_from_slice(b",\"model_version\":");
        push_json(&mut v2_head, &version.to_string());
        Self {
            native_head: native_head.into_boxed_slice(),
            v2_head: v2_head.into_boxed_slice(),
            classes,
        }
    }

    /// How a KServe V2 answer starts: `{"model_name":"iris","model_version":"1"`.
    pub(crate) fn v2_head(&self) -> &[u8] {
        &self.v2_head
    }

    /// Class `class` as a JSON value (`1`, `true`, `"setosa"`), or as JSON text when
    /// `as_text` (`"1"`, `"true"`); `None` past the classes, or for a regressor.
    pub(crate) fn class(&self, class: usize, as_text: bool) -> Option<&[u8]> {
        let class = self.classes.as_deref()?.get(class)?;
        Some(if as_text { &class.text } else { &class.value })
    }

    /// Writes the native answer for `request_id` and `predictions` into `out`: `{`,
    /// the request id, the model, its version and the API version, then one prediction
    /// per row, `}`.
    ///
    /// # Errors
    /// [`OutputMismatch`] when `predictions` do not fit the model (a bug).
    pub(crate) fn write_native(
        &self,
        out: &mut Vec<u8>,
        request_id: &str,
        predictions: &Predictions,
    ) -> Result<(), OutputMismatch> {
        out.extend_from_slice(b"{\"request_id\":");
        push_str(out, request_id);
        out.extend_from_slice(&self.native_head);
        self.write_predictions(out, predictions, Shape::Native)?;
        out.extend_from_slice(b"]}");
        Ok(())
    }

    /// Writes one prediction per row of `predictions` in `shape`, separated by commas
    /// (the caller writes the brackets).
    ///
    /// # Errors
    /// [`OutputMismatch`] when `predictions` do not match the model's task or classes: a
    /// class index past its classes, fewer probabilities than rows times classes, labels
    /// from a regressor or values from a classifier.
    pub(crate) fn write_predictions(
        &self,
        out: &mut Vec<u8>,
        predictions: &Predictions,
        shape: Shape,
    ) -> Result<(), OutputMismatch> {
        match (predictions, self.classes.as_deref()) {
            (
                Predictions::Classes {
                    labels,
                    probabilities,
                    n_classes,
                },
                Some(classes),
            ) => push_list(out, labels.iter().enumerate(), |out, (r, &c)| {
                let class = classes.get(c).ok_or(OutputMismatch::ClassIndex(c))?;
                let row = match probabilities {
                    Some(p) => Some(
                        p.get(r * n_classes..(r + 1) * n_classes)
                            .ok_or(OutputMismatch::Probabilities)?,
                    ),
                    None => None,
                };
                if shape == Shape::Mlflow {
                    out.extend_from_slice(&class.value);
                    return Ok(());
                }
                out.extend_from_slice(b"{\"label\":");
                out.extend_from_slice(&class.value);
                if let Some(row) = row {
                    out.extend_from_slice(b",\"probabilities\":{");
                    push_list(out, classes.iter().zip(row), |out, (class, &p)| {
                        out.extend_from_slice(&class.text);
                        out.push(b':');
                        push_f64(out, p);
                        Ok::<_, OutputMismatch>(())
                    })?;
                    out.push(b'}');
                }
                out.push(b'}');
                Ok(())
            }),
            (Predictions::Values(values), None) => push_list(out, values, |out, &v| {
                match shape {
                    Shape::Native => {
                        out.extend_from_slice(b"{\"value\":");
                        push_f64(out, v);
                        out.push(b'}');
                    }
                    Shape::Mlflow => push_f64(out, v),
                }
                Ok(())
            }),
            (Predictions::Classes { .. }, None) | (Predictions::Values(_), Some(_)) => {
                Err(OutputMismatch::Task)
            }
        }
    }
}

/// Appends each of `items` with `write`, separated by commas (the caller writes the
/// brackets around the list).
///
/// # Errors
/// The first error of `write`; the list is then cut short.
pub(crate) fn push_list<T, E>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut Vec<u8>, T) -> Result<(), E>,
) -> Result<(), E> {
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item)?;
    }
    Ok(())
}

/// Appends `value` as JSON. Only strings, integers, booleans and labels are written
/// here, which always serialise; a failure would leave `null`, still JSON.
fn push_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

/// Appends `text` as a JSON string. Text that needs no escaping (a generated request id,
/// or a client's printable one without quotes or backslashes) is copied as it is.
pub(crate) fn push_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        push_json(out, text);
    }
}

/// Appends `value` as serde_json writes an `f64`: its shortest round-trip text, or
/// `null` when it is not finite.
pub(crate) fn push_f64(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        // Writing into a `Vec` cannot fail.
        let _ = CompactFormatter.write_f64(out, value);
    } else {
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    /// What serde_json makes of the same answer, built as a `Value` from the parts.
    fn expected(
        predictions: &Predictions,
        classes: Option<&[ClassLabel]>,
        shape: Shape,
    ) -> Vec<Value> {
        let number = |v: f64| serde_json::to_value(v).unwrap();
        match (predictions, classes) {
            (
                Predictions::Classes {
                    labels,
                    probabilities,
                    n_classes,
                },
                Some(classes),
            ) => labels
                .iter()
                .enumerate()
                .map(|(r, &c)| {
                    let label = serde_json::to_value(&classes[c]).unwrap();
                    if shape == Shape::Mlflow {
                        return label;
                    }
                    let mut object = json!({ "label": label });
                    if let Some(p) = probabilities {
                        let map: serde_json::Map<String, Value> = classes
                            .iter()
                            .zip(&p[r * n_classes..(r + 1) * n_classes])
                            .map(|(class, &p)| (class.to_string(), number(p)))
                            .collect();
                        object["probabilities"] = Value::Object(map);
                    }
                    object
                })
                .collect(),
            (Predictions::Values(values), None) => values
                .iter()
                .map(|&v| match shape {
                    Shape::Native => json!({ "value": number(v) }),
                    Shape::Mlflow => number(v),
                })
                .collect(),
            _ => unreachable!("the generator pairs predictions with their task"),
        }
    }

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            0.0..1.0f64
        ]
    }

    /// Distinct labels of one kind, as training data gives them.
    fn classes() -> impl Strategy<Value = Vec<ClassLabel>> {
        prop_oneof![
            prop::collection::btree_set("\\PC{0,6}|[\"\\\\\\x00-\\x1fa]{1,4}", 1..5)
                .prop_map(|s| s.into_iter().map(ClassLabel::Str).collect()),
            prop::collection::btree_set(any::<i64>(), 1..5)
                .prop_map(|s| s.into_iter().map(ClassLabel::Int).collect()),
            Just(vec![ClassLabel::Bool(false), ClassLabel::Bool(true)]),
        ]
    }

    /// A classifier's classes and predictions (with or without probabilities), or a
    /// regressor's values.
    fn answer() -> impl Strategy<Value = (Option<Vec<ClassLabel>>, Predictions)> {
        let classifier =
            (classes(), 1..6usize, any::<bool>()).prop_flat_map(|(classes, rows, with_p)| {
                let n = classes.len();
                (
                    prop::collection::vec(0..n, rows),
                    prop::collection::vec(number(), rows * n),
                )
                    .prop_map(move |(labels, p)| {
                        let predictions = Predictions::Classes {
                            labels,
                            probabilities: with_p.then_some(p),
                            n_classes: n,
                        };
                        (Some(classes.clone()), predictions)
                    })
            });
        let regressor = prop::collection::vec(number(), 1..6)
            .prop_map(|values| (None, Predictions::Values(values)));
        prop_oneof![classifier, regressor]
    }

    proptest! {
        #[test]
        fn answers_read_back_as_serde_json_writes_them(
            (classes, predictions) in answer(),
            name in "\\PC{1,8}",
            version in 1..u64::MAX,
            id in "[!-~]{1,12}",
        ) {
            let text = AnswerText::new(&name, version, classes.as_deref());
            let mut out = Vec::new();
            text.write_native(&mut out, &id, &predictions).unwrap();
            let got: Value = serde_json::from_slice(&out).unwrap();
            let want = json!({
                "request_id": id,
                "model": name,
                "model_version": version,
                "api_version": API_VERSION,
                "predictions": expected(&predictions, classes.as_deref(), Shape::Native),
            });
            prop_assert_eq!(got, want);

            let mut out = b"[".to_vec();
            text.write_predictions(&mut out, &predictions, Shape::Mlflow).unwrap();
            out.push(b']');
            let got: Value = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(
                got,
                Value::Array(expected(&predictions, classes.as_deref(), Shape::Mlflow))
            );
        }

        #[test]
        fn numbers_are_the_text_serde_json_writes(v in number()) {
            let mut out = Vec::new();
            push_f64(&mut out, v);
            prop_assert_eq!(out, serde_json::to_vec(&v).unwrap());
        }
    }

    #[test]
    fn an_iris_answer_is_compact_json_in_field_order() {
        let classes = ["setosa", "versicolor", "virginica"].map(|c| ClassLabel::Str(c.into()));
        let text = AnswerText::new("iris", 3, Some(&classes));
        let predictions = Predictions::Classes {
            labels: vec![1],
            probabilities: Some(vec![0.25, 0.5, 0.25]),
            n_classes: 3,
        };
        let mut out = Vec::new();
        text.write_native(&mut out, "r\"1", &predictions).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"request_id":"r\"1","model":"iris","model_version":3,"api_version":"v1","predictions":[{"label":"versicolor","probabilities":{"setosa":0.25,"versicolor":0.5,"virginica":0.25}}]}"#
        );
        assert_eq!(
            text.v2_head(),
            br#"{"model_name":"iris","model_version":"3""#
        );
        assert_eq!(text.class(2, false), Some(&br#""virginica""#[..]));
        assert_eq!(text.class(3, false), None);
        let flags = AnswerText::new(
            "m",
            1,
            Some(&[ClassLabel::Bool(false), ClassLabel::Bool(true)]),
        );
        assert_eq!(flags.class(1, false), Some(&b"true"[..]));
        assert_eq!(flags.class(1, true), Some(&br#""true""#[..]));
        assert_eq!(AnswerText::new("m", 1, None).class(0, true), None);
    }

    #[test]
    fn predictions_that_do_not_fit_the_model_are_refused() {
        let classes = [ClassLabel::Int(0), ClassLabel::Int(1)];
        let text = AnswerText::new("m", 1, Some(&classes));
        let mut out = Vec::new();
        let past = Predictions::Classes {
            labels: vec![2],
            probabilities: None,
            n_classes: 2,
        };
        assert_eq!(
            text.write_predictions(&mut out, &past, Shape::Native),
            Err(OutputMismatch::ClassIndex(2))
        );
        let short = Predictions::Classes {
            labels: vec![0, 1],
            probabilities: Some(vec![0.5, 0.5, 1.0]),
            n_classes: 2,
        };
        assert_eq!(
            text.write_predictions(&mut out, &short, Shape::Mlflow),
            Err(OutputMismatch::Probabilities)
        );
        assert_eq!(
            text.write_predictions(&mut out, &Predictions::Values(vec![1.0]), Shape::Native),
            Err(OutputMismatch::Task)
        );
        let regressor = AnswerText::new("m", 1, None);
        assert_eq!(
            regressor.write_predictions(&mut out, &past, Shape::Native),
            Err(OutputMismatch::Task)
        );
    }
}
