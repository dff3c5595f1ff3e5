#!/usr/bin/env bash
# Issue 18's K-VEC study (docs/results/kvec-study.md): one split at one length, on the GPU.
#   bash scripts/kvec-study.sh dev|dev-round2|test 4k|8k KVBENCH OUT_DIR
# Writes OUT_DIR/kvec-study-<split>-<length>/ (report.json, predictions). 4k runs the config as written; 8k
# the same config at 8,192 tokens with fewer samples (dev 8, test 24 per task).
set -euo pipefail
split=$1 length=$2 kv=$3 out=$4
case $split in
  dev|dev-round2) count8k=8 ;;
  test) count8k=24 ;;
  *) echo "split must be dev, dev-round2 or test" >&2; exit 2 ;;
esac
cfg=configs/kvec-study-$split.json
name=kvec-study-$split-$length
case $length in
  4k) "$kv" --log-level warn run --config "$cfg" --output-dir "$out/$name" ;;
  8k) "$kv" --log-level warn run --config "$cfg" --output-dir "$out/$name" --set name=$name \
        --set datasets.synth.tokens=8192 --set datasets.synth.count=$count8k ;;
  *) echo "length must be 4k or 8k" >&2; exit 2 ;;
esac
