use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;

/// Class labels encoded as indices into their sorted distinct values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedLabels {
    classes: Vec<ClassLabel>,
    codes: Vec<u32>,
}

impl EncodedLabels {
    /// Encodes `labels`; classes are sorted (integers and booleans by value, strings
    /// lexicographically), as scikit-learn orders `classes_`.
    #[must_use]
    pub fn encode(labels: &[ClassLabel]) -> Self {
        let mut classes = labels.to_vec();
        classes.sort();
        classes.dedup();
        let codes = labels
            .iter()
            .map(|l| {
                classes
                    .binary_search(l)
                    .map_or(0, |i| u32::try_from(i).unwrap_or(u32::MAX))
            })
            .collect();
        Self { classes, codes }
    }

    /// The distinct classes, in output order.
    #[must_use]
    pub fn classes(&self) -> &[ClassLabel] {
        &self.classes
    }

    /// The class index of each row.
    #[must_use]
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }
}

/// The target of a training set.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Classification labels.
    Classes(EncodedLabels),
    /// Regression values.
    Values(Vec<f64>),
}

impl Target {
    /// Number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Target::Classes(c) => c.codes.len(),
            Target::Values(v) => v.len(),
        }
    }

    /// True when there are no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Preprocessed inputs and their target, ready for [`Trainer::fit`](super::Trainer::fit).
#[derive(Debug, Clone)]
pub struct TrainingSet {
    /// Model inputs.
    pub x: FeatureMatrix,
    /// The target, one per row of `x`.
    pub y: Target,
    /// Seed for algorithms that draw random numbers when their params set none.
    pub seed: u64,
}
