#!/usr/bin/env bash
# Interleaved rounds of Disco Diffusion's own guided step (../shared/perf/perf_real.py time) and `disco bench step`
# on one reference directory; prints each round's disco/DD ratio of the median wall and CPU time per step, and the
# peak resident memory of both processes (GNU time's maximum RSS). Developer machines only, never CI.
#   bench/compare-step.sh SRC REF ROUNDS THREADS OUTDIR "DD FLAGS" "DISCO FLAGS"
# e.g. DD FLAGS "--ckpt 1" (DD as shipped) or "--secondary"; DISCO FLAGS "" or "--precision bf16".
# PyTorch runs with Debian's OpenBLAS-openmp when $OPENBLAS_OPENMP_DIR is set (../shared/perf/README.md, step 3).
set -euo pipefail
src=$1 ref=$2 rounds=$3 threads=$4 out=$5 ddflags=$6 discoflags=$7
here="$(cd "$(dirname "$0")/.." && pwd)"
perf="${PERF_DIR:-$here/../shared/perf}"
mkdir -p "$out"
for ((r = 1; r <= rounds; r++)); do
  LD_LIBRARY_PATH="${OPENBLAS_OPENMP_DIR:-}" /usr/bin/time -f "%M" -o "$out/dd-$r.maxrss" /usr/bin/python3 \
    "$perf/perf_real.py" time --src "$src" --ref "$ref" --threads "$threads" --steps 3 --warmup 1 $ddflags \
    --json "$out/dd-$r.json" > /dev/null 2> "$out/dd-$r.log"
  /usr/bin/time -f "%M" -o "$out/disco-$r.maxrss" "$here/disco" bench step --reference "$ref" --steps 4 \
    --threads "$threads" --json $discoflags > "$out/disco-$r.json" 2> "$out/disco-$r.log"
  echo "round $r done" >&2
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for r in range(1, rounds + 1):
    dd = json.load(open(f"{out}/dd-{r}.json"))
    di = json.load(open(f"{out}/disco-{r}.json"))
    f = di["modes"]["fast"]
    ddrss = int(open(f"{out}/dd-{r}.maxrss").read().split()[-1])
    dirss = int(open(f"{out}/disco-{r}.maxrss").read().split()[-1])
    rows.append((dd["median_wall_ms"], f["median_step_ms"], dd["median_cpu_ms"], f["median_step_cpu_ms"], ddrss, dirss))
    print("round %d: DD %.0f ms (cpu %.0f), disco %.0f ms (cpu %.0f): wall %.3f, cpu %.3f; max RSS DD %.2f GiB, disco %.2f GiB"
          % (r, rows[-1][0], rows[-1][2], rows[-1][1], rows[-1][3], rows[-1][1] / rows[-1][0], rows[-1][3] / rows[-1][2],
             ddrss / 2**20, dirss / 2**20))
med = lambda i: statistics.median(x[i] for x in rows)
print("median: wall ratio %.3f, cpu ratio %.3f; max RSS DD %.2f GiB, disco %.2f GiB; options %s"
      % (statistics.median(x[1] / x[0] for x in rows), statistics.median(x[3] / x[2] for x in rows),
         med(4) / 2**20, med(5) / 2**20, json.dumps(di.get("options"))))
PY
