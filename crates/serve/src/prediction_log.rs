//! The prediction log: a sample of the requests, one JSON line per predicted row
//! (request id, model, version, inputs, output, time inside the model), written by its
//! own thread. A sampled request only hands its rows (moved, not formatted) to a
//! bounded channel, and the writer makes their lines: when the channel is full the rows
//! are dropped and counted, so a slow or stuck disk never holds a request. The file is rotated by size:
//! `predictions.jsonl` becomes `predictions.jsonl.1`, and so on up to `max_files`.
//!
//! Under load the writer wakes every `flush_interval_ms` to drain the channel, so a request
//! that hands over rows makes no system call; the request that fills the channel to half
//! wakes it early, and after a second without rows it sleeps until the next one comes.
//! At shutdown [`PredictionLog::close`] has it write what is queued before the process
//! exits.

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use ferry_core::{Column, Frame, Predictions};
use prometheus::IntCounter;
use serde::{Deserialize, Serialize};

/// `prediction_log:` of the serve config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PredictionLogConfig {
    /// The log file; no log when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Share of requests logged, from 0 to 1.
    pub sample_rate: f64,
    /// Requests waiting to be written at most; more are dropped (and counted).
    pub channel_capacity: usize,
    /// Size at which the file is rotated, in bytes.
    pub max_bytes: u64,
    /// Rotated files kept besides the current one.
    pub max_files: usize,
    /// The longest a logged line waits to reach the file under load, in milliseconds:
    /// the writer drains the queue this often (and at once when it is half full).
    pub flush_interval_ms: u64,
}

impl Default for PredictionLogConfig {
    fn default() -> Self {
        Self {
            path: None,
            sample_rate: 0.01,
            channel_capacity: 1024,
            max_bytes: 100 << 20,
            max_files: 5,
            flush_interval_ms: 50,
        }
    }
}

impl PredictionLogConfig {
    /// Every value out of range, as `prediction_log.<field>: message`.
    #[must_use]
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(self.sample_rate.is_finite() && (0.0..=1.0).contains(&self.sample_rate)) {
            out.push((
                "prediction_log.sample_rate",
                format!("expected a number from 0 to 1, found {}", self.sample_rate),
            ));
        }
        if self.channel_capacity == 0 {
            out.push((
                "prediction_log.channel_capacity",
                "expected at least 1, found 0".to_owned(),
            ));
        }
        if !(1..=60_000).contains(&self.flush_interval_ms) {
            out.push((
                "prediction_log.flush_interval_ms",
                format!("expected 1 to 60000, found {}", self.flush_interval_ms),
            ));
        }
        if self.max_bytes < 1024 {
            out.push((
                "prediction_log.max_bytes",
                format!("expected at least 1024, found {}", self.max_bytes),
            ));
        }
        if let Some(parent) = self.path.as_deref().and_then(Path::parent)
            && !parent.as_os_str().is_empty()
            && !parent.is_dir()
        {
            out.push((
                "prediction_log.path",
                format!("directory {} does not exist", parent.display()),
            ));
        }
        out
    }
}

/// The counters of the log, in the server's metrics.
#[derive(Debug, Clone)]
pub struct LogCounters {
    /// Lines written.
    pub written: IntCounter,
    /// Lines dropped because the channel was full.
    pub dropped: IntCounter,
    /// Lines lost to write errors.
    pub failed: IntCounter,
}

/// The sending side, shared by the request handlers.
#[derive(Debug)]
pub struct PredictionLog {
    tx: SyncSender<Batch>,
    /// `sample_rate` scaled to the random generator's range.
    threshold: u64,
    counters: LogCounters,
    wake: Arc<Wake>,
    /// Queued requests at which a hand-over wakes a polling writer: half the channel.
    wake_at: usize,
    /// The writer's thread, to wake it.
    thread: Thread,
    /// Taken by [`PredictionLog::close`].
    handle: Mutex<Option<JoinHandle<()>>>,
}

