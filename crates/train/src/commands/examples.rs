//! `train examples`: trains every pipeline config of a directory (the examples in
//! `configs/` by default) into the registry, one after the other.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use ferry_core::RegistryLocation;

use crate::config::Pipeline;

/// `train examples`: every pipeline config of `dir`, in name order.
pub fn train_examples(
    dir: &std::path::Path,
    registry: Option<&RegistryLocation>,
    out: &mut impl Write,
) -> ExitCode {
    let mut configs: Vec<PathBuf> = match fs_err::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .filter(|p| p.file_name().is_some_and(|n| n != "serve.yaml"))
            .collect(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    configs.sort();
    if configs.is_empty() {
        eprintln!("error: {} holds no pipeline config", dir.display());
        return ExitCode::from(2);
    }
    let mut failed = 0;
    for config in &configs {
        let result = Pipeline::from_file(config).and_then(|pipeline| {
            let location = crate::runner::registry_location(&pipeline, registry);
            crate::runner::run(&pipeline, &location)
        });
        match result {
            Ok(report) => {
                let _ = writeln!(
                    out,
                    "ok      {:<40} {} version {} ({}, {:.1}s)",
                    config.display(),
                    report.model,
                    report.version,
                    report.kind,
                    report.seconds
                );
            }
            Err(err) => {
                failed += 1;
                let _ = writeln!(out, "FAILED  {:<40} {err}", config.display());
            }
        }
    }
    let _ = writeln!(
        out,
        "{} of {} configs trained",
        configs.len() - failed,
        configs.len()
    );
    ExitCode::from(u8::from(failed > 0))
}
