//! `train drift`: compares a data file (CSV, Parquet, or serve's prediction log) with the
//! reference statistics stored in a model's artifact, and writes `drift.json` and a
//! self-contained `drift.html` (inline SVG, no scripts, no external assets).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ferry_core::drift::{DriftReport, FeatureDrift, Observed, compare};
use ferry_core::registry::Registry;
use ferry_core::schema::FrameBuilder;
use ferry_core::{ModelBundle, ModelRef};
use serde::Serialize;

use crate::data;
use crate::error::RunError;

/// What `train drift` writes to `drift.json`.
#[derive(Debug, Clone, Serialize)]
pub struct DriftFile {
    /// The model compared with.
    pub model: String,
    /// Its version.
    pub version: u64,
    /// The data file compared.
    pub data: PathBuf,
    /// When the report was made (RFC 3339).
    pub created_at: String,
    /// Rows read from the data file (for a prediction log, the model's rows).
    pub rows_read: usize,
    /// Rows that failed the model's schema and were left out.
    pub rows_rejected: usize,
    /// Where the rejected rows went (CSV and Parquet input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<PathBuf>,
    /// The comparison.
    #[serde(flatten)]
    pub report: DriftReport,
}

/// Whether `path` is a prediction log (JSON lines) rather than a table.
fn is_prediction_log(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("jsonl" | "ndjson" | "json")
    )
}

/// Compares `data` with the reference statistics of the model `reference` names; the
/// dead-letter file for rejected rows goes into `out`.
///
/// # Errors
/// [`RunError::Registry`] when the model cannot be loaded, [`RunError::Drift`] when it
/// has no reference statistics or the data has no usable row, and the data errors of
/// training ([`RunError::ReadData`], [`RunError::MissingColumn`], ...).
pub fn drift(
    registry: &dyn Registry,
    reference: &ModelRef,
    data_path: &Path,
    out: &Path,
) -> Result<DriftFile, RunError> {
    let (resolved, bundle) = registry.load(reference)?;
    let Some(profile) = bundle.reference().cloned() else {
        return Err(RunError::Drift(format!(
            "{}/{} has no reference statistics (it was trained before Ferry stored them): \
             retrain it to compare drift",
            resolved.name, resolved.version
        )));
    };
    let (frame, read, rejected, dead_letter) = if is_prediction_log(data_path) {
        let (frame, read, rejected) =
            read_prediction_log(&bundle, resolved.name.as_str(), data_path)?;
        (frame, read, rejected, None)
    } else {
        let dataset =
            data::load_for_model(&resolved.path, data_path, &out.join("drift_rejected.csv"))?;
        (
            dataset.frame,
            dataset.read,
            dataset.invalid,
            dataset.dead_letter,
        )
    };
    if frame.n_rows() == 0 {
        return Err(RunError::Drift(format!(
            "{} has no valid row for {}/{} ({read} read, {rejected} rejected)",
            data_path.display(),
            resolved.name,
            resolved.version
        )));
    }
    let observed = Observed::from_frame(&profile, &frame);
    let report = compare(&profile, &observed, &profile.thresholds);
    Ok(DriftFile {
        model: resolved.name.to_string(),
        version: resolved.version.0,
        data: data_path.to_owned(),
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        rows_read: read,
        rows_rejected: rejected,
        dead_letter,
        report,
    })
}

/// The `inputs` of the log lines of model `name`, validated against its schema.
fn read_prediction_log(
    bundle: &ModelBundle,
    name: &str,
    path: &Path,
) -> Result<(ferry_core::Frame, usize, usize), RunError> {
    let text = fs_err::read_to_string(path).map_err(|e| RunError::ReadData {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    // Each row is validated once, as it is added: a bad one is left out, not the log.
    let schema = bundle.schema();
    let mut builder = FrameBuilder::new(schema, 0);
    let (mut read, mut rejected) = (0, 0);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| RunError::ReadData {
                path: path.to_owned(),
                message: format!("line {}: not a JSON object: {e}", i + 1),
            })?;
        if value.get("model").and_then(serde_json::Value::as_str) != Some(name) {
            continue;
        }
        read += 1;
        let added = match value.get("inputs") {
            Some(serde_json::Value::Object(inputs)) => builder.push(inputs).is_ok(),
            _ => false,
        };
        if !added {
            rejected += 1;
        }
    }
    let frame = builder.finish();
    Ok((frame, read, rejected))
}

