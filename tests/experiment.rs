//! The experiment runner end to end on a tiny grid and cohort: one shared pretraining, frozen
//! and finetuned runs over two seeds, an interruption, a resume that reuses finished work,
//! and the study-layout tables.
#![cfg(feature = "train")]

use std::fs;
use std::path::Path;

use twinscan::experiment::{GridEvent, GridFile, GridOptions, run_grid};
use twinscan_models::burn::tensor::Device;
use twinscan_testkit::Cohort;

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
    let data = Cohort::new(5, 64, 9).write(tmp.path());
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
        data_parallel: Vec::new(),
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
    assert_eq!(csv.lines().count(), 2 + structures); // + the mean over structures
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

/// Classification run folders of a grid.
fn run_dirs(grid: &twinscan::experiment::Grid) -> Vec<std::path::PathBuf> {
    grid.runs.iter().map(|r| r.dir.clone()).collect()
}

#[test]
fn a_reprepared_dataset_or_changed_grid_reruns_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = Cohort::new(5, 64, 4).write(tmp.path());
    let out = tmp.path().join("grid");
    let origin = Path::new("tiny.toml");
    let small = GRID.replace("seeds = [0, 1]", "seeds = [0]");
    let file = GridFile::parse(&small, origin, tmp.path()).unwrap();
    let grid = file.expand(&data, &out, origin).unwrap();
    let mut c = Counts::default();
    assert!(run(&grid, None, &mut c));
    assert_eq!((c.pretrain_started, c.runs_done), (1, 3));

    // The same cohort prepared again into the same folder with another split seed.
    let mut cfg = twinscan_data::prepare::PrepareConfig::new(tmp.path().join("cohort"), &data);
    cfg.size = 64;
    cfg.seed = 77;
    cfg.png_bit_depth = None;
    cfg.overwrite = true;
    twinscan_data::prepare::prepare(&cfg, &|_| {}).unwrap();
    let regrid = file.expand(&data, &out, origin).unwrap();
    assert_ne!(regrid.dataset_fingerprint, grid.dataset_fingerprint);
    assert_ne!(regrid.pretrainings[0].dir, grid.pretrainings[0].dir);
    for (new, old) in run_dirs(&regrid).iter().zip(run_dirs(&grid)) {
        assert_ne!(
            *new, old,
            "a run on the re-prepared data reuses the old folder"
        );
    }
    let mut c = Counts::default();
    let mut superseded = 0;
    let outcome = run_grid(
        &regrid,
        &Device::flex(),
        &GridOptions::default(),
        &mut |e| match e {
            GridEvent::PretrainStart { .. } => c.pretrain_started += 1,
            GridEvent::PretrainCached(_) => c.pretrain_cached += 1,
            GridEvent::RunDone { .. } => c.runs_done += 1,
            GridEvent::RunCached(_) => c.runs_cached += 1,
            GridEvent::RunSuperseded { .. } => superseded += 1,
            _ => {}
        },
    )
    .unwrap();
    assert!(outcome.complete);
    assert_eq!(
        (c.pretrain_started, c.runs_done, c.runs_cached),
        (1, 3, 0),
        "every run is redone on the re-prepared dataset"
    );
    assert_eq!(superseded, 3);
    // grid.json describes the runs beside it: their folders, configurations and data.
    let written: twinscan::experiment::Grid =
        serde_json::from_slice(&fs::read(out.join("grid.json")).unwrap()).unwrap();
    assert_eq!(written, regrid);
    for plan in &regrid.runs {
        let info: twinscan_classify::train::RunInfo =
            serde_json::from_slice(&fs::read(plan.dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(info.config, plan.config);
        assert_eq!(
            info.dataset_fingerprint.as_deref(),
            Some(regrid.dataset_fingerprint.as_str())
        );
    }

    // A changed [classify] setting reruns the classification runs only.
    let changed = small.replace("epochs = 1\n", "epochs = 2\n");
    let file2 = GridFile::parse(&changed, origin, tmp.path()).unwrap();
    let grid2 = file2.expand(&data, &out, origin).unwrap();
    assert_eq!(grid2.pretrainings, regrid.pretrainings);
    let mut c = Counts::default();
    assert!(run(&grid2, None, &mut c));
    // (the two bt runs each find the pretraining finished)
    assert_eq!(
        (
            c.pretrain_started,
            c.pretrain_cached,
            c.runs_done,
            c.runs_cached
        ),
        (0, 2, 3, 0)
    );

    // The paired deltas the runner wrote equal a recomputation from the runs' predictions.
    let mut columns: Vec<twinscan_classify::tables::ColumnRuns> = Vec::new();
    for plan in &grid2.runs {
        let rows =
            twinscan_classify::report::read_predictions(&plan.dir.join("predictions.csv")).unwrap();
        match columns.iter_mut().find(|c| c.column == plan.column) {
            Some(col) => col.runs.push((plan.seed, rows)),
            None => columns.push(twinscan_classify::tables::ColumnRuns {
                column: plan.column.clone(),
                runs: vec![(plan.seed, rows)],
            }),
        }
    }
    let again = tmp.path().join("again");
    fs::create_dir_all(&again).unwrap();
    twinscan_classify::tables::write_grid_tables(
        &again,
        &columns,
        &grid2.baseline,
        &grid2.spread,
        &grid2.runs[0].config.metrics,
    )
    .unwrap();
    for f in ["table_delta_f1.csv", "table_f1.csv", "table_auroc.csv"] {
        assert_eq!(
            fs::read_to_string(out.join(f)).unwrap(),
            fs::read_to_string(again.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn grid_protocol_pretraining_seeds_and_continuations() {
    let tmp = tempfile::tempdir().unwrap();
    let data = Cohort::new(4, 64, 2).write(tmp.path());
    let text = format!(
        "{}\n{}",
        GRID.replace(
            "seeds = [0, 1]",
            "seeds = [0, 1]\npretrain_seeds = [0, 1]\nbaseline = \"bt-frozen\""
        ),
        "[[experiment]]\nname = \"bt-blur\"\ninit = \"barlow\"\nmodes = [\"frozen\"]\n\
         pretrain = { init = \"pretraining:bt\", augment = \"ablation:blur\", epochs = 1 }\n"
    );
    let origin = Path::new("tiny.toml");
    let grid = GridFile::parse(&text, origin, tmp.path())
        .unwrap()
        .expand(&data, &tmp.path().join("g"), origin)
        .unwrap();
    // bt × 2 seeds, bt-blur × 2 seeds (each continuing bt of its seed).
    assert_eq!(grid.pretrainings.len(), 4);
    assert_eq!(grid.baseline, "bt-frozen");
    assert!(grid.spread.contains("pretraining"));
    for p in &grid.pretrainings[2..] {
        let src = p.depends_on.unwrap();
        assert_eq!(
            p.config.continue_from.as_ref(),
            Some(&grid.pretrainings[src].dir)
        );
        assert_eq!(grid.pretrainings[src].config.seed, p.config.seed);
        assert_eq!(p.config.augment, "ablation:blur");
    }
    // Classifier seed k uses the encoder of pretraining seed k.
    for r in grid.runs.iter().filter(|r| r.column.starts_with("bt")) {
        let p = &grid.pretrainings[r.pretraining.unwrap()];
        assert_eq!(p.config.seed, r.seed);
    }
    // A continuation of an unknown or later experiment, a classifier seed without a
    // pretraining seed, an unknown baseline: refused, naming the problem.
    for (bad, needle) in [
        (
            text.replace("pretraining:bt\"", "pretraining:nope\""),
            "pretraining:nope",
        ),
        (
            text.replace("pretrain_seeds = [0, 1]", "pretrain_seeds = [0]"),
            "pretrain_seeds",
        ),
        (
            text.replace("baseline = \"bt-frozen\"", "baseline = \"x\""),
            "baseline",
        ),
    ] {
        let e = GridFile::parse(&bad, origin, tmp.path())
            .unwrap()
            .expand(&data, &tmp.path().join("g"), origin)
            .unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn shipped_grids_expand_and_the_study_grid_is_the_studys_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let data = Cohort::new(3, 48, 1).slices(48).write(tmp.path());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configs");
    for name in ["quick.toml", "demo.toml", "study.toml"] {
        let path = root.join(name);
        let g = GridFile::read(&path)
            .unwrap()
            .expand(&data, &tmp.path().join(name), &path)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!g.runs.is_empty(), "{name}");
    }
    let path = root.join("study.toml");
    let g = GridFile::read(&path)
        .unwrap()
        .expand(&data, &tmp.path().join("s"), &path)
        .unwrap();
    assert_eq!(g.baseline, "random-frozen");
    let pre = |exp: &str| {
        g.pretrainings
            .iter()
            .find(|p| p.used_by.iter().any(|u| u == exp))
            .unwrap_or_else(|| panic!("{exp}"))
    };
    assert_eq!(pre("bt-scratch").config.augment, "study_barlow_initial");
    assert_eq!(pre("bt-imagenet").config.augment, "study_barlow_initial");
    assert_eq!(pre("bt-scratch-final").config.augment, "study_barlow");
    assert_ne!(pre("bt-scratch").dir, pre("bt-scratch-final").dir);
    for aug in [
        "elastic",
        "crop",
        "blur",
        "cutout",
        "color_jitter",
        "sharpen",
    ] {
        let p = pre(&format!("bt-imagenet-{aug}"));
        assert_eq!(p.config.augment, format!("ablation:{aug}"));
        assert_eq!(p.config.epochs, 50);
        assert_eq!(
            p.config.continue_from.as_ref(),
            Some(&pre("bt-imagenet").dir)
        );
    }
    for r in &g.runs {
        assert_eq!(
            r.config.frozen_bn,
            twinscan_classify::classifier::FrozenBn::BatchStats
        );
        assert!(r.config.zero_init_residual);
        assert_eq!(r.config.augment, "study_supervised");
    }
}

/// A grid column pretrained with the second objective: the VICReg pretraining runs through the
/// same runner, its folder differs from the Barlow one, and its column is tabulated.
#[test]
fn a_vicreg_column_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = Cohort::new(4, 64, 5).write(tmp.path());
    let text = GRID
        .replace("seeds = [0, 1]", "seeds = [0]")
        .replace("epochs = 2\nbatch_size = 16", "epochs = 1\nbatch_size = 16")
        .replace(
            "name = \"bt\"\ninit = \"barlow\"",
            "name = \"vicreg\"\ninit = \"barlow\"\nmodes = [\"frozen\"]\n\
             pretrain = { objective = \"vicreg\" }",
        );
    let origin = Path::new("tiny.toml");
    let out = tmp.path().join("g");
    let grid = GridFile::parse(&text, origin, tmp.path())
        .unwrap()
        .expand(&data, &out, origin)
        .unwrap();
    assert_eq!(grid.pretrainings.len(), 1);
    assert_eq!(
        grid.pretrainings[0].config.objective,
        twinscan_ssl::ObjectiveKind::Vicreg
    );
    let mut counts = Counts::default();
    assert!(run(&grid, None, &mut counts));
    assert_eq!((counts.pretrain_started, counts.runs_done), (1, 2));
    let log = fs::read_to_string(grid.pretrainings[0].dir.join("log.jsonl")).unwrap();
    assert!(log.contains("\"covariance\""), "no VICReg terms in the log");
    let md = fs::read_to_string(out.join("table_f1.md")).unwrap();
    let header = md.lines().find(|l| l.starts_with("| structure")).unwrap();
    assert!(header.contains("vicreg-frozen"), "{header}");
}
