// kvbench model-info: what a checkpoint is and whether kvbench runs it (harness/runner/model_info.h); with
// --config-only from config.json and the tokenizer files alone, before the weights are downloaded.
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/cli/options.h"
#include "harness/common/error.h"
#include "harness/runner/model_info.h"

namespace kvbench::cli {

Command add_model_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("model-info", "architecture, support, sizes, KV-cache cost and memory of a checkpoint");
  struct State {
    std::string model_dir;
    ModelInfoOptions options;
    bool json = false;
  };
  auto st = std::make_shared<State>();
  ModelInfoOptions& o = st->options;
  cmd->add_option("--model", st->model_dir, "HuggingFace checkpoint directory")->required();
  cmd->add_flag("--config-only", o.config_only,
                "read config.json and the tokenizer files only (no weights): parameters computed from the config");
  cmd->add_option("--dtype", o.dtype, "dtype of the byte figures: auto (the checkpoint's), f32, bf16, f16")->capture_default_str();
  cmd->add_option("--prompt-tokens", o.prompt_tokens, "also the memory a prompt of this many tokens needs")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
  cmd->add_option("--budget", o.budget, "with --prompt-tokens: and with caches of this many tokens per KV head per layer")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
  cmd->add_option("--new-tokens", o.new_tokens, "with --prompt-tokens: tokens generated into the caches")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 30));
  cmd->add_flag("--json", st->json, "print one JSON object");
  return {cmd, [st] {
            KV_CHECK(st->options.budget == 0 || st->options.prompt_tokens > 0, "--budget needs --prompt-tokens");
            KV_CHECK(st->options.new_tokens == 0 || st->options.prompt_tokens > 0, "--new-tokens needs --prompt-tokens");
            const nlohmann::json info = model_info(st->model_dir, st->options);
            if (st->json) return print_json(info);
            std::cout << model_info_text(info);
          }};
}

}  // namespace kvbench::cli
