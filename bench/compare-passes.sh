#!/usr/bin/env bash
# Interleaved rounds of `disco bench passes` variants and bench/passes.py (PyTorch on upstream code) on one
# reference directory; prints each round's disco/PyTorch ratio per pass and the medians (bench/README.md).
#   bench/compare-passes.sh SRC REF ROUNDS THREADS OUTDIR [VARIANT...]
# A VARIANT is "NAME|ENV ASSIGNMENTS|disco flags", e.g. "cl|GOMP_SPINCOUNT=10000|--channels-last"; default: one
# variant "disco||" with the launcher's environment. PyTorch runs with Debian's OpenBLAS-openmp when
# $OPENBLAS_OPENMP_DIR is set (../shared/perf/README.md, step 3). Developer machines only, never CI.
set -euo pipefail
src=$1 ref=$2 rounds=$3 threads=$4 out=$5; shift 5
variants=("$@"); [[ ${#variants[@]} -eq 0 ]] && variants=("disco||")
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
for ((r = 1; r <= rounds; r++)); do
  LD_LIBRARY_PATH="${OPENBLAS_OPENMP_DIR:-}" /usr/bin/python3 "$here/bench/passes.py" --src "$src" --ref "$ref" \
    --threads "$threads" --reps 3 --json > "$out/pytorch-$r.json"
  for v in "${variants[@]}"; do
    IFS='|' read -r name envs flags <<< "$v"
    env $envs "$here/disco" bench passes --reference "$ref" --threads "$threads" --reps 3 --json $flags > "$out/$name-$r.json"
  done
  echo "round $r done" >&2
done
/usr/bin/python3 - "$out" "$rounds" "${variants[@]}" <<'PY'
import json, statistics, sys
out, rounds, variants = sys.argv[1], int(sys.argv[2]), [v.split("|")[0] for v in sys.argv[3:]]
for name in variants:
    print(f"== {name} / pytorch (wall time, per round; median)")
    py = [json.load(open(f"{out}/pytorch-{r}.json"))["passes"] for r in range(1, rounds + 1)]
    ds = [json.load(open(f"{out}/{name}-{r}.json"))["passes"] for r in range(1, rounds + 1)]
    for k in ds[0]:
        if k not in py[0]:
            continue
        rs = [d[k]["median_ms"] / p[k]["median_ms"] for d, p in zip(ds, py)]
        print("%-28s %9.1f ms %9.1f ms  %s  median %.2f" % (k, statistics.median(d[k]["median_ms"] for d in ds),
              statistics.median(p[k]["median_ms"] for p in py), " ".join("%.2f" % x for x in rs), statistics.median(rs)))
PY
