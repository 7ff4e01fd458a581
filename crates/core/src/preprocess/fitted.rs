use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{FittedStepsError, PreprocessError};
use super::spec::{
    ConstantValue, HandleUnknown, ImputeStrategy, ModelInputs, PreprocessSpec, StepSpec,
};
use crate::frame::{Column, FeatureMatrix, Frame};
use crate::schema::{DType, FeatureSchema, RowErrors, SchemaError};

/// A fitted fill value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fill {
    /// For numeric features.
    Number(f64),
    /// For categorical features.
    Category(String),
}

/// One fitted step for one feature, as stored in `preprocessor.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum FittedStep {
    /// Missing values of `column` become `value`.
    Impute {
        /// The feature.
        column: String,
        /// The fill value.
        value: Fill,
    },
    /// `(x - mean) / scale`.
    StandardScale {
        /// The feature.
        column: String,
        /// Training mean.
        mean: f64,
        /// Training standard deviation (population), 1 when it was 0.
        scale: f64,
    },
    /// `(x - min) / (max - min)`, with the denominator 1 when `max == min`.
    MinMaxScale {
        /// The feature.
        column: String,
        /// Training minimum.
        min: f64,
        /// Training maximum.
        max: f64,
    },
    /// One output per category, in the order listed.
    OneHot {
        /// The feature.
        column: String,
        /// The categories, in output order.
        categories: Vec<String>,
        /// What an unseen category does.
        handle_unknown: HandleUnknown,
    },
    /// One output, the category's position in `categories` (a missing or unseen
    /// category is NaN), for models that split on categories themselves.
    CategoryCodes {
        /// The feature.
        column: String,
        /// The categories, in code order.
        categories: Vec<String>,
    },
    /// Missing values of `column` stay missing (NaN) for a model that routes them.
    KeepMissing {
        /// The feature.
        column: String,
    },
}

impl FittedStep {
    fn column(&self) -> &str {
        match self {
            FittedStep::Impute { column, .. }
            | FittedStep::StandardScale { column, .. }
            | FittedStep::MinMaxScale { column, .. }
            | FittedStep::OneHot { column, .. }
            | FittedStep::CategoryCodes { column, .. }
            | FittedStep::KeepMissing { column } => column,
        }
    }

    /// The step's `op`, as a config names it.
    fn op(&self) -> &'static str {
        match self {
            FittedStep::Impute { .. } => "impute",
            FittedStep::StandardScale { .. } => "standard_scale",
            FittedStep::MinMaxScale { .. } => "min_max_scale",
            FittedStep::OneHot { .. } => "one_hot",
            FittedStep::CategoryCodes { .. } => "category_codes",
            FittedStep::KeepMissing { .. } => "keep_missing",
        }
    }
}

/// The per-feature transformation compiled from the fitted steps: what transform runs.
#[derive(Debug, Clone, PartialEq)]
enum ColumnPlan {
    Numeric {
        fill: Option<f64>,
        offset: f64,
        scale: f64,
        keep_missing: bool,
    },
    Categorical {
        fill: Option<String>,
        sorted: Vec<(String, usize)>,
        width: usize,
        handle_unknown: HandleUnknown,
        /// One output holding the category's code instead of one per category.
        codes: bool,
        keep_missing: bool,
    },
}

/// The categories of a one-hot or code step, sorted with their positions, or the
/// duplicate that makes them ambiguous.
fn sorted_categories(
    categories: &[String],
    column: &str,
) -> Result<Vec<(String, usize)>, FittedStepsError> {
    let mut s: Vec<(String, usize)> = categories
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, c)| (c, i))
        .collect();
    s.sort();
    if s.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(FittedStepsError::DuplicateCategory(column.to_owned()));
    }
    Ok(s)
}

