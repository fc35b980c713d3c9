//! The pretraining loop end to end on a small synthetic cohort: the loss falls, resuming is
//! bit-identical on the CPU, an interrupted checkpoint write leaves the previous checkpoint
//! loadable, divergence stops with the last good checkpoint named, and bad input is refused.

use std::fs;
use std::path::Path;

use burn::tensor::Device;
use twinscan_ssl::checkpoint;
use twinscan_ssl::pretrain::{PretrainRun, files, pretrain};
use twinscan_ssl::{LrScaling, PretrainConfig, SslError};
use twinscan_testkit::cohort::PRETRAIN;
use twinscan_testkit::tiny::{self as shared, pretrain as preset};

/// The shared tiny pretraining (`twinscan_testkit::tiny::pretrain`: ResNet-10 at 64², `only:blur`,
/// projector 512-128-128, batch 16, 4 steps per epoch).
fn tiny(epochs: u64) -> PretrainConfig {
    PretrainConfig {
        input: twinscan_train::EncoderInput {
            arch: twinscan_models::Arch::ResNet10,
            in_channels: 1,
            image_size: 64,
        },
        augment: preset::AUGMENT.into(),
        projector: preset::PROJECTOR.parse().unwrap(),
        epochs,
        batch_size: shared::BATCH_SIZE,
        max_steps_per_epoch: Some(preset::STEPS_PER_EPOCH),
        lr_scaling: LrScaling::Fixed(1.0),
        lars: twinscan_ssl::LarsConfig {
            lr_weights: preset::LR_WEIGHTS,
            lr_biases: preset::LR_BIASES,
            ..Default::default()
        },
        warmup_epochs: 0,
        seed: preset::SEED,
        ..PretrainConfig::study()
    }
}

fn run(out: &Path, config: PretrainConfig, resume: bool) -> PretrainRun {
    PretrainRun {
        data: PRETRAIN.shared().to_path_buf(),
        out: out.to_path_buf(),
        config,
        device: Device::flex(),
        data_parallel: Vec::new(),
        resume,
    }
}

#[test]
fn loss_falls_and_outputs_are_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bt");
    let mut cfg = tiny(4);
    cfg.knn_every = 2;
    cfg.knn_k = 5;
    let summary = pretrain(&run(&out, cfg, false), &mut |_| {}).unwrap();
    let l = &summary.epoch_losses;
    println!("epoch losses {l:?}");
    assert_eq!(l.len(), 4);
    assert!(l[3] < 0.8 * l[0], "loss did not fall over 4 epochs: {l:?}");
    assert_eq!(summary.steps, 16);
    for f in [files::CONFIG, files::LOG, files::ENCODER] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // One step line per step, one epoch line per epoch, the probe on epochs 2 and 4.
    let log = fs::read_to_string(out.join(files::LOG)).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps = lines.iter().filter(|v| v["kind"] == "step").count();
    let epochs: Vec<_> = lines.iter().filter(|v| v["kind"] == "epoch").collect();
    assert_eq!((steps, epochs.len()), (16, 4));
    for key in [
        "loss",
        "on_diag",
        "off_diag",
        "embedding_std",
        "lr_weights",
        "lr_biases",
        "images_per_s",
    ] {
        assert!(lines[1][key].is_number(), "{key} not logged: {}", lines[1]);
    }
    assert!(epochs[0]["knn"].is_null() && epochs[1]["knn"]["accuracy"].is_number());
    // The untrained encoder's probe comes first, as the baseline.
    assert_eq!(lines[0]["kind"], "knn_init");
    assert!(lines[0]["knn"]["mean_macro_f1"].is_number());
    // keep_checkpoints = 2
    let kept = checkpoint::list(&out.join(files::CHECKPOINTS)).unwrap();
    assert_eq!(
        kept.iter().map(|c| c.state.epochs_done).collect::<Vec<_>>(),
        vec![3, 4]
    );
    // The export loads back as a torchvision-named encoder.
    let mut enc = tiny(1).encoder().init(&Device::flex()).unwrap();
    twinscan_models::weights::load(
        &mut enc,
        summary.encoder.as_ref().unwrap(),
        &twinscan_models::weights::LoadOptions::strict(),
    )
    .unwrap();
}

