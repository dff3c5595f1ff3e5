#include "harness/runner/model_info.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/engine/engine.h"
#include "harness/model/checkpoint.h"
#include "harness/model/family.h"
#include "harness/model/tensor_util.h"
#include "harness/model/transformer.h"
#include "harness/tokenizer/chat_template.h"
#include "harness/tokenizer/tokenizer.h"
#include "harness/tokenizer/tokenizer_config.h"

namespace kvbench {
namespace {

// "16.06 GB (16060522496 bytes)".
std::string bytes_text(std::int64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(bytes) / 1e9);
  return std::string(buf) + " (" + std::to_string(bytes) + " bytes)";
}

// The tokenizer the directory holds and the chat format kvbench would pick for it.
nlohmann::json tokenizer_info(const std::string& dir, const std::string& architecture) {
  nlohmann::json t = nlohmann::json::object();
  for (const char* file : {"tokenizer.json", "tokenizer.model"}) {
    if (!paths::exists(paths::join(dir, file))) continue;  // one that is there is read, or refused as what it is
    t["file"] = file;
    t["vocab_size"] = load_tokenizer(paths::join(dir, file))->vocab_size();
    break;
  }
  const TokenizerConfig config = read_tokenizer_config(dir);
  const auto chat = detect_chat_format(config, architecture);
  t["chat_format"] = chat ? nlohmann::json(*chat) : nlohmann::json(nullptr);
  t["chat_from"] = !config.chat_template.empty() ? "tokenizer_config.json's chat template" : "the architecture";
  return t;
}

// What a prompt of `o.prompt_tokens` needs: weights, the prefill's activations, and the K/V caches (all of the
// prompt with the full cache; with a budget, one layer's full K/V while it is compressed, then the budget).
nlohmann::json memory_info(const ModelConfig& c, std::int64_t elem, const ModelInfoOptions& o) {
  const std::int64_t per_token = c.kv_bytes_per_token(elem), tokens = o.prompt_tokens;
  const std::int64_t weights = c.parameter_count() * elem, activations = prefill_activation_bytes(c, elem, tokens);
  const std::int64_t full_cache = per_token * (tokens + o.new_tokens);
  nlohmann::json m = {{"prompt_tokens", tokens}, {"new_tokens", o.new_tokens}, {"weights_bytes", weights},
                      {"prefill_activation_bytes", activations}, {"full_cache_bytes", full_cache},
                      {"total_full_cache_bytes", weights + activations + full_cache}};
  if (o.budget > 0) {
    const std::int64_t cache = per_token * (std::min(o.budget, tokens) + o.new_tokens);
    const std::int64_t one_layer = per_token / c.num_layers * tokens;
    m["budget"] = o.budget;
    m["budget_cache_bytes"] = cache;
    m["total_budget_bytes"] = weights + activations + one_layer + cache;
  }
  return m;
}

}  // namespace

nlohmann::json model_info(const std::string& dir, const ModelInfoOptions& o) {
  check_directory(dir, "model directory");  // "... does not exist", or what it is instead of a folder
  const std::string path = paths::join(dir, "config.json");
  KV_CHECK(paths::exists(path), "'", dir, "' has no config.json (expected a HuggingFace checkpoint directory)");
  const nlohmann::json raw = read_json_file(path);
  KV_CHECK(raw.is_object(), path, ": must be a JSON object");
  const auto& archs = raw.value("architectures", nlohmann::json());
  KV_CHECK(archs.is_array() && archs.size() == 1 && archs[0].is_string(), path,
           ": 'architectures' must be a list with one architecture name");
  const nlohmann::json model_type = raw.value("model_type", nlohmann::json(""));
  KV_CHECK(model_type.is_string(), path, ": 'model_type' must be a string, got ", json_type_name(model_type));
  nlohmann::json info = {{"directory", dir}, {"architecture", archs[0]}, {"model_type", model_type},
                         {"read", o.config_only ? "config.json and tokenizer files (no weights)" : "config.json and safetensors headers"}};
  ModelConfig c;
  try {
    c = parse_model_config(raw, path);
  } catch (const Error& e) {
    const std::string why = e.what();
    // An architecture without a family, or a feature no family implements: the answer. Anything else is a
    // malformed config.json of a supported architecture: an error.
    if (find_model_family(archs[0].get<std::string>()) != nullptr && why.find("not supported") == std::string::npos) throw;
    info["supported"] = false;
    info["not_supported"] = why.substr(why.find(": ") == std::string::npos ? 0 : why.find(": ") + 2);
    return info;
  }
  info["supported"] = true;
  info["family"] = find_model_family(c.architecture)->name;
  nlohmann::json notes = nlohmann::json::array();
  if (c.sliding_window > 0)
    notes.push_back(std::to_string(c.num_layers - c.num_full_attention_layers()) + " of " + std::to_string(c.num_layers) +
                    " layers attend over a " + std::to_string(c.sliding_window) + "-token sliding window (what a budget "
                    "means on them: model.sliding_layers)");
  if (find_model_family(c.architecture)->text_config != nullptr && o.config_only)
    notes.push_back("parameters: the language model's only (the config's other towers are not counted)");
  info["notes"] = notes;
  std::string dtype = o.dtype == "auto" ? (c.checkpoint_dtype.empty() ? "f32" : c.checkpoint_dtype) : o.dtype;
  const at::ScalarType type = parse_compute_dtype(dtype);
  const std::int64_t elem = static_cast<std::int64_t>(c10::elementSize(type));
  std::int64_t parameters = c.parameter_count();
  if (!o.config_only) {
    const Checkpoint ckpt(dir);
    verify_checkpoint(c, ckpt);
    parameters = static_cast<std::int64_t>(ckpt.total_elements());
  }
  nlohmann::json rope = {{"theta", c.rope_theta}, {"scaling", rope_scaling_name(c.rope_scaling.type)}};
  if (c.rope_scaling.type != RopeScaling::Type::kNone) rope["factor"] = c.rope_scaling.factor;
  info.update({{"parameters", parameters},
               {"parameters_from", o.config_only ? "config.json" : "safetensors"},
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
               {"tokenizer", tokenizer_info(dir, c.architecture)}});
  if (o.prompt_tokens > 0) info["memory"] = memory_info(c, elem, o);
  return info;
}

