#pragma once
// What related families share, each defined in the file of the family that introduced it: Qwen3 and Qwen3-MoE
// reuse Qwen2's window rule and Qwen3's attention, Gemma 3 builds on Gemma 2.

#include <nlohmann/json.hpp>

#include "harness/common/json_util.h"
#include "harness/model/model_config.h"

namespace kvbench {

struct RandomModelSpec;

// qwen2.cpp: a window on the layers from max_window_layers on, when use_sliding_window.
void set_qwen_sliding_layers(const JsonFields& config, ModelConfig& out);
void write_qwen_tiny_window(const RandomModelSpec& spec, nlohmann::json& config);
// qwen3.cpp: Qwen3's attention (attention_bias, q/k norms, the window).
void parse_qwen3_attention(const JsonFields& config, ModelConfig& out);
void write_qwen3_tiny(const RandomModelSpec& spec, nlohmann::json& config);
// gemma2.cpp: Gemma2Config's defaults (JSON); Gemma's norms and embeddings, query_pre_attn_scalar, soft-caps,
// every `pattern`-th layer global.
extern const char* const kGemma2Defaults;
void parse_gemma(const JsonFields& config, ModelConfig& out, std::int64_t pattern);
void write_gemma_tiny(const RandomModelSpec& spec, nlohmann::json& config);

}  // namespace kvbench
