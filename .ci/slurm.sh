#!/usr/bin/env bash
# A single-node Slurm on this machine, for the sweep's Slurm test (src/test/java/disco/sweep/SweepSlurmTest.java).
#
#   .ci/slurm.sh install      apt-get installs Debian's slurm-wlm and munge when sbatch or munged is missing (root)
#   .ci/slurm.sh up DIR       starts munged, slurmctld and slurmd with their config, keys, sockets, state and logs
#                             all under DIR (nothing in /etc is touched); prints SLURM_CONF=DIR/slurm.conf
#   .ci/slurm.sh down DIR     cancels DIR's jobs and stops its daemons (by the pids they wrote); safe to repeat
#
# The cluster is one node (this host, as "disco-node", at 127.0.0.1) with one partition; no cgroups (containers
# rarely allow them): processes are tracked by parent pid (proctrack/linuxproc), no task plugin, no accounting.
# Ports are chosen free at start. The daemons run as the calling user (SlurmUser = that user; root in CI).
set -euo pipefail

cmd="${1:-}"

need() {
  command -v sbatch >/dev/null 2>&1 && command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 \
    && command -v munged >/dev/null 2>&1 && command -v mungekey >/dev/null 2>&1
}

free_port() {
  # a port nobody listens on, from the kernel's ephemeral range (Python is not assumed)
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "slurm.sh: no free port found" >&2
  return 1
}

case "$cmd" in
  install)
    if need; then exit 0; fi
    if [[ $(id -u) != 0 ]]; then
      echo "slurm.sh: slurm-wlm/munge are not installed and this is not root: apt-get install slurm-wlm munge" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends slurm-wlm munge >/tmp/disco-slurm-apt.log 2>&1; then
      apt-get update -q >>/tmp/disco-slurm-apt.log 2>&1
      apt-get install -y -q --no-install-recommends slurm-wlm munge >>/tmp/disco-slurm-apt.log 2>&1 \
        || { tail -20 /tmp/disco-slurm-apt.log >&2; exit 1; }
    fi
    need || { echo "slurm.sh: slurm-wlm installed but sbatch/slurmctld/slurmd/munged not found" >&2; exit 1; }
    ;;
  up)
    dir="${2:?usage: slurm.sh up DIR}"
    need || { echo "slurm.sh: Slurm is not installed (.ci/slurm.sh install)" >&2; exit 1; }
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
    chmod 700 "$dir/munge"
    user="$(id -un)"
    # munge: its own key, socket and pid under DIR (--force: it would refuse to run as root)
    mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null 2>&1 \
      || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
    chmod 400 "$dir/munge/munge.key"
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
      --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
      </dev/null >>"$dir/log/start.log" 2>&1 || { cat "$dir/log/start.log" >&2; exit 1; }
    ctl_port="$(free_port)"
    d_port="$(free_port)"
    while [[ "$d_port" == "$ctl_port" ]]; do d_port="$(free_port)"; done
    cpus="$(nproc)"
    mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
    host="$(hostname -s)"
    cat >"$dir/slurm.conf" <<EOF
ClusterName=disco-ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=600
NodeName=disco-node NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=ci Nodes=disco-node Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$dir/slurm.conf"
    # the daemons get no terminal or pipe of the caller's (a caller reading our output to its end would wait for them)
    slurmctld -f "$SLURM_CONF" </dev/null >>"$dir/log/start.log" 2>&1 || { cat "$dir/log/start.log" >&2; exit 1; }
    slurmd -f "$SLURM_CONF" -N disco-node </dev/null >>"$dir/log/start.log" 2>&1 || { cat "$dir/log/start.log" >&2; exit 1; }
    # wait for the node to be idle (slurmd registered with the controller)
    for _ in $(seq 1 120); do
      state="$(sinfo -h -n disco-node -o '%T' 2>/dev/null || true)"
      if [[ "$state" == idle* ]]; then echo "SLURM_CONF=$SLURM_CONF"; exit 0; fi
      sleep 0.5
    done
    echo "slurm.sh: the node did not come up (state '${state:-}'); logs in $dir/log:" >&2
    for f in "$dir/log/"*.log; do echo "== $f" >&2; tail -n 20 "$f" >&2; done
    exit 1
    ;;
  down)
    dir="${2:?usage: slurm.sh down DIR}"
    [[ -d "$dir" ]] || exit 0
    dir="$(cd "$dir" && pwd)"
    if [[ -f "$dir/slurm.conf" ]] && [[ -f "$dir/slurmctld.pid" ]]; then
      SLURM_CONF="$dir/slurm.conf" scancel --quiet --user="$(id -un)" >/dev/null 2>&1 || true
    fi
    for pf in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
      [[ -f "$pf" ]] || continue
      pid="$(cat "$pf" 2>/dev/null || true)"
      [[ -n "$pid" ]] || continue
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pf"
    done
    ;;
  *)
    echo "usage: slurm.sh install | up DIR | down DIR" >&2
    exit 2
    ;;
esac
