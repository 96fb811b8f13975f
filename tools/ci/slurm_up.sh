#!/usr/bin/env bash
# A one-node Slurm cluster on this machine (slurmctld + slurmd on localhost, munge), for
# tests/test_slurm.py and CI. Debian/Ubuntu, as root (or through sudo). Idempotent: when the node
# already answers, it does nothing.
#
#   tools/ci/slurm_up.sh            install slurm + munge if missing, configure, start, wait idle
#   tools/ci/slurm_up.sh --down     stop the daemons it started (the configuration stays)
#
# No accounting (no slurmdbd): `sacct` has no data, so the profile queries job status with squeue.
set -euo pipefail

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
CONF=/etc/slurm/slurm.conf
MARK="# written by tools/ci/slurm_up.sh"
LOGDIR=/var/log/slurm
NODE="$(hostname -s)"

node_state() { sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n 1 || true; }

if [ "${1:-}" = "--down" ]; then
    for daemon in slurmd slurmctld; do
        pidfile="/run/$daemon.pid"
        if [ -s "$pidfile" ]; then $SUDO kill "$(cat "$pidfile")" 2>/dev/null || true; fi
    done
    exit 0
fi

if command -v sinfo >/dev/null && scontrol ping 2>/dev/null | grep -q UP; then
    case "$(node_state)" in
        idle*|mixed*|allocated*|completing*) echo "slurm: already up ($NODE $(node_state))"; exit 0 ;;
    esac
fi

# 1. Packages (the daemons, the client commands and munge; not the whole plugin collection).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
        || ! command -v munged >/dev/null; then
    echo "slurm: installing slurmctld slurmd slurm-client munge (apt-get)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi

# 2. Configuration: one node, this machine, all its CPUs; no accounting.
if [ -f "$CONF" ] && ! grep -qE '^# written by (scripts|tools)/ci/slurm_up.sh' "$CONF"; then  # scripts/: its old place
    echo "slurm: $CONF exists and was not written here; using it as it is"
else
    cpus="$(nproc)"
    topology="$(slurmd -C | head -n 1 | grep -o 'Boards=.*ThreadsPerCore=[0-9]*' || true)"
    mem_total="$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)"
    real_memory=$(( mem_total * 9 / 10 ))   # below what slurmd measures, or the node is drained
    $SUDO mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$LOGDIR"
    $SUDO tee "$CONF" >/dev/null <<EOF
$MARK
ClusterName=local
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Finished jobs stay visible to squeue/scontrol for an hour: the executor plugin reads job
# states with squeue, and the test looks the jobs up afterwards.
MinJobAge=3600
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE CPUs=$cpus $topology RealMemory=$real_memory State=UNKNOWN
PartitionName=main Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
fi

# 3. Daemons: munge first (Slurm authenticates through it), then the controller and the node.
munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if ! munge_works; then
    [ -s /etc/munge/munge.key ] || $SUDO mungekey --create --force
    $SUDO chown munge:munge /etc/munge/munge.key && $SUDO chmod 0400 /etc/munge/munge.key
    $SUDO install -d -o munge -g munge -m 0755 /run/munge
    $SUDO install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    $SUDO runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge_works && break; sleep 0.2; done
alive /run/slurmctld.pid || $SUDO slurmctld
alive /run/slurmd.pid || $SUDO slurmd

# 4. Wait until the node takes jobs.
for i in $(seq 60); do
    state="$(node_state)"
    case "$state" in
        idle*|mixed*|allocated*) echo "slurm: up ($NODE $state, ${i}x0.5 s)"; exit 0 ;;
        down*|drain*)
            $SUDO scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
    esac
    sleep 0.5
done
echo "slurm: the node did not become idle; sinfo says: $(sinfo -N 2>&1 | tail -n 2)" >&2
tail -n 20 "$LOGDIR/slurmctld.log" "$LOGDIR/slurmd.log" >&2 || true
exit 1