std::string model_info_text(const nlohmann::json& info) {
  std::ostringstream out;
  const auto line = [&](const std::string& key, const std::string& value) {
    out << key << std::string(key.size() < 20 ? 20 - key.size() : 1, ' ') << value << "\n";
  };
  line("architecture", info["architecture"].get<std::string>());
  if (!info["supported"].get<bool>()) {
    line("supported", "no");
    out << "not supported: " << info["not_supported"].get<std::string>() << "\n";
    return out.str();
  }
  line("supported", "yes (family " + info["family"].get<std::string>() + ")");
  for (const auto& note : info["notes"]) line("note", note.get<std::string>());
  const auto params = info["parameters"].get<std::int64_t>();
  line("parameters", std::to_string(params) + " (" + std::to_string(params / 1000000) + "M, from " +
                         info["parameters_from"].get<std::string>() + ")");
  line("layers", std::to_string(info["layers"].get<std::int64_t>()));
  line("hidden size", std::to_string(info["hidden_size"].get<std::int64_t>()) + " (MLP " +
                          std::to_string(info["intermediate_size"].get<std::int64_t>()) + ")");
  const auto heads = info["heads"].get<std::int64_t>(), kv = info["kv_heads"].get<std::int64_t>();
  line("heads / KV heads", std::to_string(heads) + " / " + std::to_string(kv) + " (group " + std::to_string(heads / kv) + ")");
  line("head dim", std::to_string(info["head_dim"].get<std::int64_t>()));
  line("vocab size", std::to_string(info["vocab_size"].get<std::int64_t>()));
  line("max positions", std::to_string(info["max_position_embeddings"].get<std::int64_t>()));
  line("rope", "theta " + info["rope"]["theta"].dump() + ", scaling " + info["rope"]["scaling"].get<std::string>());
  line("tied embeddings", info["tie_word_embeddings"].get<bool>() ? "yes" : "no");
  line("KV bytes / token", std::to_string(info["kv_bytes_per_token"].get<std::int64_t>()) + " (" +
                               info["kv_dtype"].get<std::string>() + ")");
  const auto& t = info["tokenizer"];
  line("tokenizer", t.contains("file") ? t["file"].get<std::string>() + " (vocab " + t["vocab_size"].dump() + ")"
                                       : "none (no tokenizer.json or tokenizer.model)");
  line("chat format", t["chat_format"].is_null() ? "none recognised (a run needs model.chat)"
                                                  : t["chat_format"].get<std::string>() + " (from " + t["chat_from"].get<std::string>() + ")");
  if (!info.contains("memory")) return out.str();
  const auto& m = info["memory"];
  out << "memory for a prompt of " << m["prompt_tokens"] << " tokens and " << m["new_tokens"] << " new ("
      << info["kv_dtype"].get<std::string>() << "):\n";
  const auto bytes = [&](const char* key) { return bytes_text(m[key].get<std::int64_t>()); };
  line("  weights", bytes("weights_bytes"));
  line("  prefill", bytes("prefill_activation_bytes") + " (activations)");
  line("  full KV cache", bytes("full_cache_bytes") + "; in all " + bytes("total_full_cache_bytes"));
  if (m.contains("budget"))
    line("  budget " + m["budget"].dump(), bytes("budget_cache_bytes") + " of KV cache (per KV head per layer); in all " +
                                              bytes("total_budget_bytes") + " (one layer's full K/V while it is compressed)");
  return out.str();
}

}  // namespace kvbench
