#!/usr/bin/env bash
# README command 2: set up (if needed) and run the whole test suite, real ComfyUI server included.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/unit -k checkpoint`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
python -m pytest -ra "$@"
