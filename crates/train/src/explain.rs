//! `train explain`: the TreeSHAP explanation of every row of a data file (CSV or Parquet)
//! by a registered tree model, in terms of its input features, as `POST /explain`
//! answers them: CSV (one line per row and output) or JSON lines (one line per row).
//!
//! Rows that fail the model's schema go to a dead-letter file, as in training. The rows
//! are explained a chunk at a time, the chunks of a round on rayon's pool and written in
//! file order, so memory stays bounded by the round whatever the file's length.

use std::io::Write;
use std::path::{Path, PathBuf};

use ferry_core::model::{ExplainError, ExplanationSpace};
use ferry_core::registry::Registry;
use ferry_core::{FeatureExplanation, FeatureMatrix, Model, ModelRef};
use rayon::prelude::*;
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::data;
use crate::error::RunError;

/// Rows explained together on one thread.
const CHUNK_ROWS: usize = 512;

/// How explanations are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    /// CSV: `row,output,base,<feature>...`, one line per row and output.
    Csv,
    /// JSON lines: `{"row", "explanations": [{"output", "base", "contributions"}]}`.
    Jsonl,
}

/// What `train explain` did, printed when it is done.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainSummary {
    /// The model that explained.
    pub model: String,
    /// Its version.
    pub version: u64,
    /// The data file.
    pub data: PathBuf,
    /// Rows read from the data file.
    pub rows_read: usize,
    /// Rows explained.
    pub rows_explained: usize,
    /// Rows that failed the model's schema and were left out.
    pub rows_rejected: usize,
    /// Where the rejected rows went, when there were any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<PathBuf>,
    /// The space of the outputs (value, probability or raw score).
    pub space: ExplanationSpace,
    /// What each output is: a class label, or `value` for a regressor.
    pub outputs: Vec<String>,
}

impl std::fmt::Display for ExplainSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let space = match self.space {
            ExplanationSpace::Value => "value",
            ExplanationSpace::Probability => "probability",
            ExplanationSpace::RawScore => "raw score",
        };
        write!(
            f,
            "{}/{}: explained {} of {} rows of {} ({} rejected{}); outputs {} ({space})",
            self.model,
            self.version,
            self.rows_explained,
            self.rows_read,
            self.data.display(),
            self.rows_rejected,
            self.dead_letter
                .as_ref()
                .map(|p| format!(", written to {}", p.display()))
                .unwrap_or_default(),
            self.outputs.join(", "),
        )
    }
}

/// One output of one row, as JSON.
#[derive(Serialize)]
struct OutputJson<'a> {
    output: &'a str,
    base: f64,
    contributions: Contributions<'a>,
}

/// Feature contributions as a JSON object in schema order.
struct Contributions<'a> {
    features: &'a [String],
    values: &'a [f64],
}

impl Serialize for Contributions<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.features.len()))?;
        for (name, value) in self.features.iter().zip(self.values) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct RowJson<'a> {
    row: usize,
    explanations: Vec<OutputJson<'a>>,
}

