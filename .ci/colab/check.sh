#!/usr/bin/env bash
# `make colab-check`: srgan-course on Colab's preinstalled stack (constraints.txt).
# 1. a Python 3.13 venv holding the stack at Colab's versions (stack.txt; kept between runs),
# 2. `pip install --dry-run --report .` must change none of Colab's packages,
# 3. the lesson's setup cell, run as on Colab (google.colab imported, Colab's packages
#    already imported), installs srgan-course from a git commit of this checkout and
#    imports it without a runtime restart; `pip freeze` then differs only by srgan-course,
# 4. the Colab-specific tests (tests/test_colab.py), then every lesson (nbval,
#    SRGAN_VGG_WEIGHTS=none) copied to content/notebooks/ as Colab opens them, with the
#    benchmarks only under SRGAN_DATA_DIR=content/drive/MyDrive/srgan-data.
set -euo pipefail
cd "$(dirname "$0")/../.."
unset PYTHONPATH  # srgan_lib must come from the venv, as on Colab
# Colab's Python: $PY313, else pyenv's 3.13, else python3.13 on the PATH
for candidate in "${PY313:-}" "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.13*/bin/python python3.13; do
  if [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
    PY313="$candidate"; break
  fi
done
[ -n "${PY313:-}" ] || { echo "colab-check: no Python 3.13 (pyenv install 3.13, or set PY313)"; exit 1; }
VENV="${COLAB_VENV:-.venv-colab}"
HERE=.ci/colab
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
PY="$VENV/bin/python"

stamp="$(cat "$HERE/constraints.txt" "$HERE/stack.txt" | sha256sum | cut -c1-16)"
if [ "$(cat "$VENV/.colab-stack" 2>/dev/null)" != "$stamp" ]; then
  echo "== colab-check: Python 3.13 venv with Colab's stack in $VENV"
  rm -rf "$VENV"
  "$PY313" -m venv "$VENV"
  "$PY" -m pip install -q -c "$HERE/constraints.txt" pip
  "$PY" -m pip install -q -c "$HERE/constraints.txt" -r "$HERE/stack.txt"
  # test tools Colab lacks; the constraints keep them from moving Colab's packages
  "$PY" -m pip install -q -c "$HERE/constraints.txt" nbval
  echo "$stamp" > "$VENV/.colab-stack"
fi
"$PY" -m pip uninstall -q -y srgan-course 2>/dev/null || true
"$PY" --version
"$PY" -m pip freeze --exclude-editable | sort > "$WORK/before.txt"

echo "== colab-check: pip install --dry-run --report ."
"$PY" -m pip install -q --dry-run --report "$WORK/report.json" . 2>&1 | grep -v "is ignored" || true
"$PY" "$HERE/check_install.py" "$WORK/report.json" "$HERE/constraints.txt"

echo "== colab-check: the setup cell, as on Colab, installs srgan-course from a git commit"
# A fresh git repository holding what a public one needs (no build/ or egg-info of earlier
# runs), installed by commit hash as the setup cell does: git+file:// for git+https://github.com
src="$WORK/src"
mkdir -p "$src"
cp -r pyproject.toml README.md srgan_lib srgan_course "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +
git -C "$src" init -q
git -C "$src" add -A
git -C "$src" -c user.name=colab-check -c user.email=colab-check@localhost commit -qm snapshot
PIP_NO_CACHE_DIR=1 "$PY" "$HERE/simulate_setup.py" notebooks/00_data_and_degradation.ipynb \
  "git+file://$src@$(git -C "$src" rev-parse HEAD)"
"$PY" -m pip freeze --exclude-editable | grep -vi "^srgan.course" | sort > "$WORK/after.txt"
diff "$WORK/before.txt" "$WORK/after.txt" || {
  echo "the install changed Colab's packages (above)"; exit 1; }
echo "ok: pip freeze unchanged but for srgan-course"

echo "== colab-check: Colab-specific tests"
SRGAN_VGG_WEIGHTS=none "$PY" -m pytest -q -p no:cacheprovider tests/test_colab.py

echo "== colab-check: every lesson from /content, SRGAN_DATA_DIR on Drive"
# As on Colab: the lessons alone in content/notebooks/ (no checkout, no ../../shared around
# them), srgan_lib from site-packages, the benchmarks only on the "Drive".
content="$WORK/content"
drive="$content/drive/MyDrive/srgan-data"
mkdir -p "$content/notebooks" "$drive"
cp notebooks/[0-9][0-9]_*.ipynb "$content/notebooks/"
shared="${SRGAN_SHARED_DATA:-../shared/data}"
if [ -d "$shared/benchmarks" ]; then cp -r "$shared/benchmarks" "$drive/benchmarks"; fi
SRGAN_DATA_DIR="$drive" SRGAN_VGG_WEIGHTS=none "$PY" -m pytest -q -p no:cacheprovider \
  --rootdir="$content" --nbval-lax --nbval-current-env "$content/notebooks"
