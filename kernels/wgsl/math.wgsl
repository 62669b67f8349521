// math.wgsl — scalar float functions that WGSL lacks, shared by elementwise kernels and epilogues.
//
// Appended to a kernel's module by the launcher when an op needs it. All functions take and return f32;
// f16 tensors are widened first, so accuracy is f32 accuracy.

// erf(x) = 1 - erfc(|x|) with erfc from the Chebyshev-fitted form t * exp(-z^2 + P(t)), t = 1 / (1 + z/2)
// (Numerical Recipes, "erfcc"): fractional error below 1.2e-7 on the whole real line, i.e. f32-exact in
// practice, and no branches beyond the sign. Cheaper fits (Abramowitz & Stegun 7.1.26, 1.5e-7 absolute
// but 1e-3 relative near 0) would show up in GELU gradients.
fn erf_f32(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
             t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let erfc = t * exp(-z * z + poly);
  return select(erfc - 1.0, 1.0 - erfc, x >= 0.0);
}

// Exact (erf-based) GELU, as PyTorch's nn.GELU() default and timm ViT blocks use.
fn gelu_f32(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_f32(x * 0.70710678118654752));
}

// d/dx gelu(x) = Phi(x) + x * phi(x).
fn gelu_grad_f32(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf_f32(x * 0.70710678118654752));
  let pdf = 0.39894228040143268 * exp(-0.5 * x * x);
  return cdf + x * pdf;
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
  if (x >= 0.0) { return pow(x, y); }
  // Negative base, fractional exponent: NaN. The bit pattern goes through a `let` so it is a runtime
  // value; a constant NaN is a compile error in WGSL.
  let quiet_nan_bits = 0x7fc00000u;
  if (y != floor(y)) { return bitcast<f32>(quiet_nan_bits); }
  let m = pow(-x, y);
  return select(m, -m, (abs(y) % 2.0) == 1.0);
}
