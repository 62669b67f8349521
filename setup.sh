#!/usr/bin/env bash
# One command on a fresh Debian 12 machine (as root): installs WebGPU for CPUs (Mesa lavapipe from
# bookworm-backports) and Chromium, the npm dev dependencies, builds, and runs the main job
# (`npm start`: Meta-Transformer across twelve modalities on the embedded data; report in ./out).
# Extra arguments go to the main job, e.g. `bash setup.sh --modalities image,audio --out /tmp/run`.
set -euo pipefail
cd "$(dirname "$0")"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/omnitensor-xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
bash .ci/setup-system.sh
npm ci --no-audit --no-fund --loglevel=error
npm start -- "$@"
