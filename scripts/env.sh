# Sourced by the README commands: set up (if needed) and activate the pack's venv, cd to the repo.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
export STS_CACHE="${STS_CACHE:-$HOME/.cache/see-the-speaker}"
# shellcheck disable=SC1091
. "${STS_VENV:-$STS_CACHE/venv}/bin/activate"
cd "$ROOT"