#[test]
fn resume_is_bit_identical_to_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let parts = tmp.path().join("parts");
    pretrain(&run(&whole, tiny(3), false), &mut |_| {}).unwrap();

    // "Interrupt" after epoch 1: a run of the same config stopped there, as a kill after the
    // checkpoint would leave it, plus a half-written log line of the next epoch.
    let mut stop = run(&parts, tiny(3), false);
    stop.config.epochs = 3;
    let first = twinscan_ssl::pretrain::pretrain_until(&stop, 1, &mut |_| {}).unwrap();
    assert_eq!(first.epochs_done, 1);
    fs::OpenOptions::new()
        .append(true)
        .open(parts.join(files::LOG))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"kind\":\"step\",\"epo"))
        .unwrap();
    let resumed = pretrain(&run(&parts, tiny(3), true), &mut |_| {}).unwrap();
    assert_eq!(resumed.resumed_at, Some(1));

    // The logs agree on every loss (timings aside).
    assert_eq!(step_losses(&whole), step_losses(&parts));
    // The exported encoders hold the same tensors (the files' headers carry per-process
    // parameter ids, so their bytes are not compared).
    assert!(
        encoder_tensors(&whole) == encoder_tensors(&parts),
        "encoder after resume differs from the uninterrupted run"
    );
    // Every tensor of the final checkpoints (projector and momentum included) agrees; the
    // files' bytes differ only by parameter ids, which are random per process.
    assert_eq!(checkpoint_tensors(&whole), checkpoint_tensors(&parts));
}

/// The loss of every step in a run's log.
fn step_losses(out: &Path) -> Vec<f64> {
    fs::read_to_string(out.join(files::LOG))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "step")
        .map(|v| v["loss"].as_f64().unwrap())
        .collect()
}

/// Every tensor of a run's exported encoder (the files' headers carry per-process parameter
/// ids, so their bytes are not compared).
fn encoder_tensors(out: &Path) -> Vec<Vec<f32>> {
    let mut enc = tiny(1).encoder().init(&Device::flex()).unwrap();
    twinscan_models::weights::load(
        &mut enc,
        out.join(files::ENCODER),
        &twinscan_models::weights::LoadOptions::strict(),
    )
    .unwrap();
    tensors(&enc)
}

/// All float tensors of a run's newest checkpoint after one more LARS step on a fixed batch:
/// equal results need equal weights, BatchNorm statistics *and* momentum buffers.
fn checkpoint_tensors(out: &Path) -> Vec<Vec<f32>> {
    use burn::tensor::{Tensor, TensorData};
    let ck = checkpoint::latest(&out.join(files::CHECKPOINTS))
        .unwrap()
        .unwrap();
    let cfg = &ck.state.config;
    let device = Device::flex().autodiff();
    let model = twinscan_ssl::pretrain::build_model(cfg, &device).unwrap();
    let (model, mut optim) = ck.load(model, cfg.lars.init().unwrap()).unwrap();
    let n = 8 * 64 * 64;
    let pattern = |k: f32| -> Tensor<4> {
        let v: Vec<f32> = (0..n).map(|i| (i as f32 * k).sin()).collect();
        Tensor::from_data(TensorData::new(v, [8, 1, 64, 64]), &device)
    };
    let trainer = twinscan_ssl::Trainer {
        loss: cfg.objective().unwrap(),
        lars: cfg.lars,
        clip_norm: cfg.clip_norm,
    };
    let (model, _) = trainer
        .step(model, &mut optim, pattern(0.37), pattern(0.41), 1.0, 0)
        .unwrap();
    tensors(&burn::module::Module::valid(&model))
}

