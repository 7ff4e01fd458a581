//! Reading training data with polars and validating it row by row against the schema.
//! Valid rows become a [`Frame`]; invalid ones go to the dead-letter file with the reason.

use std::path::{Path, PathBuf};

use ferry_core::Frame;
use ferry_core::schema::{Cell, FeatureSchema, FrameBuilder, Row, TargetValue};
use polars::prelude::{
    Column as PlColumn, CsvParseOptions, CsvReadOptions, DataFrame, DataType, ParquetReader,
    PlSmallStr, SerReader,
};

use crate::config::{DataFormat, Pipeline};
use crate::error::RunError;

/// Validated training data.
#[derive(Debug)]
pub struct Dataset {
    /// The valid rows' features.
    pub frame: Frame,
    /// The valid rows' targets.
    pub target: Vec<TargetValue>,
    /// Each valid row's place among the file's data rows (0-based, header not counted).
    pub rows: Vec<usize>,
    /// Rows read from the file.
    pub read: usize,
    /// Rows rejected.
    pub invalid: usize,
    /// Where rejected rows were written, when there were any.
    pub dead_letter: Option<PathBuf>,
}

/// When the file's header does not contain `separator` but does contain another
/// common one, the advice to set `data.csv.separator` to it.
fn separator_hint(path: &Path, separator: char) -> Option<String> {
    use std::io::{BufRead, BufReader, Read};
    let file = fs_err::File::open(path).ok()?;
    let mut header = String::new();
    BufReader::new(file.take(64 * 1024))
        .read_line(&mut header)
        .ok()?;
    if header.contains(separator) {
        return None;
    }
    [';', '\t', '|', ',']
        .into_iter()
        .filter(|&c| c != separator)
        .map(|c| (header.matches(c).count(), c))
        .filter(|&(n, _)| n > 0)
        .max_by_key(|&(n, _)| n)
        .map(|(_, c)| {
            let shown = if c == '\t' {
                "\"\\t\"".to_owned()
            } else {
                format!("\"{c}\"")
            };
            format!(
                "the header has no {separator:?} but {c:?}: set `data.csv.separator: {shown}` \
                 in the config"
            )
        })
}

/// The separator advice for a missing column, starting with "; ", or empty.
fn column_hint(pipeline: &Pipeline) -> String {
    match pipeline.format {
        DataFormat::Csv => separator_hint(pipeline.data_path(), pipeline.config.data.csv.separator)
            .map(|h| format!("; {h}"))
            .unwrap_or_default(),
        DataFormat::Parquet => String::new(),
    }
}

/// polars' message for a CSV it cannot read, with its advice about options Ferry does
/// not have replaced by Ferry's own.
fn csv_error_message(e: &polars::error::PolarsError, path: &Path, separator: char) -> String {
    let text = e.to_string();
    let text = match text.split_once("\n\nConsider setting 'truncate_ragged_lines") {
        Some((what, _)) => {
            format!("{what}: a row has more fields than the header (separated by {separator:?})")
        }
        None => text,
    };
    match separator_hint(path, separator) {
        Some(hint) => format!("{text}; {hint}"),
        None => text,
    }
}

/// The columns a run reads: the target (when `with_target`) and the schema's features.
fn needed_columns(pipeline: &Pipeline, with_target: bool) -> Vec<String> {
    let mut names = Vec::new();
    if with_target {
        names.push(pipeline.config.schema.target.name.clone());
    }
    for f in pipeline.schema.features() {
        if !names.contains(&f.name) {
            names.push(f.name.clone());
        }
    }
    names
}

/// The file's column names, read from the CSV header or the Parquet schema alone.
fn file_columns(pipeline: &Pipeline) -> Result<Vec<String>, RunError> {
    let path = pipeline.data_path();
    let read_err = |message: String| RunError::ReadData {
        path: path.to_owned(),
        message,
    };
    match pipeline.format {
        DataFormat::Csv => {
            let csv = &pipeline.config.data.csv;
            let file = fs_err::File::open(path).map_err(|e| read_err(e.to_string()))?;
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(u8::try_from(csv.separator).unwrap_or(b','))
                .quote(u8::try_from(csv.quote).unwrap_or(b'"'))
                .has_headers(true)
                .from_reader(file);
            let header = reader.headers().map_err(|e| read_err(e.to_string()))?;
            Ok(header.iter().map(str::to_owned).collect())
        }
        DataFormat::Parquet => {
            let file = fs_err::File::open(path).map_err(|e| read_err(e.to_string()))?;
            let schema = ParquetReader::new(file.into_file())
                .schema()
                .map_err(|e| read_err(e.to_string()))?;
            Ok(schema.iter_names().map(ToString::to_string).collect())
        }
    }
}

