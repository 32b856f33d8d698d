#!/usr/bin/env bash
# README command 1: set up (if needed), start a headless ComfyUI with this pack and its bundled
# weights, run the main shipped workflow on the bundled sample speech, and print where the
# output was written. Extra arguments go to `see-the-speaker demo` (see --help).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
export STS_CACHE="${STS_CACHE:-$HOME/.cache/see-the-speaker}"
# shellcheck disable=SC1091
. "${STS_VENV:-$STS_CACHE/venv}/bin/activate"
cd "$ROOT"
see-the-speaker demo "$@"