/// Fitted preprocessing: the input schema, the fitted steps, and the names of the model
/// inputs it produces. Stored in the artifact; [`FittedPreprocessor::transform`] is the
/// one place rows become model inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FittedRepr", into = "FittedRepr")]
pub struct FittedPreprocessor {
    input: FeatureSchema,
    steps: Vec<FittedStep>,
    output: Vec<String>,
    plan: Vec<ColumnPlan>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FittedRepr {
    input: FeatureSchema,
    steps: Vec<FittedStep>,
    output: Vec<String>,
}

impl TryFrom<FittedRepr> for FittedPreprocessor {
    type Error = FittedStepsError;
    fn try_from(repr: FittedRepr) -> Result<Self, FittedStepsError> {
        let built = FittedPreprocessor::from_steps(repr.input, repr.steps)?;
        if built.output != repr.output {
            return Err(FittedStepsError::Output {
                stored: repr.output,
                built: built.output,
            });
        }
        Ok(built)
    }
}

impl From<FittedPreprocessor> for FittedRepr {
    fn from(p: FittedPreprocessor) -> Self {
        FittedRepr {
            input: p.input,
            steps: p.steps,
            output: p.output,
        }
    }
}

impl FittedPreprocessor {
    /// Compiles fitted steps into a preprocessor for `input`.
    fn from_steps(input: FeatureSchema, steps: Vec<FittedStep>) -> Result<Self, FittedStepsError> {
        let mut plan: Vec<ColumnPlan> = input
            .features()
            .iter()
            .map(|f| match f.dtype {
                DType::Categorical => ColumnPlan::Categorical {
                    fill: None,
                    sorted: Vec::new(),
                    width: 0,
                    handle_unknown: HandleUnknown::Error,
                    codes: false,
                    keep_missing: false,
                },
                DType::Numeric | DType::Integer | DType::Boolean => ColumnPlan::Numeric {
                    fill: None,
                    offset: 0.0,
                    scale: 1.0,
                    keep_missing: false,
                },
            })
            .collect();
        let mut encoded = vec![false; input.len()];
        for step in &steps {
            let Some(fi) = input.position(step.column()) else {
                return Err(FittedStepsError::UnknownFeature(step.column().to_owned()));
            };
            if matches!(
                step,
                FittedStep::OneHot { .. } | FittedStep::CategoryCodes { .. }
            ) && encoded.get(fi).copied().unwrap_or(false)
            {
                return Err(FittedStepsError::EncodedTwice(step.column().to_owned()));
            }
            let Some(slot) = plan.get_mut(fi) else {
                return Err(FittedStepsError::NoPlan(step.column().to_owned()));
            };
            match (slot, step) {
                (
                    ColumnPlan::Numeric { fill, .. },
                    FittedStep::Impute {
                        value: Fill::Number(v),
                        ..
                    },
                ) => {
                    *fill = Some(*v);
                }
                (
                    ColumnPlan::Numeric { offset, scale, .. },
                    FittedStep::StandardScale { mean, scale: s, .. },
                ) => {
                    *offset = *mean;
                    *scale = *s;
                }
                (
                    ColumnPlan::Numeric { offset, scale, .. },
                    FittedStep::MinMaxScale { min, max, .. },
                ) => {
                    *offset = *min;
                    *scale = if max > min { max - min } else { 1.0 };
                }
                (
                    ColumnPlan::Categorical { fill, .. },
                    FittedStep::Impute {
                        value: Fill::Category(c),
                        ..
                    },
                ) => {
                    *fill = Some(c.clone());
                }
                (
                    ColumnPlan::Categorical {
                        sorted,
                        width,
                        handle_unknown,
                        ..
                    },
                    FittedStep::OneHot {
                        categories,
                        handle_unknown: h,
                        ..
                    },
                ) => {
                    *sorted = sorted_categories(categories, step.column())?;
                    *width = categories.len();
                    *handle_unknown = *h;
                    encoded[fi] = true;
                }
                (
                    ColumnPlan::Categorical {
                        sorted,
                        width,
                        codes,
                        ..
                    },
                    FittedStep::CategoryCodes { categories, .. },
                ) => {
                    *sorted = sorted_categories(categories, step.column())?;
                    *width = 1;
                    *codes = true;
                    encoded[fi] = true;
                }
                (
                    ColumnPlan::Numeric { keep_missing, .. }
                    | ColumnPlan::Categorical { keep_missing, .. },
                    FittedStep::KeepMissing { .. },
                ) => {
                    *keep_missing = true;
                }
                (_, step) => {
                    return Err(FittedStepsError::WrongType {
                        op: step.op(),
                        column: step.column().to_owned(),
                    });
                }
            }
        }
        let mut output = Vec::new();
        for (fi, feature) in input.features().iter().enumerate() {
            if feature.dtype == DType::Categorical {
                if !encoded[fi] {
                    return Err(FittedStepsError::NotEncoded(feature.name.to_string()));
                }
                for step in &steps {
                    match step {
                        FittedStep::OneHot {
                            column, categories, ..
                        } if column == &feature.name => {
                            output
                                .extend(categories.iter().map(|c| format!("{}={c}", feature.name)));
                        }
                        FittedStep::CategoryCodes { column, .. } if column == &feature.name => {
                            output.push(feature.name.clone());
                        }
                        FittedStep::Impute { .. }
                        | FittedStep::StandardScale { .. }
                        | FittedStep::MinMaxScale { .. }
                        | FittedStep::OneHot { .. }
                        | FittedStep::CategoryCodes { .. }
                        | FittedStep::KeepMissing { .. } => {}
                    }
                }
            } else {
                output.push(feature.name.clone());
            }
        }
        Ok(Self {
            input,
            steps,
            output,
            plan,
        })
    }

