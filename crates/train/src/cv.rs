//! Cross-validation and grid search on the training split. Each fold refits the
//! preprocessing on its own training rows (nothing leaks from the held-out fold), fits
//! the model and scores the held-out rows through [`Predictor::predict`], the call serve
//! makes. Folds, and grid candidates times folds, run in parallel on rayon.

use std::collections::BTreeMap;
use std::fmt;

use ferry_core::metrics::Metric;
use ferry_core::model::{EncodedLabels, ValidModelSpec};
use ferry_core::schema::TargetValue;
use ferry_core::split::k_folds;
use ferry_core::{Frame, Predictor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{Pipeline, Search};
use crate::error::RunError;
use crate::fitting::{fit_predictor, labels_at, score};
use crate::progress::Progress;

/// The training rows cross-validation draws its folds from.
#[derive(Debug, Clone, Copy)]
pub struct TrainingRows<'a> {
    /// Their features, validated and not preprocessed.
    pub frame: &'a Frame,
    /// Their targets, one per row.
    pub target: &'a [TargetValue],
}

/// One metric over the folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Mean over the folds.
    pub mean: f64,
    /// Population standard deviation over the folds (as scikit-learn's
    /// `cross_val_score(...).std()`).
    pub std: f64,
    /// The value on each fold, in fold order.
    pub folds: Vec<f64>,
}

impl Score {
    fn of(values: Vec<f64>) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Self {
            mean,
            std: var.sqrt(),
            folds: values,
        }
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.4} ± {:.4}", self.mean, self.std)
    }
}

/// The outcome of `evaluation.cv` or `train cv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvTable {
    /// Number of folds.
    pub folds: usize,
    /// Whether the folds were stratified by class.
    pub stratified: bool,
    /// Every evaluation metric over the folds.
    pub scores: BTreeMap<Metric, Score>,
}

impl fmt::Display for CvTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.stratified { "stratified " } else { "" };
        writeln!(f, "{}-fold {kind}cross-validation:", self.folds)?;
        for (metric, score) in &self.scores {
            writeln!(f, "  {:<16} {score}", metric.as_str())?;
        }
        Ok(())
    }
}

/// One grid candidate's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateResult {
    /// The grid values it sets.
    pub params: serde_json::Value,
    /// Its rank by the search metric (1 is the best); `None` when it failed.
    pub rank: Option<usize>,
    /// Every evaluation metric over the folds (empty when it failed).
    pub scores: BTreeMap<Metric, Score>,
    /// Why it could not be scored, when it failed on some fold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of a grid search: every candidate, in grid order, and the best.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchTable {
    /// The ranking metric.
    pub metric: Metric,
    /// Whether a larger value of it is better.
    pub higher_is_better: bool,
    /// Cross-validation folds per candidate.
    pub folds: usize,
    /// Index (into `candidates`) of the best.
    pub best: usize,
    /// Every candidate.
    pub candidates: Vec<CandidateResult>,
}

impl SearchTable {
    /// The best candidate.
    #[must_use]
    pub fn best(&self) -> Option<&CandidateResult> {
        self.candidates.get(self.best)
    }
}

