//! `train models`: every model type a config can name, with its task, whether it gives
//! probabilities, and its hyperparameters with their defaults, from the model table.

use std::io::Write;

use ferry_core::ModelKind;
use ferry_core::model::Task;

/// Writes the table of model types to `out`.
pub fn list(out: &mut impl Write) {
    let width = ModelKind::ALL
        .iter()
        .map(|k| k.as_str().len())
        .max()
        .unwrap_or(0);
    for kind in ModelKind::ALL {
        let task = match kind.task() {
            Task::Classification => "classification",
            Task::Regression => "regression",
        };
        let probabilities = if kind.gives_probabilities() {
            "yes"
        } else {
            "no"
        };
        let _ = writeln!(
            out,
            "{:<width$} {task:<15} probabilities: {probabilities}",
            kind.as_str()
        );
        for (key, default) in kind.hyperparameters() {
            let _ = writeln!(out, "    {key:<20} {default}");
        }
    }
}
