#!/usr/bin/env bash
# scripts/paired_counts.py on hand-made predictions: the counts are worked out by hand below, the passage tasks
# are skipped, matching is case-insensitive and partial credit counts (kvbench's RULER string_match_all), and
# variants scored on different samples are refused.   tests/paired_counts_test.sh PYTHON SOURCE_DIR KVBENCH
set -euo pipefail
py=$1; script=$2/scripts/paired_counts.py; kvbench=$3
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
p=$d/predictions; mkdir -p $p/kvec-64 $p/snapkv-64 $p/kvec-128 $p/snapkv-128
row() { printf '{"_id":"%s","answers":%s,"pred":"%s","all_classes":null,"length":100}\n' "$1" "$2" "$3"; }
# budget 64: s1 kvec right / snapkv wrong (better); s2 kvec 1 of 2 / snapkv 2 of 2 (worse); s3 both right,
# different case (equal): means (1 + .5 + 1)/3 and (0 + 1 + 1)/3; passage row: kvec right, snapkv wrong, but skipped.
{ row s1 '["123"]' "123"; row s2 '["a","b"]' "A only"; row s3 '["xy"]' "XY"; } > $p/kvec-64/niah_single.jsonl
{ row s1 '["123"]' "12"; row s2 '["a","b"]' "a and B"; row s3 '["xy"]' "xy"; } > $p/snapkv-64/niah_single.jsonl
row q1 '["3"]' "3" > $p/kvec-64/synth_passage_count.jsonl
row q1 '["3"]' "4" > $p/snapkv-64/synth_passage_count.jsonl
# budget 128: all equal.
for v in kvec-128 snapkv-128; do { row s1 '["1"]' "1"; row s2 '["2"]' "0"; } > $p/$v/passkey.jsonl; done
out=$("$py" "$script" $p kvec snapkv --budgets 64,128 --kvbench "$kvbench")
echo "$out"
grep -qx '| 64 | 1 | 1 | 1 | 83.3 | 66.7 |' <<<"$out"
grep -qx '| 128 | 0 | 0 | 2 | 50.0 | 50.0 |' <<<"$out"
# Different samples: refused with a message, not a silently wrong count.
row s9 '["1"]' "1" >> $p/kvec-128/passkey.jsonl
if msg=$("$py" "$script" $p kvec snapkv --budgets 128 --kvbench "$kvbench" 2>&1); then echo "expected a refusal"; exit 1; fi
grep -q "scored different samples" <<<"$msg"
if msg=$("$py" "$script" $p kvec h2o --budgets 64 --kvbench "$kvbench" 2>&1); then echo "expected a refusal"; exit 1; fi
grep -q "no predictions for variant 'h2o-64'" <<<"$msg"
echo "paired_counts_test: ok"