/// Reads only the columns the schema names (in file order), after checking that the
/// file has them all: a wide file costs what the model needs.
fn read_frame(pipeline: &Pipeline, with_target: bool) -> Result<DataFrame, RunError> {
    let path = pipeline.data_path();
    let available = file_columns(pipeline)?;
    let needed = needed_columns(pipeline, with_target);
    if let Some(missing) = needed.iter().find(|n| !available.contains(n)) {
        return Err(RunError::MissingColumn {
            path: path.to_owned(),
            column: missing.clone(),
            available: available.join(", "),
            hint: column_hint(pipeline),
        });
    }
    let selected: Vec<String> = available
        .into_iter()
        .filter(|n| needed.contains(n))
        .collect();
    let err = |e: polars::error::PolarsError| RunError::ReadData {
        path: path.to_owned(),
        message: e.to_string(),
    };
    match pipeline.format {
        DataFormat::Csv => {
            let csv = &pipeline.config.data.csv;
            let columns: std::sync::Arc<[PlSmallStr]> = selected
                .iter()
                .map(|n| PlSmallStr::from(n.as_str()))
                .collect();
            // Every column is read as text: the schema parses each field, so a bad value
            // rejects its row (to the dead-letter file) instead of the whole file.
            let parse = CsvParseOptions::default()
                .with_separator(u8::try_from(csv.separator).unwrap_or(b','))
                .with_quote_char(Some(u8::try_from(csv.quote).unwrap_or(b'"')));
            CsvReadOptions::default()
                .with_has_header(true)
                .with_columns(Some(columns))
                .with_infer_schema_length(Some(0))
                .with_parse_options(parse)
                .try_into_reader_with_file_path(Some(path.to_owned()))
                .and_then(polars::prelude::SerReader::finish)
                .map_err(|e| RunError::ReadData {
                    path: path.to_owned(),
                    message: csv_error_message(&e, path, csv.separator),
                })
        }
        DataFormat::Parquet => {
            let file = fs_err::File::open(path).map_err(|e| RunError::ReadData {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            ParquetReader::new(file.into_file())
                .with_columns(Some(selected))
                .finish()
                .map_err(err)
        }
    }
}

/// Every column as optional text, in file order; typed Parquet columns are cast.
fn text_columns(df: &DataFrame, path: &Path) -> Result<Vec<(String, PlColumn)>, RunError> {
    df.columns()
        .iter()
        .map(|c| {
            let cast = c.cast(&DataType::String).map_err(|e| RunError::ReadData {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            Ok((c.name().to_string(), cast))
        })
        .collect()
}

struct TextRow<'a> {
    fields: &'a [Option<&'a str>],
    feature_columns: &'a [usize],
    null_values: &'a [String],
}

impl Row for TextRow<'_> {
    fn cell(&self, index: usize, _name: &str) -> Cell<'_> {
        match self
            .feature_columns
            .get(index)
            .and_then(|&c| self.fields.get(c))
            .copied()
            .flatten()
        {
            None => Cell::Null,
            Some(s) if self.null_values.iter().any(|n| n == s) => Cell::Null,
            Some(s) => Cell::Raw(s),
        }
    }

    fn unknown_keys(&self, _schema: &FeatureSchema) -> Vec<String> {
        Vec::new()
    }
}

struct DeadLetter {
    path: PathBuf,
    writer: Option<csv::Writer<fs_err::File>>,
    header: Vec<String>,
}

