#!/usr/bin/env bash
# One GPU session's measurements in one prepared run, for the device tool (see ../shared/device/README.md):
#   here:  npm run build && bash ../shared/device/make-kit.sh && node scripts/device-bundle.mjs
#   there: carry [".devkit", "dist", ".devbench"], command `bash scripts/device-session.sh`
# Writes $OUT/session.log (every step's output), $OUT/bench.json and $OUT/bench.md. Each step has its
# own time limit, so a hung or crashed step costs its limit, not the session; subgroup-matrix probes
# run one configuration per process because a driver crash ends the process.
set -u
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
log="$out/session.log"
source .devkit/gpu-env.sh > "$log" 2>&1
# NVIDIA's Vulkan driver exposes shader-f16 and subgroup matrices to Dawn only with these.
export OMNI_DAWN_FLAGS='enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'
step() {
  local name=$1 limit=$2 t0=$SECONDS
  shift 2
  echo "== $name (limit ${limit}s)" | tee -a "$log"
  timeout "$limit" "$@" 2>&1 | grep -v "artificially reduced" >> "$log"
  echo "   rc=${PIPESTATUS[0]} in $((SECONDS - t0))s" | tee -a "$log"
}
probe() { step "$1" "$2" env "${@:3}" node "${PROBE_BIN:-.devbench/gemm-probe.mjs}"; }
# Steps to run: all by default, else those named on the command line (adapter torch f32 gemm robustness
# epilogue split-k tune tuning diagnose matmul-test attention attention-splits attention-f16 attention-tiles conv indexing reduce host-profile wgsl-forms bench tests).
# `f16-target` names the steps that measure the kernel issue's f16 target (200 TFLOP/s) against cuBLAS with
# every candidate written for it: 500 s of limits, one device call (the f32 target: torch f32 epilogue).
want() { [ -z "$STEPS" ] || [[ " $STEPS " == *" $1 "* ]]; }
STEPS="$*"
STEPS=${STEPS/f16-target/adapter torch wgsl-forms gemm}

if want adapter; then
  cat > /tmp/adapter.mjs <<'JS'
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const adapter = await create(process.env.OMNI_DAWN_FLAGS.split(' ')).requestAdapter();
const configs = [...(adapter.info.subgroupMatrixConfigs ?? [])];
console.log(`adapter features: ${[...adapter.features].sort().join(' ')}`);
console.log(`adapter limits: workgroup storage ${adapter.limits.maxComputeWorkgroupStorageSize}, invocations ${adapter.limits.maxComputeInvocationsPerWorkgroup}`);
for (const c of configs) console.log(`subgroup matrix config: ${c.componentType} -> ${c.resultComponentType} M=${c.M} N=${c.N} K=${c.K}`);
process.exit(0);
JS
  cp /tmp/adapter.mjs ./adapter-probe.mjs && step adapter 20 node adapter-probe.mjs; rm -f adapter-probe.mjs
fi
want torch && step torch-gemm 60 python3 bench/torch-gemm.py 4096 8192
# The tuning run (engine/tuning/, written 2026-11-28, never run on a GPU): f32 GEMM tiles on the GPU's default
# products, plain and with a bias, and the TUNING.gpu rows they suggest; attention families and tiles, forward
# and backward, at ViT-B B = 1 and 8, ViT-L and T = 1024.
want tuning && step tuning 240 node .devbench/tune.mjs
# f32 tiles: vec4 staging (':v4'), products and stores written out over named accumulators (':u'), two slabs
# per operand (':s2', one barrier per slab). H200, 2026-11-27: ':v4' won everywhere (4096^3 A @ B 34900 against
# 30300, x @ w^T 31200 against 21700) and is in TUNING.gpu; ':u' lost 10-15%; 2x4 with ':v4' alone collapsed to
# 2200. ':s2' is unmeasured (the 80%-of-cuBLAS target is open at 68%).
want f32 && probe f32-tiled 200 PROBE_REPS=10 PROBE_SHAPES=4096x4096x4096,1576x3072x768 \
  PROBE_KERNELS=tiled:2x2:32,tiled:2x2:32:v4,tiled:2x2:16:v4,tiled:2x2:16:v4:s2,tiled:2x2:8:v4:s2,tiled:4x2:32:v4:u,tiled:4x2:16:v4:u:s2