/// Writes `drift.json` and `drift.html` into `out` (created if needed); returns their
/// paths.
///
/// # Errors
/// [`RunError::WriteReport`] naming the file.
pub fn write(file: &DriftFile, out: &Path) -> Result<(PathBuf, PathBuf), RunError> {
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source: std::io::Error| RunError::WriteReport { path, source }
    };
    fs_err::create_dir_all(out).map_err(write_err(out))?;
    let json_path = out.join("drift.json");
    let json = serde_json::to_vec_pretty(file).map_err(|e| RunError::WriteReport {
        path: json_path.clone(),
        source: std::io::Error::other(e),
    })?;
    fs_err::write(&json_path, json).map_err(write_err(&json_path))?;
    let html_path = out.join("drift.html");
    fs_err::write(&html_path, html(file)).map_err(write_err(&html_path))?;
    Ok((json_path, html_path))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(x: f64) -> String {
    if x.is_nan() {
        "–".to_owned()
    } else if x != 0.0 && x.abs() < 1e-3 {
        format!("{x:.2e}")
    } else {
        format!("{x:.3}")
    }
}

/// Reference and current proportions per bin or category as grouped bars.
fn svg_histogram(f: &FeatureDrift) -> String {
    let h = &f.histogram;
    let n = h.labels.len().max(1);
    let (width, height, top, bottom, left) = (640.0, 220.0, 10.0, 60.0, 40.0);
    let plot_h = height - top - bottom;
    let slot = (width - left - 10.0) / n as f64;
    let max = h
        .reference
        .iter()
        .chain(&h.current)
        .copied()
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{} distribution">"##,
        esc(&f.name)
    );
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" stroke="#888"/>"##,
        y = top + plot_h,
        x2 = width - 10.0
    );
    for (i, label) in h.labels.iter().enumerate() {
        let x0 = left + slot * i as f64;
        let bar = slot * 0.38;
        for (j, (values, colour)) in [(&h.reference, "#4c78a8"), (&h.current, "#f58518")]
            .into_iter()
            .enumerate()
        {
            let v = values.get(i).copied().unwrap_or(0.0);
            let bh = plot_h * v / max;
            let _ = write!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{bh:.1}" fill="{colour}"><title>{}: {:.1}%</title></rect>"##,
                x0 + slot * 0.1 + bar * j as f64,
                top + plot_h - bh,
                if j == 0 { "reference" } else { "current" },
                v * 100.0
            );
        }
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" transform="rotate(-35 {:.1} {:.1})">{}</text>"##,
            x0 + slot / 2.0,
            top + plot_h + 14.0,
            x0 + slot / 2.0,
            top + plot_h + 14.0,
            esc(label)
        );
    }
    let _ = write!(
        s,
        r##"<text x="4" y="{:.1}" font-size="10">{:.0}%</text></svg>"##,
        top + 10.0,
        max * 100.0
    );
    s
}

