//! serve: Ferry's model server. Serves every registered model (or the ones named) over
//! HTTP with actix-web: health and readiness, model metadata, single and batch
//! prediction, and one error table ([`error::ErrorCode`]) so bad input always gets a
//! JSON 4xx naming the problem.
//!
//! A prediction goes through one seam: a protocol module decodes the request bytes into
//! rows ([`protocol::native`] for Ferry's own JSON), the one inference step
//! (`AppState::find` by name and version, then [`infer::infer`]) calls
//! `Predictor::predict` (the same call training evaluates with), and the protocol
//! encodes the answer, or renders the error from the shared table through
//! [`protocol::ErrorShape`].
//!
//! The modules stand in layers, each importing only from its own layer or below: base
//! (errors, config, keys, request ids, models' answer text), state (served models, metrics), inference,
//! protocols, and routes (route table, middleware, server) on top.
//!
//! [`app`] builds the application for a given [`AppState`]; the binary and the tests
//! both use it.

// The modules in their layers, bottom first (tests/e2e/layers.rs checks that each
// imports only from its own layer or below, and DESIGN.md draws it).
// base
pub mod answer;
pub mod api_keys;
pub mod config;
pub mod error;
pub mod monitor;
pub mod prediction_log;
pub mod request;
// state
pub mod metrics;
pub mod model_set;
pub mod sharded;
pub mod state;
// inference
pub mod infer;
// protocols
pub mod protocol;
// routes
pub mod api;
pub mod middleware;
pub mod server;

pub use config::{Limits, ServeConfig};
pub use error::{ApiError, ErrorCode};
pub use request::{API_VERSION, MODEL_VERSION_HEADER};
pub use server::app;
pub use state::AppState;
