//! Progress of long stages (cross-validation folds, grid candidates, forest trees): an
//! indicatif bar when stderr is a terminal, plain log lines otherwise (CI, files,
//! `--json` pipelines), at most one per tenth of the work.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

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
