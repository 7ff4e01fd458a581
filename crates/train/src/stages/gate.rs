//! Stage `gate`: the quality gates of `evaluation.gates` against the test metrics. A
//! failed gate stops the run before anything is published.

use std::collections::BTreeMap;
use std::fmt;

use ferry_core::metrics::Metric;
use serde::Serialize;

use serde::Deserialize;

/// One quality gate of `evaluation.gates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// The metric.
    pub metric: Metric,
    /// Smallest acceptable value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest acceptable value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// The outcome of one quality gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    /// The metric.
    pub metric: Metric,
    /// Its lower bound.
    pub min: Option<f64>,
    /// Its upper bound.
    pub max: Option<f64>,
    /// The measured value.
    pub value: f64,
    /// Whether the value is within the bounds.
    pub passed: bool,
}

impl fmt::Display for GateResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {:.4}", self.metric, self.value)?;
        if let Some(m) = self.min {
            write!(f, ", min {m}")?;
        }
        if let Some(m) = self.max {
            write!(f, ", max {m}")?;
        }
        f.write_str(if self.passed { ": passed" } else { ": FAILED" })
    }
}

/// Gates that failed: nothing is registered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("quality gates failed, the model was not registered: {}", failures.join("; "))]
pub struct GatesFailed {
    /// Each failed gate, described.
    pub failures: Vec<String>,
    /// Every gate's outcome.
    pub gates: Vec<GateResult>,
    /// The test-set metrics.
    pub metrics: BTreeMap<String, f64>,
}

/// Every gate's outcome on `values` (a metric that was not computed fails its gate).
#[must_use]
pub fn check_gates(gates: &[GateConfig], values: &BTreeMap<Metric, f64>) -> Vec<GateResult> {
    gates
        .iter()
        .map(|g| {
            let value = values.get(&g.metric).copied().unwrap_or(f64::NAN);
            let passed = g.min.is_none_or(|m| value >= m) && g.max.is_none_or(|m| value <= m);
            GateResult {
                metric: g.metric,
                min: g.min,
                max: g.max,
                value,
                passed,
            }
        })
        .collect()
}

/// The stage: every gate's outcome when all pass.
///
/// # Errors
/// [`GatesFailed`] with every gate's outcome and the metrics when one fails.
pub fn gate(
    gates: &[GateConfig],
    values: &BTreeMap<Metric, f64>,
) -> Result<Vec<GateResult>, GatesFailed> {
    let gates = check_gates(gates, values);
    let failures: Vec<String> = gates
        .iter()
        .filter(|g| !g.passed)
        .map(ToString::to_string)
        .collect();
    if failures.is_empty() {
        return Ok(gates);
    }
    Err(GatesFailed {
        failures,
        gates,
        metrics: values
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), *v))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_pass_within_bounds_and_fail_outside_or_without_a_value() {
        let gates: Vec<GateConfig> = ferry_core::config::from_yaml_str(
            "- {metric: accuracy, min: 0.7}\n- {metric: log_loss, max: 0.5}\n",
        )
        .unwrap();
        let values = BTreeMap::from([(Metric::Accuracy, 0.8), (Metric::LogLoss, 0.4)]);
        let passed = gate(&gates, &values).unwrap();
        assert!(passed.iter().all(|g| g.passed));
        assert_eq!(passed[0].to_string(), "accuracy = 0.8000, min 0.7: passed");

        let values = BTreeMap::from([(Metric::Accuracy, 0.6)]);
        let failed = gate(&gates, &values).unwrap_err();
        assert_eq!(
            failed.failures,
            [
                "accuracy = 0.6000, min 0.7: FAILED",
                "log_loss = NaN, max 0.5: FAILED"
            ]
        );
        assert_eq!(failed.gates.len(), 2);
        assert!(failed.to_string().starts_with("quality gates failed"));
    }
}