/// Every float tensor of a module (parameters and BatchNorm statistics), in visit order.
fn tensors<M: burn::module::Module>(m: &M) -> Vec<Vec<f32>> {
    use burn::module::{ModuleVisitor, Param};
    use burn::tensor::Tensor;
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0
                .push(p.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    let mut c = Collect(vec![]);
    m.visit(&mut c);
    c.0
}

#[test]
fn a_killed_checkpoint_write_leaves_the_previous_one_loadable() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bt");
    let r = run(&out, tiny(3), false);
    twinscan_ssl::pretrain::pretrain_until(&r, 1, &mut |_| {}).unwrap();
    let root = out.join(files::CHECKPOINTS);
    let good = root.join("epoch-0001");
    // What a kill during the epoch-2 write leaves: the temporary folder, a model file cut in
    // the middle, no state.json.
    let partial = root.join(".epoch-0002.tmp");
    fs::create_dir(&partial).unwrap();
    let model = fs::read(good.join("model.bpk")).unwrap();
    fs::write(partial.join("model.bpk"), &model[..model.len() / 2]).unwrap();
    let latest = checkpoint::latest(&root).unwrap().unwrap();
    assert_eq!(latest.dir, good);
    assert_eq!(latest.state.epochs_done, 1);
    // Resuming cleans the partial folder and finishes.
    let s = pretrain(&run(&out, tiny(3), true), &mut |_| {}).unwrap();
    assert_eq!((s.resumed_at, s.epochs_done), (Some(1), 3));
    assert!(!partial.exists());

    // A complete-looking checkpoint with a truncated model file is a clear error naming it.
    let bad = root.join("epoch-0003/model.bpk");
    let bytes = fs::read(&bad).unwrap();
    fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let ck = checkpoint::latest(&root).unwrap().unwrap();
    let device = Device::flex().autodiff();
    let model = twinscan_ssl::pretrain::build_model(&tiny(3), &device).unwrap();
    let Err(err) = ck.load(model, tiny(3).lars.init().unwrap()) else {
        panic!("a truncated model file must not load");
    };
    assert!(err.to_string().contains("model.bpk"), "{err}");
}

#[test]
fn divergence_stops_and_names_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bt");
    let mut cfg = tiny(3);
    cfg.max_steps_per_epoch = Some(1);
    cfg.clip_norm = None;
    cfg.lars.eta = 1e30; // trust ratio huge: the first update throws the weights to infinity
    cfg.lars.lr_weights = 1e30;
    let err = pretrain(&run(&out, cfg, false), &mut |_| {}).expect_err("must diverge");
    match &err {
        SslError::Diverged {
            last_checkpoint, ..
        } => {
            let p = last_checkpoint.as_ref().expect("epoch 1 finished");
            assert!(p.ends_with("epoch-0001"), "{err}");
            checkpoint::read_state(p).unwrap();
        }
        other => panic!("expected Diverged, got {other}"),
    }
    assert!(err.to_string().contains("non-finite"), "{err}");
    assert!(!out.join(files::ENCODER).exists());
}

#[test]
fn bad_input_is_refused_with_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    // Missing dataset folder.
    let mut r = run(&tmp.path().join("a"), tiny(1), false);
    r.data = tmp.path().join("no-such-dataset");
    let e = pretrain(&r, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("no-such-dataset"), "{e}");
    // Batch larger than the train split.
    let mut cfg = tiny(1);
    cfg.batch_size = 100_000;
    let e = pretrain(&run(&tmp.path().join("b"), cfg, false), &mut |_| {}).unwrap_err();
    assert!(matches!(e, SslError::Dataset { .. }), "{e}");
    // An existing run is not overwritten without --resume; a different config cannot resume.
    let out = tmp.path().join("c");
    twinscan_ssl::pretrain::pretrain_until(&run(&out, tiny(2), false), 1, &mut |_| {}).unwrap();
    let e = pretrain(&run(&out, tiny(2), false), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("--resume"), "{e}");
    let mut other = tiny(2);
    other.batch_size = 8;
    let e = pretrain(&run(&out, other, true), &mut |_| {}).unwrap_err();
    match e {
        SslError::ResumeMismatch { fields, .. } => assert_eq!(fields, vec!["batch_size"]),
        e => panic!("expected ResumeMismatch, got {e}"),
    }
    // Resume with nothing there.
    let e = pretrain(&run(&tmp.path().join("empty"), tiny(1), true), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("nothing to resume"), "{e}");
}

