// kvbench model-info: what a checkpoint is, read from its config and safetensors headers (no weights loaded).
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/cli/options.h"
#include "harness/model/checkpoint.h"
#include "harness/model/tensor_util.h"
#include "harness/model/transformer.h"

namespace kvbench::cli {

Command add_model_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("model-info", "architecture, sizes and KV-cache cost of a checkpoint");
  struct State {
    std::string model_dir, dtype = "auto";
    bool json = false;
  };
  auto st = std::make_shared<State>();
  cmd->add_option("--model", st->model_dir, "HuggingFace checkpoint directory")->required();
  cmd->add_option("--dtype", st->dtype, "KV-cache dtype for the bytes-per-token figure: auto (the checkpoint's), f32, bf16, f16")
      ->capture_default_str();
  cmd->add_flag("--json", st->json, "print one JSON object");

  return {cmd, [st] {
            const ModelConfig c = load_model_config(st->model_dir);
            const Checkpoint ckpt(st->model_dir);
            verify_checkpoint(c, ckpt);
            std::string dtype = st->dtype;
            if (dtype == "auto") dtype = c.checkpoint_dtype.empty() ? "f32" : c.checkpoint_dtype;
            const at::ScalarType type = parse_compute_dtype(dtype);
            const std::int64_t elem = c10::elementSize(type);
            nlohmann::json rope = {{"theta", c.rope_theta}, {"scaling", rope_scaling_name(c.rope_scaling.type)}};
            if (c.rope_scaling.type != RopeScaling::Type::kNone) rope["factor"] = c.rope_scaling.factor;
            const nlohmann::json info = {
                {"architecture", c.architecture},
                {"parameters", ckpt.total_elements()},
                {"layers", c.num_layers},
                {"hidden_size", c.hidden_size},
                {"intermediate_size", c.intermediate_size},
                {"heads", c.num_heads},
                {"kv_heads", c.num_kv_heads},
                {"head_dim", c.head_dim},
                {"vocab_size", c.vocab_size},
                {"max_position_embeddings", c.max_position_embeddings},
                {"rope", rope},
                {"tie_word_embeddings", c.tie_word_embeddings},
                {"checkpoint_dtype", c.checkpoint_dtype},
                {"kv_dtype", short_dtype_name(type)},
                {"kv_bytes_per_token", c.kv_bytes_per_token(elem)},
            };
            if (st->json) {
              print_json(info);
              return;
            }
            std::cout << "architecture        " << c.architecture << "\n"
                      << "parameters          " << ckpt.total_elements() << " (" << ckpt.total_elements() / 1e6
                      << "M)\n"
                      << "layers              " << c.num_layers << "\n"
                      << "hidden size         " << c.hidden_size << " (MLP " << c.intermediate_size << ")\n"
                      << "heads / KV heads    " << c.num_heads << " / " << c.num_kv_heads << " (group "
                      << c.group_size() << ")\n"
                      << "head dim            " << c.head_dim << "\n"
                      << "vocab size          " << c.vocab_size << "\n"
                      << "max positions       " << c.max_position_embeddings << "\n"
                      << "rope                theta " << c.rope_theta << ", scaling "
                      << rope_scaling_name(c.rope_scaling.type) << "\n"
                      << "tied embeddings     " << (c.tie_word_embeddings ? "yes" : "no") << "\n"
                      << "KV bytes / token    " << c.kv_bytes_per_token(elem) << " (" << short_dtype_name(type)
                      << ")\n";
          }};
}

}  // namespace kvbench::cli
