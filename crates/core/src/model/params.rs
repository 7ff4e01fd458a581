//! The range checks every params struct runs in its `validate`, each recording its
//! message in one shape (`expected ..., found ...`) at the field's path, so every
//! algorithm reports a bad hyperparameter the same way and all of them at once.

use crate::config::ConfigErrors;

/// Collects the problems of one params struct; [`ParamChecks::finish`] returns the
/// validated params or every problem found.
#[derive(Debug, Default)]
pub(crate) struct ParamChecks(ConfigErrors);

impl ParamChecks {
    /// No problems yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records `message` at `field`, for a check no helper here makes.
    pub(crate) fn push(&mut self, field: &str, message: impl Into<String>) -> &mut Self {
        self.0.push(field, message);
        self
    }

    /// `value` is a finite number.
    pub(crate) fn finite(&mut self, field: &str, value: f64) -> &mut Self {
        if !value.is_finite() {
            self.push(field, format!("expected a finite number, found {value}"));
        }
        self
    }

    /// `value` is a finite number `>= min`.
    pub(crate) fn at_least(&mut self, field: &str, value: f64, min: f64) -> &mut Self {
        if !(value >= min && value.is_finite()) {
            self.push(
                field,
                format!("expected a finite number >= {min}, found {value}"),
            );
        }
        self
    }

    /// `value` is a finite number above 0.
    pub(crate) fn positive(&mut self, field: &str, value: f64) -> &mut Self {
        if !(value > 0.0 && value.is_finite()) {
            self.push(
                field,
                format!("expected a finite number above 0, found {value}"),
            );
        }
        self
    }

    /// `value` is from 0 to 1.
    pub(crate) fn fraction(&mut self, field: &str, value: f64) -> &mut Self {
        if !(0.0..=1.0).contains(&value) {
            self.push(
                field,
                format!("expected a number from 0 to 1, found {value}"),
            );
        }
        self
    }

    /// A count of at least `min`.
    pub(crate) fn count_at_least(&mut self, field: &str, value: usize, min: usize) -> &mut Self {
        if value < min {
            self.push(field, format!("expected at least {min}, found {value}"));
        }
        self
    }

    /// A count of at most `max`.
    pub(crate) fn count_at_most(&mut self, field: &str, value: usize, max: usize) -> &mut Self {
        if value > max {
            self.push(field, format!("expected at most {max}, found {value}"));
        }
        self
    }

    /// `valid` when nothing was recorded, else every problem.
    pub(crate) fn finish<T>(self, valid: T) -> Result<T, ConfigErrors> {
        self.0.into_result(valid)
    }
}