/// `knn` of the first log line of `kind`.
fn knn_of(out: &Path, kind: &str) -> serde_json::Value {
    fs::read_to_string(out.join(files::LOG))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["kind"] == kind)
        .unwrap()["knn"]
        .clone()
}

#[test]
fn a_continued_pretraining_starts_from_the_source_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    let mut cfg = tiny(1);
    cfg.knn_every = 1;
    cfg.knn_k = 5;
    pretrain(&run(&source, cfg.clone(), false), &mut |_| {}).unwrap();

    // The continuation's probe of its starting encoder equals the source's probe of its
    // final encoder (same weights and BatchNorm statistics); a fresh run's does not.
    let cont = tmp.path().join("continued");
    let mut c = cfg.clone();
    c.continue_from = Some(source.clone());
    c.augment = "ablation:blur".into();
    c.seed = 99;
    let summary = pretrain(&run(&cont, c.clone(), false), &mut |_| {}).unwrap();
    assert_eq!(summary.epochs_done, 1);
    let source_final = knn_of(&source, "epoch");
    assert_eq!(knn_of(&cont, "knn_init"), source_final);
    let fresh = tmp.path().join("fresh");
    let mut f = cfg.clone();
    f.seed = 99;
    pretrain(&run(&fresh, f, false), &mut |_| {}).unwrap();
    assert_ne!(knn_of(&fresh, "knn_init"), source_final);

    // An unfinished source and a continuation with its own init are refused.
    let half = tmp.path().join("half");
    let mut h = run(&half, tiny(2), false);
    h.config.knn_every = 0;
    twinscan_ssl::pretrain::pretrain_until(&h, 1, &mut |_| {}).unwrap();
    let mut bad = tiny(1);
    bad.continue_from = Some(half.clone());
    let e = pretrain(&run(&tmp.path().join("x"), bad, false), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("unfinished"), "{e}");
    let mut bad = tiny(1);
    bad.continue_from = Some(source);
    bad.init = "barlow:enc.safetensors".parse().unwrap();
    let e = bad.validate().unwrap_err();
    assert!(e.to_string().contains("continue_from"), "{e}");
}

/// The second objective through the same loop: VICReg's loss falls, its three terms are
/// logged, and an interrupted run resumes bit-identically.
#[test]
fn vicreg_learns_and_resumes_bit_identically() {
    let vicreg = |epochs| PretrainConfig {
        objective: twinscan_ssl::ObjectiveKind::Vicreg,
        vicreg: Some(twinscan_ssl::VicRegLossConfig::default()),
        ..tiny(epochs)
    };
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let parts = tmp.path().join("parts");
    let summary = pretrain(&run(&whole, vicreg(4), false), &mut |_| {}).unwrap();
    let l = &summary.epoch_losses;
    println!("vicreg epoch losses {l:?}");
    // Measured: 19.6 → 18.0 over these 16 steps (Barlow's falls faster at the same rates).
    assert!(
        l[3] < 0.95 * l[0],
        "VICReg loss did not fall over 4 epochs: {l:?}"
    );
    let log = fs::read_to_string(whole.join(files::LOG)).unwrap();
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    for key in ["invariance", "variance", "covariance"] {
        assert!(first[key].is_number(), "{key} not logged: {first}");
    }
    assert!(first.get("on_diag").is_none(), "{first}");
    let config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(whole.join(files::CONFIG)).unwrap()).unwrap();
    assert_eq!(config["config"]["objective"], "vicreg");

    let stop = run(&parts, vicreg(4), false);
    twinscan_ssl::pretrain::pretrain_until(&stop, 2, &mut |_| {}).unwrap();
    let resumed = pretrain(&run(&parts, vicreg(4), true), &mut |_| {}).unwrap();
    assert_eq!(resumed.resumed_at, Some(2));
    assert_eq!(resumed.epoch_losses, l[2..].to_vec());
    assert_eq!(checkpoint_tensors(&whole), checkpoint_tensors(&parts));
}

