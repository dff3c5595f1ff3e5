// kvbench score: LongBench scores of prediction files, exactly as the official eval.py computes them.
//   kvbench score --dataset NAME --pred FILE.jsonl [--per-sample OUT.jsonl] [--e]
//   kvbench score --pred-dir DIR [--e]
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "metrics/scorer.h"

namespace kvbench::cli {

Command add_score_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("score", "LongBench scores of prediction JSONL files (the official eval.py metrics)");
  struct State {
    std::string dataset, pred, pred_dir, per_sample;
    bool longbench_e = false;
  };
  auto st = std::make_shared<State>();
  auto* dataset = cmd->add_option("--dataset", st->dataset, "LongBench subset of --pred (e.g. narrativeqa, dureader)");
  auto* pred = cmd->add_option("--pred", st->pred, "prediction file: one {\"pred\", \"answers\", \"all_classes\", \"length\"} per line");
  auto* pred_dir = cmd->add_option("--pred-dir", st->pred_dir, "score every <subset>.jsonl of this directory");
  auto* per_sample = cmd->add_option("--per-sample", st->per_sample, "with --pred: write each sample's score here (JSONL)");
  cmd->add_flag("--e", st->longbench_e, "LongBench-E: scores by length bucket (0-4k, 4-8k, 8k+)");
  dataset->needs(pred);
  pred->needs(dataset);
  per_sample->needs(pred);
  pred_dir->excludes(dataset)->excludes(pred);

  return {cmd, [st] {
            if (!st->pred_dir.empty()) {
              const auto results = metrics::score_directory(st->pred_dir, st->longbench_e);
              std::cout << metrics::directory_json(results, st->longbench_e) << std::endl;
              return;
            }
            KV_CHECK(!st->pred.empty(), "score: give --dataset NAME --pred FILE.jsonl, or --pred-dir DIR");
            const auto result = metrics::score_file(st->dataset, st->pred, st->longbench_e);
            if (!st->per_sample.empty()) write_file_atomic(st->per_sample, metrics::per_sample_jsonl(result));
            std::cout << metrics::subset_json(result, st->longbench_e) << std::endl;
          }};
}

}  // namespace kvbench::cli
