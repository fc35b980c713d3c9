//! Terminal progress for the example binaries (indicatif), all in this one module: the
//! `prepare` bar over scans, the `pretrain` bar over steps, the `predict` bar over scans, and the grid's two bars (runs, and
//! the current pretraining or run) with loss and throughput. Hidden bars (stderr not a
//! terminal, e.g. CI logs, or `--quiet`) print one plain line per finished stage instead.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(feature = "train")]
use indicatif::MultiProgress;
use indicatif::{ProgressBar, ProgressStyle};
use twinscan_data::prepare::Progress;

#[cfg(feature = "train")]
use crate::experiment::GridEvent;
#[cfg(feature = "train")]
use crate::predict::PredictEvent;
#[cfg(feature = "train")]
use twinscan_classify::train;
#[cfg(feature = "train")]
use twinscan_ssl::pretrain;

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Prints above the bar on a terminal, or as a plain line when the bar is hidden.
fn say_bar(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}

/// The `prepare` bar: scans done of those found, slices written so far.
pub struct PrepareProgress {
    bar: ProgressBar,
    slices: AtomicUsize,
    /// The input folder, named in the line announcing the scans found (`None`: no line).
    input: Option<PathBuf>,
}

impl PrepareProgress {
    /// A bar for preparing the scans under `input`, announcing how many were found.
    pub fn new(input: &Path) -> Self {
        Self {
            input: Some(input.to_path_buf()),
            ..Self::bar_only()
        }
    }

    /// The bar alone, without the line announcing the scans found (the quickstart's).
    pub fn bar_only() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(style(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} scans, {msg}",
        ));
        Self {
            bar,
            slices: AtomicUsize::new(0),
            input: None,
        }
    }

    /// Feeds one of `prepare`'s progress events (called from its worker threads).
    pub fn event(&self, p: Progress) {
        match p {
            Progress::Found { layout, total } => {
                self.bar.set_length(total as u64);
                if let Some(input) = &self.input {
                    say_bar(
                        &self.bar,
                        format!("{total} {layout} scans under {}", input.display()),
                    );
                }
            }
            Progress::ScanDone { slices, .. } => {
                let s = self.slices.fetch_add(slices, Ordering::Relaxed) + slices;
                self.bar.set_message(format!("{s} slices"));
                self.bar.inc(1);
            }
            Progress::Finishing => self.bar.set_message("writing tables"),
        }
    }

    /// Removes the bar (success).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Leaves the bar where it stopped (failure).
    pub fn abandon(&self) {
        self.bar.abandon();
    }
}

/// The `pretrain` bar over optimiser steps, with the loss, its terms and throughput; epoch
/// lines and the initial kNN probe printed above it.
#[cfg(feature = "train")]
pub struct PretrainProgress {
    bar: ProgressBar,
}

