//! End-to-end tests: the real `train` binary writes artifacts into a temporary registry,
//! the real `serve` binary serves them on an ephemeral loopback port, and a real HTTP
//! client checks that served predictions equal in-process ones and that bad requests get
//! their 4xx while the server keeps serving.

// Test helpers outside #[test] functions may panic: a failed helper is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod azure;
mod boosting;
mod compose;
mod docs;
mod drift;
mod errors;
mod faults;
mod harness;
mod image;
mod k8s;
mod kserve;
mod layers;
mod metrics;
mod mlflow;
mod mlflow_registry;
mod mlflow_scoring;
mod mlflow_server;
mod mlflow_tracking;
mod monitoring;
mod object_store;
mod openapi;
mod otlp;
mod parity;
mod reload;
mod s3;
mod slow;
mod versions;
