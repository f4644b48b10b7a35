#!/usr/bin/env bash
# kill -9 at random moments of a short resnet_cifar run, then --resume,
# KILLS times (default 20); then one last --resume runs to the end. Passes
# when every process that was not killed exited 0 and the result equals an
# uninterrupted run's: the checkpoints and trajectory.jsonl byte for byte,
# log.jsonl and summary.json but for their timings.
#
#   tests/kill_resume.sh PROGRAM WORK_DIR [KILLS] [SEED]
#
# The moments are drawn from SEED (default 1) uniformly over [0, 1.5 x one
# epoch + start-up], measured on the uninterrupted run, so they fall on
# start-up, data loading, training steps, evaluation, checkpoint and log
# writes and the final report alike.
set -euo pipefail
program=$1 work=$2 kills_wanted=${3:-20} RANDOM=${4:-1}
common=(--train-limit 256 --test-limit 200 --batch-size 64 --float-epochs 1 --epochs 3 --seed 5)
epochs_total=4
rm -rf "$work"
mkdir -p "$work"

now() { date +%s.%N; }
t0=$(now)
"$program" "${common[@]}" --run-dir "$work/a" >"$work/a.log" 2>&1 || { echo "uninterrupted run failed"; cat "$work/a.log"; exit 1; }
t1=$(now)
# The fixed cost of a process (start-up, data, final evaluation and report):
# a --resume of the finished run (a copy, so that run a stays as it was).
cp -r "$work/a" "$work/a_again"
t2=$(now)
"$program" --resume --run-dir "$work/a_again" >/dev/null 2>&1 || { echo "resuming a finished run failed"; exit 1; }
t3=$(now)
# Delays in milliseconds: up to the fixed cost plus 1.2 epochs, so that most
# processes are killed before their next checkpoint and the run advances by
# about an epoch every few kills: the kills spread over the whole run.
max_ms=$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v n="$epochs_total" \
  'BEGIN { fixed = d - c; epoch = (b - a - fixed) / n; if (epoch < 0.1) epoch = 0.1;
           printf "%d", 1000 * (fixed + 1.2 * epoch) }')
echo "uninterrupted run: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; kill delays drawn from [0, $max_ms] ms"

state() {  # where the run folder stands: the last line of log.jsonl
  [[ -f "$work/b/last.safetensors" ]] || { echo "no checkpoint yet"; return; }
  local line
  line=$(tail -n1 "$work/b/log.jsonl" 2>/dev/null || true)
  [[ -n "$line" ]] || { echo "checkpoint, no log line yet"; return; }
  echo "logged: $(grep -o '"phase": "[a-z]*"' <<<"$line" | cut -d'"' -f4) epoch $(grep -o '"epoch": [0-9]*' <<<"$line" | cut -d' ' -f2)"
}

kills=0 runs=0
while [[ $kills -lt $kills_wanted ]]; do
  # Killed before it wrote config.json, the run was never accepted: a user
  # gives the command again; after that, --resume.
  if [[ ! -f "$work/b/config.json" ]]; then
    cmd=("$program" "${common[@]}" --run-dir "$work/b")
  else
    cmd=("$program" --resume --run-dir "$work/b")
  fi
  runs=$((runs + 1))
  delay_ms=$(( (RANDOM * 32768 + RANDOM) % (max_ms + 1) ))
  "${cmd[@]}" >"$work/b.run$runs.log" 2>&1 &
  pid=$!
  sleep "$(awk -v d="$delay_ms" 'BEGIN { printf "%.3f", d / 1000 }')"
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    kills=$((kills + 1))
    echo "run $runs: killed after $delay_ms ms ($(state))"
  else
    if ! wait "$pid"; then
      echo "run $runs (${cmd[*]}) failed:"; cat "$work/b.run$runs.log"; exit 1
    fi
    echo "run $runs: finished within $delay_ms ms ($(state))"
  fi
done
"$program" --resume --run-dir "$work/b" >"$work/b.final.log" 2>&1 || { echo "the last resume failed:"; cat "$work/b.final.log"; exit 1; }
echo "last resume finished ($runs earlier processes, $kills killed)"

status=0
for f in last.safetensors best.safetensors float.safetensors trajectory.jsonl; do
  if [[ ! -f "$work/a/$f" && ! -f "$work/b/$f" ]]; then continue; fi
  if cmp -s "$work/a/$f" "$work/b/$f"; then
    echo "same $f"
  else
    echo "DIFFERENT $f"; status=1
  fi
done
# log.jsonl and summary.json: everything but the timings and the run folder
# (a line mended from its checkpoint has no images_per_s: that process was killed).
strip() { sed -E 's/"(images_per_s|wall_time_s|run_dir)": [^,}]*(, )?//g' "$1"; }
if [[ "$(strip "$work/a/log.jsonl")" == "$(strip "$work/b/log.jsonl")" ]]; then
  echo "same log.jsonl (but timings), $(wc -l <"$work/b/log.jsonl") lines"
else
  echo "DIFFERENT log.jsonl"; diff <(strip "$work/a/log.jsonl") <(strip "$work/b/log.jsonl") || true; status=1
fi
if [[ "$(strip "$work/a/summary.json")" == "$(strip "$work/b/summary.json")" ]]; then
  echo "same summary.json (but timings)"
else
  echo "DIFFERENT summary.json"; diff <(strip "$work/a/summary.json") <(strip "$work/b/summary.json") || true; status=1
fi
exit $status
