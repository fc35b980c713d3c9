//! From a classification run to use: the run's `model.safetensors` → `predict` on the test
//! scans with their masks (metrics.csv equal to the run's) and on freshly synthesised scans
//! without masks (NRRD scan folders, bare volume files, a DICOM CT series) → `embed` on the
//! prepared set (shape, order, PCA chart, kNN probe), and a pretraining's encoder metadata.
#![cfg(feature = "train")]

use std::fs;
use std::path::{Path, PathBuf};

use twinscan::embed::{EmbedOptions, embed};
use twinscan::predict::{InputLayout, PredictOptions, predict};
use twinscan_classify::artifact::MODEL_FILE;
use twinscan_classify::head::Mode;
use twinscan_classify::report::{read_metrics, read_predictions};
use twinscan_classify::train::{TrainConfig, train_and_evaluate};
use twinscan_data::prepared::Prepared;
use twinscan_data::split::Split;
use twinscan_data::synth::{SynthConfig, SynthFormat, write_cohort};
use twinscan_models::burn::tensor::Device;
use twinscan_testkit::cohort::{CLASSIFY, PRETRAIN};
use twinscan_testkit::tiny;

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

fn tiny_run(data: &Path, out: &Path) {
    let mut cfg = TrainConfig {
        input: twinscan_classify::EncoderInput {
            arch: twinscan_models::Arch::ResNet10,
            in_channels: 1,
            image_size: 64,
        },
        mode: Mode::Finetune,
        epochs: 1,
        batch_size: tiny::BATCH_SIZE,
        max_steps_per_epoch: Some(2),
        eval_batch_size: tiny::classify::EVAL_BATCH_SIZE,
        ..TrainConfig::study()
    };
    cfg.metrics.bootstrap.replicates = 50;
    train_and_evaluate(data, out, &cfg, &Device::flex(), &mut |_| {}).unwrap();
}

/// (scan, slice, probabilities) per row.
type Rows = Vec<(String, usize, Vec<f64>)>;

/// The header and rows of a predictions.csv from `predict`.
fn read_predict_csv(path: &Path) -> (Vec<String>, Rows) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let ns = (header.len() - 3) / 2;
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            let probs: Vec<f64> = (0..ns).map(|j| rec[3 + j].parse().unwrap()).collect();
            for j in 0..ns {
                let pred: u8 = rec[3 + ns + j].parse().unwrap();
                // The file prints 6 decimals: a probability within rounding of the threshold
                // (e.g. 0.5000003 printed 0.500000) cannot be checked from the text.
                if (probs[j] - 0.5).abs() > 1e-6 {
                    assert_eq!(pred == 1, probs[j] > 0.5, "{rec:?}");
                }
            }
            (rec[0].to_string(), rec[1].parse().unwrap(), probs)
        })
        .collect();
    (header, rows)
}

