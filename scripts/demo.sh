#!/usr/bin/env bash
# README command 1: set up (if needed), start a headless ComfyUI with this pack and its bundled
# weights, run the main shipped workflow on the bundled sample speech, and print where the
# output was written. Extra arguments go to `see-the-speaker demo` (see --help).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
see-the-speaker demo "$@"
