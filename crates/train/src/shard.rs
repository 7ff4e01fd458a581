//! A grid search spread over processes or machines: `train --config X --shard I/N`
//! scores its share of the grid cells and records each cell's cross-validated scores in
//! the registry; `train --config X --finish` ranks every recorded cell exactly as a
//! single process ranks its own, then fits, gates and publishes the best.
//!
//! The shards and the finish find each other's cells by a key derived from the config
//! and the data (their checksums): a shard run on another config or another data file
//! writes under another key and cannot mix in.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime};

use ferry_core::RegistryLocation;
use ferry_core::config::to_yaml_string;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Pipeline, Search};
use crate::cv::{self, CandidateResult, SearchTable, TrainingRows};
use crate::error::RunError;
use crate::fitting::pick;
use crate::record::RunRecord;
use crate::stages::{self, Run};

/// This process's share of a sharded search: cells `i` with `i % count == index`
/// (`index` from 0, as Kubernetes' `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// This shard, from 0.
    pub index: usize,
    /// How many shards share the grid.
    pub count: usize,
}

/// A `--shard` value that is not `INDEX/COUNT` with `INDEX < COUNT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected INDEX/COUNT with 0 <= INDEX < COUNT (like 0/3), found {0:?}")]
pub struct ShardError(String);

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Self, ShardError> {
        let refuse = || ShardError(s.to_owned());
        let (index, count) = s.split_once('/').ok_or_else(refuse)?;
        let (index, count): (usize, usize) = (
            index.trim().parse().map_err(|_| refuse())?,
            count.trim().parse().map_err(|_| refuse())?,
        );
        if index >= count {
            return Err(refuse());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The grid cells of a grid of `n` this shard scores.
    #[must_use]
    pub fn cells(self, n: usize) -> Vec<usize> {
        (0..n).filter(|i| i % self.count == self.index).collect()
    }
}

/// The key the shards and the finish of one search share: the config's and the data's
/// checksums, hashed.
#[must_use]
pub fn search_key(record: &RunRecord) -> String {
    let mut hash = Sha256::new();
    hash.update(record.config_sha256.as_bytes());
    hash.update(b":");
    hash.update(record.data_sha256.as_deref().unwrap_or("").as_bytes());
    let digest = hash.finalize();
    format!("search-{}", crate::record::hex(&digest[..8]))
}

/// What a shard did.
#[derive(Debug, Clone, Serialize)]
pub struct ShardReport {
    /// The model.
    pub model: String,
    /// The search's key in the registry.
    pub search: String,
    /// This shard.
    pub shard: Shard,
    /// How many cells the whole grid has.
    pub grid_cells: usize,
    /// The ranking metric.
    pub metric: ferry_core::metrics::Metric,
    /// Each cell scored here, by index.
    pub cells: Vec<(usize, CandidateResult)>,
    /// Seconds the shard took.
    pub seconds: f64,
}

impl fmt::Display for ShardReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Shard {} of {}'s grid search ({}): {} of {} cells scored, recorded as {}",
            self.shard,
            self.model,
            self.metric,
            self.cells.len(),
            self.grid_cells,
            self.search
        )?;
        for (cell, result) in &self.cells {
            match (&result.error, result.scores.get(&self.metric)) {
                (Some(e), _) => writeln!(f, "  cell {cell:>3}  {}  failed: {e}", result.params)?,
                (None, Some(score)) => {
                    writeln!(f, "  cell {cell:>3}  {}  {score}", result.params)?;
                }
                (None, None) => writeln!(f, "  cell {cell:>3}  {}", result.params)?,
            }
        }
        write!(
            f,
            "  time     {:.2}s; when every shard is done: train --config ... --finish",
            self.seconds
        )
    }
}

fn no_search() -> RunError {
    RunError::Search(
        "a sharded search needs a config with a `search:` section (--shard and --finish)"
            .to_owned(),
    )
}

