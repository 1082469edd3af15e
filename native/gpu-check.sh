#!/usr/bin/env bash
# native/gpu-check.sh — the native kernels on a GPU machine (nvcc, cmake, a C++ compiler; python3 + torch for the
# comparison; no Maven or JDK needed). Builds disco_kernels with CUDA, runs ctest (every CUDA kernel against its
# CPU twin; on a machine with a GPU a skipped CUDA comparison is a failure), runs the C++ benchmark on the GPU and
# the CPU, runs DD's path with torch on the GPU (bench/dd_torch_path.py) and prints a short table last.
#   native/gpu-check.sh [build-dir]        (default: build/gpu-check; env REPS=5, HEIGHT=768, WIDTH=1280)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build/gpu-check}"
reps="${REPS:-5}"
height="${HEIGHT:-768}"
width="${WIDTH:-1280}"
jobs="$(nproc 2>/dev/null || echo 4)"
log() { echo "gpu-check: $*" >&2; }

have_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  have_gpu=1
  card="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n 1)"
  log "GPU: $card"
else
  card="none"
  log "no GPU visible (nvidia-smi): the build is checked, CUDA tests will skip"
fi

log "configure + build with CUDA in $build"
mkdir -p "$build"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDISCO_REQUIRE_CUDA=ON >"$build/configure.log" 2>&1 \
  || { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j "$jobs" >"$build/build.log" 2>&1 || { tail -n 50 "$build/build.log" >&2; exit 1; }

log "ctest (CPU twins vs references; CUDA vs CPU twins)"
ctest_log="$build/ctest.log"
ctest_status=0
(cd "$build" && ctest --output-on-failure -V) >"$ctest_log" 2>&1 || ctest_status=$?
grep -E "^[0-9]+/[0-9]+ Test|tests passed|FAIL" "$ctest_log" >&2 || true
cuda_checks="$(grep -c "cuda vs cpu" "$ctest_log" || true)"
if [[ $ctest_status != 0 ]]; then
  log "ctest FAILED (full log: $ctest_log)"
fi
if [[ $have_gpu == 1 ]] && grep -q "skip: CUDA vs CPU twin" "$ctest_log"; then
  log "a GPU is present but the CUDA comparisons were skipped:"
  grep "skip: CUDA" "$ctest_log" | sort -u >&2
  ctest_status=1
fi

log "C++ benchmark"
bench_out="$build/bench.txt"
bench_status=0
"$build/disco_bench" --reps "$reps" --height "$height" --width "$width" --device all >"$bench_out" || bench_status=$?
cat "$bench_out" >&2
[[ $bench_status == 0 ]] || log "disco_bench FAILED (exit $bench_status)"

torch_out="$build/torch.txt"
: >"$torch_out"
if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1; then
  log "DD's path with torch on the GPU"
  python3 "$here/bench/dd_torch_path.py" --device cuda --reps "$reps" --height "$height" --width "$width" \
    >"$torch_out" || log "dd_torch_path.py failed"
  cat "$torch_out" >&2
else
  log "python3 torch with CUDA not available: no torch comparison"
fi

echo
echo "## gpu-check: $card, ${height}x${width}, median of $reps"
echo "ctest: $([[ $ctest_status == 0 ]] && echo PASS || echo FAIL) ($cuda_checks CUDA-vs-CPU comparisons logged); disco_bench: $([[ $bench_status == 0 ]] && echo ok || echo FAILED)"
printf "%-28s %12s %12s %12s %9s\n" "case" "native_cuda" "native_cpu" "torch_cuda" "speedup"
awk -v torch="$torch_out" '
  BEGIN { while ((getline line < torch) > 0) { split(line, f, " "); if (f[1] == "cuda") t[f[2]] = f[5] } }
  $1 == "cuda" { g[$2] = $5; order[++n] = $2 } $1 == "cpu" { c[$2] = $5; corder[++m] = $2 }
  END {
    if (n == 0) { for (i = 1; i <= m; i++) order[i] = corder[i]; n = m }
    for (i = 1; i <= n; i++) { k = order[i]
      sp = (k in t && k in g && g[k] > 0) ? sprintf("%.1fx", t[k] / g[k]) : "-"
      printf "%-28s %12s %12s %12s %9s\n", k, (k in g ? g[k] " ms" : "-"), (k in c ? c[k] " ms" : "-"), (k in t ? t[k] " ms" : "-"), sp }
  }' "$bench_out"
[[ $ctest_status == 0 && $bench_status == 0 ]]