# GEMMs with a fused epilogue at the B16 encoder's B = 32 shapes (qkv 6304x2304x768 with a bias, fc2
# 6304x768x3072 with a bias and the residual) and the patch embedding's 1568x768x768: on the H200 the TK 32
# tile ran 10x slower with a bias than without (2026-11-27), so TUNING.gpu gives epilogue GEMMs TK 16, not
# re-measured since. Each epilogue, and none, times the candidates side by side.
want epilogue && for e in residual bias none; do
  probe "f32-epilogue-$e" 90 PROBE_EPILOGUE=$e PROBE_LAYOUTS=linear PROBE_REPS=10 PROBE_SHAPES=6304x768x3072,6304x2304x768,1568x768x768 \
    PROBE_KERNELS=tiled:2x2:16,tiled:2x2:32,tiled:2x2:16:v4,tiled:2x2:32:v4,tiled:2x2:16:v4:s2,tiled:2x2:16:v4:u,tiled:2x2:32:v4:u,tiled:1x1:16
done
# Split K (kernels/matmul.ts chooseKSplit; written 2026-11-28, never run on a GPU): GEMMs of few output tiles,
# ViT-B's 768-wide layers at 8 images (1576 rows) and at one (197), L14's 1024-wide ones at one image (257),
# with the encoder's bias: the adapter's choice (auto), unsplit (k1) and forced splits, side by side.
want split-k && probe split-k 150 PROBE_EPILOGUE=bias PROBE_LAYOUTS=linear PROBE_REPS=10 \
  PROBE_SHAPES=1576x768x768,1576x768x3072,197x768x768,197x768x3072,257x1024x1024,257x1024x4096 \
  PROBE_KERNELS=auto,tiled:2x2:32:v4:k1,tiled:2x2:32:v4:k2,tiled:2x2:32:v4:k4,tiled:2x2:32:v4:k8,tiled:1x1:16:k1,tiled:1x1:16:k4,tiled:1x1:16:k8
# The same for f16 on matrix units (the subgroup-matrix kernel splits K the same way): the adapter's tile at
# each forced split.
want split-k && probe split-k-f16 120 PROBE_DTYPE=f16 PROBE_LAYOUTS=linear PROBE_REPS=10 \
  PROBE_SHAPES=1576x768x768,197x768x768,197x768x3072,257x1024x1024 PROBE_KERNELS=auto,auto:k1,auto:k2,auto:k4,auto:k8
# Subgroup-matrix GEMM shapes (subgroups SMxSN : fragments per subgroup FMxFN : K per slab : slabs per
# operand [: frag for fragment staging, : packed for packed staging]), one process each: the tuned tiles
# with chunk staging, then with packed staging (one 16-byte store per chunk instead of 8 half stores, the
# kernel's measured bound; needs the proposal's vector-array loads, see step wgsl-forms), then with
# fragment staging (both written 2026-11-28, never run on matrix units: a crash or a Tint rejection
# costs only its own process). 128x128 packed tiles 32 deep with two stages fit 48 KiB for x @ w^T only
# ('linear'); A @ B ('nn') reports them FAILED (workgroup memory), so the 16-deep one stands in there.
# 128x256 tiles fit two 16-deep stages (45 KiB), which lets the refill overlap the products there too.
SGM_SHAPES=${SGM_SHAPES:-2x4:4x4:32:1 2x4:4x2:32:2 2x4:4x4:32:1:packed 2x4:4x4:16:2:packed 2x4:4x2:32:2:packed 2x4:4x2:16:2:packed 2x4:4x4:32:1:frag 2x4:4x2:32:2:frag 2x4:4x4:32:2:frag 2x2:2x2:32:2:frag}
want gemm && for shape in $SGM_SHAPES; do
  probe "f16-subgroup-matrix-$shape" 30 PROBE_DTYPE=f16 PROBE_REPS=20 PROBE_ROUNDS=3 PROBE_SHAPES=4096x4096x4096,2048x2048x2048,1576x768x768 \
    PROBE_LAYOUTS=nn,linear PROBE_KERNELS="subgroup-matrix:$shape"