/// Scores this shard's cells of `pipeline`'s grid on its training split and records
/// them in the registry at `location`. Nothing is fitted on the whole split or
/// published.
///
/// # Errors
/// Loading, splitting or scoring errors, as a run reports them; [`RunError::Search`]
/// when the config has no search; registry errors while recording.
pub fn run_shard(
    pipeline: &Pipeline,
    location: &RegistryLocation,
    shard: Shard,
) -> Result<ShardReport, RunError> {
    let started = std::time::Instant::now();
    let search = pipeline.search().ok_or_else(no_search)?;
    let registry = ferry_store::open(location, &ferry_store::StoreOptions::default())?;
    let config = to_yaml_string(pipeline.config()).map_err(RunError::SerializeConfig)?;
    let mut record = RunRecord::start(pipeline, SystemTime::now(), config);
    let stamp = record.started_at.clone();
    let cells = shard.cells(search.candidates.len());
    let results = {
        let mut run = Run::new(pipeline, registry.as_ref(), location, &stamp, &mut record);
        let mut dataset = stages::load::load(&mut run)?;
        let frames = stages::split::split(&mut run, &mut dataset)?;
        let target = pick(&dataset.target, &frames.split.train);
        let rows = TrainingRows {
            frame: &frames.train,
            target: &target,
        };
        let _span = stages::span("search");
        cv::evaluate_cells(pipeline, search, rows, &cells)?
    };
    let key = search_key(&record);
    for (cell, result) in cells.iter().zip(&results) {
        let bytes = serde_json::to_vec(result).map_err(|e| RunError::Search(e.to_string()))?;
        registry.write_search_cell(pipeline.model_name(), &key, *cell, &bytes)?;
    }
    Ok(ShardReport {
        model: pipeline.model_name().to_string(),
        search: key,
        shard,
        grid_cells: search.candidates.len(),
        metric: search.metric,
        cells: cells.into_iter().zip(results).collect(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// How often a waiting finish looks for the cells still missing.
const POLL: Duration = Duration::from_secs(5);

/// The search table of every recorded cell of `search` under `key`, ranked as a single
/// process ranks its own; waits up to `wait` for cells not recorded yet.
///
/// # Errors
/// [`RunError::Search`] when a cell has no result yet (naming them) or a recorded cell
/// is unreadable or belongs to another grid; registry errors.
pub fn recorded_table(
    registry: &dyn ferry_core::Registry,
    pipeline: &Pipeline,
    search: &Search,
    key: &str,
    wait: Duration,
) -> Result<SearchTable, RunError> {
    let n = search.candidates.len();
    let deadline = Instant::now() + wait;
    let (mut recorded, missing) = loop {
        let recorded = registry.search_cells(pipeline.model_name(), key)?;
        let missing: Vec<String> = (0..n)
            .filter(|i| !recorded.contains_key(i))
            .map(|i| i.to_string())
            .collect();
        let left = deadline.saturating_duration_since(Instant::now());
        if missing.is_empty() || left.is_zero() {
            break (recorded, missing);
        }
        tracing::info!(
            search = key,
            missing = missing.len(),
            "Waiting for the shards' cells."
        );
        std::thread::sleep(left.min(POLL));
    };
    if !missing.is_empty() {
        return Err(RunError::Search(format!(
            "the sharded search {key} of {} has no result yet for cell(s) {} of {n}: run \
             their shards first (train --config ... --shard INDEX/COUNT)",
            pipeline.model_name(),
            missing.join(", ")
        )));
    }
    let mut candidates = Vec::with_capacity(n);
    for (i, candidate) in search.candidates.iter().enumerate() {
        let bytes = recorded.remove(&i).unwrap_or_default();
        let result: CandidateResult = serde_json::from_slice(&bytes).map_err(|e| {
            RunError::Search(format!("cell {i} of search {key} is unreadable: {e}"))
        })?;
        let expected = serde_json::to_value(&candidate.params).unwrap_or_default();
        if result.params != expected {
            return Err(RunError::Search(format!(
                "cell {i} of search {key} was scored for {} but the grid's cell {i} is {expected}",
                result.params
            )));
        }
        candidates.push(result);
    }
    cv::rank(search, candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_the_grid_between_them() {
        let shard: Shard = "1/3".parse().unwrap();
        assert_eq!(shard, Shard { index: 1, count: 3 });
        assert_eq!(shard.cells(7), [1, 4]);
        let all: Vec<usize> = (0..3)
            .flat_map(|i| Shard { index: i, count: 3 }.cells(7))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(all, (0..7).collect::<Vec<_>>());
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.to_string().contains("INDEX/COUNT"), "{bad}: {err}");
        }
    }
}
