//! Terminal progress for the example binaries (indicatif): one bar over the grid's runs and
//! one over the current pretraining or run, with loss and throughput.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::experiment::GridEvent;
use twinscan_classify::train;
use twinscan_ssl::pretrain;

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Prints above the bars on a terminal, or as a plain line when the bars are hidden.
fn say(multi: &MultiProgress, line: String) {
    if multi.is_hidden() {
        println!("{line}");
    } else {
        let _ = multi.println(line);
    }
}

/// Calls `f` with an event sink that drives two progress bars (hidden when stderr is not a
/// terminal, e.g. in CI logs, where one line per finished stage is printed instead).
pub fn with_grid_progress<R>(f: impl FnOnce(&mut dyn FnMut(GridEvent<'_>)) -> R) -> R {
    let multi = MultiProgress::new();
    let runs = multi.add(ProgressBar::new(0));
    runs.set_style(style(
        "{prefix:>12} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
    ));
    runs.set_prefix("runs");
    let job = multi.add(ProgressBar::new(0));
    job.set_style(style("{prefix:>12} {bar:30} {pos}/{len} {msg}"));
    let mut sink = |event: GridEvent<'_>| match event {
        GridEvent::PretrainStart { index, of, plan } => {
            job.reset();
            job.set_prefix(format!("pretrain {}/{of}", index + 1));
            say(
                &multi,
                format!(
                    "pretraining {}/{of} ({}, {}, {} epochs) for {}",
                    index + 1,
                    plan.config.arch,
                    plan.config.augment,
                    plan.config.epochs,
                    plan.used_by.join(", ")
                ),
            );
        }
        GridEvent::PretrainCached(plan) => {
            say(
                &multi,
                format!(
                    "pretraining for {} already done: {}",
                    plan.used_by.join(", "),
                    plan.dir.display()
                ),
            );
        }
        GridEvent::Pretrain(e) => match e {
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
            pretrain::Event::Epoch(r) => say(&multi, format!("  pretrain {r}")),
            pretrain::Event::InitialProbe(k) => say(&multi, format!("  before pretraining: {k}")),
            pretrain::Event::Checkpoint(_) => {}
        },
        GridEvent::RunStart { index, of, plan } => {
            runs.set_length(of as u64);
            runs.set_position(index as u64);
            runs.set_message(format!("{} seed {}", plan.column, plan.seed));
            job.reset();
            job.set_prefix(plan.column.clone());
        }
        GridEvent::RunCached(plan) => {
            runs.inc(1);
            say(
                &multi,
                format!(
                    "{} seed {} already done: {}",
                    plan.column,
                    plan.seed,
                    plan.dir.display()
                ),
            );
        }
        GridEvent::RunSuperseded { plan, old } => say(
            &multi,
            format!(
                "{} seed {}: configuration or dataset changed since {}: running again into {}",
                plan.column,
                plan.seed,
                old.display(),
                plan.dir.display()
            ),
        ),
        GridEvent::Run(e) => match e {
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
        },
        GridEvent::RunDone { plan, result } => {
            runs.inc(1);
            say(
                &multi,
                format!(
                    "{} seed {}: test macro F1 {:.3}, AUROC {:.3} (epoch {} selected on validation, {:.0} s)",
                    plan.column,
                    plan.seed,
                    result.test_macro_f1,
                    result.test_auroc,
                    result.selected_epoch + 1,
                    result.seconds
                ),
            );
        }
    };
    let r = f(&mut sink);
    job.finish_and_clear();
    runs.finish_and_clear();
    r
}
