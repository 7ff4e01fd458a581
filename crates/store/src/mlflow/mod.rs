//! MLflow: a REST client of a tracking server ([`MlflowClient`]), the [`Registry`]
//! contract on its model registry ([`MlflowRegistry`]), and the run calls train's
//! tracking makes ([`experiment_id`], [`create_run`], [`end_run`]).
//!
//! [`Registry`]: ferry_core::Registry

mod client;
mod registry;

pub use client::{
    ArtifactEntry, ClientOptions, MlflowClient, MlflowError, authorization_from_env, proxy_path,
};
pub use registry::{
    BoundRun, DEFAULT_EXPERIMENT, MlflowRegistry, create_run, end_run, experiment_id,
};