/// Explains every valid row of `data_path` with the model `reference` names, writing
/// `format` to `out`; rejected rows go to `dead_letter`.
///
/// # Errors
/// [`RunError::Registry`] when the model cannot be loaded, [`RunError::Explain`] when it
/// cannot be explained (not a tree model, a regression tree or forest), the data errors
/// of training ([`RunError::ReadData`], [`RunError::MissingColumn`], ...), and
/// [`RunError::WriteReport`] when the output cannot be written.
pub fn explain(
    registry: &dyn Registry,
    reference: &ModelRef,
    data_path: &Path,
    dead_letter: &Path,
    format: ExplainFormat,
    out: &mut dyn Write,
    out_name: &Path,
) -> Result<ExplainSummary, RunError> {
    let (resolved, bundle) = registry.load(reference)?;
    // Refused before the data is read: explaining no row fails as any row would.
    let n_columns = bundle.model().n_features();
    let empty = FeatureMatrix::from_row_major(Vec::new(), 0, n_columns)
        .ok_or_else(|| RunError::Explain(format!("{} has no input column", resolved.name)))?;
    bundle
        .model()
        .explain(&empty)
        .map_err(|e| explain_error(&e))?;
    let dataset = data::load_for_model(&resolved.path, data_path, dead_letter)?;
    let n = dataset.frame.n_rows();
    let write_err = |e: std::io::Error| RunError::WriteReport {
        path: out_name.to_owned(),
        source: e,
    };
    let mut sink = match format {
        ExplainFormat::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out))),
        ExplainFormat::Jsonl => Sink::Jsonl(out),
    };
    let mut json_out = Vec::new();
    let mut header_done = false;
    let mut first: Option<FeatureExplanation> = None;
    let round = CHUNK_ROWS * rayon::current_num_threads().max(1);
    for start in (0..n).step_by(round) {
        let end = (start + round).min(n);
        let chunks: Vec<std::ops::Range<usize>> = (start..end)
            .step_by(CHUNK_ROWS)
            .map(|s| s..(s + CHUNK_ROWS).min(end))
            .collect();
        let explained = chunks
            .par_iter()
            .map(|range| {
                let rows: Vec<usize> = range.clone().collect();
                bundle.explain(&dataset.frame.select_rows(&rows))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| explain_error(&e))?;
        for (range, e) in chunks.iter().zip(&explained) {
            for (i, at) in range.clone().enumerate() {
                let row = dataset.rows.get(at).copied().unwrap_or(at);
                match &mut sink {
                    Sink::Csv(w) => {
                        if !header_done {
                            let mut header = vec!["row", "output", "base"];
                            header.extend(e.features.iter().map(String::as_str));
                            w.write_record(&header).map_err(|e| write_err(e.into()))?;
                            header_done = true;
                        }
                        for (o, output) in e.outputs.iter().enumerate() {
                            let mut record = vec![
                                row.to_string(),
                                output.clone(),
                                e.base.get(o).copied().unwrap_or(0.0).to_string(),
                            ];
                            record.extend(e.row(i, o).iter().map(f64::to_string));
                            w.write_record(&record).map_err(|e| write_err(e.into()))?;
                        }
                    }
                    Sink::Jsonl(out) => {
                        let line = RowJson {
                            row,
                            explanations: e
                                .outputs
                                .iter()
                                .enumerate()
                                .map(|(o, output)| OutputJson {
                                    output,
                                    base: e.base.get(o).copied().unwrap_or(0.0),
                                    contributions: Contributions {
                                        features: &e.features,
                                        values: e.row(i, o),
                                    },
                                })
                                .collect(),
                        };
                        json_out.clear();
                        serde_json::to_writer(&mut json_out, &line)
                            .map_err(|e| write_err(e.into()))?;
                        json_out.push(b'\n');
                        out.write_all(&json_out).map_err(write_err)?;
                    }
                }
            }
        }
        if first.is_none() {
            first = explained.into_iter().next();
        }
    }
    match &mut sink {
        Sink::Csv(w) => w.flush().map_err(write_err)?,
        Sink::Jsonl(out) => out.flush().map_err(write_err)?,
    }
    let (space, outputs) = match first {
        Some(e) => (e.space, e.outputs),
        None => {
            return Err(RunError::Explain(format!(
                "{} has no valid row for {}/{} ({} read, {} rejected)",
                data_path.display(),
                resolved.name,
                resolved.version,
                dataset.read,
                dataset.invalid
            )));
        }
    };
    Ok(ExplainSummary {
        model: resolved.name.to_string(),
        version: resolved.version.0,
        data: data_path.to_owned(),
        rows_read: dataset.read,
        rows_explained: n,
        rows_rejected: dataset.invalid,
        dead_letter: dataset.dead_letter,
        space,
        outputs,
    })
}

/// Where explanations are written.
enum Sink<'a> {
    Csv(Box<csv::Writer<&'a mut dyn Write>>),
    Jsonl(&'a mut dyn Write),
}

fn explain_error(e: &ExplainError) -> RunError {
    RunError::Explain(e.to_string())
}
