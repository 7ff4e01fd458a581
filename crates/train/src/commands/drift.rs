//! `train drift`: the drift report of a data file against a registered model's
//! reference statistics, printed as a table or JSON, with drift.json and drift.html
//! written.

use std::io::Write;
use std::process::ExitCode;

use ferry_core::{ModelRef, RegistryLocation};

use super::exit_code;
use crate::error::RunError;

/// `train drift`: exit 0 without dataset drift, 3 with it, 2 for bad input, 1 when the
/// report cannot be written.
pub fn drift_command(
    model: &ModelRef,
    data: &std::path::Path,
    registry: Option<&RegistryLocation>,
    dir: &std::path::Path,
    json: bool,
    out: &mut impl Write,
) -> ExitCode {
    let location = registry
        .cloned()
        .unwrap_or_else(crate::runner::default_registry);
    let done = ferry_store::open(&location, &ferry_store::StoreOptions::default())
        .map_err(RunError::from)
        .and_then(|opened| crate::drift::drift(opened.as_ref(), model, data, dir))
        .and_then(|file| {
            let paths = crate::drift::write(&file, dir)?;
            Ok((file, paths))
        });
    let (file, (json_path, html_path)) = match done {
        Ok(done) => done,
        Err(err) => {
            eprintln!("error: {err}");
            return exit_code(&err);
        }
    };
    let r = &file.report;
    if json {
        let _ = serde_json::to_writer_pretty(&mut *out, &file);
        let _ = writeln!(out);
    } else {
        let _ = writeln!(
            out,
            "{}/{} vs {}: {} rows ({} rejected) against {} training rows",
            file.model,
            file.version,
            file.data.display(),
            r.current_rows,
            file.rows_rejected,
            r.reference_rows
        );
        let _ = writeln!(
            out,
            "{:<24} {:<12} {:>8} {:>9}  reasons",
            "feature", "type", "PSI", "drifted"
        );
        for f in &r.features {
            let _ = writeln!(
                out,
                "{:<24} {:<12} {:>8.3} {:>9}  {}",
                f.name,
                f.kind,
                f.psi,
                if f.drifted { "yes" } else { "no" },
                f.reasons.join("; ")
            );
        }
        let _ = writeln!(
            out,
            "{}: {} of {} features drifted ({:.0}%, threshold {:.0}%)",
            if r.dataset_drift {
                "DRIFT"
            } else {
                "no dataset drift"
            },
            r.drifted_features,
            r.features.len(),
            r.drifted_share * 100.0,
            r.thresholds.dataset_share * 100.0
        );
        let _ = writeln!(
            out,
            "wrote {} and {}",
            json_path.display(),
            html_path.display()
        );
    }
    if r.dataset_drift {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}
