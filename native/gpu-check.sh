#!/usr/bin/env bash
# native/gpu-check.sh — the native kernels on a GPU machine (nvcc, cmake, a C++ compiler; python3 + torch for the
# comparison; no Maven or JDK needed). Builds disco_kernels with CUDA (for the GPU's own architecture when one is
# visible: ARCHS=90 to choose), runs ctest (every CUDA kernel against its CPU twin, a second backward bitwise equal
# to the first; on a machine with a GPU a skipped CUDA comparison is a failure), the CUDA tests again under
# DISCO_CUDA_SYNC=1 and under compute-sanitizer memcheck where present, bench/ctypes_check.py (the library through
# ctypes on torch CUDA tensors on torch.cuda.current_stream(): CUDA vs CPU twin at 1280x768 with 16 cuts of 224,
# repeat difference, CUDA-event min/median), bench/ctypes_guidance.py (the same for the guidance-gradient kernels:
# every backward, the fused stage, the NaN guard on the device), the C++ benchmark, DD's path with torch (bench/dd_torch_path.py), and
# prints a short table last. A step that exits 77 is a skip and is counted as one. Results go to $OUT when set.
#   native/gpu-check.sh [build-dir]        (default: build/gpu-check; env REPS=5, HEIGHT=768, WIDTH=1280, ARCHS)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build/gpu-check}"
reps="${REPS:-5}"
height="${HEIGHT:-768}"
width="${WIDTH:-1280}"
jobs="$(nproc 2>/dev/null || echo 4)"
log() { echo "gpu-check: $*" >&2; }

rows=()       # "name|status|detail" for the table
skips=0
row() { rows+=("$1|$2|$3"); [[ $2 == SKIP ]] && skips=$((skips + 1)); return 0; }
# a command's exit code as a row: 0 PASS, 77 SKIP, else FAIL
status_of() { case "$1" in 0) echo PASS ;; 77) echo SKIP ;; *) echo FAIL ;; esac; }

have_gpu=0
archs="${ARCHS:-}"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  have_gpu=1
  card="$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader | head -n 1)"
  log "GPU: $card"
  if [[ -z $archs ]]; then
    archs="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d ' .')"
  fi
else
  card="none"
  log "no GPU visible (nvidia-smi): the build is checked, CUDA rows will skip"
fi

log "configure + build with CUDA in $build"
mkdir -p "$build"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDISCO_REQUIRE_CUDA=ON "-DDISCO_CUDA_ARCHS=$archs" \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j "$jobs" >"$build/build.log" 2>&1 || { tail -n 50 "$build/build.log" >&2; exit 1; }

log "ctest (CPU twins vs references; CUDA vs CPU twins)"
ctest_log="$build/ctest.log"
ctest_status=0
(cd "$build" && ctest --output-on-failure -V) >"$ctest_log" 2>&1 || ctest_status=$?
grep -E "^ *[0-9]+/[0-9]+ Test|tests passed|FAIL" "$ctest_log" >&2 || true
cuda_checks="$(grep -c "cuda vs cpu" "$ctest_log" || true)"
[[ $ctest_status == 0 ]] || log "ctest FAILED (full log: $ctest_log)"
row "ctest cpu twins" "$( (grep -E "^ *[0-9]+/[0-9]+ Test" "$ctest_log" | grep -v "_cuda " | grep -q -E "Failed|\*\*\*Failed") && echo FAIL || echo PASS)" "CPU checks"
# each CUDA test executable is its own row; ctest shows an exit 77 as Skipped
for t in $(grep -oE "test_[a-z_]+_cuda" "$ctest_log" | sort -u); do
  line="$(grep -E "Test +#[0-9]+: $t " "$ctest_log" | tail -n 1)"
  if [[ $line == *Skipped* ]]; then st=SKIP; elif [[ $line == *Passed* ]]; then st=PASS; else st=FAIL; fi
  if [[ $have_gpu == 1 && $st == SKIP ]]; then st=FAIL; ctest_status=1; log "$t skipped although a GPU is present"; fi
  row "ctest $t" "$st" "CUDA vs CPU twin, repeat bitwise"
done

# the keyed cutout noise (generated inside the kernels): CUDA's values against the CPU twin's, bitwise
noise_lines="$(grep -E "cuda vs cpu noise bitwise" "$ctest_log" || true)"
if [[ -z $noise_lines ]]; then
  st=SKIP; detail="not run (no CUDA device)"
  if [[ $have_gpu == 1 ]]; then st=FAIL; ctest_status=1; detail="not run although a GPU is present"; fi