done
# Packed staging reads vec4<u32> arrays with strides counted in array elements (the proposal's rule). This Dawn
# has a Vulkan toggle for drivers that count them in matrix elements instead; should the packed rows above
# fail validation, this one tells whether the toggle mends them.
want gemm && probe f16-packed-stride-toggle 30 OMNI_DAWN_FLAGS="$OMNI_DAWN_FLAGS,vulkan_cooperative_matrix_stride_is_matrix_elements" \
  PROBE_DTYPE=f16 PROBE_REPS=20 PROBE_SHAPES=4096x4096x4096,1576x768x768 PROBE_LAYOUTS=nn,linear PROBE_KERNELS=subgroup-matrix:2x4:4x4:32:1:packed
want gemm && probe f16-auto 60 PROBE_DTYPE=f16 PROBE_REPS=20 PROBE_ROUNDS=3 PROBE_SHAPES=1576x768x768,1576x3072x768,4096x4096x4096,8192x8192x8192 PROBE_LAYOUTS=nn PROBE_KERNELS=subgroup-matrix,tiled:2x2:32
# What Tint's bounds clamps cost (Dawn's disable_robustness toggle; measurement only, never shipped).
want robustness && probe robustness-off 60 OMNI_DAWN_FLAGS="$OMNI_DAWN_FLAGS,disable_robustness" PROBE_DTYPE=f16 PROBE_REPS=10 \
  PROBE_SHAPES=4096x4096x4096 PROBE_LAYOUTS=nn PROBE_KERNELS=subgroup-matrix,tiled:2x2:32
want robustness && probe robustness-off-f32 60 OMNI_DAWN_FLAGS="$OMNI_DAWN_FLAGS,disable_robustness" PROBE_REPS=10 \
  PROBE_SHAPES=4096x4096x4096 PROBE_LAYOUTS=nn PROBE_KERNELS=tiled:2x2:32
# Subgroup-matrix tiles against the tiled kernel across transformer-sized f16 GEMMs (the tuning table).
want tune && probe f16-tuning 90 PROBE_DTYPE=f16 PROBE_REPS=20 PROBE_ROUNDS=3 PROBE_LAYOUTS=linear \
  PROBE_SHAPES=197x768x768,197x3072x768,1576x768x768,1576x3072x768,2048x2048x2048,4096x4096x4096 \
  PROBE_KERNELS=subgroup-matrix,subgroup-matrix:2x2:2x2:32,subgroup-matrix:2x4:4x2:32,subgroup-matrix:2x4:4x4:32:1,tiled:1x1:16,tiled:2x2:32
# What each stage of the subgroup-matrix kernel costs: copies of the bundle with the slab staging or the
# products left out (results wrong, so PROBE_CHECK=0), timed against the whole kernel.
if want diagnose; then
  sed 's/if (more) { store_slabs(li, next); }//; s/if (more) { fetch_slabs(li, offs/if (false) { fetch_slabs(li, offs/' \
    .devbench/gemm-probe.mjs > .devbench/gemm-probe-no-staging.mjs
  sed 's|products: each(tk / 16,|products: each(0,|' .devbench/gemm-probe.mjs > .devbench/gemm-probe-no-products.mjs
  for variant in gemm-probe gemm-probe-no-staging gemm-probe-no-products; do
    PROBE_BIN=.devbench/$variant.mjs probe "diagnose-$variant" 40 PROBE_CHECK=0 PROBE_DTYPE=f16 PROBE_REPS=10 \
      PROBE_LAYOUTS=nn,linear PROBE_SHAPES=4096x4096x4096 PROBE_KERNELS=subgroup-matrix
  done
