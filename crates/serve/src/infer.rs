//! The one inference step every protocol shares, after the model was found by name and
//! version ([`AppState::find`](crate::state::AppState::find)): validate the decoded rows
//! against its schema and predict them with `Predictor::predict`, the call training
//! evaluates with. Protocols only decode and encode; nothing here knows a wire format.
//! Every inference is also counted in the metrics, added to the model's live drift
//! window, and (when sampled) offered to the prediction log.

use std::sync::Arc;
use std::time::Instant;

use ferry_core::Predictions;
use ferry_core::schema::Row;
use smallvec::SmallVec;

use crate::error::ApiError;
use crate::state::{AppState, LoadedModel};

/// The outcome of one inference: the model that answered and its predictions, one per
/// row, in row order.
#[derive(Debug)]
pub struct Inference<'m> {
    /// The model version that predicted, borrowed from the model set the request found it
    /// in (see [`AppState::find_in`](crate::state::AppState::find_in)).
    pub model: &'m LoadedModel,
    /// Its predictions.
    pub predictions: Predictions,
}

/// Predicts `rows` with `model`.
///
/// # Errors
/// [`ApiError::InvalidFeatures`] with every schema violation of every row;
/// [`ApiError::Predict`] with every value the model cannot use (unknown categories,
/// overflows), or an internal failure.
pub fn infer<'m, R: Row>(
    state: &AppState,
    model: &'m Arc<LoadedModel>,
    rows: &[R],
    request_id: &str,
) -> Result<Inference<'m>, ApiError> {
    let started = Instant::now();
    crate::request::record_model(model.resolved.name.as_str(), model.resolved.version.0);
    let frame = model
        .bundle
        .schema()
        .validate_rows(rows)
        .map_err(ApiError::InvalidFeatures)?;
    let predictions = model.bundle.predict(&frame)?;
    let elapsed = started.elapsed();
    let classes = model.bundle.classes().unwrap_or_default();
    // Rows per class; the usual model's classes fit without the heap.
    let counts: SmallVec<[u64; 8]> = match &predictions {
        Predictions::Classes { labels, .. } if !classes.is_empty() => {
            let mut counts = smallvec::smallvec![0u64; classes.len()];
            for &l in labels {
                if let Some(c) = counts.get_mut(l) {
                    *c += 1;
                }
            }
            counts
        }
        Predictions::Classes { .. } | Predictions::Values(_) => {
            smallvec::smallvec![predictions.len() as u64]
        }
    };
    state.metrics.inference(
        model.resolved.name.as_str(),
        model.resolved.version.0,
        elapsed,
        classes,
        &counts,
    );
    if let Some(window) = &model.drift {
        window.observe(&frame);
    }
    if let Some(log) = &state.prediction_log
        && log.sample()
    {
        // The lines are made on the log's thread: this request only moves its rows.
        let at = std::time::SystemTime::now();
        let logged = Arc::clone(model);
        let request_id = request_id.to_owned();
        let logged_predictions = predictions.clone();
        let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        log.record(frame.n_rows() as u64, move |out| {
            crate::prediction_log::write_rows(
                out,
                at,
                &request_id,
                logged.resolved.name.as_str(),
                logged.resolved.version.0,
                logged.bundle.schema(),
                &frame,
                &logged_predictions,
                logged.bundle.classes(),
                latency_us,
            );
        });
    }
    Ok(Inference { model, predictions })
}
