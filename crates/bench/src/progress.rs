//! The live progress bar on stderr: elapsed time against the duration, and
//! requests, ok, errors and current rate. Hidden with `--quiet` or when stderr
//! is not a terminal; it only reads the shared relaxed counters.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::stats::Live;

const TICK: Duration = Duration::from_millis(250);

/// A running progress display (or nothing).
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts the display unless `quiet` or stderr is not a terminal.
    pub fn start(live: Arc<Live>, duration: Duration, quiet: bool, label: &str) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: None, ticker: None };
        }
        let bar = ProgressBar::with_draw_target(Some(duration.as_secs().max(1)), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{prefix} [{elapsed_precise}] {bar:30.cyan/blue} {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_owned());
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            let start = Instant::now();
            let mut interval = tokio::time::interval(TICK);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut last = (start, 0u64);
            loop {
                interval.tick().await;
                let now = Instant::now();
                let requests = live.requests.load(Ordering::Relaxed);
                let ok = live.ok.load(Ordering::Relaxed);
                let errors = live.errors.load(Ordering::Relaxed);
                let dt = now.duration_since(last.0).as_secs_f64();
                let rps = if dt > 0.0 { requests.saturating_sub(last.1) as f64 / dt } else { 0.0 };
                last = (now, requests);
                shown.set_position(now.duration_since(start).as_secs());
                shown.set_message(format!("requests {requests}  ok {ok}  errors {errors}  {rps:.0}/s"));
            }
        });
        Progress { bar: Some(bar), ticker: Some(ticker) }
    }

    /// Stops and clears the display.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}