elif grep -qE "FAIL.*cuda vs cpu noise" "$ctest_log"; then
  st=FAIL; detail="$(grep -cE "FAIL.*cuda vs cpu noise" "$ctest_log") of $(wc -l <<<"$noise_lines") streams differ"
else
  st=PASS; detail="$(wc -l <<<"$noise_lines") streams bitwise equal"
fi
row "cutout noise cuda vs cpu twin" "$st" "$detail"

# the CUDA tests with a synchronisation after every call, then under compute-sanitizer
for t in $(ls "$build"/test_* 2>/dev/null | grep -v '\.'); do
  name="$(basename "$t")"
  rc=0
  DISCO_CUDA_SYNC=1 "$t" --cuda >"$build/$name.sync.log" 2>&1 || rc=$?
  row "$name --cuda (DISCO_CUDA_SYNC=1)" "$(status_of $rc)" "exit $rc"
  if command -v compute-sanitizer >/dev/null 2>&1; then
    rc=0
    compute-sanitizer --tool memcheck --error-exitcode 9 "$t" --cuda >"$build/$name.memcheck.log" 2>&1 || rc=$?
    row "$name memcheck" "$(status_of $rc)" "exit $rc"
  else
    row "$name memcheck" SKIP "no compute-sanitizer"
  fi
done

log "ctypes harness (torch CUDA tensors, torch.cuda.current_stream())"
ctypes_out="$build/ctypes.txt"
rc=0
python3 "$here/bench/ctypes_check.py" "$build/lib/libdisco_kernels.so" --reps "$reps" --height "$height" --width "$width" \
  >"$ctypes_out" 2>&1 || rc=$?
cat "$ctypes_out" >&2
row "ctypes_check.py" "$(status_of $rc)" "exit $rc"

# the guidance-gradient kernels through ctypes (their own harness, bench/ctypes_guidance.py): every backward, the
# fused stage with its flags on the device, the NaN guard, the RMS clamp with the forward's rms; CUDA vs CPU twin,
# a second run bitwise equal to the first, on a non-default torch.cuda.current_stream()
guidance_ctypes() {
  log "ctypes harness, guidance kernels (torch CUDA tensors, torch.cuda.current_stream())"
  local out="$build/ctypes_guidance.txt" rc=0
  python3 "$here/bench/ctypes_guidance.py" "$build/lib/libdisco_kernels.so" --reps "$reps" --height "$height" \
    --width "$width" >"$out" 2>&1 || rc=$?
  cat "$out" >&2
  row "ctypes_guidance.py" "$(status_of $rc)" "exit $rc (CUDA vs CPU, repeat bitwise)"
}
guidance_ctypes

log "C++ benchmark"
bench_out="$build/bench.txt"
bench_status=0
"$build/disco_bench" --reps "$reps" --height "$height" --width "$width" --device all >"$bench_out" || bench_status=$?
cat "$bench_out" >&2
[[ $bench_status == 0 ]] || log "disco_bench FAILED (exit $bench_status)"
row "disco_bench" "$(status_of $bench_status)" "exit $bench_status"

torch_out="$build/torch.txt"
: >"$torch_out"
if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1; then
  log "DD's path with torch on the GPU"
  rc=0
  python3 "$here/bench/dd_torch_path.py" --device cuda --reps "$reps" --height "$height" --width "$width" \
    >"$torch_out" || rc=$?
  cat "$torch_out" >&2
  row "dd_torch_path.py" "$(status_of $rc)" "exit $rc"
else
  log "python3 torch with CUDA not available: no torch comparison"
  row "dd_torch_path.py" SKIP "no torch with CUDA"
fi

if [[ -n "${OUT:-}" ]]; then
  mkdir -p "$OUT/gpu-check"
  cp "$build"/*.log "$build"/*.txt "$OUT/gpu-check/" 2>/dev/null || true
fi

echo
echo "## gpu-check: $card, ${height}x${width}, median of $reps"
echo "ctest: $([[ $ctest_status == 0 ]] && echo PASS || echo FAIL) ($cuda_checks CUDA-vs-CPU comparisons logged); disco_bench: $([[ $bench_status == 0 ]] && echo ok || echo FAILED)"
failed=0
for r in "${rows[@]}"; do
  IFS='|' read -r name st detail <<<"$r"
  printf "%-44s %-5s %s\n" "$name" "$st" "$detail"
  [[ $st == FAIL ]] && failed=$((failed + 1))
done
echo "rows: ${#rows[@]}, failed: $failed, skipped (exit 77 or absent): $skips"
echo
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
{
  [[ -z "${OUT:-}" ]] || printf '%s\n' "${rows[@]}" >"$OUT/gpu-check/rows.txt"
} 2>/dev/null || true
[[ $ctest_status == 0 && $bench_status == 0 && $failed == 0 ]]
