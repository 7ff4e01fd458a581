//! ferry-core: everything Ferry's training and serving sides must agree on.
//!
//! A row becomes model input through exactly one piece of code, here, at training time
//! and at serving time:
//!
//! - [`schema`]: [`FeatureSchema`] and row validation into a columnar [`Frame`];
//! - [`preprocess`]: [`PreprocessSpec`] (config) fitted into a [`FittedPreprocessor`];
//! - [`model`]: [`ModelSpec`] (config) fitted into a [`TrainedModel`]; trees and forests
//!   in Ferry's own flat layout;
//! - [`predictor`]: [`Predictor`], preprocessing plus model, the one `predict` that
//!   training's evaluation and every serving protocol call;
//! - [`bundle`]: [`ModelBundle`], a manifest around a predictor: the unit that is saved
//!   and loaded;
//! - [`ids`]: [`ModelName`], [`Version`], [`AliasName`] and [`ModelRef`];
//! - [`artifact`] and [`registry`]: the checksummed on-disk format and the [`Registry`]
//!   trait with its local-directory implementation;
//! - [`metrics`], [`split`]: evaluation and seeded splits.
//!
//! ferry-core knows nothing of HTTP, the command line, async runtimes or dataframes:
//! `train` converts polars columns and `serve` converts JSON into [`Frame`]s.
//!
//! ```
//! use ferry_core::schema::{DType, FeatureSchema, FeatureSpec};
//!
//! let schema = FeatureSchema::new(vec![FeatureSpec {
//!     name: "petal_length".into(),
//!     dtype: DType::Numeric,
//!     nullable: false,
//!     range: None,
//!     categories: None,
//! }])
//! .unwrap();
//! let row: serde_json::Map<String, serde_json::Value> =
//!     serde_json::from_str(r#"{"petal_length": "long"}"#).unwrap();
//! let errors = schema.validate_rows(&[row]).unwrap_err();
//! assert_eq!(
//!     errors[0].to_string(),
//!     "feature 'petal_length': expected a number, found string \"long\""
//! );
//! ```

#![warn(missing_docs)]

pub mod artifact;
pub mod bundle;
pub mod config;
pub mod drift;
pub mod frame;
pub mod ids;
pub mod label;
pub mod metrics;
pub mod model;
pub mod predictor;
pub mod preprocess;
pub mod registry;
pub mod schema;
pub mod split;

pub use bundle::ModelBundle;
pub use frame::{Column, FeatureMatrix, Frame};
pub use ids::{AliasName, ModelName, ModelRef, Version};
pub use label::ClassLabel;
pub use model::{Model, ModelKind, ModelSpec, Predictions, TrainedModel};
pub use predictor::{FeatureExplanation, Predictor};
pub use preprocess::{FittedPreprocessor, PreprocessSpec};
pub use registry::{LocalRegistry, Registry, RegistryLocation};
pub use schema::FeatureSchema;

/// The version of ferry-core, recorded in every manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The smartcore version the models are fitted with, recorded in every manifest.
pub const SMARTCORE_VERSION: &str = "0.7";

#[cfg(test)]
mod autotraits {
    // serve shares these across actix workers: they must stay Send + Sync + 'static.
    fn assert_shareable<T: Send + Sync + 'static>() {}

    #[test]
    fn shared_types_are_send_sync_static() {
        assert_shareable::<crate::TrainedModel>();
        assert_shareable::<crate::FittedPreprocessor>();
        assert_shareable::<crate::ModelBundle>();
        assert_shareable::<crate::Predictor>();
        assert_shareable::<std::sync::Arc<dyn crate::Registry>>();
        assert_shareable::<crate::FeatureSchema>();
    }
}
