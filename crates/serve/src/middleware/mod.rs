//! The middleware around every route: [`trace`] (request id, span, log line and metrics
//! of every request) outermost, then [`auth`] (API keys).

pub mod auth;
pub mod trace;
