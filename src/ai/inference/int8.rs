//! Linear layers in 8-bit integers, for CPUs with AVX-512 VNNI (`vpdpbusd`: 64 byte products
//! summed into 16 × i32 per instruction, four times the multiply rate of f32 FMA).
//!
//! Weights are quantized once, per output channel (`w ≈ sw[n] · q`, q ∈ [-127, 127]);
//! activations per row on each call, over the row's own range (`x ≈ sx[m] · (q − z[m])`,
//! q ∈ [0, 255], the unsigned operand `vpdpbusd` wants), so a row that is mostly positive (a
//! GELU's output) gets all 256 steps. The zero point is taken back out exactly with each
//! channel's sum of its quantized weights: `Σ (q_x − z) q_w = Σ q_x q_w − z Σ q_w`. Products are
//! summed in i32, so nothing saturates; the only error is the rounding of each operand to 8
//! bits.

/// Output columns a kernel step computes (two registers of 16 × i32).
const PANEL: usize = 32;
/// Input rows a kernel step computes.
const ROWS: usize = 8;

/// A linear layer `y = x Wᵀ + b`, its weights in 8 bits, packed for the kernel.
pub(crate) struct QuantLinear {
    inputs: usize,
    outputs: usize,
    /// Per panel of 32 outputs, per group of 4 inputs: 128 bytes, outputs 0–15 then 16–31, each
    /// output's 4 weights together (the layout `vpdpbusd` multiplies a broadcast 4 bytes by).
    packed: Vec<i8>,
    /// `sw[n]`.
    scale: Vec<f32>,
    /// `Σ_k q_w[n, k]`: times a row's zero point, what its shift adds to output `n`.
    sums: Vec<i32>,
    bias: Vec<f32>,
}

/// Whether this CPU runs the int8 kernel.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl QuantLinear {
    /// From a weight `[outputs, inputs]` (row-major, as checkpoints hold it) and its bias; `None`
    /// when the shape does not suit the kernel (outputs a multiple of 32, inputs of 16).
    pub fn new(weight: &[f32], bias: &[f32], outputs: usize, inputs: usize) -> Option<Self> {
        if outputs == 0
            || !outputs.is_multiple_of(PANEL)
            || inputs == 0
            || !inputs.is_multiple_of(16)
            || weight.len() != outputs * inputs
            || bias.len() != outputs
        {
            return None;
        }
        let mut q = vec![0i8; outputs * inputs];
        let mut scale = vec![0f32; outputs];
        let mut sums = vec![0i32; outputs];
        for n in 0..outputs {
            let row = &weight[n * inputs..(n + 1) * inputs];
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            let mut sum = 0i32;
            for (k, v) in row.iter().enumerate() {
                let qv = (v / s).round().clamp(-127.0, 127.0) as i8;
                q[n * inputs + k] = qv;
                sum += i32::from(qv);
            }
            scale[n] = s;
            sums[n] = sum;
        }
        let groups = inputs / 4;
        let mut packed = vec![0i8; outputs * inputs];
        for panel in 0..outputs / PANEL {
            for g in 0..groups {
                let base = (panel * groups + g) * PANEL * 4;
                for c in 0..PANEL {
                    for j in 0..4 {
                        packed[base + c * 4 + j] = q[(panel * PANEL + c) * inputs + 4 * g + j];
                    }
                }
            }
        }
        Some(QuantLinear {
            inputs,
            outputs,
            packed,
            scale,
            sums,
            bias: bias.to_vec(),
        })
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// `x` holds `rows` rows of `inputs` values; returns `rows` rows of `outputs`. Only call
    /// where `available()`.
    pub fn forward(&self, x: &[f32], rows: usize) -> Vec<f32> {
        assert_eq!(x.len(), rows * self.inputs, "input of the wrong size");
        assert!(available(), "the int8 kernel needs AVX-512 VNNI");
        let mut out = vec![0f32; rows * self.outputs];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `available()` just checked the CPU features the kernel is compiled for; the
        // sizes were checked above and in `new`.
        unsafe {
            vnni::forward(self, x, rows, &mut out)
        };
        out
    }

    /// The same product computed in plain integer arithmetic, for tests of the kernel.
    #[cfg(test)]
    fn forward_reference(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let (qx, sx, zx) = quantize_rows(x, rows, self.inputs);
        let groups = self.inputs / 4;
        let mut out = vec![0f32; rows * self.outputs];
        for m in 0..rows {
            for n in 0..self.outputs {
                let (panel, c) = (n / PANEL, n % PANEL);
                let mut acc = 0i32;
                for g in 0..groups {
                    let base = (panel * groups + g) * PANEL * 4 + c * 4;
                    for j in 0..4 {
                        acc += i32::from(qx[m * self.inputs + 4 * g + j])
                            * i32::from(self.packed[base + j]);
                    }
                }
                out[m * self.outputs + n] =
                    (acc - zx[m] * self.sums[n]) as f32 * sx[m] * self.scale[n] + self.bias[n];
            }
        }
        out
    }
}

