//! The BERT encoder both embedding models run (post-norm layers: self-attention, then a GELU
//! feed-forward), written for short texts on one CPU core:
//! - a batch's texts are *packed*: the per-token layers (every matmul but attention's) run on
//!   the real tokens of all texts together, never on padding, and only attention lays them out
//!   per text (padded to the longest, the padding masked out);
//! - the query, key and value projections are one matmul, with attention's 1/√d folded into the
//!   query's weights;
//! - the feed-forward's bias and exact GELU are one pass of a vectorised erf, instead of libm's
//!   scalar `erff` (which took ~11% of a busy server's CPU under MiniLM);
//! - background work (indexing) pauses between matmuls while a turn is under way;
//! - with `Precision::Int8` on a CPU with AVX-512 VNNI, the four per-token matmuls of each layer
//!   run in 8-bit integers (`int8.rs`).
//!
//! The result is the models' sentence vector: the mean of each text's token states, L2-normalised.

use super::int8::{self, QuantLinear};
use super::Precision;
use candle_core::{CpuStorage, DType, Device, InplaceOp1, Layout, Module, Tensor};
use candle_nn::{LayerNorm, Linear};

/// A linear layer's weight `[outputs, inputs]` and bias `[outputs]`, as the checkpoint holds them.
pub(crate) struct Dense {
    pub weight: Tensor,
    pub bias: Tensor,
}

/// One encoder layer's weights.
pub(crate) struct LayerWeights {
    pub query: Dense,
    pub key: Dense,
    pub value: Dense,
    pub attention_out: Dense,
    pub attention_norm: LayerNorm,
    pub up: Dense,
    pub down: Dense,
    pub out_norm: LayerNorm,
}

struct Layer {
    /// Query (scaled by 1/√d), key and value, stacked: `[3·hidden, hidden]`.
    qkv: Proj,
    attention_out: Proj,
    attention_norm: LayerNorm,
    /// The feed-forward's first matmul, without its bias (added with the GELU).
    up: Proj,
    up_bias: BiasGelu,
    down: Proj,
    out_norm: LayerNorm,
}

/// One of a layer's per-token matmuls, `x · Wᵀ + b`: in f32, or in 8 bits where it runs that way.
enum Proj {
    F32(Linear),
    Int8(QuantLinear),
}

impl Proj {
    /// In 8 bits when `int8` and the shape suits the kernel, else as it is.
    fn new(linear: Linear, int8: bool) -> candle_core::Result<Self> {
        if int8 {
            let (outputs, inputs) = linear.weight().dims2()?;
            let w = linear.weight().flatten_all()?.to_vec1::<f32>()?;
            let b = match linear.bias() {
                Some(b) => b.to_vec1::<f32>()?,
                None => vec![0.0; outputs],
            };
            if let Some(q) = QuantLinear::new(&w, &b, outputs, inputs) {
                return Ok(Proj::Int8(q));
            }
        }
        Ok(Proj::F32(linear))
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Proj::F32(l) => l.forward(x),
            Proj::Int8(l) => {
                let rows = x.dim(0)?;
                let y = l.forward(&x.flatten_all()?.to_vec1::<f32>()?, rows);
                Tensor::from_vec(y, (rows, l.outputs()), &Device::Cpu)
            }
        }
    }
}

pub(crate) struct Encoder {
    hidden: usize,
    heads: usize,
    layers: Vec<Layer>,
}