impl DeadLetter {
    fn write(&mut self, row: usize, reason: &str, fields: &[Option<&str>]) -> Result<(), RunError> {
        let wrap = |source: csv::Error| RunError::DeadLetter {
            path: self.path.clone(),
            source,
        };
        if self.writer.is_none() {
            if let Some(parent) = self.path.parent() {
                fs_err::create_dir_all(parent).map_err(|e| wrap(e.into()))?;
            }
            let file = fs_err::File::create(&self.path).map_err(|e| wrap(e.into()))?;
            let mut w = csv::Writer::from_writer(file);
            let mut header = vec!["_row".to_owned(), "_reason".to_owned()];
            header.extend(self.header.iter().cloned());
            w.write_record(&header).map_err(wrap)?;
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.as_mut() {
            let mut record = vec![(row + 1).to_string(), reason.to_owned()];
            record.extend(fields.iter().map(|f| f.unwrap_or_default().to_owned()));
            w.write_record(&record)
                .map_err(|source| RunError::DeadLetter {
                    path: self.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    fn finish(self) -> Result<Option<PathBuf>, RunError> {
        match self.writer {
            Some(mut w) => {
                w.flush().map_err(|e| RunError::DeadLetter {
                    path: self.path.clone(),
                    source: e.into(),
                })?;
                Ok(Some(self.path))
            }
            None => Ok(None),
        }
    }
}

/// Reads the pipeline's data, validates every row and writes rejected rows (1-based data
/// row number, reason, original fields) to the dead-letter file: the config's, or
/// `default_dead_letter`.
///
/// # Errors
/// [`RunError::ReadData`], [`RunError::MissingColumn`], [`RunError::DeadLetter`].
pub fn load(pipeline: &Pipeline, default_dead_letter: &Path) -> Result<Dataset, RunError> {
    load_rows(pipeline, default_dead_letter, true)
}

/// Reads `data` (CSV or Parquet, told by its extension) with the schema and data
/// settings of the model whose version directory is `model_dir` (its `config.yaml`): the
/// features only, rows with a bad feature to `dead_letter`.
///
/// # Errors
/// [`RunError::ReadConfig`], [`RunError::Yaml`] or [`RunError::Config`] for the model's
/// stored config, and the errors of [`load`] for the data.
pub fn load_for_model(
    model_dir: &Path,
    data: &Path,
    dead_letter: &Path,
) -> Result<Dataset, RunError> {
    let config_path = model_dir.join("config.yaml");
    let text = fs_err::read_to_string(&config_path).map_err(RunError::ReadConfig)?;
    let mut config: crate::config::PipelineConfig = ferry_core::config::from_yaml_str(&text)
        .map_err(|source| RunError::Yaml {
            path: config_path.clone(),
            source,
        })?;
    config.data.path = std::path::absolute(data).unwrap_or_else(|_| data.to_owned());
    config.data.format = None;
    config.data.dead_letter = None;
    let pipeline = config
        .validate(Path::new("."))
        .map_err(|errors| RunError::Config {
            path: config_path,
            errors,
        })?;
    load_features(&pipeline, dead_letter)
}

/// Reads the features of the pipeline's data file alone, as [`load`] does, for data
/// without (or with an ignored) target: rows with a bad feature go to the dead-letter
/// file; the dataset's `target` is empty.
///
/// # Errors
/// As [`load`].
pub fn load_features(pipeline: &Pipeline, default_dead_letter: &Path) -> Result<Dataset, RunError> {
    load_rows(pipeline, default_dead_letter, false)
}

fn load_rows(
    pipeline: &Pipeline,
    default_dead_letter: &Path,
    with_target: bool,
) -> Result<Dataset, RunError> {
    let path = pipeline.data_path();
    let df = read_frame(pipeline, with_target)?;
    let columns = text_columns(&df, path)?;
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let position = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| RunError::MissingColumn {
                path: path.to_owned(),
                column: name.to_owned(),
                available: names.join(", "),
                hint: column_hint(pipeline),
            })
    };
    let feature_columns = pipeline
        .schema
        .features()
        .iter()
        .map(|f| position(&f.name))
        .collect::<Result<Vec<_>, _>>()?;
    let target_spec = &pipeline.config.schema.target;
    let target_column = if with_target {
        Some(position(&target_spec.name)?)
    } else {
        None
    };

    let strings = columns
        .iter()
        .map(|(_, c)| {
            c.str().map_err(|e| RunError::ReadData {
                path: path.to_owned(),
                message: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // One iterator per column, advanced row by row: the fields are never copied out
    // of polars' buffers, so a long table costs its columns once.
    let mut text: Vec<_> = strings.iter().map(|s| s.iter()).collect();
    let n = df.height();
    let null_values = &pipeline.config.data.null_values;
    let mut dead = DeadLetter {
        path: pipeline
            .dead_letter
            .clone()
            .unwrap_or_else(|| default_dead_letter.to_owned()),
        writer: None,
        header: names.iter().map(|s| (*s).to_owned()).collect(),
    };
    let mut builder = FrameBuilder::new(&pipeline.schema, n);
    let mut target = Vec::with_capacity(n);
    let mut rows = Vec::with_capacity(n);
    let mut invalid = 0;
    let mut fields: Vec<Option<&str>> = vec![None; text.len()];
    for r in 0..n {
        for (f, col) in fields.iter_mut().zip(&mut text) {
            *f = col.next().flatten();
        }
        let parsed_target = match target_column {
            Some(column) => {
                let raw = fields
                    .get(column)
                    .copied()
                    .flatten()
                    .filter(|s| !null_values.iter().any(|n| n == s));
                target_spec.parse(raw, pipeline.task).map(Some)
            }
            None => Ok(None),
        };
        let row = TextRow {
            fields: &fields,
            feature_columns: &feature_columns,
            null_values,
        };
        let mut reasons: Vec<String> = Vec::new();
        if let Err(t) = &parsed_target {
            reasons.push(t.to_string());
        }
        // A row with a bad target is rejected whole, but its feature errors are reported too.
        let pushed = if reasons.is_empty() {
            builder.push(&row)
        } else {
            builder.check(&row)
        };
        if let Err(errors) = pushed {
            reasons.extend(errors.iter().map(ToString::to_string));
        }
        match parsed_target {
            Ok(t) if reasons.is_empty() => {
                target.extend(t);
                rows.push(r);
            }
            Ok(_) | Err(_) => {
                invalid += 1;
                dead.write(r, &reasons.join("; "), &fields)?;
            }
        }
    }
    let dead_letter = dead.finish()?;
    Ok(Dataset {
        frame: builder.finish(),
        target,
        rows,
        read: n,
        invalid,
        dead_letter,
    })
}
