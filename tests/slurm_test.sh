#!/usr/bin/env bash
# The Slurm path against a real Slurm (issues 15 and 30): a single-node cluster of Debian's slurm-wlm and munge
# started here, `kvbench slurm --shards 2 --setup LINE --submit` on a tiny config, and then: both array tasks ran,
# the merge job ran after them (afterok) with its own resources, the --setup line ran in all three, and the merged
# predictions and report equal a single-process run's (timings aside).
#   tests/slurm_test.sh KVBENCH SOURCE_DIR
# Exit 77 (CTest's skip) with the reason when Slurm cannot be installed or started on this machine.
set -uo pipefail
kvbench=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
source_dir=$2
skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*"; for f in "$tmp"/slurm/*.log "$out"/slurm/*.log; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || skip "slurm-wlm and munge are not installed (and this is not root with apt)"
  timeout 300 apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 || skip "could not install slurm-wlm and munge"
fi
[ "$(id -u)" = 0 ] || skip "starting slurmd needs root here"

tmp=$(mktemp -d)
out=$tmp/run
cleanup() {
  for pid in "$tmp"/slurm/slurmctld.pid "$tmp"/slurm/slurmd.pid; do [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null; done
  [ -n "${munge_started:-}" ] && [ -f "$tmp/munge/munged.pid" ] && kill "$(cat "$tmp/munge/munged.pid")" 2>/dev/null
  sleep 1
  rm -rf "$tmp"
}
trap cleanup EXIT

# munge: our own key, socket and pid in the temp dir, so that nothing of the machine's own setup is touched.
mkdir -p "$tmp/munge" "$tmp/slurm/state" "$tmp/slurm/spool"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1 count=1024 status=none
chmod 400 "$tmp/munge/munge.key"
socket=$tmp/munge/munge.socket
munged --force --key-file="$tmp/munge/munge.key" --socket="$socket" --pid-file="$tmp/munge/munged.pid" \
  --log-file="$tmp/munge/munged.log" --seed-file="$tmp/munge/munged.seed" 2>"$tmp/munge/start.err" ||
  skip "munged does not start: $(cat "$tmp/munge/start.err")"
munge_started=1

host=$(hostname -s)
conf=$tmp/slurm/slurm.conf
cat >"$conf" <<EOF
ClusterName=kvbench-test
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$tmp/slurm/state
SlurmdSpoolDir=$tmp/slurm/spool
SlurmctldPidFile=$tmp/slurm/slurmctld.pid
SlurmdPidFile=$tmp/slurm/slurmd.pid
SlurmctldLogFile=$tmp/slurm/slurmctld.log
SlurmdLogFile=$tmp/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$(nproc) RealMemory=$(( $(awk '/^MemTotal:/{print $2}' /proc/meminfo) / 1024 / 2 )) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf
slurmctld -f "$conf" 2>"$tmp/slurm/ctld.err" || skip "slurmctld does not start: $(tail -3 "$tmp/slurm/ctld.err")"
slurmd -f "$conf" 2>"$tmp/slurm/d.err" || skip "slurmd does not start: $(tail -3 "$tmp/slurm/d.err")"
for _ in $(seq 1 60); do
  state=$(sinfo -h -o %T 2>/dev/null | head -1)
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "${state:-}" = idle ] || skip "the test node never became idle (state '${state:-none}'): $(tail -3 "$tmp/slurm/slurmctld.log")"
echo "slurm $(sinfo -V) up: node $host idle"

# A tiny run: a random-weights model (each shard writes its own copy), four raw prompts, two variants.
cat >"$tmp/config.json" <<EOF
{"name": "slurm-test", "output_dir": "$out",
 "model": {"random": {"layers": 2, "hidden": 64, "intermediate": 96, "heads": 4, "kv_heads": 2, "vocab": 512, "seed": 3}},
 "prompt": {"random_ids": {"tokens": 200, "seed": 7, "count": 4}}, "max_new_tokens": 8,
 "policies": [{"name": "full"}, {"name": "snapkv", "budget": 32}]}