    /// The schema of the rows this preprocessor accepts.
    #[must_use]
    pub fn input(&self) -> &FeatureSchema {
        &self.input
    }

    /// The fitted steps, one per feature and step.
    #[must_use]
    pub fn steps(&self) -> &[FittedStep] {
        &self.steps
    }

    /// Names of the model inputs, in matrix column order (`sex=female` for one-hot outputs).
    #[must_use]
    pub fn output(&self) -> &[String] {
        &self.output
    }

    /// Turns validated rows into the model's input matrix.
    ///
    /// # Errors
    /// [`PreprocessError::InvalidValues`] with every unseen category (under
    /// `handle_unknown: error`) and every value too large to scale, by record;
    /// [`PreprocessError::MissingValue`] for a value no step fills;
    /// [`PreprocessError::FrameMismatch`] when `frame` was built for another schema.
    pub fn transform(&self, frame: &Frame) -> Result<FeatureMatrix, PreprocessError> {
        let n_rows = frame.n_rows();
        let width = self.output.len();
        if frame.columns().len() != self.plan.len() {
            return Err(PreprocessError::FrameMismatch {
                index: frame.columns().len().min(self.plan.len()),
            });
        }
        let mut values = vec![0.0; n_rows * width];
        // (row, error) for every bad value; grouped by row at the end.
        let mut bad: Vec<(usize, SchemaError)> = Vec::new();
        let mut col_offset = 0;
        let mut code_columns = Vec::new();
        for (fi, (plan, column)) in self.plan.iter().zip(frame.columns()).enumerate() {
            let name = || {
                self.input
                    .features()
                    .get(fi)
                    .map(|f| f.name.clone())
                    .unwrap_or_default()
            };
            match (plan, column) {
                (
                    ColumnPlan::Numeric {
                        fill,
                        offset,
                        scale,
                        keep_missing,
                    },
                    Column::Numeric(xs),
                ) => {
                    for (r, &x) in xs.iter().enumerate() {
                        let x = match (x.is_nan(), fill) {
                            (false, _) => x,
                            (true, Some(v)) => *v,
                            (true, None) if *keep_missing => {
                                if let Some(slot) = values.get_mut(r * width + col_offset) {
                                    *slot = f64::NAN;
                                }
                                continue;
                            }
                            (true, None) => {
                                return Err(PreprocessError::MissingValue {
                                    row: r,
                                    column: name(),
                                });
                            }
                        };
                        let y = (x - offset) / scale;
                        if !y.is_finite() {
                            bad.push((
                                r,
                                SchemaError::TooLarge {
                                    name: name(),
                                    found: x,
                                },
                            ));
                        }
                        if let Some(slot) = values.get_mut(r * width + col_offset) {
                            *slot = y;
                        }
                    }
                    col_offset += 1;
                }
                (
                    ColumnPlan::Categorical {
                        fill,
                        sorted,
                        codes: true,
                        keep_missing,
                        ..
                    },
                    Column::Categorical(xs),
                ) => {
                    // The category's position in its list; missing and unseen
                    // categories are NaN, which the model routes as missing.
                    for (r, x) in xs.iter().enumerate() {
                        let value = x.as_deref().or(fill.as_deref());
                        if value.is_none() && !keep_missing {
                            return Err(PreprocessError::MissingValue {
                                row: r,
                                column: name(),
                            });
                        }
                        let code = value
                            .and_then(|v| sorted.binary_search_by(|(c, _)| c.as_str().cmp(v)).ok())
                            .and_then(|pos| sorted.get(pos))
                            .map_or(f64::NAN, |(_, j)| *j as f64);
                        if let Some(slot) = values.get_mut(r * width + col_offset) {
                            *slot = code;
                        }
                    }
                    code_columns.push((col_offset, sorted.len()));
                    col_offset += 1;
                }
                (
                    ColumnPlan::Categorical {
                        fill,
                        sorted,
                        width: k,
                        handle_unknown,
                        codes: false,
                        ..
                    },
                    Column::Categorical(xs),
                ) => {
                    for (r, x) in xs.iter().enumerate() {
                        let Some(value) = x.as_deref().or(fill.as_deref()) else {
                            return Err(PreprocessError::MissingValue {
                                row: r,
                                column: name(),
                            });
                        };
                        match sorted.binary_search_by(|(c, _)| c.as_str().cmp(value)) {
                            Ok(pos) => {
                                let j = sorted.get(pos).map_or(0, |(_, j)| *j);
                                if let Some(slot) = values.get_mut(r * width + col_offset + j) {
                                    *slot = 1.0;
                                }
                            }
                            Err(_) => match handle_unknown {
                                HandleUnknown::Ignore => {}
                                HandleUnknown::Error => {
                                    let mut known: Vec<(usize, String)> =
                                        sorted.iter().map(|(c, i)| (*i, c.clone())).collect();
                                    known.sort();
                                    bad.push((
                                        r,
                                        SchemaError::UnseenCategory {
                                            name: name(),
                                            expected: known.into_iter().map(|(_, c)| c).collect(),
                                            found: value.to_owned(),
                                        },
                                    ));
                                }
                            },
                        }
                    }
                    col_offset += k;
                }
                (ColumnPlan::Numeric { .. } | ColumnPlan::Categorical { .. }, _) => {
                    return Err(PreprocessError::FrameMismatch { index: fi });
                }
            }
        }
        if !bad.is_empty() {
            return Err(PreprocessError::InvalidValues(group_by_row(bad)));
        }
        FeatureMatrix::from_row_major(values, n_rows, width)
            .map(|m| m.with_categories(code_columns))
            .ok_or_else(|| {
                PreprocessError::Internal("output matrix does not match its shape".to_owned())
            })
    }