/// What the request handlers and the writer share besides the channel.
#[derive(Debug, Default)]
struct Wake {
    /// Requests in the channel.
    queued: AtomicUsize,
    /// [`RUNNING`], [`POLLING`] or [`IDLE`].
    state: AtomicU8,
    /// Set at shutdown: write what is queued, then end.
    stop: AtomicBool,
}

/// The writer is draining the channel.
const RUNNING: u8 = 0;
/// The writer sleeps until its next poll.
const POLLING: u8 = 1;
/// The writer sleeps until a request hands over rows.
const IDLE: u8 = 2;

/// The rows of one request: `count` rows, written as lines by `write` on the writer's
/// thread, so that a sampled request only moves its rows over.
struct Batch {
    write: Box<dyn FnOnce(&mut String) + Send>,
    count: u64,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// Per-thread xorshift state for sampling (seeded from the thread's address and the
    /// clock; the quality needed is "about one in N").
    static RNG: Cell<u64> = Cell::new({
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let local = 0u8;
        (t ^ (std::ptr::from_ref(&local) as u64)).max(1)
    });
}

fn next_random() -> u64 {
    RNG.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

/// One logged row.
#[derive(Serialize)]
struct Line<'a> {
    ts: &'a str,
    request_id: &'a str,
    model: &'a str,
    version: u64,
    row: usize,
    latency_us: u64,
    inputs: serde_json::Map<String, serde_json::Value>,
    output: serde_json::Value,
}