#[cfg(feature = "train")]
impl PretrainProgress {
    /// A bar, hidden with `quiet` (then only the epoch lines are printed).
    pub fn new(quiet: bool) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(0)
        };
        bar.set_style(style(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps, epoch {prefix} {msg}",
        ));
        Self { bar }
    }

    /// Feeds one pretraining event.
    pub fn event(&self, event: pretrain::Event<'_>) {
        let bar = &self.bar;
        match event {
            pretrain::Event::Started {
                epochs,
                steps_per_epoch,
                first_epoch,
                train_slices,
            } => {
                bar.set_length(epochs * steps_per_epoch);
                bar.set_position(first_epoch * steps_per_epoch);
                say_bar(
                    bar,
                    format!(
                        "{train_slices} train slices, {steps_per_epoch} steps/epoch, \
                         epochs {first_epoch}..{epochs}"
                    ),
                );
            }
            pretrain::Event::Step(r) => {
                bar.set_prefix((r.epoch + 1).to_string());
                let terms: Vec<String> = r
                    .stats
                    .terms
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.3}"))
                    .collect();
                bar.set_message(format!(
                    "loss {:.2} ({}), std {:.4}, {:.1} img/s",
                    r.stats.loss,
                    terms.join(", "),
                    r.stats.embedding_std,
                    r.images_per_s
                ));
                bar.inc(1);
            }
            pretrain::Event::Epoch(r) => say_bar(bar, r.to_string()),
            pretrain::Event::Checkpoint(_) => {}
            pretrain::Event::InitialProbe(k) => say_bar(bar, format!("before training: {k}")),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The `predict` bar over scans, with the current scan and its slice count.
#[cfg(feature = "train")]
pub struct PredictProgress {
    bar: ProgressBar,
}

#[cfg(feature = "train")]
impl PredictProgress {
    /// A bar over the scans to predict.
    pub fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(style(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} scans {msg}",
        ));
        Self { bar }
    }

    /// Feeds one of `predict`'s progress events.
    pub fn event(&self, event: PredictEvent<'_>) {
        match event {
            PredictEvent::Started { scans } => self.bar.set_length(scans as u64),
            PredictEvent::Scan { id, slices } => {
                self.bar.set_message(format!("{id} ({slices} slices)"));
                self.bar.inc(1);
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(feature = "train")]
impl Default for PredictProgress {
    fn default() -> Self {
        Self::new()
    }
}

/// The grid's two bars: runs done of all, and the current pretraining's or run's steps.
#[cfg(feature = "train")]
struct GridProgress {
    multi: MultiProgress,
    runs: ProgressBar,
    job: ProgressBar,
}

#[cfg(feature = "train")]
impl GridProgress {
    fn new() -> Self {
        let multi = MultiProgress::new();
        let runs = multi.add(ProgressBar::new(0));
        runs.set_style(style(
            "{prefix:>12} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        ));
        runs.set_prefix("runs");
        let job = multi.add(ProgressBar::new(0));
        job.set_style(style("{prefix:>12} {bar:30} {pos}/{len} {msg}"));
        Self { multi, runs, job }
    }

    /// Prints above the bars on a terminal, or as a plain line when the bars are hidden.
    fn say(&self, line: String) {
        if self.multi.is_hidden() {
            println!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    fn event(&self, event: GridEvent<'_>) {
        let (runs, job) = (&self.runs, &self.job);
        match event {
            GridEvent::PretrainStart { index, of, plan } => {
                job.reset();
                job.set_prefix(format!("pretrain {}/{of}", index + 1));
                self.say(format!(
                    "pretraining {}/{of} ({}, {}, {} epochs) for {}",
                    index + 1,
                    plan.config.input.arch,
                    plan.config.augment,
                    plan.config.epochs,
                    plan.used_by.join(", ")
                ));
            }
            GridEvent::PretrainCached(plan) => self.say(format!(
                "pretraining for {} already done: {}",
                plan.used_by.join(", "),
                plan.dir.display()
            )),
            GridEvent::Pretrain(e) => self.pretrain(e),
            GridEvent::RunStart { index, of, plan } => {
                runs.set_length(of as u64);
                runs.set_position(index as u64);
                runs.set_message(format!("{} seed {}", plan.column, plan.seed));
                job.reset();
                job.set_prefix(plan.column.clone());
            }
            GridEvent::RunCached(plan) => {
                runs.inc(1);
                self.say(format!(
                    "{} seed {} already done: {}",
                    plan.column,
                    plan.seed,
                    plan.dir.display()
                ));
            }
            GridEvent::RunSuperseded { plan, old } => self.say(format!(
                "{} seed {}: configuration or dataset changed since {}: running again into {}",
                plan.column,
                plan.seed,
                old.display(),
                plan.dir.display()
            )),
            GridEvent::Run(e) => self.run(e),
            GridEvent::RunDone { plan, result } => {
                runs.inc(1);
                self.say(format!(
                    "{} seed {}: test macro F1 {:.3}, AUROC {:.3} (epoch {} selected on validation, {:.0} s)",
                    plan.column,
                    plan.seed,
                    result.test_macro_f1,
                    result.test_auroc,
                    result.selected_epoch + 1,
                    result.seconds
                ));
            }
        }
    }

    /// Progress inside a pretraining.
    fn pretrain(&self, e: pretrain::Event<'_>) {
        let job = &self.job;
        match e {
            pretrain::Event::Started {
                epochs,
                steps_per_epoch,
                first_epoch,
                ..
            } => {
                job.set_length(epochs * steps_per_epoch);
                job.set_position(first_epoch * steps_per_epoch);
            }
            pretrain::Event::Step(r) => {
                job.set_message(format!(
                    "epoch {} loss {:.1} std {:.3} {:.0} img/s",
                    r.epoch + 1,
                    r.stats.loss,
                    r.stats.embedding_std,
                    r.images_per_s
                ));
                job.inc(1);
            }
            pretrain::Event::Epoch(r) => self.say(format!("  pretrain {r}")),
            pretrain::Event::InitialProbe(k) => self.say(format!("  before pretraining: {k}")),
            pretrain::Event::Checkpoint(_) => {}
        }
    }

    /// Progress inside a classification run.
    fn run(&self, e: train::Event<'_>) {
        let job = &self.job;
        match e {
            train::Event::Started {
                epochs,
                steps_per_epoch,
            } => {
                job.set_length(epochs * steps_per_epoch);
                job.set_position(0);
            }
            train::Event::Step { epoch, loss } => {
                job.set_message(format!("epoch {} loss {loss:.3}", epoch + 1));
                job.inc(1);
            }
            train::Event::Epoch(r) => {
                job.set_message(format!(
                    "epoch {}: val macro F1 {:.3}, {:.0} img/s",
                    r.epoch + 1,
                    r.val_macro_f1,
                    r.images_per_s
                ));
            }
            train::Event::Testing => job.set_message("testing"),
        }
    }
}

/// Calls `f` with an event sink that drives two progress bars (hidden when stderr is not a
/// terminal, e.g. in CI logs, where one line per finished stage is printed instead).
#[cfg(feature = "train")]
pub fn with_grid_progress<R>(f: impl FnOnce(&mut dyn FnMut(GridEvent<'_>)) -> R) -> R {
    let bars = GridProgress::new();
    let r = f(&mut |event| bars.event(event));
    bars.job.finish_and_clear();
    bars.runs.finish_and_clear();
    r
}
