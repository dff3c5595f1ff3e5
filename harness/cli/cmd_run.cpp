// kvbench run: an experiment from a config file, or the embedded default (configs/smoke.json) without one.
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/runner/run_config.h"
#include "harness/runner/runner.h"
#include "kvbench/embedded_config.h"

namespace kvbench::cli {

Command add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "run an experiment from a config file (default: the embedded smoke run)");
  struct State {
    std::string config, output_dir;
    std::vector<std::string> overrides;
    RunOptions options;
  };
  auto st = std::make_shared<State>();
  cmd->add_option("--config", st->config, "JSON config (comments allowed); omit for the embedded default");
  cmd->add_option("--set", st->overrides, "override a config key: --set model.dtype=bf16 --set budgets=[64,128]");
  cmd->add_option("--output-dir", st->output_dir, "where the run's files go (default: results/<name>)");
  cmd->add_flag("--dry-run", st->options.dry_run, "print the plan (samples, variants, tokens) without loading the model");
  cmd->add_flag("--resume", st->options.resume, "continue the run in its output folder, skipping finished samples");
  cmd->add_flag("--fail-fast", st->options.fail_fast, "stop at the first failing sample (default: record it, go on)");
  return {cmd, [st, &app] {
            const bool embedded = st->config.empty();
            nlohmann::json json = embedded ? nlohmann::json::parse(kEmbeddedDefaultConfig, nullptr, true, true)
                                           : read_json_file(st->config, /*allow_comments=*/true);
            std::vector<std::string> overrides = st->overrides;
            if (!st->output_dir.empty()) overrides.push_back("output_dir=\"" + st->output_dir + "\"");
            apply_overrides(json, overrides);
            const RunConfig config = parse_run_config(json, embedded ? kEmbeddedDefaultConfigSource : st->config);
            RunOptions options = st->options;
            options.command_line = "kvbench run" + (embedded ? std::string() : " --config " + st->config);
            for (const auto& o : st->overrides) options.command_line += " --set " + o;
            if (options.resume) options.command_line += " --resume";
            run_experiment(config, options);
          }};
}

}  // namespace kvbench::cli