impl fmt::Display for SearchTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metrics: Vec<Metric> = self
            .candidates
            .iter()
            .flat_map(|c| c.scores.keys().copied())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        writeln!(
            f,
            "grid search: {} candidates x {} folds, ranked by {} ({} is better)",
            self.candidates.len(),
            self.folds,
            self.metric,
            if self.higher_is_better {
                "higher"
            } else {
                "lower"
            }
        )?;
        write!(f, "  {:>4}  {:<40}", "rank", "params")?;
        for m in &metrics {
            write!(f, " {:>17}", m.as_str())?;
        }
        writeln!(f)?;
        for c in &self.candidates {
            let params = c.params.to_string();
            let rank = c.rank.map_or_else(|| "-".to_owned(), |r| r.to_string());
            write!(f, "  {rank:>4}  {params:<40}")?;
            match &c.error {
                Some(e) => write!(f, " failed: {e}")?,
                None => {
                    for m in &metrics {
                        match c.scores.get(m) {
                            Some(s) => write!(f, " {:>8.4} ± {:<6.4}", s.mean, s.std)?,
                            None => write!(f, " {:>17}", "")?,
                        }
                    }
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// The folds of `rows` for `pipeline`: stratified by class when its split is, seeded by
/// its split seed.
fn folds_of(
    pipeline: &Pipeline,
    rows: TrainingRows<'_>,
    k: usize,
) -> Vec<ferry_core::split::Split> {
    let n = rows.target.len();
    let strata = pipeline.stratify.then(|| {
        let all: Vec<usize> = (0..n).collect();
        EncodedLabels::encode(&labels_at(rows.target, &all))
            .codes()
            .to_vec()
    });
    k_folds(n, k, pipeline.config.split.seed, strata.as_deref())
}

/// The fold (0-based) of each of `rows`, as cross-validation with `k` folds deals them.
#[must_use]
pub fn fold_of_each_row(pipeline: &Pipeline, rows: TrainingRows<'_>, k: usize) -> Vec<usize> {
    let mut fold_of = vec![0; rows.target.len()];
    for (f, split) in folds_of(pipeline, rows, k).iter().enumerate() {
        for &r in &split.test {
            fold_of[r] = f;
        }
    }
    fold_of
}

/// Fits `spec` on one fold's training rows and scores its held-out rows.
fn fold_scores(
    pipeline: &Pipeline,
    spec: &ValidModelSpec,
    rows: TrainingRows<'_>,
    fold: &ferry_core::split::Split,
) -> Result<BTreeMap<Metric, f64>, RunError> {
    let fit_frame = rows.frame.select_rows(&fold.train);
    let predictor: Predictor = fit_predictor(pipeline, spec, &fit_frame, rows.target, &fold.train)?;
    drop(fit_frame);
    let held_out = rows.frame.select_rows(&fold.test);
    score(pipeline, &predictor, &held_out, rows.target, &fold.test)
}

/// One spec's metrics over the folds, or the first error of its folds.
type SpecScores = Result<BTreeMap<Metric, Score>, RunError>;

/// Scores each of `specs` on `k` folds of `rows`: for each spec, its metrics over the
/// folds, or why it failed.
fn evaluate_specs(
    pipeline: &Pipeline,
    specs: &[&ValidModelSpec],
    rows: TrainingRows<'_>,
    k: usize,
    label: &'static str,
) -> Result<Vec<SpecScores>, RunError> {
    let folds = folds_of(pipeline, rows, k);
    if folds.len() < k || folds.iter().any(|f| f.train.len() < 2 || f.test.is_empty()) {
        return Err(RunError::NotEnoughRows(format!(
            "{} training rows cannot make {k} cross-validation folds",
            rows.target.len()
        )));
    }
    let progress = Progress::new(label, specs.len() * folds.len());
    let jobs: Vec<(usize, usize)> = (0..specs.len())
        .flat_map(|s| (0..folds.len()).map(move |f| (s, f)))
        .collect();
    let results: Vec<Result<BTreeMap<Metric, f64>, RunError>> = jobs
        .par_iter()
        .map(|&(s, f)| {
            let out = fold_scores(pipeline, specs[s], rows, &folds[f]);
            progress.step();
            out
        })
        .collect();
    let mut results = results.into_iter();
    Ok(specs
        .iter()
        .map(|_| {
            let mut per_metric: BTreeMap<Metric, Vec<f64>> = BTreeMap::new();
            let mut failed = None;
            for result in results.by_ref().take(folds.len()) {
                match result {
                    Ok(values) => {
                        for (m, v) in values {
                            per_metric.entry(m).or_default().push(v);
                        }
                    }
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(per_metric
                    .into_iter()
                    .map(|(m, v)| (m, Score::of(v)))
                    .collect()),
            }
        })
        .collect())
}

/// `k`-fold cross-validation of `spec` on `rows`, as `evaluation.cv` and `train cv` run
/// it.
///
/// # Errors
/// [`RunError::NotEnoughRows`] when the rows cannot make `k` folds, or the first error
/// of a fold (preprocessing, fitting, scoring).
pub fn cross_validate(
    pipeline: &Pipeline,
    spec: &ValidModelSpec,
    rows: TrainingRows<'_>,
    k: usize,
) -> Result<CvTable, RunError> {
    let mut results = evaluate_specs(pipeline, &[spec], rows, k, "cv folds")?;
    let scores = results.pop().unwrap_or_else(|| Ok(BTreeMap::new()))?;
    Ok(CvTable {
        folds: k,
        stratified: pipeline.stratify,
        scores,
    })
}

/// Runs the grid search of `search` on `rows`: every candidate on every fold. A
/// candidate that fails is reported in the table with its error and not ranked.
///
/// # Errors
/// As [`cross_validate`]; [`RunError::Search`] when every candidate failed.
pub fn grid_search(
    pipeline: &Pipeline,
    search: &Search,
    rows: TrainingRows<'_>,
) -> Result<SearchTable, RunError> {
    let all: Vec<usize> = (0..search.candidates.len()).collect();
    let candidates = evaluate_cells(pipeline, search, rows, &all)?;
    rank(search, candidates)
}

/// Cross-validates the grid cells `cells` (indices into `search.candidates`) on `rows`,
/// unranked: one shard's share of a search spread over processes. Each cell's result is
/// the same as in a whole search (same folds, same fits).
///
/// # Errors
/// As [`cross_validate`].
pub fn evaluate_cells(
    pipeline: &Pipeline,
    search: &Search,
    rows: TrainingRows<'_>,
    cells: &[usize],
) -> Result<Vec<CandidateResult>, RunError> {
    let chosen: Vec<&crate::config::Candidate> = cells
        .iter()
        .filter_map(|&i| search.candidates.get(i))
        .collect();
    let specs: Vec<&ValidModelSpec> = chosen.iter().map(|c| &c.valid).collect();
    let results = evaluate_specs(pipeline, &specs, rows, search.folds, "grid search")?;
    Ok(chosen
        .iter()
        .zip(results)
        .map(|(c, result)| {
            let params = serde_json::to_value(&c.params).unwrap_or(serde_json::Value::Null);
            match result {
                Ok(scores) => CandidateResult {
                    params,
                    rank: None,
                    scores,
                    error: None,
                },
                Err(e) => CandidateResult {
                    params,
                    rank: None,
                    scores: BTreeMap::new(),
                    error: Some(e.to_string()),
                },
            }
        })
        .collect())
}

/// Ranks every cell's result of `search` (in grid order) by its metric and picks the
/// best: what a whole search ends with, also from results gathered from shards.
///
/// # Errors
/// [`RunError::Search`] when every candidate failed.
pub fn rank(
    search: &Search,
    mut candidates: Vec<CandidateResult>,
) -> Result<SearchTable, RunError> {
    let metric = search.metric;
    let mean = |c: &CandidateResult| c.scores.get(&metric).map(|s| s.mean);
    // Ranked best first; ties keep grid order. NaN scores rank last.
    let mut order: Vec<usize> = (0..candidates.len())
        .filter(|&i| mean(&candidates[i]).is_some())
        .collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (
            mean(&candidates[a]).unwrap_or(f64::NAN),
            mean(&candidates[b]).unwrap_or(f64::NAN),
        );
        let key = |v: f64| {
            if v.is_nan() {
                f64::NEG_INFINITY
            } else if metric.higher_is_better() {
                v
            } else {
                -v
            }
        };
        key(y).total_cmp(&key(x))
    });
    for (rank, &i) in order.iter().enumerate() {
        candidates[i].rank = Some(rank + 1);
    }
    let Some(&best) = order.first() else {
        let reasons: Vec<String> = candidates.iter().filter_map(|c| c.error.clone()).collect();
        return Err(RunError::Search(format!(
            "every candidate failed; the first: {}",
            reasons.first().map_or("no candidates", String::as_str)
        )));
    };
    Ok(SearchTable {
        metric,
        higher_is_better: metric.higher_is_better(),
        folds: search.folds,
        best,
        candidates,
    })
}
