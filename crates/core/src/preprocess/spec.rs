use serde::{Deserialize, Serialize};

use crate::config::ConfigErrors;
use crate::schema::{DType, FeatureSchema};

/// The preprocessing section of a pipeline: steps applied in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreprocessSpec {
    /// The steps, applied in order. Features no step mentions pass through unchanged
    /// (numeric, integer and boolean features only: categorical ones need `one_hot`).
    #[serde(default)]
    pub steps: Vec<StepSpec>,
}

/// One preprocessing step, chosen by `op`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StepSpec {
    /// Fill missing values.
    Impute(ImputeSpec),
    /// Subtract the training mean, divide by the training standard deviation.
    StandardScale(ScaleSpec),
    /// Map the training minimum to 0 and maximum to 1.
    MinMaxScale(ScaleSpec),
    /// One 0/1 output per category of a categorical feature.
    OneHot(OneHotSpec),
}

impl StepSpec {
    /// The `op` name.
    #[must_use]
    pub fn op(&self) -> &'static str {
        match self {
            StepSpec::Impute(_) => "impute",
            StepSpec::StandardScale(_) => "standard_scale",
            StepSpec::MinMaxScale(_) => "min_max_scale",
            StepSpec::OneHot(_) => "one_hot",
        }
    }

    /// The columns the step applies to.
    #[must_use]
    pub fn columns(&self) -> &[String] {
        match self {
            StepSpec::Impute(s) => &s.columns,
            StepSpec::StandardScale(s) | StepSpec::MinMaxScale(s) => &s.columns,
            StepSpec::OneHot(s) => &s.columns,
        }
    }
}

/// `op: impute`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImputeSpec {
    /// Features to fill.
    pub columns: Vec<String>,
    /// How to choose the fill value: `mean`, `median`, `most_frequent`, or
    /// `{constant: VALUE}`.
    pub strategy: ImputeStrategy,
}

/// How an impute step chooses its fill value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImputeStrategy {
    /// Mean of the training values (numeric features).
    Mean,
    /// Median of the training values (numeric features).
    Median,
    /// Most frequent training value, the smallest on a tie (any feature).
    MostFrequent,
    /// A fixed value: a number for numeric features, a string for categorical ones.
    Constant(ConstantValue),
}

/// The fill value of `strategy: {constant: ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConstantValue {
    /// For numeric, integer and boolean features.
    Number(f64),
    /// For categorical features.
    Text(String),
}

/// `op: standard_scale` and `op: min_max_scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    /// Features to scale (numeric, integer or boolean).
    pub columns: Vec<String>,
}

/// `op: one_hot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneHotSpec {
    /// Categorical features to encode.
    pub columns: Vec<String>,
    /// What a category unseen in training does at prediction time.
    #[serde(default)]
    pub handle_unknown: HandleUnknown,
}

/// What `one_hot` does with a category it did not see in training.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandleUnknown {
    /// Reject the row with an error naming the feature and the category.
    #[default]
    Error,
    /// Encode it as all zeros.
    Ignore,
}

/// What a model takes besides finite numbers, which decides what preprocessing must do
/// before it ([`ModelKind::inputs`](crate::ModelKind::inputs)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelInputs {
    /// Missing values (NaN), routed by the model itself: a nullable feature needs no
    /// impute step.
    pub missing: bool,
    /// Category codes (the category's position in the feature's list), split on as
    /// categories: a categorical feature needs no one-hot step.
    pub category_codes: bool,
}

impl ModelInputs {
    /// Finite numbers only: every nullable feature imputed, every categorical one-hot
    /// encoded.
    pub const ENCODED: ModelInputs = ModelInputs {
        missing: false,
        category_codes: false,
    };
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Impute,
    Scale,
    Encode,
}

