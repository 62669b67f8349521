// math.wgsl — scalar float functions that WGSL lacks, shared by elementwise kernels and epilogues.
//
// Appended to a kernel's module by the launcher when an op needs it. All functions take and return f32;
// f16 tensors are widened first, so accuracy is f32 accuracy.

// erfc(z) for z >= 0 from the Chebyshev-fitted form t * exp(-z^2 + P(t)), t = 1 / (1 + z/2) (Numerical
// Recipes, "erfcc"): fractional error below 1.2e-7 for every z >= 0, so the tails keep their relative
// accuracy down to f32's underflow.
fn erfc_nonneg_f32(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
             t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(-z * z + poly);
}

// erf(x) = 1 - erfc(|x|), sign restored: f32-exact in practice and no branches beyond the sign. Cheaper
// fits (Abramowitz & Stegun 7.1.26, 1.5e-7 absolute but 1e-3 relative near 0) would show in erf's own
// results near 0.
fn erf_f32(x: f32) -> f32 {
  let erfc = erfc_nonneg_f32(abs(x));
  // Near 0, 1 - erfc cancels (1e-3 relative error at x = 1e-4): use the Maclaurin series there instead,
  // 2/sqrt(pi) (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320), truncation < 3e-8 relative for |x| < 0.5.
  let x2 = x * x;
  let series = 1.1283791670955126 * x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (0.1 + x2 * (-1.0 / 42.0 + x2 * (1.0 / 216.0 +
               x2 * (-1.0 / 1320.0))))));
  return select(select(erfc - 1.0, 1.0 - erfc, x >= 0.0), series, abs(x) < 0.5);
}

// The standard normal CDF, Phi(x) = erfc(-x / sqrt(2)) / 2, from half an erfc of |x| / sqrt(2): that is
// Phi itself for x < 0, so the left tail keeps its relative accuracy (1 + erf(x / sqrt(2)) would cancel
// there), and 1 - it for x >= 0. GELU needs no relative accuracy of erf near 0 (Phi is near 1/2 there),
// so erf's series is not evaluated. Against 0.5 * (1 + erf_f32(x / sqrt(2))), GELU over 1024 x 3072 went
// from 0.93-1.01 to 1.08-1.10 GB per CPU-second on lavapipe (bench/elementwise-probe.ts, 2026-11-28), and
// gelu(-5) from 4% to 1e-7 relative error.
fn normal_cdf_f32(x: f32) -> f32 {
  let tail = 0.5 * erfc_nonneg_f32(abs(x) * 0.70710678118654752);
  return select(1.0 - tail, tail, x < 0.0);
}

// Exact (erf-based) GELU, x * Phi(x), as PyTorch's nn.GELU() default and timm ViT blocks use.
fn gelu_f32(x: f32) -> f32 {
  return x * normal_cdf_f32(x);
}

// d/dx gelu(x) = Phi(x) + x * phi(x).
fn gelu_grad_f32(x: f32) -> f32 {
  let pdf = 0.39894228040143268 * exp(-0.5 * x * x);
  return normal_cdf_f32(x) + x * pdf;
}

// Sigmoid without overflow: exp of a non-positive number only.
fn sigmoid_f32(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

// tanh via exp of a non-positive argument: builtin tanh returns NaN for large |x| on some drivers.
fn tanh_f32(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}

// pow with the conventions of torch.pow / C pow for negative bases and integral exponents: WGSL's pow is
// undefined for x < 0, so handle the sign explicitly.
fn pow_f32(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  // WGSL's pow is exp2(y * log2(x)), undefined at x = 0 (llvmpipe returns 0 for 0^-1): 0^y is 0 or +Inf.
  let inf_bits = 0x7f800000u;
  if (x == 0.0) { return select(0.0, bitcast<f32>(inf_bits), y < 0.0); }
  if (x >= 0.0) { return pow(x, y); }
  // Negative base, fractional exponent: NaN. The bit pattern goes through a `let` so it is a runtime
  // value; a constant NaN is a compile error in WGSL.
  let quiet_nan_bits = 0x7fc00000u;
  if (y != floor(y)) { return bitcast<f32>(quiet_nan_bits); }
  let m = pow(-x, y);
  return select(m, -m, (abs(y) % 2.0) == 1.0);
}

// NaN test on the bit pattern. `x != x` is not reliable: shader compilers may assume no NaNs (llvmpipe
// compiles `x != x` to false and `NaN == NaN` to true), but they cannot reason that way about integer bits.
fn isnan_f32(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// log1p(x) = 2 atanh(s) with s = x / (2 + x), summed as a series for |x| < 0.5 (|s| < 1/3, terms to s^13,
// truncation < 2e-8 relative). log(1 + x) there would carry WGSL log's 2^-21 absolute error near 1, which is
// 5e-3 relative at x = 1e-4; farther out the result is large enough for log(1 + x) to be accurate.
fn log1p_f32(x: f32) -> f32 {
  let s = x / (2.0 + x);
  let s2 = s * s;
  let series = 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 +
               s2 * (1.0 / 13.0)))))));
  return select(log(1.0 + x), series, abs(x) < 0.5);
}

// expm1(x): Taylor series to x^8 for |x| < 0.5 (truncation < 1e-8 relative), where exp(x) - 1 cancels.
fn expm1_f32(x: f32) -> f32 {
  let series = x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0 +
               x * (1.0 / 5040.0 + x * (1.0 / 40320.0))))))));
  return select(exp(x) - 1.0, series, abs(x) < 0.5);
}
