#!/usr/bin/env bash
# Interleaved rounds of Disco Diffusion's own guided step (../shared/perf/perf_real.py time) and `disco bench step`
# variants on one reference directory; prints, per variant, each round's disco/DD ratio of the median wall and CPU
# time per step and the medians, with the memory of both: DD's largest RSS after a step and GNU time's maximum RSS
# of each process, disco's peak RSS during the steps (VmHWM reset after loading) and its memory estimate.
# Developer machines only, never CI.
#   bench/compare-step.sh SRC REF ROUNDS THREADS OUTDIR "DD FLAGS" [VARIANT...]
# DD FLAGS e.g. "--ckpt 1" (DD as shipped) or "--secondary"; a VARIANT is "NAME|disco bench step flags", e.g.
# "bf16|--precision bf16" (default: "disco|"). PyTorch runs with Debian's OpenBLAS-openmp when $OPENBLAS_OPENMP_DIR
# is set (../shared/perf/README.md, step 3).
set -euo pipefail
src=$1 ref=$2 rounds=$3 threads=$4 out=$5 ddflags=$6; shift 6
variants=("$@"); [[ ${#variants[@]} -eq 0 ]] && variants=("disco|")
here="$(cd "$(dirname "$0")/.." && pwd)"
perf="${PERF_DIR:-$here/../shared/perf}"
mkdir -p "$out"
for ((r = 1; r <= rounds; r++)); do
  LD_LIBRARY_PATH="${OPENBLAS_OPENMP_DIR:-}" /usr/bin/time -f "%M" -o "$out/dd-$r.maxrss" /usr/bin/python3 \
    "$perf/perf_real.py" time --src "$src" --ref "$ref" --threads "$threads" --steps 3 --warmup 1 $ddflags \
    --json "$out/dd-$r.json" > /dev/null 2> "$out/dd-$r.log"
  for v in "${variants[@]}"; do
    IFS='|' read -r name flags <<< "$v"
    /usr/bin/time -f "%M" -o "$out/$name-$r.maxrss" "$here/disco" bench step --reference "$ref" --steps 4 \
      --threads "$threads" --json $flags > "$out/$name-$r.json" 2> "$out/$name-$r.log"
  done
  echo "round $r done" >&2
done
/usr/bin/python3 - "$out" "$rounds" "${variants[@]}" <<'PY'
import json, statistics, sys
out, rounds, variants = sys.argv[1], int(sys.argv[2]), [v.split("|")[0] for v in sys.argv[3:]]
gib = lambda kb: kb / 2**20
dd = [json.load(open(f"{out}/dd-{r}.json")) for r in range(1, rounds + 1)]
ddmax = [int(open(f"{out}/dd-{r}.maxrss").read().split()[-1]) for r in range(1, rounds + 1)]
ddstep = [max(s["rss_kb"] for s in d["steps"]) for d in dd]
print("DD: median wall %s ms, cpu %s ms; largest RSS after a step %s GiB; process max RSS %s GiB" % (
    [round(d["median_wall_ms"]) for d in dd], [round(d["median_cpu_ms"]) for d in dd],
    ["%.2f" % gib(x) for x in ddstep], ["%.2f" % gib(x) for x in ddmax]))
for name in variants:
    ds = [json.load(open(f"{out}/{name}-{r}.json")) for r in range(1, rounds + 1)]
    f = [d["modes"]["fast"] for d in ds]
    wall = [x["median_step_ms"] / d["median_wall_ms"] for x, d in zip(f, dd)]
    cpu = [x["median_step_cpu_ms"] / d["median_cpu_ms"] for x, d in zip(f, dd)]
    peak = [d["memory"]["peak_rss_kb"] for d in ds]
    est = [d["memory"]["estimated_peak_bytes"] / 1024 for d in ds]
    mx = [int(open(f"{out}/{name}-{r}.maxrss").read().split()[-1]) for r in range(1, rounds + 1)]
    print("== %s: wall per round %s median %.3f; cpu per round %s median %.3f" % (name, ["%.3f" % w for w in wall],
          statistics.median(wall), ["%.3f" % c for c in cpu], statistics.median(cpu)))
    print("   disco median wall %s ms; step peak RSS %s GiB (estimate %s GiB); process max RSS %s GiB; options %s" % (
        [round(x["median_step_ms"]) for x in f], ["%.2f" % gib(x) for x in peak], ["%.2f" % gib(x) for x in est],
        ["%.2f" % gib(x) for x in mx], json.dumps(ds[0]["options"])))
PY