impl Encoder {
    pub fn new(
        hidden: usize,
        heads: usize,
        layers: Vec<LayerWeights>,
        precision: Precision,
    ) -> candle_core::Result<Self> {
        let int8 = precision == Precision::Int8 && int8::available();
        if heads == 0 || !hidden.is_multiple_of(heads) {
            candle_core::bail!("{hidden} hidden units do not split into {heads} heads");
        }
        let scale = 1.0 / ((hidden / heads) as f64).sqrt();
        let layers = layers
            .into_iter()
            .map(|w| {
                let weight = Tensor::cat(
                    &[(&w.query.weight * scale)?, w.key.weight, w.value.weight],
                    0,
                )?;
                let bias = Tensor::cat(&[(&w.query.bias * scale)?, w.key.bias, w.value.bias], 0)?;
                let proj = |weight, bias| Proj::new(Linear::new(weight, bias), int8);
                Ok(Layer {
                    qkv: proj(weight, Some(bias))?,
                    attention_out: proj(w.attention_out.weight, Some(w.attention_out.bias))?,
                    attention_norm: w.attention_norm,
                    up_bias: BiasGelu(w.up.bias.to_vec1::<f32>()?),
                    up: proj(w.up.weight, None)?,
                    down: proj(w.down.weight, Some(w.down.bias))?,
                    out_norm: w.out_norm,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Encoder {
            hidden,
            heads,
            layers,
        })
    }

    /// Unit sentence vectors of a packed batch: `x` holds the embedded tokens of every text one
    /// after another, `(Σ lens, hidden)`, already through the embeddings' layer norm; `lens`
    /// gives each text's token count (each at least 1).
    pub fn embed(&self, x: Tensor, lens: &[usize]) -> candle_core::Result<Vec<Vec<f32>>> {
        let total: usize = lens.iter().sum();
        let (batch, longest) = (lens.len(), lens.iter().copied().max().unwrap_or(0));
        if lens.contains(&0) || x.dims() != [total, self.hidden] {
            candle_core::bail!("a packed batch of {:?} for texts of {lens:?}", x.dims());
        }
        let (h, heads) = (self.hidden, self.heads);
        let dim = h / heads;
        // Packed row → padded row, and padded row → packed row (padding reads row 0, then is
        // masked out as a key and dropped as a query).
        let mut unpack = Vec::with_capacity(batch * longest);
        let mut pack = Vec::with_capacity(total);
        let mut bias = vec![0f32; batch * longest];
        let mut start = 0u32;
        for (b, len) in lens.iter().enumerate() {
            for p in 0..longest {
                if p < *len {
                    unpack.push(start + p as u32);
                    pack.push((b * longest + p) as u32);
                } else {
                    unpack.push(0);
                    bias[b * longest + p] = -1e4;
                }
            }
            start += *len as u32;
        }
        let padded = batch * longest != total;
        let unpack = Tensor::from_vec(unpack, batch * longest, &Device::Cpu)?;
        let pack = Tensor::from_vec(pack, total, &Device::Cpu)?;
        let bias = Tensor::from_vec(bias, (batch, 1, 1, longest), &Device::Cpu)?;

        let mut x = x;
        // Background work (indexing) gives way to a turn before each of a layer's four matmul
        // steps (the longest, for a chunk of 8 long texts, takes a few milliseconds).
        let pause = super::queue::yield_to_urgent;
        for layer in &self.layers {
            pause();
            let qkv = layer.qkv.forward(&x)?; // (total, 3h)
            let qkv = if padded {
                qkv.index_select(&unpack, 0)?
            } else {
                qkv
            };
            let qkv = qkv
                .reshape((batch, longest, 3, heads, dim))?
                .permute((2, 0, 3, 1, 4))?
                .contiguous()?; // (3, batch, heads, longest, dim)
            let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
            let scores = q.matmul(&k.t()?)?.broadcast_add(&bias)?;
            let weights = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = weights
                .matmul(&v)?
                .transpose(1, 2)?
                .reshape((batch * longest, h))?;
            let context = if padded {
                context.index_select(&pack, 0)?
            } else {
                context
            };
            pause();
            let attended = (layer.attention_out.forward(&context)? + &x)?;
            x = layer.attention_norm.forward(&attended)?;
            pause();
            let mid = layer.up.forward(&x)?;
            mid.inplace_op1(&layer.up_bias)?;
            pause();
            x = layer.out_norm.forward(&(layer.down.forward(&mid)? + &x)?)?;
        }
        let states = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(mean_pooled_unit(&states, h, lens))
    }
}

/// The mean of each text's rows of `states` (packed, `width` wide), scaled to unit length.
fn mean_pooled_unit(states: &[f32], width: usize, lens: &[usize]) -> Vec<Vec<f32>> {
    let mut rows = states.chunks_exact(width);
    lens.iter()
        .map(|len| {
            let mut sum = vec![0f32; width];
            for row in rows.by_ref().take(*len) {
                sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
            let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            sum.iter_mut().for_each(|v| *v /= norm);
            sum
        })
        .collect()
}

/// Adds a bias to every row, then applies the exact GELU, in place.
struct BiasGelu(Vec<f32>);

impl InplaceOp1 for BiasGelu {
    fn name(&self) -> &'static str {
        "bias-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let (CpuStorage::F32(values), Some((from, to))) = (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("bias-gelu-erf wants a contiguous f32 tensor");
        };
        if layout.dims().last() != Some(&self.0.len()) {
            candle_core::bail!("bias of {} for rows of {:?}", self.0.len(), layout.dims());
        }
        for row in values[from..to].chunks_exact_mut(self.0.len()) {
            bias_gelu(row, &self.0);
        }
        Ok(())
    }
}

/// `row[i] = gelu(row[i] + bias[i])`, on AVX2 where the CPU has it.
pub(crate) fn bias_gelu(row: &mut [f32], bias: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU was just found to support AVX2.
        unsafe { bias_gelu_avx2(row, bias) };
        return;
    }
    bias_gelu_portable(row, bias);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bias_gelu_avx2(row: &mut [f32], bias: &[f32]) {
    bias_gelu_portable(row, bias);
}

/// Written so that the compiler vectorises it: no branches, no calls into libm.
#[inline(always)]
fn bias_gelu_portable(row: &mut [f32], bias: &[f32]) {
    for (x, b) in row.iter_mut().zip(bias) {
        *x = gelu_erf(*x + b);
    }
}

/// `x · Φ(x) = ½x(1 + erf(x/√2))`, with erf by Abramowitz & Stegun 7.1.26 (absolute error
/// ≤ 1.5e-7) and `e^-z²` by the usual range reduction (`2^n · e^r`, |r| ≤ ½ln 2) and Cephes'
/// polynomial for `e^r`.
#[inline(always)]
pub(crate) fn gelu_erf(x: f32) -> f32 {
    let z = (x * std::f32::consts::FRAC_1_SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    let erf_z = 1.0 - poly * exp_neg(z * z);
    0.5 * x * (1.0 + erf_z.copysign(x))
}

/// `e^-y` for `y ≥ 0` (0 below the smallest normal float).
#[inline(always)]
fn exp_neg(y: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let v = -y.min(87.0);
    let n = (v * std::f32::consts::LOG2_E).round_ties_even();
    let r = v - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    // n ∈ [-126, 0]: 2^n is a normal float whose exponent field is n + 127.
    e_r * f32::from_bits((((n as i32) + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erf64(x: f64) -> f64 {
        // erf by its Maclaurin series (|x| ≤ 3) or its continued-fraction tail, in f64: an
        // independent reference for the f32 approximation.
        if x.abs() > 3.0 {
            let z = x.abs();
            let mut f = 0.0;
            for k in (1..=60).rev() {
                f = (k as f64 / 2.0) / (z + f);
            }
            let erfc = (-z * z).exp() / std::f64::consts::PI.sqrt() / (z + f);
            return (1.0 - erfc).copysign(x);
        }
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn gelu_matches_the_exact_definition() {
        let mut worst = 0f64;
        let mut xs: Vec<f32> = (-20_000..=20_000).map(|i| i as f32 / 1000.0).collect();
        xs.extend([-100.0, -30.0, 30.0, 100.0, 1e-6, -1e-6, 0.0]);
        let mut out = xs.clone();
        bias_gelu(&mut out, &vec![0.0; xs.len()]);
        for (x, got) in xs.iter().zip(&out) {
            let x64 = f64::from(*x);
            let want = 0.5 * x64 * (1.0 + erf64(x64 / std::f64::consts::SQRT_2));
            let err = (f64::from(*got) - want).abs() / want.abs().max(1.0);
            worst = worst.max(err);
        }
        assert!(worst < 2e-6, "worst error {worst}");
        // The bias is added before the activation, per column.
        let mut row = vec![0.5f32, -0.5];
        bias_gelu(&mut row, &[0.5, -0.5]);
        assert!((row[0] - gelu_erf(1.0)).abs() < 1e-7 && (row[1] - gelu_erf(-1.0)).abs() < 1e-7);
        assert!((gelu_erf(1.0) - 0.841_344_7).abs() < 1e-6);
    }

    #[test]
    fn pooling_averages_each_texts_own_rows() {
        let states = [1.0, 0.0, 3.0, 0.0, 0.0, 2.0];
        let v = mean_pooled_unit(&states, 2, &[2, 1]);
        assert_eq!(v, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
    }
}