    /// The input feature that produced output column `column` (a one-hot column maps to
    /// its categorical feature).
    #[must_use]
    pub fn source_feature(&self, column: usize) -> Option<usize> {
        let mut start = 0;
        for (fi, plan) in self.plan.iter().enumerate() {
            let w = match plan {
                ColumnPlan::Numeric { .. } => 1,
                ColumnPlan::Categorical { width, .. } => *width,
            };
            if column < start + w {
                return Some(fi);
            }
            start += w;
        }
        None
    }
}

/// Groups `(row, error)` pairs into one [`RowErrors`] per row, rows ascending and each
/// row's errors in feature order.
pub(crate) fn group_by_row(mut bad: Vec<(usize, SchemaError)>) -> Vec<RowErrors> {
    bad.sort_by_key(|(r, _)| *r);
    let mut rows: Vec<RowErrors> = Vec::new();
    for (row, error) in bad {
        match rows.last_mut() {
            Some(last) if last.row == row => last.errors.push(error),
            Some(_) | None => rows.push(RowErrors {
                row,
                errors: vec![error],
            }),
        }
    }
    rows
}

impl PreprocessSpec {
    /// Fits every step on `data` (rows of `schema`), each step seeing the output of the
    /// steps before it, as a scikit-learn pipeline does.
    ///
    /// # Errors
    /// [`PreprocessError::Invalid`] when the steps do not fit the schema,
    /// [`PreprocessError::NoValues`] when a column has nothing to fit on.
    pub fn fit(
        &self,
        schema: &FeatureSchema,
        data: &Frame,
    ) -> Result<FittedPreprocessor, PreprocessError> {
        self.fit_for(schema, data, ModelInputs::ENCODED)
    }