EOF
"$kvbench" --log-level warn run --config "$tmp/config.json" --set "output_dir=\"$tmp/single\"" >/dev/null ||
  fail "the single-process run failed"

cd "$tmp"
# --dry-run prints both scripts and writes nothing; the scripts ask for one task each (Slurm 23.11+ refuses
# --gpus-per-task without it) and run the --setup lines (before set -u) ahead of kvbench.
setup="touch '$tmp'/setup-ran-\$SLURM_JOB_ID"
dry=$("$kvbench" slurm --config "$tmp/config.json" --shards 2 --setup "$setup" --dry-run) || fail "kvbench slurm --dry-run: $dry"
[ ! -e "$out/slurm" ] || fail "--dry-run wrote $out/slurm"
[ "$(echo "$dry" | grep -c '^#SBATCH --ntasks=1$')" = 2 ] || fail "not every script asks for --ntasks=1: $dry"
[ "$(echo "$dry" | grep -c "^touch '$tmp'/setup-ran-\$SLURM_JOB_ID$")" = 2 ] || fail "the --setup line is not in both scripts: $dry"
submitted=$("$kvbench" slurm --config "$tmp/config.json" --shards 2 --setup "$setup" --merge-time 00:10:00 \
  --merge-mem 256M --submit) || fail "kvbench slurm --submit: $submitted"
grep -q '^#SBATCH --mem=256M$' "$out/slurm/merge.sbatch" && grep -q '^#SBATCH --time=00:10:00$' "$out/slurm/merge.sbatch" ||
  fail "merge.sbatch lacks its own --mem and --time: $(cat "$out/slurm/merge.sbatch")"
for f in array merge; do
  awk '/^touch /{t=NR} /^set -euo pipefail/{s=NR} END{exit !(t && s && t < s)}' "$out/slurm/$f.sbatch" ||
    fail "$f.sbatch does not run the --setup line before set -u"
done
echo "$submitted"
merge_job=$(echo "$submitted" | sed -n 's/.*merge job \([0-9]*\).*/\1/p')
[ -n "$merge_job" ] || fail "no merge job id in: $submitted"
for _ in $(seq 1 240); do
  [ -z "$(squeue -h -j "$merge_job" 2>/dev/null)" ] && [ -f "$out/report.json" ] && break
  sleep 0.5
done
[ -f "$out/report.json" ] || fail "the merge job did not write $out/report.json in 120 s"

for i in 0 1; do
  [ -f "$out/slurm/shard-$i.log" ] || fail "array task $i left no log"
  grep -q '"end"' "$out/shards/$i-of-2/manifest.json" || fail "array task $i did not finish"
done
[ -f "$out/slurm/merge.log" ] || fail "the merge job left no log"
[ "$(ls "$tmp"/setup-ran-* 2>/dev/null | wc -l)" = 3 ] || fail "the --setup line did not run in the 2 tasks and the merge"
# The merge ran after both tasks ended: its time is later than each shard's end.
python3 - "$out" <<'PY' || fail "the merge did not run after the array"
import json, sys
out = sys.argv[1]
m = json.load(open(f"{out}/manifest.json"))
ends = [s["end"] for s in m["sessions"]]
assert len(ends) == 2 and all(e <= m["merged_at"] for e in ends), (ends, m["merged_at"])
PY
for v in full snapkv-32; do
  cmp -s "$out/predictions/$v/prompt.jsonl" "$tmp/single/predictions/$v/prompt.jsonl" ||
    fail "merged predictions of $v differ from the single-process run"
done
python3 - "$out/report.json" "$tmp/single/report.json" <<'PY' || fail "the merged report differs from the single-process one"
import json, sys
def strip(path):
    r = json.load(open(path))
    for k in ("wall_seconds", "peak_host_rss_bytes", "peak_device_memory_bytes"):
        r.pop(k, None)
    for v in r["variants"]:
        v.pop("timing", None); v.pop("peak_device_memory_bytes", None)
    return r
assert strip(sys.argv[1]) == strip(sys.argv[2])
PY
echo "PASSED: a 2-task array and its merge job ran under Slurm; merged predictions and report equal the single run's"
