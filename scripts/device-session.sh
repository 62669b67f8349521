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
probe() { step "$1" "$2" env "${@:3}" node .devbench/gemm-probe.mjs; }
# Steps to run: all by default, else those named on the command line (adapter torch f32 gemm attention
# bench tests).
want() { [ -z "$STEPS" ] || [[ " $STEPS " == *" $1 "* ]]; }
STEPS="$*"

if want adapter; then
  cat > /tmp/adapter.mjs <<'JS'
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const adapter = await create(process.env.OMNI_DAWN_FLAGS.split(' ')).requestAdapter();
const configs = [...(adapter.info.subgroupMatrixConfigs ?? [])];
console.log(`adapter features: ${[...adapter.features].sort().join(' ')}`);
for (const c of configs) console.log(`subgroup matrix config: ${c.componentType} -> ${c.resultComponentType} M=${c.M} N=${c.N} K=${c.K}`);
process.exit(0);
JS
  cp /tmp/adapter.mjs ./adapter-probe.mjs && step adapter 20 node adapter-probe.mjs; rm -f adapter-probe.mjs
fi
want torch && step torch-gemm 60 python3 bench/torch-gemm.py 1024 2048 4096 8192
want f32 && probe f32-tiled 120 PROBE_REPS=10 PROBE_SHAPES=1024x1024x1024,2048x2048x2048,4096x4096x4096,1576x768x768,1576x3072x768 \
  PROBE_KERNELS=tiled:1x1:16,tiled:2x2:16,tiled:2x2:32,tiled:2x2:16:walk,tiled:2x2:32:walk,tiled:4x2:8,auto
want f32 && probe f16-tiled 40 PROBE_DTYPE=f16 PROBE_REPS=10 PROBE_SHAPES=1024x1024x1024,4096x4096x4096 PROBE_KERNELS=tiled:1x1:16,tiled:2x2:16
want gemm && for cfg in 2x2 4x2 2x4 4x4 8x2 2x8 8x4; do
  probe "f16-subgroup-matrix-$cfg" 30 PROBE_DTYPE=f16 PROBE_REPS=10 PROBE_SHAPES=1024x1024x1024,4096x4096x4096,1576x768x768,1000x520x768 \
    PROBE_KERNELS="subgroup-matrix:$cfg"
done
want gemm && probe f16-auto 40 PROBE_DTYPE=f16 PROBE_REPS=10 PROBE_SHAPES=1576x768x768,1576x3072x768,4096x4096x4096,8192x8192x8192 PROBE_KERNELS=auto
want attention && step attention 120 env PROBE_QUICK=1 PROBE_FAMILIES=1 node .devbench/attention-probe.mjs
want bench && step bench 200 node .devbench/bench.mjs --json "$out/bench.json" --md "$out/bench.md"
want tests && step tests 100 node .devbench/tests.mjs
tail -n 400 "$log" | grep -E "^(==|   rc|torch|f32|f16|adapter|subgroup|ViT|fused|unfused|  M <=|  Total|  Passed|  Skipped|FAIL|✘)" | head -c 11000
