#pragma once
// `kvbench run --devices cuda:0,cuda:1,...`: one worker process per device on this host, worker i running shard
// i of N (`kvbench run --shard i/N --set model.device=...`, its output and log in its shard folder), then one
// merge of all shards into the run's folder. A worker that dies is reported with its exit status and log; the
// finished shards stay, and the same command with --resume reruns only what is missing, then merges. The
// same path runs with --devices cpu,cpu, which is how CI tests it.

#include "harness/runner/runner.h"

namespace kvbench {

/// Runs `config` on options.devices as described above; throws kvbench::Error when a worker failed.
void run_on_devices(const RunConfig& config, const RunOptions& options);

}  // namespace kvbench
