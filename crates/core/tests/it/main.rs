//! ferry-core integration tests: the committed fixture artifact (golden predictions) and
//! the reader's refusal of damaged artifacts.

// Test helpers outside #[test] functions may panic: a failed helper is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod artifact;
mod legacy;