/// Each row quantized to 8 bits over its own range, with its scale and zero point; rows padded
/// (with zeros, zero point 0) to a multiple of `ROWS`. Inlined into the kernel, so that it is
/// vectorised with the kernel's instruction set.
#[inline(always)]
fn quantize_rows(x: &[f32], rows: usize, width: usize) -> (Vec<u8>, Vec<f32>, Vec<i32>) {
    let padded = rows.div_ceil(ROWS) * ROWS;
    let mut q = vec![0u8; padded * width];
    let mut scales = vec![1f32; padded];
    let mut zeros = vec![0i32; padded];
    for (m, row) in x.chunks_exact(width).enumerate().take(rows) {
        // The range always holds 0, so that 0 is exact (and a zero point exists in 0..=255).
        let (lo, hi) = row
            .iter()
            .fold((0f32, 0f32), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let s = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
        let inv = 1.0 / s;
        let z = (-lo * inv).round_ties_even().clamp(0.0, 255.0);
        for (d, v) in q[m * width..(m + 1) * width].iter_mut().zip(row) {
            *d = (v * inv + z).round_ties_even().clamp(0.0, 255.0) as u8;
        }
        scales[m] = s;
        zeros[m] = z as i32;
    }
    (q, scales, zeros)
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{QuantLinear, PANEL, ROWS};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn forward(l: &QuantLinear, x: &[f32], rows: usize, out: &mut [f32]) {
        // Compiled with AVX-512, so that the compiler vectorises the quantization too.
        let (qx, sx, zx) = super::quantize_rows(x, rows, l.inputs);
        let (k, groups) = (l.inputs, l.inputs / 4);
        let blocks = qx.len() / (ROWS * k);
        for panel in 0..l.outputs / PANEL {
            let weights = l.packed.as_ptr().add(panel * groups * PANEL * 4);
            let n0 = panel * PANEL;
            let sums = [
                _mm512_loadu_si512(l.sums.as_ptr().add(n0).cast()),
                _mm512_loadu_si512(l.sums.as_ptr().add(n0 + 16).cast()),
            ];
            let scale = [
                _mm512_loadu_ps(l.scale.as_ptr().add(n0)),
                _mm512_loadu_ps(l.scale.as_ptr().add(n0 + 16)),
            ];
            let bias = [
                _mm512_loadu_ps(l.bias.as_ptr().add(n0)),
                _mm512_loadu_ps(l.bias.as_ptr().add(n0 + 16)),
            ];
            for block in 0..blocks {
                let a = qx.as_ptr().add(block * ROWS * k);
                let mut acc = [[_mm512_setzero_si512(); 2]; ROWS];
                for g in 0..groups {
                    let w = weights.add(g * PANEL * 4);
                    let w0 = _mm512_loadu_si512(w.cast());
                    let w1 = _mm512_loadu_si512(w.add(64).cast());
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let four = a.add(r * k + 4 * g).cast::<i32>().read_unaligned();
                        let b = _mm512_set1_epi32(four);
                        acc[0] = _mm512_dpbusd_epi32(acc[0], b, w0);
                        acc[1] = _mm512_dpbusd_epi32(acc[1], b, w1);
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    let m = block * ROWS + r;
                    if m >= rows {
                        break;
                    }
                    let (s, z) = (_mm512_set1_ps(sx[m]), _mm512_set1_epi32(zx[m]));
                    for half in 0..2 {
                        let shift = _mm512_mullo_epi32(z, sums[half]);
                        let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[half], shift));
                        let y = _mm512_fmadd_ps(v, _mm512_mul_ps(s, scale[half]), bias[half]);
                        _mm512_storeu_ps(out.as_mut_ptr().add(m * l.outputs + n0 + half * 16), y);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn the_kernel_computes_the_quantized_product_exactly() {
        if !available() {
            eprintln!("no AVX-512 VNNI on this CPU: the kernel is not used here");
            return;
        }
        // 11 rows: a full block of 8 and a partial one.
        let (outputs, inputs, rows) = (64, 48, 11);
        let l = QuantLinear::new(
            &values(outputs * inputs, 1),
            &values(outputs, 2),
            outputs,
            inputs,
        )
        .expect("a shape the kernel takes");
        let x = values(rows * inputs, 3);
        let fast = l.forward(&x, rows);
        let slow = l.forward_reference(&x, rows);
        for (a, b) in fast.iter().zip(&slow) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} against {b}");
        }
    }

    #[test]
    fn the_quantized_product_is_close_to_the_exact_one() {
        let (outputs, inputs, rows) = (32, 384, 5);
        let (w, b, x) = (
            values(outputs * inputs, 4),
            values(outputs, 5),
            values(rows * inputs, 6),
        );
        let l = QuantLinear::new(&w, &b, outputs, inputs).expect("a shape the kernel takes");
        let got = l.forward_reference(&x, rows);
        let mut errors = Vec::new();
        for m in 0..rows {
            for n in 0..outputs {
                let exact: f32 = (0..inputs)
                    .map(|k| x[m * inputs + k] * w[n * inputs + k])
                    .sum::<f32>()
                    + b[n];
                errors.push(got[m * outputs + n] - exact);
            }
        }
        // Each operand is within half a step of itself (a step is 1/255 of its row's range, 1/127
        // of its channel's largest weight): here an error of ~0.002 a product, ~0.04 summed over
        // 384 of them, against outputs of ~6.
        let rms = (errors.iter().map(|e| e * e).sum::<f32>() / errors.len() as f32).sqrt();
        let worst = errors.iter().fold(0f32, |a, e| a.max(e.abs()));
        assert!(rms < 0.06 && worst < 0.25, "rms error {rms}, worst {worst}");
    }

    #[test]
    fn shapes_the_kernel_cannot_take_are_refused() {
        assert!(QuantLinear::new(&[0.0; 20 * 16], &[0.0; 20], 20, 16).is_none());
        assert!(QuantLinear::new(&[0.0; 32 * 10], &[0.0; 32], 32, 10).is_none());
    }
}
