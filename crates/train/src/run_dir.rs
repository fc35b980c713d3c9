//! A run folder: its configuration (`config.json`, written atomically), its JSON-lines log,
//! its checkpoints, and the checks that decide whether a run may continue or is finished.
//!
//! ```text
//! RUN/config.json     the run's record R (its configuration, the dataset and its fingerprint)
//! RUN/log.jsonl       one JSON object per line (crate::log)
//! RUN/checkpoints/    atomic per-epoch checkpoints (crate::checkpoint)
//! RUN/<marker>        written last by the caller (e.g. `encoder.safetensors`, `result.json`):
//!                     its presence marks a finished run
//! ```
//!
//! The record type `R` is the caller's ([`RunRecord`]): pretraining records the dataset and
//! its configuration, the classifier also its structures and split sizes. The checks compare
//! the record's configuration and dataset fingerprint only, written once here for both
//! crates and the grid runner.

use std::fs;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::checkpoint::Checkpoints;
use crate::error::{Result, TrainError, io, json};
use crate::log::{JsonLog, ResumePoint, truncate};

/// The configuration file.
pub const CONFIG: &str = "config.json";
/// The JSON-lines log.
pub const LOG: &str = "log.jsonl";
/// The checkpoint folder.
pub const CHECKPOINTS: &str = "checkpoints";

/// What a run records in its `config.json`.
pub trait RunRecord: Serialize + DeserializeOwned {
    /// The run's configuration (a resumed or reused run must have an equal one).
    type Config: Serialize + DeserializeOwned + PartialEq;

    /// The configuration.
    fn config(&self) -> &Self::Config;

    /// The fingerprint of the dataset the run trains on (older runs may lack it).
    fn dataset_fingerprint(&self) -> Option<&str>;
}

/// Top-level fields whose values differ between two configurations (by their JSON form; a
/// field only one of them has counts as differing when it is `a`'s).
pub fn differing_fields<C: Serialize>(a: &C, b: &C) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return vec!["<unserialisable>".into()];
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// A run folder whose `config.json` holds an `R`.
#[derive(Debug, Clone)]
pub struct RunDir<R> {
    root: PathBuf,
    record: PhantomData<fn() -> R>,
}

