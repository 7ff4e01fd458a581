//! Evaluation metrics, computed from the same [`Predictions`] serve returns.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{ModelKind, Predictions, Task};

/// An evaluation metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Share of rows whose predicted class is right.
    Accuracy,
    /// Unweighted mean over classes of TP / (TP + FP); 0 for a class never predicted.
    PrecisionMacro,
    /// Unweighted mean over classes of TP / (TP + FN).
    RecallMacro,
    /// Unweighted mean over classes of the F1 score.
    F1Macro,
    /// Area under the ROC curve of the second class's probability (binary targets only).
    RocAuc,
    /// Mean negative log of the probability given to the true class (clipped at 1e-15).
    LogLoss,
    /// Root mean squared error.
    Rmse,
    /// Mean absolute error.
    Mae,
    /// Coefficient of determination.
    R2,
}

impl Metric {
    /// Every metric.
    pub const ALL: &'static [Metric] = &[
        Metric::Accuracy,
        Metric::PrecisionMacro,
        Metric::RecallMacro,
        Metric::F1Macro,
        Metric::RocAuc,
        Metric::LogLoss,
        Metric::Rmse,
        Metric::Mae,
        Metric::R2,
    ];

    /// The snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::PrecisionMacro => "precision_macro",
            Metric::RecallMacro => "recall_macro",
            Metric::F1Macro => "f1_macro",
            Metric::RocAuc => "roc_auc",
            Metric::LogLoss => "log_loss",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::R2 => "r2",
        }
    }

    /// The task the metric applies to.
    #[must_use]
    pub fn task(self) -> Task {
        match self {
            Metric::Accuracy
            | Metric::PrecisionMacro
            | Metric::RecallMacro
            | Metric::F1Macro
            | Metric::RocAuc
            | Metric::LogLoss => Task::Classification,
            Metric::Rmse | Metric::Mae | Metric::R2 => Task::Regression,
        }
    }

    /// True for metrics computed from class probabilities (`roc_auc`, `log_loss`).
    #[must_use]
    pub fn needs_probabilities(self) -> bool {
        match self {
            Metric::RocAuc | Metric::LogLoss => true,
            Metric::Accuracy
            | Metric::PrecisionMacro
            | Metric::RecallMacro
            | Metric::F1Macro
            | Metric::Rmse
            | Metric::Mae
            | Metric::R2 => false,
        }
    }

    /// True when a larger value is a better model (accuracy, r2, ...); false for the
    /// losses and errors (`log_loss`, `rmse`, `mae`).
    #[must_use]
    pub fn higher_is_better(self) -> bool {
        match self {
            Metric::Accuracy
            | Metric::PrecisionMacro
            | Metric::RecallMacro
            | Metric::F1Macro
            | Metric::RocAuc
            | Metric::R2 => true,
            Metric::LogLoss | Metric::Rmse | Metric::Mae => false,
        }
    }

    /// Whether `a` is strictly better than `b` by this metric (NaN is never better).
    #[must_use]
    pub fn better(self, a: f64, b: f64) -> bool {
        if self.higher_is_better() {
            a > b
        } else {
            a < b
        }
    }

    /// Why the metric cannot evaluate a `kind` model, if it cannot: it belongs to the
    /// other task, or needs probabilities the model does not give.
    #[must_use]
    pub fn unsuited_to(self, kind: ModelKind) -> Option<String> {
        if self.task() != kind.task() {
            Some(format!("{self} does not apply to {kind}"))
        } else if self.needs_probabilities() && !kind.gives_probabilities() {
            Some(format!(
                "{self} needs class probabilities, which {kind} does not give"
            ))
        } else {
            None
        }
    }

    /// The metrics computed when a pipeline lists none: every one that suits `kind`
    /// except `roc_auc` (binary targets only).
    #[must_use]
    pub fn defaults(kind: ModelKind) -> Vec<Metric> {
        let candidates: &[Metric] = match kind.task() {
            Task::Classification => &[
                Metric::Accuracy,
                Metric::PrecisionMacro,
                Metric::RecallMacro,
                Metric::F1Macro,
                Metric::LogLoss,
            ],
            Task::Regression => &[Metric::Rmse, Metric::Mae, Metric::R2],
        };
        candidates
            .iter()
            .copied()
            .filter(|m| m.unsuited_to(kind).is_none())
            .collect()
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The true values of an evaluation set.
#[derive(Debug, Clone, Copy)]
pub enum Truth<'a> {
    /// Class index of each row in the model's classes; `None` for a label the model
    /// never saw (always counted wrong).
    Classes(&'a [Option<usize>]),
    /// Regression targets.
    Values(&'a [f64]),
}

/// Why a metric could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// A classification metric for a regressor or the reverse (caller's fault: config).
    #[error("metric {metric} does not apply to a {task:?} model")]
    WrongTask {
        /// The metric.
        metric: Metric,
        /// The model's task.
        task: Task,
    },
    /// roc_auc on a target that does not have exactly two classes (caller's fault).
    #[error("roc_auc needs exactly two classes, the model has {0}")]
    NotBinary(usize),
    /// A probability metric for a model that gives no probabilities (caller's fault:
    /// config).
    #[error("metric {0} needs class probabilities, which the model does not give")]
    NoProbabilities(Metric),
    /// No rows to evaluate (caller's fault: the split left the test set empty).
    #[error("the evaluation set is empty")]
    Empty,
    /// Truth and predictions have different lengths (internal fault).
    #[error("{truth} true values for {predicted} predictions")]
    LengthMismatch {
        /// Number of true values.
        truth: usize,
        /// Number of predictions.
        predicted: usize,
    },
}

/// Computes `metrics` for `predictions` against `truth`.
///
/// # Errors
/// [`MetricError`] when a metric does not apply, or the inputs are empty or disagree.
pub fn compute(
    metrics: &[Metric],
    truth: Truth<'_>,
    predictions: &Predictions,
) -> Result<BTreeMap<Metric, f64>, MetricError> {
    let n_truth = match truth {
        Truth::Classes(t) => t.len(),
        Truth::Values(t) => t.len(),
    };
    if n_truth != predictions.len() {
        return Err(MetricError::LengthMismatch {
            truth: n_truth,
            predicted: predictions.len(),
        });
    }
    if n_truth == 0 {
        return Err(MetricError::Empty);
    }
    let mut out = BTreeMap::new();
    for &metric in metrics {
        let value = match (truth, predictions) {
            (
                Truth::Classes(t),
                Predictions::Classes {
                    labels,
                    probabilities,
                    n_classes,
                },
            ) => match (probabilities.as_deref(), metric.needs_probabilities()) {
                (Some(p), _) => classification(metric, t, labels, p, *n_classes)?,
                (None, false) => classification(metric, t, labels, &[], *n_classes)?,
                (None, true) => return Err(MetricError::NoProbabilities(metric)),
            },
            (Truth::Values(t), Predictions::Values(p)) => regression(metric, t, p)?,
            (Truth::Classes(_), Predictions::Values(_)) => {
                return Err(MetricError::WrongTask {
                    metric,
                    task: Task::Regression,
                });
            }
            (Truth::Values(_), Predictions::Classes { .. }) => {
                return Err(MetricError::WrongTask {
                    metric,
                    task: Task::Classification,
                });
            }
        };
        out.insert(metric, value);
    }
    Ok(out)
}

fn classification(
    metric: Metric,
    truth: &[Option<usize>],
    labels: &[usize],
    probabilities: &[f64],
    k: usize,
) -> Result<f64, MetricError> {
    let n = truth.len() as f64;
    let per_class = || {
        // (tp, fp, fn) per class, over the classes present in the truth or the predictions.
        let mut counts = vec![(0usize, 0usize, 0usize); k];
        let mut present = vec![false; k];
        for (t, &p) in truth.iter().zip(labels) {
            if let Some(t) = *t
                && let Some(c) = counts.get_mut(t)
            {
                present[t] = true;
                if t == p {
                    c.0 += 1;
                } else {
                    c.2 += 1;
                }
            }
            if let Some(c) = counts.get_mut(p) {
                present[p] = true;
                if *t != Some(p) {
                    c.1 += 1;
                }
            }
        }
        counts
            .into_iter()
            .zip(present)
            .filter(|(_, p)| *p)
            .map(|(c, _)| c)
            .collect::<Vec<_>>()
    };
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mean = |xs: Vec<f64>| {
        if xs.is_empty() {
            0.0
        } else {
            xs.iter().sum::<f64>() / xs.len() as f64
        }
    };
    Ok(match metric {
        Metric::Accuracy => {
            truth
                .iter()
                .zip(labels)
                .filter(|(t, p)| **t == Some(**p))
                .count() as f64
                / n
        }
        Metric::PrecisionMacro => mean(
            per_class()
                .into_iter()
                .map(|(tp, fp, _)| ratio(tp, tp + fp))
                .collect(),
        ),
        Metric::RecallMacro => mean(
            per_class()
                .into_iter()
                .map(|(tp, _, fn_)| ratio(tp, tp + fn_))
                .collect(),
        ),
        Metric::F1Macro => mean(
            per_class()
                .into_iter()
                .map(|(tp, fp, fn_)| ratio(2 * tp, 2 * tp + fp + fn_))
                .collect(),
        ),
        Metric::LogLoss => {
            let eps = 1e-15;
            let total: f64 = truth
                .iter()
                .enumerate()
                .map(|(r, t)| {
                    let p = t
                        .and_then(|t| probabilities.get(r * k + t))
                        .copied()
                        .unwrap_or(0.0);
                    -p.clamp(eps, 1.0 - eps).ln()
                })
                .sum();
            total / n
        }
        Metric::RocAuc => {
            if k != 2 {
                return Err(MetricError::NotBinary(k));
            }
            let scores: Vec<(f64, bool)> = truth
                .iter()
                .enumerate()
                .map(|(r, t)| {
                    (
                        probabilities.get(r * 2 + 1).copied().unwrap_or(0.0),
                        *t == Some(1),
                    )
                })
                .collect();
            roc_auc(scores)
        }
        Metric::Rmse | Metric::Mae | Metric::R2 => {
            return Err(MetricError::WrongTask {
                metric,
                task: Task::Classification,
            });
        }
    })
}

/// Mann-Whitney U statistic with average ranks for ties; 0.5 when one class is absent.
fn roc_auc(mut scores: Vec<(f64, bool)>) -> f64 {
    scores.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n_pos = scores.iter().filter(|s| s.1).count() as f64;
    let n_neg = scores.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return 0.5;
    }
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < scores.len() {
        let mut j = i;
        while j + 1 < scores.len() && scores[j + 1].0 == scores[i].0 {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += avg_rank * scores[i..=j].iter().filter(|s| s.1).count() as f64;
        i = j + 1;
    }
    (rank_sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

fn regression(metric: Metric, truth: &[f64], predicted: &[f64]) -> Result<f64, MetricError> {
    let n = truth.len() as f64;
    let pairs = truth.iter().zip(predicted);
    Ok(match metric {
        Metric::Rmse => (pairs.map(|(t, p)| (t - p) * (t - p)).sum::<f64>() / n).sqrt(),
        Metric::Mae => pairs.map(|(t, p)| (t - p).abs()).sum::<f64>() / n,
        Metric::R2 => {
            let mean = truth.iter().sum::<f64>() / n;
            let ss_res: f64 = pairs.map(|(t, p)| (t - p) * (t - p)).sum();
            let ss_tot: f64 = truth.iter().map(|t| (t - mean) * (t - mean)).sum();
            if ss_tot == 0.0 {
                if ss_res == 0.0 { 1.0 } else { 0.0 }
            } else {
                1.0 - ss_res / ss_tot
            }
        }
        Metric::Accuracy
        | Metric::PrecisionMacro
        | Metric::RecallMacro
        | Metric::F1Macro
        | Metric::RocAuc
        | Metric::LogLoss => {
            return Err(MetricError::WrongTask {
                metric,
                task: Task::Regression,
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(labels: Vec<usize>, probabilities: Vec<f64>, n_classes: usize) -> Predictions {
        Predictions::Classes {
            labels,
            probabilities: Some(probabilities),
            n_classes,
        }
    }

    // Reference values computed with scikit-learn 1.5 for the same inputs.
    #[test]
    fn classification_metrics_match_scikit_learn() {
        let truth = [Some(0), Some(1), Some(2), Some(2), Some(1), Some(0)];
        let pred = [0, 2, 2, 2, 1, 1];
        let probs = vec![
            0.8, 0.1, 0.1, 0.2, 0.3, 0.5, 0.1, 0.1, 0.8, 0.2, 0.2, 0.6, 0.1, 0.7, 0.2, 0.3, 0.4,
            0.3,
        ];
        let m = compute(
            Metric::ALL
                .get(..6)
                .unwrap()
                .iter()
                .filter(|m| **m != Metric::RocAuc)
                .copied()
                .collect::<Vec<_>>()
                .as_slice(),
            Truth::Classes(&truth),
            &classes(pred.to_vec(), probs, 3),
        )
        .unwrap();
        // accuracy_score = 4/6
        assert!((m[&Metric::Accuracy] - 4.0 / 6.0).abs() < 1e-12);
        // precision per class: 1/1, 1/2, 2/3 -> mean 0.7222...
        assert!((m[&Metric::PrecisionMacro] - (1.0 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        // recall per class: 1/2, 1/2, 2/2
        assert!((m[&Metric::RecallMacro] - (0.5 + 0.5 + 1.0) / 3.0).abs() < 1e-12);
        // f1 per class: 2/3, 1/2, 4/5
        assert!((m[&Metric::F1Macro] - (2.0 / 3.0 + 0.5 + 0.8) / 3.0).abs() < 1e-12);
        // log_loss = -mean(ln [0.8, 0.3, 0.8, 0.6, 0.7, 0.3])
        let expected = -[0.8f64, 0.3, 0.8, 0.6, 0.7, 0.3]
            .iter()
            .map(|p| p.ln())
            .sum::<f64>()
            / 6.0;
        assert!((m[&Metric::LogLoss] - expected).abs() < 1e-12);
    }

    #[test]
    fn roc_auc_counts_ties_as_half() {
        // Pairs (pos, neg): scores pos {0.9, 0.5}, neg {0.5, 0.1} -> 1 + 1 + 0.5 + 1 = 3.5 / 4
        let truth = [Some(1), Some(1), Some(0), Some(0)];
        let probs = vec![0.1, 0.9, 0.5, 0.5, 0.5, 0.5, 0.9, 0.1];
        let m = compute(
            &[Metric::RocAuc],
            Truth::Classes(&truth),
            &classes(vec![1, 0, 0, 0], probs, 2),
        )
        .unwrap();
        assert!((m[&Metric::RocAuc] - 0.875).abs() < 1e-12);
    }

    #[test]
    fn regression_metrics() {
        let truth = [3.0, -0.5, 2.0, 7.0];
        let pred = Predictions::Values(vec![2.5, 0.0, 2.0, 8.0]);
        let m = compute(
            &[Metric::Rmse, Metric::Mae, Metric::R2],
            Truth::Values(&truth),
            &pred,
        )
        .unwrap();
        // scikit-learn's documented example: mean_absolute_error 0.5, r2_score 0.9486...
        assert!((m[&Metric::Mae] - 0.5).abs() < 1e-12);
        assert!((m[&Metric::Rmse] - 0.375f64.sqrt()).abs() < 1e-12);
        assert!((m[&Metric::R2] - 0.948_608_137_044_967_9).abs() < 1e-12);
    }

    #[test]
    fn wrong_task_and_empty_are_errors() {
        let pred = Predictions::Values(vec![1.0]);
        assert!(matches!(
            compute(&[Metric::Accuracy], Truth::Values(&[1.0]), &pred),
            Err(MetricError::WrongTask { .. })
        ));
        assert_eq!(
            compute(
                &[Metric::Rmse],
                Truth::Values(&[]),
                &Predictions::Values(vec![])
            ),
            Err(MetricError::Empty)
        );
    }
}
