#!/usr/bin/env bash
# The whole test suite: literate build in sync, every notebook, pytest, the docs site built and checked in a browser.
# Used by CI (.ci/run) and named in the README.
set -euo pipefail
cd "$(dirname "$0")/.."

# Two cores are shared by two parallel workers: one thread each. Two workers x two threads was seen to run 17x slower.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE TOKENIZERS_PARALLELISM=false
export PYTHONHASHSEED=0 WANDB_MODE=offline WANDB_SILENT=true
WORKERS=${LLMLIT_TEST_WORKERS:-2}
# Offline copies next to the checkout (this project's CI machines have them) are used when nothing else is set.
if [ -z "${LLMLIT_DATA:-}" ] && [ -d ../shared/data ]; then export LLMLIT_DATA=../shared/data; fi
if [ -z "${LLMLIT_MODELS:-}" ] && [ -d ../shared/models ]; then export LLMLIT_MODELS=../shared/models; fi
if [ -z "${HF_HOME:-}" ] && [ -d ../shared/hf/hub ]; then export HF_HOME=../shared/hf HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}; fi
# Notebooks run in nbs/api: relative data and cache folders must become absolute.
for v in LLMLIT_DATA LLMLIT_MODELS HF_HOME LLMLIT_CACHE; do
  if [ -n "${!v:-}" ]; then export "$v=$(cd "${!v}" 2>/dev/null && pwd || echo "${!v}")"; fi
done
export LLMLIT_CACHE=${LLMLIT_CACHE:-$PWD/.cache/llmlit}

snapshot() { find nbs llmlit -type f \( -name '*.ipynb' -o -name '*.py' \) -not -path '*/.ipynb_checkpoints/*' -print0 | sort -z | xargs -0 sha256sum; }

echo "== 1/5 nbdev-clean leaves the notebooks unchanged"
before=$(snapshot); nbdev-clean; after=$(snapshot)
if [ "$before" != "$after" ]; then
  diff <(echo "$before") <(echo "$after") | grep '^>' | sed 's/^> [0-9a-f]* */  cleaned: /' || true
  echo "FAIL: notebooks were not clean (nbdev-clean has now cleaned them; review and commit)"; exit 1
fi

echo "== 2/5 nbdev-export leaves llmlit/ unchanged; README.md matches nbs/index.ipynb"
before=$(snapshot); nbdev-export; after=$(snapshot)
if [ "$before" != "$after" ]; then
  diff <(echo "$before") <(echo "$after") | grep '^>' | sed 's/^> [0-9a-f]* */  exported: /' || true
  echo "FAIL: llmlit/ was out of date with nbs/ (nbdev-export has now rewritten it; review and commit)"; exit 1
fi
python tools/readme.py --check

echo "== 3/5 nbdev-test: every notebook"
nbdev-test --n-workers "$WORKERS" --timing

echo "== 4/5 pytest tests/"
python -m pytest tests/ -n "$WORKERS" -q

echo "== 5/5 nbdev-docs: the docs site, then every page of it in headless Chromium"
if ! command -v quarto >/dev/null 2>&1; then
  # nbdev would download Quarto from GitHub; machines without internet build it from the package registries
  if [ -f ../shared/tools/quarto/install-quarto.sh ]; then bash ../shared/tools/quarto/install-quarto.sh
  else echo "FAIL: quarto is not installed (https://quarto.org/docs/get-started/; on GitHub: quarto-dev/quarto-actions/setup)"; exit 1; fi
fi
nbdev-docs --n-workers "$WORKERS"
python tools/check_docs.py
