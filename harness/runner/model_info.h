#pragma once
// `kvbench model-info`: what a checkpoint directory is, and whether kvbench can run it. With config_only, only
// config.json and the tokenizer files are read (no weights: check a 16 GB model before downloading it); else
// the safetensors headers are read too and checked against the config.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace kvbench {

struct ModelInfoOptions {
  bool config_only = false;
  std::string dtype = "auto";     ///< the KV and weight dtype of the byte figures: auto (the checkpoint's), f32, bf16, f16
  std::int64_t prompt_tokens = 0; ///< > 0: the memory a prompt of this many tokens needs
  std::int64_t budget = 0;        ///< > 0: ... with caches of this many tokens per KV head per layer
  std::int64_t new_tokens = 0;    ///< generated tokens the caches also hold
};

/// {"architecture", "supported": bool, "not_supported": reason (when not), "notes": [...], sizes, "parameters",
/// "kv_bytes_per_token", "tokenizer": {...}, "memory": {...} (with prompt_tokens)}. An architecture kvbench has
/// no family for, or a config feature it does not implement (a sliding window in every layer, a rope type),
/// is an answer (supported false, with the reason), not an error; a missing or malformed config.json is an error.
nlohmann::json model_info(const std::string& dir, const ModelInfoOptions& options);

/// The text `kvbench model-info` prints for `info`.
std::string model_info_text(const nlohmann::json& info);

}  // namespace kvbench