impl PredictionLog {
    /// Starts the writer thread for `config` (whose `path` is set).
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(
        path: PathBuf,
        config: &PredictionLogConfig,
        counters: LogCounters,
    ) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(config.channel_capacity);
        let wake = Arc::new(Wake::default());
        let wake_at = config.channel_capacity.div_ceil(2);
        let writer = Writer {
            path,
            max_bytes: config.max_bytes,
            max_files: config.max_files,
            counters: counters.clone(),
            poll: Duration::from_millis(config.flush_interval_ms.max(1)),
        };
        let shared = Arc::clone(&wake);
        let handle = std::thread::Builder::new()
            .name("prediction-log".to_owned())
            .spawn(move || writer.run(&rx, &shared, wake_at))?;
        let thread = handle.thread().clone();
        let threshold = if config.sample_rate >= 1.0 {
            u64::MAX
        } else {
            (config.sample_rate * u64::MAX as f64) as u64
        };
        Ok(Self {
            tx,
            threshold,
            counters,
            wake,
            wake_at,
            thread,
            handle: Mutex::new(Some(handle)),
        })
    }

    /// Whether this request is logged.
    #[must_use]
    pub fn sample(&self) -> bool {
        self.threshold == u64::MAX || (self.threshold > 0 && next_random() < self.threshold)
    }

    /// Offers `count` rows of one sampled request; never waits. `write` makes their
    /// lines (with [`write_rows`]) on the writer's thread, off the request's path.
    pub fn record(&self, count: u64, write: impl FnOnce(&mut String) + Send + 'static) {
        let batch = Batch {
            write: Box::new(write),
            count,
        };
        match self.tx.try_send(batch) {
            Ok(()) => {
                // Counted after the send, read by the writer after it says it sleeps:
                // one of the two sees the other (both sequentially consistent).
                let queued = self.wake.queued.fetch_add(1, Ordering::SeqCst) + 1;
                let state = self.wake.state.load(Ordering::SeqCst);
                if (state == IDLE || (state == POLLING && queued >= self.wake_at))
                    && self
                        .wake
                        .state
                        .compare_exchange(state, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                {
                    self.thread.unpark();
                }
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.inc_by(count);
            }
        }
    }

    /// Has the writer write every queued row, flush and end, waiting up to `within` for
    /// it (a writer stuck on its file is left behind, and its rows are lost). Called at
    /// shutdown, once no request can hand over rows any more; later offers are dropped.
    pub fn close(&self, within: Duration) {
        self.wake.stop.store(true, Ordering::SeqCst);
        self.thread.unpark();
        let Some(handle) = self
            .handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let deadline = Instant::now() + within;
        while !handle.is_finished() {
            if Instant::now() >= deadline {
                tracing::warn!(
                    queued = self.wake.queued.load(Ordering::SeqCst),
                    "The prediction log's writer did not finish in time; its queued rows are lost."
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = handle.join();
    }
}

impl Drop for PredictionLog {
    /// The writer writes what is queued and ends, without being waited for.
    fn drop(&mut self) {
        self.wake.stop.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Appends one JSON line per row of `frame` to `out`: the time `at`, the request id, the
/// model and version, the row's index, inputs and output, and the time inside the model.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site, every field a log column"
)]
pub fn write_rows(
    out: &mut String,
    at: std::time::SystemTime,
    request_id: &str,
    model: &str,
    version: u64,
    schema: &ferry_core::FeatureSchema,
    frame: &Frame,
    predictions: &Predictions,
    classes: Option<&[ferry_core::ClassLabel]>,
    latency_us: u64,
) {
    let ts = humantime::format_rfc3339_micros(at).to_string();
    let n = frame.n_rows();
    for row in 0..n {
        let inputs = schema
            .features()
            .iter()
            .zip(frame.columns())
            .map(|(f, c)| {
                let v = match c {
                    Column::Numeric(v) => serde_json::Number::from_f64(v[row])
                        .map_or(serde_json::Value::Null, serde_json::Value::Number),
                    Column::Categorical(v) => {
                        v[row].as_ref().map_or(serde_json::Value::Null, |s| {
                            serde_json::Value::String(s.clone())
                        })
                    }
                };
                (f.name.clone(), v)
            })
            .collect();
        let output = match predictions {
            Predictions::Classes {
                labels,
                probabilities,
                n_classes,
            } => {
                let label = |i: usize| {
                    classes
                        .and_then(|c| c.get(i))
                        .map_or(serde_json::Value::Null, |c| serde_json::json!(c))
                };
                let mut answer = serde_json::json!({"prediction": label(labels[row])});
                if let Some(p) = probabilities {
                    let probs: serde_json::Map<String, serde_json::Value> = (0..*n_classes)
                        .map(|k| {
                            (
                                classes
                                    .and_then(|c| c.get(k))
                                    .map_or_else(|| k.to_string(), ToString::to_string),
                                serde_json::json!(p[row * n_classes + k]),
                            )
                        })
                        .collect();
                    answer["probabilities"] = serde_json::Value::Object(probs);
                }
                answer
            }
            Predictions::Values(v) => serde_json::json!({"prediction": v[row]}),
        };
        let line = Line {
            ts: &ts,
            request_id,
            model,
            version,
            row,
            latency_us,
            inputs,
            output,
        };
        if let Ok(text) = serde_json::to_string(&line) {
            out.push_str(&text);
            out.push('\n');
        }
    }
}

/// The writing side, on its own thread.
struct Writer {
    path: PathBuf,
    max_bytes: u64,
    max_files: usize,
    counters: LogCounters,
    /// The sleep between polls under load.
    poll: Duration,
}

impl Writer {
    fn open(&self) -> std::io::Result<(std::io::BufWriter<fs_err::File>, u64)> {
        let file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let size = file.metadata().map_or(0, |m| m.len());
        Ok((std::io::BufWriter::with_capacity(64 << 10, file), size))
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// `path.(k-1)` to `path.k` down to `path` to `path.1`; the oldest is removed.
    fn rotate(&self) -> std::io::Result<()> {
        if self.max_files == 0 {
            return fs_err::remove_file(&self.path);
        }
        let _ = fs_err::remove_file(self.rotated(self.max_files));
        for k in (1..self.max_files).rev() {
            let from = self.rotated(k);
            if from.exists() {
                fs_err::rename(&from, self.rotated(k + 1))?;
            }
        }
        fs_err::rename(&self.path, self.rotated(1))
    }

    /// Drains `rx` until `wake.stop` is set (or every sender is gone), sleeping between
    /// polls as the module doc says.
    fn run(&self, rx: &Receiver<Batch>, wake: &Wake, wake_at: usize) {
        // Opened here, not at start-up: a path that blocks on open (a FIFO nobody
        // reads) holds this thread only.
        let mut out = match self.open() {
            Ok(o) => Some(o),
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "Cannot open the prediction log; logged rows are lost.");
                None
            }
        };
        let mut empty_polls = 0;
        // A second of empty polls (at least one) before sleeping until the next row.
        let idle_polls = (IDLE_AFTER.as_millis() / self.poll.as_millis().max(1)).max(1);
        // One batch's lines, the buffer reused.
        let mut text = String::new();
        loop {
            // Read before draining: whatever was queued before `close` is written.
            let stopping = wake.stop.load(Ordering::SeqCst);
            let mut drained = 0usize;
            let mut gone = false;
            loop {
                match rx.try_recv() {
                    Ok(batch) => {
                        wake.queued.fetch_sub(1, Ordering::SeqCst);
                        drained += 1;
                        self.write(&mut out, &mut text, batch);
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        gone = true;
                        break;
                    }
                }
            }
            if drained > 0
                && let Some((w, _)) = out.as_mut()
            {
                let _ = w.flush();
            }
            if stopping || gone {
                break;
            }
            empty_polls = if drained == 0 { empty_polls + 1 } else { 0 };
            let idle = empty_polls >= idle_polls;
            wake.state
                .store(if idle { IDLE } else { POLLING }, Ordering::SeqCst);
            // Rows handed over since the drain, seen after saying so: drain again now
            // when they would have woken this thread.
            let queued = wake.queued.load(Ordering::SeqCst);
            if queued >= wake_at || (idle && queued > 0) || wake.stop.load(Ordering::SeqCst) {
                wake.state.store(RUNNING, Ordering::SeqCst);
                continue;
            }
            if idle {
                std::thread::park();
            } else {
                std::thread::park_timeout(self.poll);
            }
            wake.state.store(RUNNING, Ordering::SeqCst);
        }
        if let Some((mut w, _)) = out {
            let _ = w.flush();
        }
    }

    /// Writes one request's lines to `out`, rotating the file first when they would take
    /// it past `max_bytes`.
    fn write(
        &self,
        out: &mut Option<(std::io::BufWriter<fs_err::File>, u64)>,
        text: &mut String,
        batch: Batch,
    ) {
        text.clear();
        (batch.write)(text);
        if let Some((writer, size)) = out.as_mut()
            && *size > 0
            && *size + text.len() as u64 > self.max_bytes
        {
            let _ = writer.flush();
            if let Err(e) = self.rotate() {
                tracing::error!(path = %self.path.display(), error = %e, "Cannot rotate the prediction log.");
            }
            *out = self.open().ok();
        }
        match out.as_mut() {
            Some((writer, size)) => write_batch(writer, size, text, batch.count, &self.counters),
            None => self.counters.failed.inc_by(batch.count),
        }
    }
}

/// How long the writer polls without finding rows before it sleeps until the next one.
const IDLE_AFTER: Duration = Duration::from_secs(1);

fn write_batch(
    writer: &mut std::io::BufWriter<fs_err::File>,
    size: &mut u64,
    lines: &str,
    count: u64,
    counters: &LogCounters,
) {
    match writer.write_all(lines.as_bytes()) {
        Ok(()) => {
            *size += lines.len() as u64;
            counters.written.inc_by(count);
        }
        Err(e) => {
            tracing::error!(error = %e, "Cannot write the prediction log.");
            counters.failed.inc_by(count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters() -> LogCounters {
        LogCounters {
            written: IntCounter::new("w", "w").unwrap(),
            dropped: IntCounter::new("d", "d").unwrap(),
            failed: IntCounter::new("f", "f").unwrap(),
        }
    }

    #[test]
    fn sampling_follows_the_rate() {
        let dir = tempfile::tempdir().unwrap();
        let mk = |rate: f64| {
            PredictionLog::start(
                dir.path().join("p.jsonl"),
                &PredictionLogConfig {
                    sample_rate: rate,
                    ..PredictionLogConfig::default()
                },
                counters(),
            )
            .unwrap()
        };
        let never = mk(0.0);
        assert!((0..10_000).all(|_| !never.sample()));
        let always = mk(1.0);
        assert!((0..10_000).all(|_| always.sample()));
        let tenth = mk(0.1);
        let n = (0..100_000).filter(|_| tenth.sample()).count();
        assert!((9_000..11_000).contains(&n), "{n}");
    }

    fn line(i: usize) -> impl FnOnce(&mut String) + Send + 'static {
        move |out: &mut String| out.push_str(&format!("{{\"i\":{i}}}\n"))
    }

    #[test]
    fn close_writes_every_queued_row_before_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        let c = counters();
        let log =
            PredictionLog::start(path.clone(), &PredictionLogConfig::default(), c.clone()).unwrap();
        // Fewer than half the channel: nothing wakes the writer before its next poll.
        for i in 0..100 {
            log.record(1, line(i));
        }
        log.close(Duration::from_secs(10));
        let text = fs_err::read_to_string(&path).unwrap();
        let written: Vec<usize> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["i"]
                    .as_u64()
                    .unwrap() as usize
            })
            .collect();
        assert_eq!(written, (0..100).collect::<Vec<_>>());
        assert_eq!(c.written.get(), 100);
        // After close, offers are dropped and counted, never queued for nobody.
        log.record(3, line(100));
        assert_eq!(c.dropped.get(), 3);
        assert_eq!(c.written.get(), 100);
    }

    #[test]
    fn a_half_full_channel_wakes_the_writer_before_its_poll() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        let c = counters();
        let log = PredictionLog::start(
            path.clone(),
            &PredictionLogConfig {
                channel_capacity: 64,
                ..PredictionLogConfig::default()
            },
            c.clone(),
        )
        .unwrap();
        // A request every 200 µs: about 250 in one 50 ms poll interval, four times the
        // channel. Only the wake at 32 queued keeps them all.
        for i in 0..640 {
            log.record(1, line(i));
            std::thread::sleep(Duration::from_micros(200));
        }
        log.close(Duration::from_secs(10));
        assert_eq!(c.dropped.get(), 0);
        assert_eq!(c.written.get(), 640);
        assert_eq!(fs_err::read_to_string(&path).unwrap().lines().count(), 640);
    }

    #[test]
    fn the_file_is_rotated_by_size_keeping_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        let c = counters();
        let writer = Writer {
            path: path.clone(),
            max_bytes: 1000,
            max_files: 2,
            counters: c.clone(),
            poll: Duration::from_millis(50),
        };
        let (tx, rx) = sync_channel(100);
        for i in 0..30 {
            let line = format!("{{\"i\":{i},\"pad\":\"{}\"}}\n", "x".repeat(90));
            tx.send(Batch {
                write: Box::new(move |out: &mut String| out.push_str(&line)),
                count: 1,
            })
            .unwrap();
        }
        drop(tx);
        writer.run(&rx, &Wake::default(), 50);
        assert_eq!(c.written.get(), 30);
        let current = fs_err::read_to_string(&path).unwrap();
        let one = fs_err::read_to_string(writer.rotated(1)).unwrap();
        let two = fs_err::read_to_string(writer.rotated(2)).unwrap();
        assert!(!writer.rotated(3).exists());
        for f in [&current, &one, &two] {
            assert!(f.len() <= 1000, "{}", f.len());
        }
        // The newest lines are in the current file, the older ones rotated in order.
        assert!(
            current
                .trim_end()
                .ends_with(&format!("{}\"}}", "x".repeat(90)))
        );
        assert!(current.contains("\"i\":29"));
        let first = |s: &str| -> u64 {
            let v: serde_json::Value = serde_json::from_str(s.lines().next().unwrap()).unwrap();
            v["i"].as_u64().unwrap()
        };
        assert!(first(&two) < first(&one) && first(&one) < first(&current));
    }
}