/// The self-contained HTML report.
#[must_use]
pub fn html(file: &DriftFile) -> String {
    let r = &file.report;
    let mut s = String::new();
    let verdict = if r.dataset_drift {
        format!(
            "Drift detected: {} of {} features drifted ({:.0}%, threshold {:.0}%).",
            r.drifted_features,
            r.features.len(),
            r.drifted_share * 100.0,
            r.thresholds.dataset_share * 100.0
        )
    } else if !r.enough_rows {
        format!(
            "Not enough rows for a verdict: {} compared, {} needed.",
            r.current_rows, r.thresholds.min_rows
        )
    } else {
        format!(
            "No dataset drift: {} of {} features drifted ({:.0}%, threshold {:.0}%).",
            r.drifted_features,
            r.features.len(),
            r.drifted_share * 100.0,
            r.thresholds.dataset_share * 100.0
        )
    };
    let _ = write!(
        s,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drift report: {model}/{version}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;background:#fff}}
table{{border-collapse:collapse;margin:1rem 0}}th,td{{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}}
th:first-child,td:first-child{{text-align:left}}.drift{{background:#fde2e1}}.ok{{background:#e6f4ea}}
.verdict{{font-size:1.2rem;font-weight:600;padding:.6rem 1rem;border-radius:4px}}
section{{margin:2rem 0}}.legend span{{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}}
</style></head><body>
<h1>Drift report: {model}/{version}</h1>
<p>Data: <code>{data}</code> · {rows} rows compared ({rejected} rejected) with {ref_rows} training rows · {created}</p>
<p class="verdict {cls}">{verdict}</p>
<h2>Summary</h2>
<table><thead><tr><th>feature</th><th>type</th><th>drifted</th><th>method</th><th>PSI</th><th>KS (p-value)</th><th>chi-square (p-value)</th><th>Jensen-Shannon</th><th>missing ref → cur</th><th>unseen</th><th>reasons</th></tr></thead><tbody>
"#,
        model = esc(&file.model),
        version = file.version,
        data = esc(&file.data.display().to_string()),
        rows = r.current_rows,
        rejected = file.rows_rejected,
        ref_rows = r.reference_rows,
        created = esc(&file.created_at),
        cls = if r.dataset_drift { "drift" } else { "ok" },
    );
    for f in &r.features {
        let _ = writeln!(
            s,
            r##"<tr class="{cls}"><td><a href="#f-{id}">{name}</a></td><td>{kind}</td><td>{drifted}</td><td>{method}</td><td>{psi}</td><td>{ks}</td><td>{chi}</td><td>{js}</td><td>{m0:.1}% → {m1:.1}%</td><td>{unseen}</td><td>{reasons}</td></tr>"##,
            cls = if f.drifted { "drift" } else { "ok" },
            id = esc(&f.name),
            name = esc(&f.name),
            kind = f.kind,
            drifted = if f.drifted { "yes" } else { "no" },
            method = f.method,
            psi = num(f.psi),
            ks = f.ks.map_or("–".to_owned(), |t| format!(
                "{} ({})",
                num(t.statistic),
                num(t.p_value)
            )),
            chi = f.chi_square.map_or("–".to_owned(), |t| format!(
                "{} ({})",
                num(t.statistic),
                num(t.p_value)
            )),
            js = f.jensen_shannon.map_or("–".to_owned(), num),
            m0 = f.missing_rate.reference * 100.0,
            m1 = f.missing_rate.current * 100.0,
            unseen = f
                .unseen_rate
                .map_or("–".to_owned(), |u| format!("{:.1}%", u * 100.0)),
            reasons = esc(&f.reasons.join("; ")),
        );
    }
    s.push_str("</tbody></table>\n");
    s.push_str(r#"<p class="legend">Bars: share of present values per bin or category,<span style="background:#4c78a8"></span>reference (training rows)<span style="background:#f58518"></span>current</p>"#);
    for f in &r.features {
        let mean = f.mean.map_or(String::new(), |m| {
            format!(" · mean {} → {}", num(m.reference), num(m.current))
        });
        let _ = writeln!(
            s,
            r#"<section id="f-{id}"><h3>{name} <small>({kind}, {state}, PSI {psi}{mean})</small></h3>{svg}</section>"#,
            id = esc(&f.name),
            name = esc(&f.name),
            kind = f.kind,
            state = if f.drifted { "drifted" } else { "stable" },
            psi = num(f.psi),
            svg = svg_histogram(f),
        );
    }
    s.push_str("</body></html>\n");
    s
}