fi
want matmul-test && step matmul-test 90 node .devbench/matmul-test.mjs
# Every attention family forced at ViT-B and ViT-L, forward and backward: 'tiled' (the GPUs' default), 'blocked'
# (register-blocked; on the H200, 2026-11-27, it lost to 'tiled' with 128-row workgroups) and 'lanes'.
want attention && step attention 120 env PROBE_QUICK=1 PROBE_FAMILIES=1 node .devbench/attention-probe.mjs
# The key-split forward and the split backward at batch 1 (kernels/attention.ts attentionKeySplit and
# attentionBackwardSplits; written 2026-11-28, never run on a GPU): each forced split against the unfused
# composition and the unsplit backward, for tuning SPLIT_TARGET_WORKGROUPS and friends.
want attention-splits && step attention-splits 180 env PROBE_QUICK=1 PROBE_SPLITS=auto,1,2,4,8,16 node .devbench/attention-probe.mjs
# f16 attention: the B16 model's took 4x its f32 attention's GPU time on the H200 (2026-11-27). Every family
# and the split at f16, to set against the f32 figures of the two steps above.
want attention-f16 && step attention-f16 150 env PROBE_DTYPE=f16 PROBE_QUICK=1 PROBE_FAMILIES=1 PROBE_SPLITS=auto,1 node .devbench/attention-probe.mjs
# The tiled attention family's tile on the GPU, rows x staged rows (kernels/attention.ts PREFERRED.gpu has
# the H200 sweep of 2026-11-27 that chose 128 x 32).
want attention-tiles && step attention-tiles 150 env PROBE_QUICK=1 PROBE_TILES=16x32,32x32,64x32,64x16,128x16,128x32,256x8 node .devbench/attention-probe.mjs
# Every convolution kernel forced on the GPU: conv_gemm, the patchify GEMM path and conv_lanes (a fixed
# subgroup width lets it run there too; CPUs take it by default).
want conv && step conv 150 env PROBE_KERNELS=tiled,lanes,gemm node .devbench/conv-probe.mjs
# The lookup, index_add (its serial-per-block radix sort was never timed on a GPU), reduction and
# optimizer-update kernels changed on 2026-11-27 for CPU adapters; these probes time their GPU paths.
want indexing && step indexing 60 node .devbench/indexing-probe.mjs
want reduce && step reduce 60 node .devbench/reduce-probe.mjs
# Where the B16 training step's time goes outside the GPU (H200, 2026-11-27: 99.9 ms of wall clock against
# 33.1 ms of GPU timestamps at B = 1): recording, waiting, GPU span and busy time, submits, GC pauses and a
# host CPU profile per step (bench/step-probe.ts), then the B = 32 step without the profiler.
want host-profile && step host-profile-b1 90 env PROBE_STEPS=train,forward PROBE_CPU_PROFILE=1 PROBE_TOP=25 node .devbench/step-probe.mjs
want host-profile && step host-profile-b32 90 env PROBE_STEPS=train PROBE_BATCH=32 PROBE_REPS=5 node .devbench/step-probe.mjs
# The same step's dispatches with almost no GPU work (B16's 12 blocks at width 64, 32x32 images): this host's own
# cost of recording a step, to set against the B = 1 step's wall clock.
want host-profile && step host-profile-host 60 env PROBE_MODEL=host PROBE_STEPS=train PROBE_CPU_PROFILE=1 PROBE_REPS=20 node .devbench/step-probe.mjs
# Which spellings of the subgroup-matrix builtins this Dawn accepts: the deprecated bool majorness, the template
# majorness and vector element types for the staged slabs (bench/wgsl-forms-probe.ts); seconds.
want wgsl-forms && step wgsl-forms 30 node .devbench/wgsl-forms-probe.mjs
# --profile: each of our variants also gets its GPU time per kernel (which kernels a GPU spends a model in).
# ONNX Runtime Web's WebAssembly travels gzipped (scripts/device-bundle.mjs).
want bench && gunzip -kf .devbench/ort-wasm-simd-threaded.asyncify.wasm.gz
want bench && step bench 300 node .devbench/bench.mjs --profile --json "$out/bench.json" --md "$out/bench.md"
# One run per suite, each with its own limit: on the H200 (2026-11-27) one run of all four in 100 s was still
# inside the attention tests (which force every kernel family forward and backward) and printed no summary.
want tests && for suite in engine:60 kernels:300 autograd:120 nn:120; do
  step "tests-${suite%%:*}" "${suite##*:}" node ".devbench/tests-${suite%%:*}.mjs"
done
tail -n 400 "$log" | grep -E "^(==|   rc|\\[(accepted|REJECTED)\\]|  (error|warning|pipeline|validation)|  step|  pipelined|  GPU:|  per step|  GC |  host CPU|    +[0-9.]+ ms  |B16|torch|f32|f16|adapter|subgroup|ViT|fused|unfused|  M <=|  outputs <=|  Total|  Passed|  Skipped|FAIL|✘|.*[Ee]rror|patch|image|video|3x3|audio|conv1d|index|embedding|concat|scatter|sum|max|mean|var|argmax|logsumexp|AdamW|SGD|  (forward|dx|dw|tiled|lanes|gemm) )" | head -c 11000
