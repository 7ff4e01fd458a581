//! Progress of long stages (reading the data, cross-validation folds, grid candidates,
//! forest trees): an indicatif bar (or spinner) when stderr is a terminal, plain log
//! lines otherwise (CI, files, `--json` pipelines), at most one per tenth of the work.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferry_core::model::FitProgress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counts finished steps of one stage. Shared by reference between rayon workers.
#[derive(Debug)]
pub struct Progress {
    label: &'static str,
    total: usize,
    done: AtomicUsize,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A stage of `total` steps: a bar when stderr is a terminal, log lines otherwise.
    #[must_use]
    pub fn new(label: &'static str, total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(total as u64),
                ProgressDrawTarget::stderr_with_hz(10),
            );
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:>14} [{bar:30}] {pos}/{len} {elapsed_precise} (eta {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label);
            bar
        });
        Self {
            label,
            total,
            done: AtomicUsize::new(0),
            started: Instant::now(),
            bar,
        }
    }

    /// One step finished.
    pub fn step(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => {
                let tenth = (self.total / 10).max(1);
                if done.is_multiple_of(tenth) || done == self.total {
                    tracing::info!(
                        stage = self.label,
                        done,
                        total = self.total,
                        seconds = self.started.elapsed().as_secs_f64(),
                        "Progress."
                    );
                }
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A [`FitProgress`] for the final model's fit: a "trees" [`Progress`] started when the
/// model says how many trees it grows (models without trees report nothing).
#[derive(Debug, Default)]
pub struct TreeProgress(OnceLock<Progress>);

impl FitProgress for TreeProgress {
    fn start(&self, total: usize) {
        let _ = self.0.set(Progress::new("trees", total));
    }

    fn step(&self) {
        if let Some(p) = self.0.get() {
            p.step();
        }
    }
}

/// A spinner with elapsed time on a terminal while a step of unknown length (reading
/// the data file) runs; nothing otherwise. Cleared when dropped.
#[derive(Debug)]
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    /// Starts spinning with `message`.
    #[must_use]
    pub fn new(message: String) -> Self {
        Self(std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
                bar.set_style(style);
            }
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        }))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