impl PreprocessSpec {
    /// Checks the steps against `schema` for a model that takes finite numbers only:
    /// [`PreprocessSpec::validate_for`] with [`ModelInputs::ENCODED`].
    ///
    /// # Errors
    /// Every problem found.
    pub fn validate(&self, schema: &FeatureSchema) -> Result<(), ConfigErrors> {
        self.validate_for(schema, ModelInputs::ENCODED)
    }

    /// Checks the steps against `schema`: columns exist and have a type the step accepts,
    /// a column is imputed, scaled and encoded at most once each and imputed before it is
    /// scaled or encoded, every categorical feature is one-hot encoded (unless the model
    /// takes category codes) and every nullable feature is imputed (unless the model
    /// takes missing values and the feature is not one-hot encoded). Paths are relative
    /// to the preprocessing section.
    ///
    /// # Errors
    /// Every problem found.
    pub fn validate_for(
        &self,
        schema: &FeatureSchema,
        inputs: ModelInputs,
    ) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        // For each feature, the index of the step that fills each slot.
        let mut slots: Vec<[Option<usize>; 3]> = vec![[None; 3]; schema.len()];
        for (si, step) in self.steps.iter().enumerate() {
            let at = format!("steps[{si}]");
            if step.columns().is_empty() {
                errors.push(format!("{at}.columns"), "must name at least one feature");
            }
            for (ci, name) in step.columns().iter().enumerate() {
                let path = format!("{at}.columns[{ci}]");
                let Some(fi) = schema.position(name) else {
                    errors.push(path, format!("unknown feature '{name}'"));
                    continue;
                };
                let dtype = schema.features()[fi].dtype;
                let numeric = dtype != DType::Categorical;
                let (slot, ok) = match step {
                    StepSpec::Impute(imp) => (
                        Slot::Impute,
                        match &imp.strategy {
                            ImputeStrategy::Mean | ImputeStrategy::Median => numeric,
                            ImputeStrategy::MostFrequent => true,
                            ImputeStrategy::Constant(ConstantValue::Number(_)) => numeric,
                            ImputeStrategy::Constant(ConstantValue::Text(_)) => !numeric,
                        },
                    ),
                    StepSpec::StandardScale(_) | StepSpec::MinMaxScale(_) => (Slot::Scale, numeric),
                    StepSpec::OneHot(_) => (Slot::Encode, !numeric),
                };
                if !ok {
                    let what = match step {
                        StepSpec::Impute(imp) => format!("impute with {:?}", imp.strategy),
                        StepSpec::StandardScale(_)
                        | StepSpec::MinMaxScale(_)
                        | StepSpec::OneHot(_) => step.op().to_owned(),
                    };
                    errors.push(
                        path.clone(),
                        format!("cannot {what} feature '{name}' of type {dtype}"),
                    );
                }
                let slot_index = slot as usize;
                if let Some(prev) = slots[fi][slot_index] {
                    errors.push(
                        path.clone(),
                        format!("feature '{name}' is already handled by steps[{prev}]"),
                    );
                } else {
                    slots[fi][slot_index] = Some(si);
                }
                if slot == Slot::Impute
                    && (slots[fi][Slot::Scale as usize].is_some()
                        || slots[fi][Slot::Encode as usize].is_some())
                {
                    errors.push(
                        path,
                        format!("feature '{name}' must be imputed before it is scaled or encoded"),
                    );
                }
            }
        }
        for (fi, feature) in schema.features().iter().enumerate() {
            let encoded = slots[fi][Slot::Encode as usize].is_some();
            if feature.dtype == DType::Categorical && !encoded && !inputs.category_codes {
                errors.push(
                    "steps",
                    format!(
                        "categorical feature '{}' needs a one_hot step",
                        feature.name
                    ),
                );
            }
            if feature.nullable
                && slots[fi][Slot::Impute as usize].is_none()
                && (encoded || !inputs.missing)
            {
                errors.push(
                    "steps",
                    format!("nullable feature '{}' needs an impute step", feature.name),
                );
            }
        }
        errors.into_result(())
    }
}
