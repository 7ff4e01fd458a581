//! train: Ferry's training pipeline, from a YAML config to a versioned, checksummed
//! model artifact in the registry.
//!
//! - [`config`]: [`PipelineConfig`](config::PipelineConfig) (the YAML) validated into a
//!   [`Pipeline`];
//! - [`data`]: polars loading, row validation and the dead-letter file;
//! - [`runner`]: [`run`], which fits, evaluates through `ModelBundle::predict` (the same
//!   call serve makes), applies the gates and publishes.
//!
//! The binary (`cargo run -p train -- --config configs/iris.yaml`) is a thin layer over
//! [`Pipeline::from_file`] and [`run`].

pub mod config;
pub mod cv;
pub mod data;
pub mod drift;
pub mod error;
pub mod progress;
pub mod record;
pub mod registry_cmd;
pub mod report;
pub mod runner;

pub use config::Pipeline;
pub use error::{ExitKind, RunError};
pub use report::RunReport;
pub use runner::run;
