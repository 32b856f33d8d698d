#!/usr/bin/env bash
# README command 2: set up (if needed) and run the whole test suite, real ComfyUI server included.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/unit -k checkpoint`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
export STS_CACHE="${STS_CACHE:-$HOME/.cache/see-the-speaker}"
# shellcheck disable=SC1091
. "${STS_VENV:-$STS_CACHE/venv}/bin/activate"
cd "$ROOT"
python -m pytest -ra "$@"