impl<R: RunRecord> RunDir<R> {
    /// The run folder `root` (which need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            record: PhantomData,
        }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file of the run (`root/name`).
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Its `config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.path(CONFIG)
    }

    /// Its `log.jsonl`.
    pub fn log_path(&self) -> PathBuf {
        self.path(LOG)
    }

    /// Its checkpoints.
    pub fn checkpoints(&self) -> Checkpoints<R::Config> {
        Checkpoints::new(self.path(CHECKPOINTS))
    }

    /// Whether the folder holds a run (its `config.json` exists).
    pub fn exists(&self) -> bool {
        self.config_path().exists()
    }

    /// Writes `record` to `config.json` atomically (creating the folder), replacing any.
    ///
    /// # Errors
    /// [`TrainError::Io`] / [`TrainError::Json`] naming the file.
    pub fn write_config(&self, record: &R) -> Result<()> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let path = self.config_path();
        let bytes = serde_json::to_vec_pretty(record).map_err(json(&path))?;
        Ok(twinscan_data::atomic::write(&path, bytes, false)?)
    }

    /// Reads `config.json` back.
    ///
    /// # Errors
    /// [`TrainError::Io`] (e.g. missing) / [`TrainError::Json`] (corrupt, or another kind of
    /// run) naming the file.
    pub fn read_config(&self) -> Result<R> {
        let path = self.config_path();
        let bytes = fs::read(&path).map_err(io(&path))?;
        serde_json::from_slice(&bytes).map_err(json(&path))
    }

    /// What differs between the recorded run and `record`: the top-level configuration
    /// fields, and `dataset (...)` when the recorded dataset fingerprint is another one.
    ///
    /// # Errors
    /// As [`read_config`](Self::read_config).
    pub fn differences(&self, record: &R) -> Result<Vec<String>> {
        let saved = self.read_config()?;
        let mut fields = differing_fields(saved.config(), record.config());
        if saved.dataset_fingerprint().is_some()
            && saved.dataset_fingerprint() != record.dataset_fingerprint()
        {
            fields.push("dataset (its fingerprint changed: prepared again?)".into());
        }
        Ok(fields)
    }

    /// Starts a new run (`resume` false: the folder must hold none; `config.json` is
    /// written) or continues the one there (`resume` true: its `config.json` must match
    /// `record`, see [`differences`](Self::differences); partial checkpoint folders of an
    /// interrupted write are removed).
    ///
    /// # Errors
    /// [`TrainError::RunExists`], [`TrainError::NothingToResume`],
    /// [`TrainError::ConfigMismatch`] naming `config.json`, and I/O or JSON errors naming the
    /// file.
    pub fn open(&self, record: &R, resume: bool) -> Result<()> {
        if !resume {
            if self.exists() {
                return Err(TrainError::RunExists {
                    path: self.root.clone(),
                });
            }
            return self.write_config(record);
        }
        if !self.exists() {
            return Err(TrainError::NothingToResume {
                path: self.root.clone(),
            });
        }
        let fields = self.differences(record)?;
        if !fields.is_empty() {
            return Err(TrainError::ConfigMismatch {
                path: self.config_path(),
                fields,
            });
        }
        self.checkpoints().clean_partial()
    }

    /// A new, empty log (an existing file is emptied).
    ///
    /// # Errors
    /// [`TrainError::Io`] naming the file.
    pub fn new_log(&self) -> Result<JsonLog> {
        JsonLog::open(&self.log_path(), false)
    }

    /// The log of a continued run: the lines `at` does not cover are dropped (see
    /// [`ResumePoint::keeps`], with the run-start kinds `start_kinds`), then it is opened for
    /// appending.
    ///
    /// # Errors
    /// [`TrainError::Io`] naming the file.
    pub fn resume_log(&self, at: ResumePoint, start_kinds: &[&str]) -> Result<JsonLog> {
        let path = self.log_path();
        truncate(&path, |line| at.keeps(line, start_kinds))?;
        JsonLog::open(&path, true)
    }

    /// Whether the run is finished: its `marker` file (written last) exists.
    pub fn is_finished(&self, marker: &str) -> bool {
        self.path(marker).is_file()
    }

    /// Whether the folder holds a run of exactly `config` on the dataset with `fingerprint`
    /// (its `config.json` reads and records both).
    pub fn matches(&self, config: &R::Config, fingerprint: &str) -> bool {
        self.read_config().is_ok_and(|saved| {
            saved.config() == config && saved.dataset_fingerprint() == Some(fingerprint)
        })
    }

    /// [`is_finished`](Self::is_finished) and [`matches`](Self::matches): a finished run of
    /// exactly this configuration on this dataset, which need not run again.
    pub fn finished_with(&self, marker: &str, config: &R::Config, fingerprint: &str) -> bool {
        self.is_finished(marker) && self.matches(config, fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Config {
        lr: f64,
        epochs: u64,
        name: String,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Record {
        config: Config,
        #[serde(default)]
        dataset_fingerprint: Option<String>,
    }

    impl RunRecord for Record {
        type Config = Config;
        fn config(&self) -> &Config {
            &self.config
        }
        fn dataset_fingerprint(&self) -> Option<&str> {
            self.dataset_fingerprint.as_deref()
        }
    }

    fn record(lr: f64, fingerprint: &str) -> Record {
        Record {
            config: Config {
                lr,
                epochs: 3,
                name: "a".into(),
            },
            dataset_fingerprint: Some(fingerprint.into()),
        }
    }

    #[test]
    fn a_run_continues_only_with_its_own_config_and_data() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::<Record>::new(tmp.path().join("run"));
        let e = run.open(&record(0.1, "d1"), true).unwrap_err();
        assert!(matches!(e, TrainError::NothingToResume { .. }), "{e}");
        run.open(&record(0.1, "d1"), false).unwrap();
        let e = run.open(&record(0.1, "d1"), false).unwrap_err();
        assert!(matches!(e, TrainError::RunExists { .. }), "{e}");
        run.open(&record(0.1, "d1"), true).unwrap();

        let mut other = record(0.2, "d2");
        other.config.epochs = 4;
        match run.open(&other, true).unwrap_err() {
            TrainError::ConfigMismatch { path, mut fields } => {
                assert_eq!(path, run.config_path());
                fields.sort();
                assert_eq!(
                    fields,
                    [
                        "dataset (its fingerprint changed: prepared again?)",
                        "epochs",
                        "lr",
                    ]
                );
            }
            e => panic!("expected ConfigMismatch, got {e}"),
        }
        // The file is the record, pretty-printed, and nothing else is left in the folder.
        let text = fs::read_to_string(run.config_path()).unwrap();
        assert_eq!(
            text,
            serde_json::to_string_pretty(&record(0.1, "d1")).unwrap()
        );
        assert_eq!(fs::read_dir(run.root()).unwrap().count(), 1);
    }

    #[test]
    fn finished_means_the_marker_and_exactly_this_config() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::<Record>::new(tmp.path());
        let r = record(0.1, "d1");
        assert!(!run.matches(&r.config, "d1"));
        run.write_config(&r).unwrap();
        assert!(run.matches(&r.config, "d1"));
        assert!(!run.is_finished("result.json"));
        assert!(!run.finished_with("result.json", &r.config, "d1"));
        fs::write(run.path("result.json"), "{}").unwrap();
        assert!(run.finished_with("result.json", &r.config, "d1"));
        assert!(!run.finished_with("result.json", &r.config, "d2"));
        assert!(!run.finished_with("result.json", &record(0.3, "d1").config, "d1"));
        // A run recorded without a fingerprint is never taken for one with.
        run.write_config(&Record {
            dataset_fingerprint: None,
            ..r.clone()
        })
        .unwrap();
        assert!(!run.finished_with("result.json", &r.config, "d1"));
        // ... but may be resumed (older runs did not record it).
        assert!(run.differences(&r).unwrap().is_empty());
    }

    #[test]
    fn a_corrupt_config_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::<Record>::new(tmp.path());
        fs::write(run.config_path(), "{\"config\": {\"lr\": 0.1,").unwrap();
        let e = run.open(&record(0.1, "d1"), true).unwrap_err();
        assert!(matches!(e, TrainError::Json { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains(&run.config_path().display().to_string()),
            "{msg}"
        );
        assert!(msg.contains("invalid JSON"), "{msg}");
        assert!(!run.matches(&record(0.1, "d1").config, "d1"));
    }

    #[test]
    fn differing_fields_names_top_level_fields() {
        let a = record(0.1, "x").config;
        let mut b = a.clone();
        assert!(differing_fields(&a, &b).is_empty());
        b.name = "b".into();
        assert_eq!(differing_fields(&a, &b), ["name"]);
    }
}
