// kvbench run: an experiment from a config file, or the embedded default (configs/quickstart.json) without one.
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/common/unicode.h"
#include "harness/runner/run_config.h"
#include "harness/runner/runner.h"
#include "kvbench/embedded_config.h"

namespace kvbench::cli {

Command add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "run an experiment from a config file (default: the embedded quickstart)");
  struct State {
    std::string config, output_dir, shard, devices;
    std::vector<std::string> overrides;
    RunOptions options;
  };
  auto st = std::make_shared<State>();
  cmd->add_option("--config", st->config, "JSON config (comments allowed); omit for the embedded default");
  cmd->add_option("--set", st->overrides, "override a config key: --set model.dtype=bf16 --set budgets=[64,128] (paths "
                  "given here are relative to the current directory; the config's own, to its folder)");
  cmd->add_option("--output-dir", st->output_dir, "where the run's files go (default: results/<name>)");
  cmd->add_flag("--dry-run", st->options.dry_run, "print the plan (samples, variants, tokens) without loading the model");
  cmd->add_flag("--resume", st->options.resume, "continue the run in its output folder, skipping finished samples");
  cmd->add_flag("--fail-fast", st->options.fail_fast, "stop at the first failing sample (default: record it, go on)");
  cmd->add_option("--shard", st->shard, "run shard I of N (0-based, e.g. 1/4) in <output_dir>/shards/I-of-N; "
                  "join them with kvbench merge");
  cmd->add_option("--devices", st->devices, "one worker per device, e.g. cuda:0,cuda:1 (or cpu,cpu), each a shard, "
                  "merged at the end");
  return {cmd, [st, cmd] {
            const bool embedded = cmd->get_option("--config")->count() == 0;
            std::vector<std::string> overrides = st->overrides;
            if (!st->output_dir.empty()) {
              KV_CHECK(unicode::is_valid_utf8(st->output_dir), "--output-dir must be valid UTF-8 (the run writes it "
                       "into its JSON files)");
              overrides.push_back("output_dir=" + nlohmann::json(st->output_dir).dump());
            }
            // The embedded default's paths are relative to configs/ of the source tree it was built from.
            const nlohmann::json json =
                embedded ? prepare_run_config(parse_json(kEmbeddedDefaultConfig, kEmbeddedDefaultConfigSource, true),
                                              paths::join(kSourceDir, "configs"), overrides)
                         : read_run_config(st->config, overrides);
            const RunConfig config = parse_run_config(json, embedded ? kEmbeddedDefaultConfigSource : st->config);
            RunOptions options = st->options;
            options.input_config = json;
            if (!st->shard.empty()) options.shard = Shard::parse(st->shard, "--shard");
            for (std::size_t start = 0; start < st->devices.size();) {
              const std::size_t end = std::min(st->devices.find(',', start), st->devices.size());
              if (end > start) options.devices.push_back(st->devices.substr(start, end - start));
              start = end + 1;
            }
            KV_CHECK(st->devices.empty() || !options.devices.empty(), "--devices needs at least one device");
            options.command_line = "kvbench run" + (embedded ? std::string() : " --config " + st->config);
            for (const auto& o : st->overrides) options.command_line += " --set " + o;
            if (!st->output_dir.empty()) options.command_line += " --output-dir " + st->output_dir;
            if (!st->shard.empty()) options.command_line += " --shard " + st->shard;
            if (!st->devices.empty()) options.command_line += " --devices " + st->devices;
            if (options.resume) options.command_line += " --resume";
            run_experiment(config, options);  // which also draws budget.svg, inside the run folder's lock
          }};
}

}  // namespace kvbench::cli
