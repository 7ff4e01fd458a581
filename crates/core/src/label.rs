//! Class labels, kept as the user's original values.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A class label as it appears in the data: a string (`"setosa"`), an integer
/// (titanic's `survived`: `0`, `1`) or a boolean. Serialised untagged, so JSON
/// responses carry the label exactly as the training data had it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClassLabel {
    /// A boolean label.
    Bool(bool),
    /// An integer label.
    Int(i64),
    /// A string label.
    Str(String),
}

impl fmt::Display for ClassLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClassLabel::Bool(b) => write!(f, "{b}"),
            ClassLabel::Int(i) => write!(f, "{i}"),
            ClassLabel::Str(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_untagged() {
        let labels = vec![
            ClassLabel::Int(1),
            ClassLabel::Str("setosa".into()),
            ClassLabel::Bool(true),
        ];
        let json = serde_json::to_string(&labels).unwrap();
        assert_eq!(json, r#"[1,"setosa",true]"#);
        let back: Vec<ClassLabel> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, labels);
    }
}
