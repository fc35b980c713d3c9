//! A run's JSON-lines log (`log.jsonl`): one JSON object per line, each line flushed as it
//! is written, so an interrupted run leaves at most one cut line at the end.
//!
//! A resumed run first drops the lines its checkpoint does not cover ([`truncate`] with a
//! [`ResumePoint`]) and then appends: the finished log reads as that of an uninterrupted run.

use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Result, io, json};

/// An open JSON-lines log.
#[derive(Debug)]
pub struct JsonLog {
    w: BufWriter<fs::File>,
    path: PathBuf,
}

impl JsonLog {
    /// Creates `path` (emptying an existing file) or, with `append`, opens it for appending.
    ///
    /// # Errors
    /// [`TrainError::Io`](crate::TrainError::Io) naming the file.
    pub fn open(path: &Path, append: bool) -> Result<Self> {
        let file = fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(path)
            .map_err(io(path))?;
        Ok(Self {
            w: BufWriter::new(file),
            path: path.to_path_buf(),
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `value` as one line and flushes it.
    ///
    /// # Errors
    /// [`TrainError::Json`](crate::TrainError::Json) /
    /// [`TrainError::Io`](crate::TrainError::Io) naming the file.
    pub fn line<T: Serialize>(&mut self, value: &T) -> Result<()> {
        serde_json::to_writer(&mut self.w, value).map_err(json(&self.path))?;
        self.w
            .write_all(b"\n")
            .and_then(|_| self.w.flush())
            .map_err(io(&self.path))
    }
}

/// Where a resumed run continues: what its checkpoint contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    /// Optimiser steps done.
    pub step: u64,
    /// Epochs done.
    pub epochs_done: u64,
}

impl ResumePoint {
    /// A run that starts over (nothing of it is kept).
    pub const START: Self = Self {
        step: 0,
        epochs_done: 0,
    };

    /// Whether `line` belongs before this point: lines of `"kind": "step"` whose `step` is
    /// below [`step`](Self::step), of `"kind": "epoch"` whose `epoch` is below
    /// [`epochs_done`](Self::epochs_done), lines of the kinds in `start_kinds` (written once
    /// before the first epoch, so written again when the run restarts from epoch 0) only when
    /// an epoch is done, and every line of another kind.
    pub fn keeps(&self, line: &serde_json::Value, start_kinds: &[&str]) -> bool {
        let number = |key: &str| line.get(key).and_then(|s| s.as_u64());
        match line.get("kind").and_then(|k| k.as_str()) {
            Some("step") => number("step").is_some_and(|s| s < self.step),
            Some("epoch") => number("epoch").is_some_and(|e| e < self.epochs_done),
            Some(kind) if start_kinds.contains(&kind) => self.epochs_done > 0,
            _ => true,
        }
    }
}

/// Rewrites the log at `path` (atomically) keeping only the lines that parse as JSON and
/// that `keep` accepts; a line cut by an interruption does not parse and goes. A missing
/// file is left missing.
///
/// # Errors
/// [`TrainError::Io`](crate::TrainError::Io) naming the file.
pub fn truncate(path: &Path, mut keep: impl FnMut(&serde_json::Value) -> bool) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let file = fs::File::open(path).map_err(io(path))?;
    let mut kept = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(io(path))?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue; // a line cut by the interruption
        };
        if keep(&v) {
            kept.push(line);
        }
    }
    let mut text = kept.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    Ok(twinscan_data::atomic::write(path, text, false)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resuming_drops_what_the_checkpoint_does_not_cover() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let mut log = JsonLog::open(&path, false).unwrap();
        log.line(&json!({"kind": "knn_init", "acc": 0.5})).unwrap();
        for step in 0..4 {
            log.line(&json!({"kind": "step", "epoch": step / 2, "step": step}))
                .unwrap();
            if step % 2 == 1 {
                log.line(&json!({"kind": "epoch", "epoch": step / 2, "step": step + 1}))
                    .unwrap();
            }
        }
        log.line(&json!({"kind": "note"})).unwrap();
        drop(log);
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"kind\":\"step\",\"epo").unwrap();
        drop(f);

        let point = ResumePoint {
            step: 2,
            epochs_done: 1,
        };
        truncate(&path, |v| point.keeps(v, &["knn_init"])).unwrap();
        let kinds = |p: &Path| -> Vec<String> {
            fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    format!("{}{}", v["kind"].as_str().unwrap(), v["step"])
                })
                .collect()
        };
        assert_eq!(
            kinds(&path),
            ["knn_initnull", "step0", "step1", "epoch2", "notenull"]
        );
        // Appending continues after the kept lines.
        let mut log = JsonLog::open(&path, true).unwrap();
        log.line(&json!({"kind": "step", "step": 2})).unwrap();
        drop(log);
        assert_eq!(kinds(&path).len(), 6);
        // Starting over keeps neither steps, epochs nor the run-start lines.
        truncate(&path, |v| ResumePoint::START.keeps(v, &["knn_init"])).unwrap();
        assert_eq!(kinds(&path), ["notenull"]);
        // A missing log stays missing.
        let none = dir.path().join("none.jsonl");
        truncate(&none, |_| true).unwrap();
        assert!(!none.exists());
    }
}