#[test]
fn a_run_s_model_predicts_new_scans_and_its_encoder_embeds_the_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let data = CLASSIFY.write(tmp.path());
    let run = tmp.path().join("run");
    tiny_run(&data, &run);
    assert!(run.join(MODEL_FILE).is_file());
    let device = Device::flex();
    let prepared = Prepared::open(&data).unwrap();
    let names = prepared.structures().to_vec();

    // 1. The test scans with their masks: the run's predictions and metrics again.
    let test_scans: std::collections::BTreeSet<String> = prepared
        .indices(Split::Test)
        .iter()
        .map(|&i| prepared.scan(i).to_string())
        .collect();
    assert!(!test_scans.is_empty());
    let with_masks = tmp.path().join("with_masks");
    for s in &test_scans {
        copy_dir(&tmp.path().join("cohort").join(s), &with_masks.join(s));
    }
    let out = tmp.path().join("pred_masks/predictions.csv");
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut scans_seen = 0;
    let summary = predict(
        &PredictOptions::new(&run, &with_masks, &out),
        &device,
        &mut |e| {
            if let twinscan::predict::PredictEvent::Scan { .. } = e {
                scans_seen += 1
            }
        },
    )
    .unwrap();
    assert_eq!(scans_seen, test_scans.len());
    assert_eq!(summary.scans_with_masks, test_scans.len());
    let (header, rows) = read_predict_csv(&out);
    assert_eq!(&header[3..3 + names.len()], names.as_slice());
    assert_eq!(rows.len(), prepared.indices(Split::Test).len());
    // Probabilities equal the run's own test predictions (to the CSV's rounding).
    let run_rows = read_predictions(&run.join("predictions.csv")).unwrap();
    let mut matched = 0;
    for r in &run_rows {
        let j = names.iter().position(|n| *n == r.structure).unwrap();
        let (_, _, p) = rows
            .iter()
            .find(|(scan, slice, _)| *scan == r.scan && *slice == r.slice as usize)
            .unwrap_or_else(|| panic!("{} slice {} not predicted", r.scan, r.slice));
        assert!((p[j] - r.prob).abs() < 2e-6, "{r:?} vs {}", p[j]);
        matched += 1;
    }
    assert_eq!(matched, rows.len() * names.len());
    // metrics.csv: what the run reported on the same scans.
    let ours = read_metrics(&summary.metrics.clone().unwrap()).unwrap();
    let theirs = read_metrics(&run.join("metrics.csv")).unwrap();
    assert_eq!(ours.len(), theirs.len());
    let close = |a: f64, b: f64| (a.is_nan() && b.is_nan()) || (a - b).abs() < 1e-9;
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a.structure, b.structure);
        assert_eq!(a.confusion, b.confusion, "{}", a.structure);
        assert_eq!(a.n_known, b.n_known, "{}", a.structure);
        for (x, y) in [
            (a.f1, b.f1),
            (a.auroc, b.auroc),
            (a.f1_ci.lo, b.f1_ci.lo),
            (a.f1_ci.hi, b.f1_ci.hi),
            (a.auroc_ci.lo, b.auroc_ci.lo),
            (a.auroc_ci.hi, b.auroc_ci.hi),
        ] {
            assert!(close(x, y), "{}: {x} vs {y}", a.structure);
        }
    }

    // 2. Fresh scans without masks: scan folders, bare volume files, a DICOM CT series.
    let fresh = tmp.path().join("fresh");
    let fresh_cfg = SynthConfig {
        scans: 2,
        size: 64,
        seed: 77,
        ..SynthConfig::default()
    };
    let dirs = write_cohort(&fresh, &fresh_cfg, SynthFormat::Nrrd).unwrap();
    let flat = tmp.path().join("flat");
    fs::create_dir_all(&flat).unwrap();
    for d in &dirs {
        fs::remove_dir_all(d.join("segmentations")).unwrap();
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        fs::copy(d.join("CT_IMAGE.nrrd"), flat.join(format!("{name}.nrrd"))).unwrap();
    }
    let out_fresh = tmp.path().join("fresh.csv");
    let s = predict(
        &PredictOptions::new(&run, &fresh, &out_fresh),
        &device,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        (s.scans, s.scans_with_masks, s.metrics.clone()),
        (2, 0, None)
    );
    assert!(!tmp.path().join("metrics.csv").exists());
    let (_, fresh_rows) = read_predict_csv(&out_fresh);
    assert_eq!(fresh_rows.len(), s.slices);
    assert!(s.slices > 10);
    let out_flat = tmp.path().join("flat.csv");
    predict(
        &PredictOptions::new(run.join(MODEL_FILE), &flat, &out_flat),
        &device,
        &mut |_| {},
    )
    .unwrap();
    let (_, flat_rows) = read_predict_csv(&out_flat);
    assert_eq!(
        flat_rows, fresh_rows,
        "the same CT as a bare file predicts the same"
    );
    // Volume files beside scan folders: ambiguous without --layout.
    let first = dirs[0].file_name().unwrap().to_string_lossy().into_owned();
    fs::copy(flat.join(format!("{first}.nrrd")), fresh.join("extra.nrrd")).unwrap();
    let e = predict(
        &PredictOptions::new(&run, &fresh, &out_flat),
        &device,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("--layout"), "{e}");
    let mut opts = PredictOptions::new(&run, &fresh, tmp.path().join("one.csv"));
    opts.layout = Some(InputLayout::Volumes);
    assert_eq!(predict(&opts, &device, &mut |_| {}).unwrap().scans, 1);
    fs::remove_file(fresh.join("extra.nrrd")).unwrap();

    let dicom = tmp.path().join("dicom");
    let one = SynthConfig {
        scans: 1,
        ..fresh_cfg.clone()
    };
    let ddirs = write_cohort(&dicom, &one, SynthFormat::Dicom).unwrap();
    for rt in twinscan_data::dicom::scan_dicom_dir(&ddirs[0])
        .unwrap()
        .rtstructs
    {
        fs::remove_file(rt).unwrap();
    }
    let out_dicom = tmp.path().join("dicom.csv");
    let mut opts = PredictOptions::new(&run, &dicom, &out_dicom);
    opts.layout = Some("dicom".parse::<InputLayout>().unwrap());
    let s = predict(&opts, &device, &mut |_| {}).unwrap();
    assert_eq!((s.scans, s.scans_with_masks), (1, 0));
    assert_eq!(read_predict_csv(&out_dicom).1.len(), s.slices);

    // 3. Errors leave nothing behind.
    let bad_out = tmp.path().join("bad.csv");
    let e = predict(
        &PredictOptions::new(tmp.path().join("no-run"), &fresh, &bad_out),
        &device,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("no-run"), "{e}");
    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let e = predict(
        &PredictOptions::new(&run, &empty, &bad_out),
        &device,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    let e = predict(
        &PredictOptions::new(&data, &fresh, &bad_out),
        &device,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains(MODEL_FILE), "{e}");
    assert!(!bad_out.exists());

    // 4. embed with the run's encoder: rows in labels.csv order, PCA chart, kNN probe.
    let emb = tmp.path().join("emb");
    let mut eo = EmbedOptions::new(run.join(MODEL_FILE), &data, &emb);
    eo.knn = Some(5);
    let s = embed(&eo, &device).unwrap();
    let arr: ndarray::Array2<f32> = ndarray_npy::read_npy(emb.join("embeddings.npy")).unwrap();
    assert_eq!(arr.dim(), (prepared.len(), 512));
    assert_eq!((s.rows, s.dim), (prepared.len(), 512));
    assert!(arr.iter().all(|v| v.is_finite()));
    let mut r = csv::Reader::from_path(emb.join("index.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &header[..6],
        ["row", "scan", "patient", "slice", "z_mm", "split"]
    );
    assert_eq!(&header[6..], names.as_slice());
    let recs: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(recs.len(), prepared.len());
    for (i, rec) in recs.iter().enumerate() {
        assert_eq!(rec[1].to_string(), prepared.scan(i));
        assert_eq!(rec[3].parse::<usize>().unwrap(), prepared.slice_index(i));
        assert_eq!(rec[5].to_string(), prepared.split(i).as_str());
        let labels: Vec<i8> = (0..names.len())
            .map(|j| rec[6 + j].parse().unwrap())
            .collect();
        assert_eq!(labels, prepared.labels(i));
    }
    let png = fs::read(emb.join("pca.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(s.explained[0] >= s.explained[1] && s.explained[0] > 0.0);
    assert!(s.knn.is_some() && emb.join("knn.json").is_file());
    // One split only.
    let mut eo = EmbedOptions::new(run.join(MODEL_FILE), &data, tmp.path().join("emb_test"));
    eo.split = Some(Split::Test);
    eo.color_by = Some(names[0].clone());
    let s = embed(&eo, &device).unwrap();
    assert_eq!(s.rows, prepared.indices(Split::Test).len());
    eo.color_by = Some("NotAStructure".into());
    assert!(
        embed(&eo, &device)
            .unwrap_err()
            .to_string()
            .contains("NotAStructure")
    );
}

#[test]
fn a_pretrained_encoder_records_what_it_expects() {
    let tmp = tempfile::tempdir().unwrap();
    let data = PRETRAIN.write(tmp.path());
    let config = twinscan_ssl::PretrainConfig {
        input: twinscan_classify::EncoderInput {
            arch: twinscan_models::Arch::ResNet10,
            in_channels: 1,
            image_size: 64,
        },
        augment: tiny::pretrain::AUGMENT.into(),
        projector: "512-64-64".parse().unwrap(),
        epochs: 1,
        batch_size: tiny::BATCH_SIZE,
        max_steps_per_epoch: Some(1),
        warmup_epochs: 0,
        knn_every: 0,
        ..twinscan_ssl::PretrainConfig::study()
    };
    let out: PathBuf = tmp.path().join("bt");
    let run = twinscan_ssl::pretrain::PretrainRun {
        data: data.clone(),
        out: out.clone(),
        config,
        device: Device::flex(),
        data_parallel: Vec::new(),
        resume: false,
    };
    // Through the facade: curves.png is drawn at the checkpoint.
    let mut checkpoints = 0;
    let summary = twinscan::pretrain_curves::pretrain_with_curves(&run, 1, &mut |e| {
        if let twinscan_ssl::pretrain::Event::Checkpoint(_) = e {
            checkpoints += 1
        }
    })
    .unwrap();
    assert_eq!(checkpoints, 1);
    let png = fs::read(out.join(twinscan::pretrain_curves::CURVES)).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // A log without a step yet is an error naming the chart, and leaves no file.
    let empty = tmp.path().join("empty-run");
    fs::create_dir_all(&empty).unwrap();
    fs::write(empty.join("log.jsonl"), "").unwrap();
    let e = twinscan::pretrain_curves::draw_pretrain_curves(&empty).unwrap_err();
    assert!(e.to_string().contains("curves.png"), "{e}");
    assert_eq!(fs::read_dir(&empty).unwrap().count(), 1);
    let enc = summary.encoder.unwrap();
    let m = twinscan_ssl::encoder_meta::read_encoder_meta(&enc).unwrap();
    assert_eq!(m.format, "twinscan-encoder");
    assert_eq!(
        (
            m.input.arch.as_str(),
            m.input.in_channels,
            m.input.image_size
        ),
        ("resnet10", 1, 64)
    );
    assert_eq!(
        (m.input.slice_size, m.input.hu_window.as_str()),
        (64, "40:400")
    );
    assert_eq!(
        (m.input.normalize_mean, m.input.normalize_std),
        (0.28, 0.031)
    );
    assert_eq!((m.projector.as_str(), m.epochs), ("512-64-64", 1));
    assert_eq!(
        m.input.dataset_fingerprint.as_deref(),
        Some(
            twinscan_data::prepared::Prepared::open(&data)
                .unwrap()
                .fingerprint()
        )
    );
    // embed reads it (metadata give the architecture and pipeline).
    let s = embed(
        &EmbedOptions::new(&enc, &data, tmp.path().join("emb")),
        &Device::flex(),
    )
    .unwrap();
    assert_eq!(s.dim, 512);
    // Options that contradict the file are refused.
    let mut eo = EmbedOptions::new(&enc, &data, tmp.path().join("emb2"));
    eo.arch = Some("resnet18".into());
    assert!(
        embed(&eo, &Device::flex())
            .unwrap_err()
            .to_string()
            .contains("resnet10")
    );
}
