#!/usr/bin/env bash
# Every check that needs a CUDA GPU, for a session that is lent a GPU machine, one step after
# another (side by side they slowed each other past their limits): the CUDA tests (NCCL under
# torchrun included), the command line on CUDA, the throughput benchmark and the seed system at
# full width over 3 seeds at 1 and 10 epochs; under 9 minutes on an H100. --long adds the AE
# baseline at its official 100 epochs (several more minutes).
# Figures are appended to bench/RESULTS.md, which is copied to OUTDIR with the logs (a lent
# machine's files do not come back by themselves).
#
#     bash bench/gpu_checks.sh OUTDIR [--long]
set -u
out=${1:?usage: bash bench/gpu_checks.sh OUTDIR [--long]}
long=${2:-}
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 ASD_CACHE_DIR=${ASD_CACHE_DIR:-$PWD/cache}
export ASD_WORKSPACE_DIR=${ASD_WORKSPACE_DIR:-$(mktemp -d)}
# RESULTS.md is copied at every step, so a run cut off by a time limit still brings back what
# finished.
step() { cp bench/RESULTS.md "$out/"; echo "== $(date +%T) $*"; }
trap 'cp bench/RESULTS.md "$out/"' EXIT

step environment
{ nvidia-smi; python3 -c "import sys, torch; print(sys.version); print('torch', torch.__version__,
'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"; } >"$out/env.txt" 2>&1
python3 -c "import asdcore.features, asdcore.train, soundfile, librosa" >>"$out/env.txt" 2>&1 \
    || { cat "$out/env.txt"; echo "the engine does not import here; stopping"; exit 1; }

step demo datasets
for seed in 0 1 2; do
    python3 -c "from bench.bench_baselines import demo_dataset; demo_dataset($seed)" &
done
wait

step throughput
timeout 120 python3 bench/bench_gpu.py >"$out/gpu.log" 2>&1 || echo "bench_gpu.py failed: $?"
tail -n 10 "$out/gpu.log"

step command line
demo=$ASD_CACHE_DIR/bench/demo-seed0
(
    set -x
    timeout 150 python3 -m asdcore train "$demo" --model seresnet18 --device cuda --epochs 1 \
        --run cli-cuda && python3 -m asdcore score cli-cuda --backend knn-dg \
        && python3 -m asdcore runs --json
) >"$out/cli.log" 2>&1
grep -E "official_score|Error|error:" "$out/cli.log" | head -n 5

# One epoch is the demo's best length on CPU, ten the recipe's; separate calls, so a cut-off
# second one leaves the first one's table in place.
for epochs in 1 10; do
    step "seed system at full width, $epochs epoch(s)"
    timeout 170 python3 bench/bench_seed_epochs.py --device cuda --epochs $epochs --seeds 0 1 2 \
        --no-control --threads 4 --append >"$out/seed$epochs.log" 2>&1
    tail -n 8 "$out/seed$epochs.log"
done

step CUDA tests
timeout 100 python3 -m pytest -q -p no:cacheprovider --tb=short -k cuda tests/test_features.py \
    tests/test_autoencoder.py tests/test_train.py >"$out/pytest.log" 2>&1
tail -n 5 "$out/pytest.log"

if [ "$long" = "--long" ]; then
    step "AE at 100 epochs"
    timeout 900 python3 bench/bench_baselines.py --systems ae --ae-epochs 100 --device cuda \
        --jobs 3 >"$out/ae.log" 2>&1
    tail -n 6 "$out/ae.log"
fi
step done