/// `data_parallel` with two replicas (both on the CPU, one thread each, statistics and
/// gradients reduced by the host all-reduce) follows the one-device run step by step, for
/// Barlow Twins and VICReg, and a divergence on the replicas stops the run as on one device,
/// without hanging a replica.
#[test]
fn data_parallel_pretraining_matches_one_device() {
    use twinscan_models::DeviceSpec;
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    pretrain(&run(&one, tiny(2), false), &mut |_| {}).unwrap();
    let mut parallel = run(&two, tiny(2), false);
    parallel.data_parallel = vec![DeviceSpec::Flex, DeviceSpec::Flex];
    let summary = pretrain(&parallel, &mut |_| {}).unwrap();
    assert_eq!((summary.epochs_done, summary.steps), (2, 8));
    let (a, b) = (step_losses(&one), step_losses(&two));
    println!("one device {a:?}\ntwo replicas {b:?}");
    assert_eq!(a.len(), b.len());
    // float32 sums in another order (per shard, then over the replicas) drift by ~1e-5 per
    // step at this learning rate; 8 steps stay within 1e-3.
    for (step, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-3 * x.abs(),
            "step {step}: loss {y} on two replicas vs {x} on one device"
        );
    }
    // Each tensor's largest difference relative to its largest magnitude, floored at 1e-3:
    // BatchNorm shifts that stayed near zero (~1e-5) differ by ~1e-6 in absolute terms.
    let (ea, eb) = (encoder_tensors(&one), encoder_tensors(&two));
    let worst = ea
        .iter()
        .zip(&eb)
        .map(|(x, y)| {
            let scale = x.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            x.iter()
                .zip(y)
                .fold(0f32, |m, (p, q)| m.max((p - q).abs() / scale))
        })
        .fold(0f32, f32::max);
    println!("encoder max relative difference {worst:e}");
    assert!(worst < 1e-2, "encoders differ by {worst:e}");

    // A divergence on the replicas: every replica stops, the error is the loss's.
    let mut cfg = tiny(3);
    cfg.max_steps_per_epoch = Some(1);
    cfg.clip_norm = None;
    cfg.lars.eta = 1e30;
    cfg.lars.lr_weights = 1e30;
    let mut diverging = run(&tmp.path().join("diverging"), cfg, false);
    diverging.data_parallel = vec![DeviceSpec::Flex, DeviceSpec::Flex];
    let err = pretrain(&diverging, &mut |_| {}).expect_err("must diverge");
    assert!(matches!(err, SslError::Diverged { .. }), "{err}");

    // VICReg, whose variance and covariance are reduced over the replicas too.
    let vicreg = |out: &str, data_parallel: Vec<DeviceSpec>| {
        let mut r = run(&tmp.path().join(out), tiny(1), false);
        r.config.objective = twinscan_ssl::ObjectiveKind::Vicreg;
        r.config.vicreg = Some(Default::default());
        r.data_parallel = data_parallel;
        pretrain(&r, &mut |_| {}).unwrap();
        step_losses(&r.out)
    };
    let (a, b) = (
        vicreg("vicreg-one", Vec::new()),
        vicreg("vicreg-two", vec![DeviceSpec::Flex, DeviceSpec::Flex]),
    );
    println!("VICReg one device {a:?}\nVICReg two replicas {b:?}");
    for (step, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-3 * x.abs(),
            "VICReg step {step}: loss {y} on two replicas vs {x} on one device"
        );
    }

    // What data parallelism refuses, by field, before writing anything.
    let mut one_device = run(&tmp.path().join("one-device"), tiny(1), false);
    one_device.data_parallel = vec![DeviceSpec::Flex];
    let err = pretrain(&one_device, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("at least two devices"), "{err}");
    let mut small = run(&tmp.path().join("small"), tiny(1), false);
    small.config.batch_size = 2;
    small.data_parallel = vec![DeviceSpec::Flex; 3];
    let err = pretrain(&small, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("smaller than the 3 devices"), "{err}");
    assert!(
        !small.out.exists(),
        "a refused run must not leave its folder"
    );
}
