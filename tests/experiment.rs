//! The experiment runner end to end on a tiny grid and cohort: one shared pretraining, frozen
//! and finetuned runs over two seeds, an interruption, a resume that reuses finished work,
//! and the study-layout tables.
#![cfg(feature = "train")]

use std::fs;
use std::path::Path;

use twinscan::experiment::{GridEvent, GridFile, GridOptions, run_grid};
use twinscan_data::synth::{SynthConfig, write_prepared_cohort};
use twinscan_models::burn::tensor::Device;

const GRID: &str = r#"
name = "tiny"
seeds = [0, 1]

[pretrain]
arch = "resnet10"
in_channels = 1
image_size = 64
projector = "512-64-64"
augment = "only:blur"
epochs = 2
batch_size = 16
max_steps_per_epoch = 2
warmup_epochs = 0

[classify]
arch = "resnet10"
in_channels = 1
image_size = 64
epochs = 1
batch_size = 16
max_steps_per_epoch = 2
eval_batch_size = 64
metrics = { bootstrap = { replicates = 20 } }

[[experiment]]
name = "random"
init = "random"
modes = ["frozen"]

[[experiment]]
name = "bt"
init = "barlow"
"#;

#[derive(Default, Debug)]
struct Counts {
    pretrain_started: usize,
    pretrain_cached: usize,
    runs_done: usize,
    runs_cached: usize,
}

fn run(grid: &twinscan::experiment::Grid, max: Option<usize>, c: &mut Counts) -> bool {
    let outcome = run_grid(
        grid,
        &Device::flex(),
        &GridOptions { max_new_runs: max },
        &mut |e| match e {
            GridEvent::PretrainStart { .. } => c.pretrain_started += 1,
            GridEvent::PretrainCached(_) => c.pretrain_cached += 1,
            GridEvent::RunDone { .. } => c.runs_done += 1,
            GridEvent::RunCached(_) => c.runs_cached += 1,
            _ => {}
        },
    )
    .unwrap();
    outcome.complete
}

#[test]
fn a_grid_runs_resumes_and_writes_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let data = write_prepared_cohort(
        tmp.path(),
        &SynthConfig {
            scans: 5,
            size: 64,
            seed: 9,
            ..SynthConfig::default()
        },
        64,
    )
    .unwrap();
    let out = tmp.path().join("grid");
    let file = GridFile::parse(GRID, Path::new("tiny.toml"), tmp.path()).unwrap();
    let grid = file.expand(&data, &out, Path::new("tiny.toml")).unwrap();
    assert_eq!(grid.pretrainings.len(), 1);
    assert_eq!(grid.runs.len(), 6); // random-frozen, bt-frozen, bt-finetune × 2 seeds

    // Interrupted after two runs (a time box): nothing tabulated yet.
    let mut first = Counts::default();
    assert!(!run(&grid, Some(2), &mut first));
    assert_eq!((first.runs_done, first.runs_cached), (2, 0));
    assert!(!out.join("table_f1.md").exists());

    // A pretraining killed after its first epoch (its checkpoint is on disk): the runner must
    // continue it, not start it again.
    let plan = &grid.pretrainings[0];
    let partial = twinscan_ssl::pretrain::PretrainRun {
        data: data.clone(),
        out: plan.dir.clone(),
        config: plan.config.clone(),
        device: Device::flex(),
        resume: false,
    };
    twinscan_ssl::pretrain::pretrain_until(&partial, 1, &mut |_| {}).unwrap();
    assert!(!plan.dir.join("encoder.safetensors").exists());

    // The same call again: the two finished runs are reused, the rest run, the pretraining
    // resumes at epoch 1 and finishes.
    let mut second = Counts::default();
    assert!(run(&grid, None, &mut second));
    assert_eq!((second.runs_done, second.runs_cached), (4, 2));
    assert_eq!(
        first.pretrain_started + second.pretrain_started,
        1,
        "{first:?} {second:?}"
    );

    // A third call finds everything done.
    let mut third = Counts::default();
    assert!(run(&grid, None, &mut third));
    assert_eq!(
        (third.runs_done, third.runs_cached, third.pretrain_started),
        (0, 6, 0)
    );

    // Tables: one row per structure, one column per experiment-mode, mean ± sd over 2 seeds.
    let md = fs::read_to_string(out.join("table_f1.md")).unwrap();
    let header = md.lines().find(|l| l.starts_with("| structure")).unwrap();
    for col in ["random-frozen", "bt-frozen", "bt-finetune"] {
        assert!(header.contains(col), "{header}");
    }
    let csv = fs::read_to_string(out.join("table_auroc.csv")).unwrap();
    let structures = twinscan_data::prepared::Prepared::open(&data)
        .unwrap()
        .structures()
        .len();
    assert_eq!(csv.lines().count(), 1 + structures);
    assert!(csv.lines().next().unwrap().contains("bt-finetune_n"));
    for f in ["chart_f1.png", "chart_auroc.png", "grid.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // The classifier of every bt run started from the pretraining's export.
    let enc = grid.pretrainings[0].dir.join("encoder.safetensors");
    assert!(enc.is_file());
}

#[test]
fn bad_grids_are_refused_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Path::new("bad.toml");
    let e = GridFile::parse(
        "seeds = [0]\n[[experiment]]\nname = \"a\"\ninit = \"random\"\nmodez = []\n",
        p,
        tmp.path(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("bad.toml") && e.to_string().contains("modez"),
        "{e}"
    );
    let g = GridFile::parse(
        "[[experiment]]\nname = \"a\"\ninit = \"imagenet\"\n",
        p,
        tmp.path(),
    )
    .unwrap();
    let e = g.expand(tmp.path(), tmp.path(), p).unwrap_err();
    assert!(e.to_string().contains("imagenet_weights"), "{e}");
    let g = GridFile::parse(
        "[[experiment]]\nname = \"a\"\ninit = \"random\"\nmodes = [\"half\"]\n",
        p,
        tmp.path(),
    )
    .unwrap();
    assert!(g.expand(tmp.path(), tmp.path(), p).is_err());
    let g = GridFile::parse(
        "[pretrain]\narch = \"resnet10\"\n[[experiment]]\nname = \"a\"\ninit = \"barlow\"\n",
        p,
        tmp.path(),
    )
    .unwrap();
    let e = g.expand(tmp.path(), tmp.path(), p).unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
}