    /// Fits the steps as [`PreprocessSpec::fit`] does, for a model that takes `inputs`:
    /// then each categorical feature no step encodes gets a
    /// [`FittedStep::CategoryCodes`] (the schema's categories, or the training
    /// categories sorted), and each nullable feature no step imputes a
    /// [`FittedStep::KeepMissing`].
    ///
    /// # Errors
    /// As [`PreprocessSpec::fit`], with [`PreprocessSpec::validate_for`]'s checks.
    pub fn fit_for(
        &self,
        schema: &FeatureSchema,
        data: &Frame,
        inputs: ModelInputs,
    ) -> Result<FittedPreprocessor, PreprocessError> {
        self.validate_for(schema, inputs)
            .map_err(PreprocessError::Invalid)?;
        if data.columns().len() != schema.len() {
            return Err(PreprocessError::FrameMismatch {
                index: data.columns().len().min(schema.len()),
            });
        }
        let mut work: Vec<Column> = data.columns().to_vec();
        let mut fitted = Vec::new();
        for step in &self.steps {
            for name in step.columns() {
                let Some(fi) = schema.position(name) else {
                    return Err(PreprocessError::Internal(format!(
                        "validated step names unknown feature '{name}'"
                    )));
                };
                let declared = schema.features().get(fi).and_then(|f| f.categories.clone());
                let Some(column) = work.get_mut(fi) else {
                    return Err(PreprocessError::FrameMismatch { index: fi });
                };
                let f = fit_step(step, name, column, declared)?;
                fitted.push(f);
            }
        }
        for (fi, feature) in schema.features().iter().enumerate() {
            let handled = |op: &str| {
                self.steps
                    .iter()
                    .any(|s| s.op() == op && s.columns().contains(&feature.name))
            };
            if feature.dtype == DType::Categorical && !handled("one_hot") {
                let categories = match &feature.categories {
                    Some(list) => list.clone(),
                    None => {
                        let Some(Column::Categorical(xs)) = work.get(fi) else {
                            return Err(PreprocessError::FrameMismatch { index: fi });
                        };
                        let mut seen: Vec<String> = xs.iter().flatten().cloned().collect();
                        seen.sort();
                        seen.dedup();
                        seen
                    }
                };
                if categories.is_empty() {
                    return Err(no_values("category_codes", &feature.name));
                }
                fitted.push(FittedStep::CategoryCodes {
                    column: feature.name.clone(),
                    categories,
                });
            }
            if feature.nullable && !handled("impute") {
                fitted.push(FittedStep::KeepMissing {
                    column: feature.name.clone(),
                });
            }
        }
        FittedPreprocessor::from_steps(schema.clone(), fitted)
            .map_err(|e| PreprocessError::Internal(e.to_string()))
    }
}

/// A step applied to a column of a type `validate()` would have rejected.
fn mismatch(step: &StepSpec, column: &str) -> PreprocessError {
    PreprocessError::Internal(format!(
        "{} reached column '{column}' of the wrong type",
        step.op()
    ))
}

fn no_values(op: &'static str, column: &str) -> PreprocessError {
    PreprocessError::NoValues {
        op,
        column: column.to_owned(),
    }
}

/// Fits one step on one column and applies it to the working copy.
fn fit_step(
    step: &StepSpec,
    name: &str,
    column: &mut Column,
    declared: Option<Vec<String>>,
) -> Result<FittedStep, PreprocessError> {
    let column_name = name.to_owned();
    match (step, column) {
        (StepSpec::Impute(spec), Column::Numeric(xs)) => {
            let present: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
            let value = match &spec.strategy {
                ImputeStrategy::Mean => mean(&present).ok_or_else(|| no_values("impute", name))?,
                ImputeStrategy::Median => {
                    median(present).ok_or_else(|| no_values("impute", name))?
                }
                ImputeStrategy::MostFrequent => {
                    let mut counts: BTreeMap<u64, (f64, usize)> = BTreeMap::new();
                    for x in &present {
                        counts.entry(x.to_bits()).or_insert((*x, 0)).1 += 1;
                    }
                    counts
                        .values()
                        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.total_cmp(&a.0)))
                        .map(|(v, _)| *v)
                        .ok_or_else(|| no_values("impute", name))?
                }
                ImputeStrategy::Constant(ConstantValue::Number(v)) => *v,
                ImputeStrategy::Constant(ConstantValue::Text(_)) => {
                    return Err(mismatch(step, name));
                }
            };
            for x in xs.iter_mut().filter(|x| x.is_nan()) {
                *x = value;
            }
            Ok(FittedStep::Impute {
                column: column_name,
                value: Fill::Number(value),
            })
        }
        (StepSpec::Impute(spec), Column::Categorical(xs)) => {
            let value = match &spec.strategy {
                ImputeStrategy::MostFrequent => {
                    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                    for x in xs.iter().flatten() {
                        *counts.entry(x).or_default() += 1;
                    }
                    // max_by keeps the last maximum; iterate in reverse so ties go to the smallest.
                    counts
                        .iter()
                        .rev()
                        .max_by_key(|(_, n)| **n)
                        .map(|(c, _)| (*c).to_owned())
                        .ok_or_else(|| no_values("impute", name))?
                }
                ImputeStrategy::Constant(ConstantValue::Text(s)) => s.clone(),
                ImputeStrategy::Mean
                | ImputeStrategy::Median
                | ImputeStrategy::Constant(ConstantValue::Number(_)) => {
                    return Err(mismatch(step, name));
                }
            };
            for x in xs.iter_mut().filter(|x| x.is_none()) {
                *x = Some(value.clone());
            }
            Ok(FittedStep::Impute {
                column: column_name,
                value: Fill::Category(value),
            })
        }
        (StepSpec::StandardScale(_), Column::Numeric(xs)) => {
            let present: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
            let m = mean(&present).ok_or_else(|| no_values("standard_scale", name))?;
            let var = present.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / present.len() as f64;
            let sd = var.sqrt();
            let scale = if sd > 0.0 { sd } else { 1.0 };
            for x in xs.iter_mut() {
                *x = (*x - m) / scale;
            }
            Ok(FittedStep::StandardScale {
                column: column_name,
                mean: m,
                scale,
            })
        }
        (StepSpec::MinMaxScale(_), Column::Numeric(xs)) => {
            let present = xs.iter().copied().filter(|x| !x.is_nan());
            let (min, max) = present.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            });
            if min > max {
                return Err(no_values("min_max_scale", name));
            }
            let range = if max > min { max - min } else { 1.0 };
            for x in xs.iter_mut() {
                *x = (*x - min) / range;
            }
            Ok(FittedStep::MinMaxScale {
                column: column_name,
                min,
                max,
            })
        }
        (StepSpec::OneHot(spec), Column::Categorical(xs)) => {
            let categories = match declared {
                Some(list) => list,
                None => {
                    let mut seen: Vec<String> = xs.iter().flatten().cloned().collect();
                    seen.sort();
                    seen.dedup();
                    seen
                }
            };
            if categories.is_empty() {
                return Err(no_values("one_hot", name));
            }
            Ok(FittedStep::OneHot {
                column: column_name,
                categories,
                handle_unknown: spec.handle_unknown,
            })
        }
        // validate() rejects these pairings before fitting starts.
        (StepSpec::StandardScale(_) | StepSpec::MinMaxScale(_), Column::Categorical(_))
        | (StepSpec::OneHot(_), Column::Numeric(_)) => Err(mismatch(step, name)),
    }
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}
