//! train: Ferry's training pipeline, from a YAML config to a versioned, checksummed
//! model artifact in the registry.
//!
//! - [`config`]: [`PipelineConfig`](config::PipelineConfig) (the YAML) validated into a
//!   [`Pipeline`];
//! - [`data`]: polars loading, row validation and the dead-letter file;
//! - [`stages`]: a run's stages (load, split, select, fit, evaluate, gate, publish,
//!   promote), each a function over a small run context;
//! - [`runner`]: [`run`], which takes a pipeline through the stages and records the run;
//! - [`fitting`] and [`cv`]: the fit and score helpers, cross-validation and grid search;
//! - [`tracking`]: the run, its metrics and its model in an MLflow tracking server;
//! - [`commands`]: what the `train` subcommands print (models, drift, examples).
//!
//! The binary (`cargo run -p train -- --config configs/iris.yaml`) is a thin layer over
//! [`Pipeline::from_file`] and [`run`].

pub mod cli;
pub mod commands;
pub mod config;
pub mod cv;
pub mod data;
pub mod drift;
pub mod error;
pub mod explain;
pub mod fitting;
pub mod import;
pub mod progress;
pub mod record;
pub mod registry_cmd;
pub mod report;
pub mod runner;
pub mod shard;
pub mod stages;
pub mod tracking;

pub use config::Pipeline;
pub use error::{ExitKind, RunError};
pub use report::RunReport;
pub use runner::run;
