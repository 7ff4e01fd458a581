//! Preprocessing: the configured steps ([`PreprocessSpec`]), fitted on training data into
//! a [`FittedPreprocessor`] that is stored in the artifact and is the only code that turns
//! rows into model inputs, in training and in serving alike.

mod error;
mod fitted;
mod spec;

pub use error::{FittedStepsError, PreprocessError};
pub use fitted::{Fill, FittedPreprocessor, FittedStep};
pub use spec::{
    ConstantValue, HandleUnknown, ImputeSpec, ImputeStrategy, ModelInputs, OneHotSpec,
    PreprocessSpec, ScaleSpec, StepSpec,
};

#[cfg(test)]
mod tests;
