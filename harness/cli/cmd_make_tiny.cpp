// kvbench make-tiny: writes a small random-weights checkpoint (smoke runs, tests, experiments without
// downloads).
#include <iostream>
#include <memory>
#include <vector>

#include "harness/cli/commands.h"
#include "harness/cli/options.h"
#include "harness/common/error.h"
#include "harness/model/random_checkpoint.h"

namespace kvbench::cli {

Command add_make_tiny_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("make-tiny", "write a small random-weights HF checkpoint");
  struct State {
    std::string out, rope_scaling = "none";
    RandomModelSpec spec;
  };
  auto st = std::make_shared<State>();
  RandomModelSpec& s = st->spec;
  cmd->add_option("--out", st->out, "output directory")->required();
  cmd->add_option("--family", s.family, "llama, mistral, qwen2, qwen3, qwen3_moe, mixtral, phi3, gemma2, gemma3 or "
                  "gemma3_mm")->capture_default_str();
  cmd->add_option("--layers", s.num_layers)->capture_default_str();
  cmd->add_option("--hidden", s.hidden_size)->capture_default_str();
  cmd->add_option("--intermediate", s.intermediate_size)->capture_default_str();
  cmd->add_option("--heads", s.num_heads)->capture_default_str();
  cmd->add_option("--kv-heads", s.num_kv_heads)->capture_default_str();
  cmd->add_option("--vocab", s.vocab_size)->capture_default_str();
  cmd->add_option("--max-positions", s.max_position_embeddings)->capture_default_str();
  cmd->add_option("--rope-theta", s.rope_theta)->capture_default_str();
  cmd->add_option("--head-dim", s.head_dim, "head dim where the family has the key (0: hidden / heads)")
      ->capture_default_str();
  cmd->add_option("--sliding-window", s.sliding_window, "window of the family's sliding layers (0: none, or the "
                  "family's default)")->capture_default_str();
  cmd->add_option("--experts", s.num_experts, "experts per layer of MoE families (0: 4)")->capture_default_str();
  cmd->add_option("--experts-per-token", s.experts_per_token, "experts routed per token (MoE families)")
      ->capture_default_str();
  cmd->add_option("--rope-scaling", st->rope_scaling, "none, linear (factor 2), llama3 (factor 8), dynamic (factor 2), "
                  "yarn (factor 4 over max-positions / 4) or longrope (phi3: long factors past max-positions / 4)")
      ->capture_default_str();
  cmd->add_flag("--tie-embeddings", s.tie_word_embeddings);
  cmd->add_flag("--attention-bias", s.attention_bias, "llama only: biases on q/k/v/o");
  cmd->add_option("--dtype", s.dtype, "f32, bf16 or f16 on disk")->capture_default_str();
  cmd->add_option("--shards", s.shards, "number of safetensors shards")->capture_default_str();
  cmd->add_option("--seed", s.seed)->capture_default_str();

  return {cmd, [st] {
            const RandomModelSpec& s = st->spec;
            if (st->rope_scaling == "linear") {
              st->spec.rope_scaling = {{"type", "linear"}, {"factor", 2.0}};
            } else if (st->rope_scaling == "llama3") {
              st->spec.rope_scaling = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 256}};
            } else if (st->rope_scaling == "dynamic") {
              st->spec.rope_scaling = {{"rope_type", "dynamic"}, {"factor", 2.0}};
            } else if (st->rope_scaling == "yarn") {
              st->spec.rope_scaling = {{"rope_type", "yarn"}, {"factor", 4.0},
                                       {"original_max_position_embeddings", s.max_position_embeddings / 4}};
            } else if (st->rope_scaling == "longrope") {
              const std::int64_t d = s.head_dim > 0 ? s.head_dim : s.hidden_size / s.num_heads;
              std::vector<double> shorts(static_cast<std::size_t>(d / 2), 1.0), longs;
              for (std::int64_t i = 0; i < d / 2; ++i) longs.push_back(1.0 + 3.0 * static_cast<double>(i) / static_cast<double>(d));
              st->spec.rope_scaling = {{"rope_type", "longrope"}, {"short_factor", shorts}, {"long_factor", longs},
                                       {"original_max_position_embeddings", s.max_position_embeddings / 4}};
            } else {
              KV_CHECK(st->rope_scaling == "none", "--rope-scaling must be none, linear, llama3, dynamic, yarn or longrope");
            }
            write_random_checkpoint(st->out, st->spec);
            std::cout << "wrote " << st->spec.family << " checkpoint to " << st->out << std::endl;
          }};
}

}  // namespace kvbench::cli
