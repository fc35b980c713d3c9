//! Gated tests against reference numbers computed in float64 outside this project
//! (`../shared/fixtures/{barlow,lars,vicreg}`; see the shared README).
//!
//! `TWINSCAN_BARLOW_FIXTURE` / `TWINSCAN_LARS_FIXTURE` / `TWINSCAN_VICREG_FIXTURE` name the
//! folders (`twinscan_testkit::fixture_dir`). When a variable is set, a missing or mismatching
//! fixture fails the test; when it is unset, the default folder beside the workspace is used
//! if present, else the test prints a note and returns.

use std::path::Path;

use burn::module::{Module, Param};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::ArrayD;
use serde_json::Value;
use twinscan_ssl::{
    BarlowTwinsLossConfig, CorrelationStrategy, LarsConfig, LarsState, VicRegLossConfig,
};
use twinscan_testkit::{fixture_dir, read_json, read_npy};

fn meta(dir: &Path) -> Value {
    read_json(&dir.join("meta.json"))
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("meta.json: `{key}` missing or not a number"))
}

fn npy(dir: &Path, file: &str) -> ArrayD<f32> {
    read_npy(&dir.join(file))
}

fn tensor<const D: usize>(a: &ArrayD<f32>, device: &Device) -> Tensor<D> {
    assert_eq!(a.ndim(), D, "array rank");
    let data = TensorData::new(a.iter().copied().collect::<Vec<f32>>(), a.shape().to_vec());
    Tensor::from_data(data, device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

/// Array relative error `max|a − b| / max|b|` (infinity-norm relative). Float32 results of a
/// float64 reference differ by a few ulps of the array's scale; an element-wise ratio on entries
/// near zero would measure that rounding, not correctness. (The element-wise ratio over entries
/// at least 1 % of the largest magnitude is printed alongside.)
fn max_rel(actual: &[f32], expected: &[f32]) -> f64 {
    assert_eq!(actual.len(), expected.len(), "element count");
    let scale = expected.iter().fold(0f64, |m, &e| m.max((e as f64).abs()));
    let diff = actual
        .iter()
        .zip(expected)
        .map(|(&a, &e)| (a as f64 - e as f64).abs())
        .fold(0f64, f64::max);
    if scale == 0.0 { diff } else { diff / scale }
}

/// Element-wise relative error over entries with `|b| >= 1 %` of the largest magnitude.
fn max_rel_elementwise(actual: &[f32], expected: &[f32]) -> f64 {
    let scale = expected.iter().fold(0f64, |m, &e| m.max((e as f64).abs()));
    actual
        .iter()
        .zip(expected)
        .filter(|(_, e)| (**e as f64).abs() >= 0.01 * scale && **e != 0.0)
        .map(|(&a, &e)| (a as f64 - e as f64).abs() / (e as f64).abs())
        .fold(0f64, f64::max)
}

fn rel(a: f64, e: f64) -> f64 {
    (a - e).abs() / e.abs().max(1e-30)
}

const TOL: f64 = 1e-5;

/// A loss fixture folder: `meta.json` (sizes `n`, `d` and the coefficients), `expected.json`
/// (the loss and its terms), and `z1`, `z2`, `grad_z1` as `[n, d]` arrays.
struct LossFixture {
    meta: Value,
    expected: Value,
    z1: ArrayD<f32>,
    z2: ArrayD<f32>,
    grad_z1: ArrayD<f32>,
}

impl LossFixture {
    /// Reads the folder, checking every array's shape against `meta.json`.
    fn read(dir: &Path) -> Self {
        let meta = meta(dir);
        let (n, d) = (num(&meta, "n") as usize, num(&meta, "d") as usize);
        let expected = read_json(&dir.join("expected.json"));
        let [z1, z2, grad_z1] = ["z1.npy", "z2.npy", "grad_z1.npy"].map(|f| {
            let a = npy(dir, f);
            assert_eq!(a.shape(), [n, d], "{f} shape vs meta.json");
            a
        });
        Self {
            meta,
            expected,
            z1,
            z2,
            grad_z1,
        }
    }

    /// Runs a loss on `z1` (with a gradient) and `z2` for each correlation strategy and checks
    /// every term it returns (`loss` first, named as in `expected.json`) and the gradient with
    /// respect to `z1` within [`TOL`] (`test` names the output lines).
    fn check(
        &self,
        test: &str,
        forward: impl Fn(CorrelationStrategy, Tensor<2>, Tensor<2>) -> Vec<(&'static str, Tensor<1>)>,
    ) {
        let device = Device::flex().autodiff();
        let want: Vec<f32> = self.grad_z1.iter().copied().collect();
        for strategy in [
            CorrelationStrategy::Gram,
            CorrelationStrategy::CrossCorrelation,
        ] {
            let t1: Tensor<2> = tensor(&self.z1, &device).require_grad();
            let terms = forward(strategy, t1.clone(), tensor(&self.z2, &device));
            assert_eq!(terms[0].0, "loss", "the loss comes first");
            let grads = terms[0].1.backward();
            let grad = values(t1.grad(&grads).expect("gradient of z1"));
            let mut errs: Vec<(&str, f64)> = terms
                .into_iter()
                .map(|(name, t)| {
                    let got = t.into_scalar::<f32>() as f64;
                    (name, rel(got, num(&self.expected, name)))
                })
                .collect();
            errs.push(("grad_z1", max_rel(&grad, &want)));
            println!(
                "{test} {strategy:?}: relative errors {errs:?}; grad_z1 element-wise \
                 (entries >= 1% of max) {:e}",
                max_rel_elementwise(&grad, &want)
            );
            for (what, err) in errs {
                assert!(
                    err <= TOL,
                    "{strategy:?}: {what} relative error {err:e} > {TOL:e}"
                );
            }
        }
    }
}

#[test]
fn barlow_loss_fixture() {
    let Some(dir) = fixture_dir("TWINSCAN_BARLOW_FIXTURE", "barlow") else {
        return;
    };
    let fixture = LossFixture::read(&dir);
    let m = &fixture.meta;
    fixture.check("barlow_loss_fixture", |strategy, z1, z2| {
        let out = BarlowTwinsLossConfig {
            lambda: num(m, "lambd"),
            eps: num(m, "eps"),
            strategy,
        }
        .init()
        .unwrap()
        .forward(z1, z2)
        .unwrap();
        vec![
            ("loss", out.loss),
            ("on_diag", out.on_diag),
            ("off_diag", out.off_diag),
        ]
    });
}

/// A module holding the fixture's parameters so that the test drives LARS through burn's
/// `ModuleOptimizer` (rank dispatch, state handling) as training does.
#[derive(Module, Debug)]
struct Params {
    p1: Vec<Param<Tensor<1>>>,
    p2: Vec<Param<Tensor<2>>>,
    p4: Vec<Param<Tensor<4>>>,
}

#[test]
fn lars_step_fixture() {
    let Some(dir) = fixture_dir("TWINSCAN_LARS_FIXTURE", "lars") else {
        return;
    };
    let m = meta(&dir);
    let config = LarsConfig {
        lr_weights: num(&m, "lr_weights"),
        lr_biases: num(&m, "lr_biases"),
        weight_decay: num(&m, "weight_decay"),
        eta: num(&m, "eta"),
        momentum: num(&m, "momentum"),
    };
    let lars = config.build().unwrap();
    let params = m["params"].as_object().expect("meta.json: `params` object");
    assert!(!params.is_empty(), "meta.json: no params");
    let device = Device::flex();

    let mut checked = 0;
    for (name, spec) in params {
        let shape: Vec<usize> = spec["shape"]
            .as_array()
            .expect("params.*.shape")
            .iter()
            .map(|v| v.as_u64().expect("shape entry") as usize)
            .collect();
        let excluded = spec["excluded"].as_bool().expect("params.*.excluded");
        // The crate's rule: exactly the 1-D parameters are excluded.
        assert_eq!(excluded, shape.len() == 1, "{name}: exclusion rule vs rank");
        let load = |suffix: &str| {
            let a = npy(&dir, &format!("{name}.{suffix}.npy"));
            assert_eq!(a.shape(), shape.as_slice(), "{name}.{suffix}.npy shape");
            a
        };
        let (p, g, mu, want_p, want_mu) = (
            load("p"),
            load("g"),
            load("mu"),
            load("expected_p"),
            load("expected_mu"),
        );
        // The schedule multiplier is 1: the fixture's rates are the effective ones.
        let (new_p, new_mu) = match shape.len() {
            1 => step::<1>(&lars, &p, &g, &mu, &device),
            2 => step::<2>(&lars, &p, &g, &mu, &device),
            4 => step::<4>(&lars, &p, &g, &mu, &device),
            r => panic!("{name}: rank {r} not covered by this test"),
        };
        let ep = max_rel(&new_p, &want_p.iter().copied().collect::<Vec<_>>());
        let em = max_rel(&new_mu, &want_mu.iter().copied().collect::<Vec<_>>());
        println!("lars_step_fixture {name} {shape:?}: rel err p {ep:e}, mu {em:e}");
        assert!(ep <= TOL, "{name}: parameter relative error {ep:e}");
        assert!(em <= TOL, "{name}: momentum relative error {em:e}");
        checked += 1;
    }
    assert_eq!(checked, params.len());

    // ModuleOptimizer steps modules on an autodiff device (as in training).
    let autodiff = device.clone().autodiff();
    // The same step through burn's ModuleOptimizer (rank dispatch, state in a record) for the
    // 1-, 2- and 4-D parameters, with the momentum buffers injected through a saved record.
    let mut module = Params {
        p1: vec![],
        p2: vec![],
        p4: vec![],
    };
    let mut expected: Vec<(String, Vec<f32>)> = vec![];
    let mut grads = GradientsParams::new();
    let mut states = lars_record_seed(&config);
    for (name, spec) in params {
        let rank = spec["shape"].as_array().unwrap().len();
        let p = npy(&dir, &format!("{name}.p.npy"));
        let g = npy(&dir, &format!("{name}.g.npy"));
        let mu = npy(&dir, &format!("{name}.mu.npy"));
        let want = npy(&dir, &format!("{name}.expected_p.npy"));
        expected.push((name.clone(), want.iter().copied().collect()));
        match rank {
            1 => {
                let param = Param::from_tensor(tensor::<1>(&p, &autodiff));
                grads.register(param.id, tensor::<1>(&g, &device));
                states.push_state(param.id, tensor::<1>(&mu, &device));
                module.p1.push(param);
            }
            2 => {
                let param = Param::from_tensor(tensor::<2>(&p, &autodiff));
                grads.register(param.id, tensor::<2>(&g, &device));
                states.push_state(param.id, tensor::<2>(&mu, &device));
                module.p2.push(param);
            }
            4 => {
                let param = Param::from_tensor(tensor::<4>(&p, &autodiff));
                grads.register(param.id, tensor::<4>(&g, &device));
                states.push_state(param.id, tensor::<4>(&mu, &device));
                module.p4.push(param);
            }
            r => panic!("{name}: rank {r}"),
        }
    }
    let mut optim = states.into_optimizer();
    let module = optim.step(1.0, module, grads);
    let mut got: Vec<Vec<f32>> = vec![];
    let (mut i1, mut i2, mut i4) = (0, 0, 0);
    for (_, spec) in params {
        match spec["shape"].as_array().unwrap().len() {
            1 => {
                got.push(values(module.p1[i1].val()));
                i1 += 1;
            }
            2 => {
                got.push(values(module.p2[i2].val()));
                i2 += 1;
            }
            _ => {
                got.push(values(module.p4[i4].val()));
                i4 += 1;
            }
        }
    }
    for ((name, want), got) in expected.iter().zip(&got) {
        let e = max_rel(got, want);
        println!("lars_step_fixture via ModuleOptimizer {name}: rel err p {e:e}");
        assert!(e <= TOL, "{name} via ModuleOptimizer: relative error {e:e}");
    }
}

fn step<const D: usize>(
    lars: &twinscan_ssl::Lars,
    p: &ArrayD<f32>,
    g: &ArrayD<f32>,
    mu: &ArrayD<f32>,
    device: &Device,
) -> (Vec<f32>, Vec<f32>) {
    let state = LarsState {
        momentum: tensor::<D>(mu, device),
    };
    let (p, s) = lars.step(
        1.0,
        tensor::<D>(p, device),
        tensor::<D>(g, device),
        Some(state),
    );
    (values(p), values(s.expect("LARS returns a state").momentum))
}

/// Builds a `ModuleOptimizer` whose per-parameter momentum is preset, by stepping a scratch
/// optimiser with lr 0 and momentum 0 on gradient `mu` (which stores exactly `mu`, leaves the
/// parameter unchanged) and handing its record to the real optimiser.
struct RecordSeed {
    config: LarsConfig,
    seed: Seeds,
    grads: GradientsParams,
}

#[derive(Module, Debug)]
struct Seeds {
    p1: Vec<Param<Tensor<1>>>,
    p2: Vec<Param<Tensor<2>>>,
    p4: Vec<Param<Tensor<4>>>,
}

fn lars_record_seed(config: &LarsConfig) -> RecordSeed {
    RecordSeed {
        config: *config,
        seed: Seeds {
            p1: vec![],
            p2: vec![],
            p4: vec![],
        },
        grads: GradientsParams::new(),
    }
}

impl RecordSeed {
    fn push_state<const D: usize>(&mut self, id: burn::module::ParamId, mu: Tensor<D>) {
        // A zero parameter with the same id: with weight decay 0 and the trust ratio falling
        // back to 1 (‖p‖ = 0), momentum 0 and no prior state, the stored buffer is exactly `mu`.
        let zero = Param::initialized(
            id,
            Tensor::<D>::zeros(mu.dims(), &Device::flex().autodiff()),
        );
        self.grads.register(id, mu);
        match D {
            1 => self.seed.p1.push(reshape_param(zero)),
            2 => self.seed.p2.push(reshape_param(zero)),
            4 => self.seed.p4.push(reshape_param(zero)),
            _ => unreachable!(),
        }
    }

    fn into_optimizer(self) -> burn::optim::ModuleOptimizer {
        let scratch = LarsConfig {
            weight_decay: 0.0,
            momentum: 0.0,
            lr_weights: 0.0,
            lr_biases: 0.0,
            ..self.config
        };
        let mut seeder = scratch.init().unwrap();
        let _ = seeder.step(1.0, self.seed, self.grads);
        let record = seeder.to_record();
        self.config.init().unwrap().load_record(record)
    }
}

/// `Param<Tensor<D>>` → `Param<Tensor<E>>` for `D == E` (checked at run time by the caller's
/// match on `D`).
fn reshape_param<const D: usize, const E: usize>(p: Param<Tensor<D>>) -> Param<Tensor<E>> {
    assert_eq!(D, E);
    let id = p.id;
    let t = p.val();
    let dims: [usize; E] = t.dims().to_vec().try_into().unwrap();
    Param::initialized(id, t.reshape(dims))
}

#[test]
fn vicreg_loss_fixture() {
    let Some(dir) = fixture_dir("TWINSCAN_VICREG_FIXTURE", "vicreg") else {
        return;
    };
    let fixture = LossFixture::read(&dir);
    let m = &fixture.meta;
    fixture.check("vicreg_loss_fixture", |strategy, z1, z2| {
        let out = VicRegLossConfig {
            sim_coeff: num(m, "sim_coeff"),
            std_coeff: num(m, "std_coeff"),
            cov_coeff: num(m, "cov_coeff"),
            eps: num(m, "eps"),
            strategy,
        }
        .init()
        .unwrap()
        .forward(z1, z2)
        .unwrap();
        vec![
            ("loss", out.loss),
            ("invariance", out.invariance),
            ("variance", out.variance),
            ("covariance", out.covariance),
        ]
    });
}
