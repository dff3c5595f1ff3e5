#include "harness/model/model_config.h"

#include <cmath>
#include <optional>


#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/paths.h"
#include "harness/model/family.h"

namespace kvbench {

const char* rope_scaling_name(RopeScaling::Type type) {
  switch (type) {
    case RopeScaling::Type::kNone: return "default";
    case RopeScaling::Type::kLinear: return "linear";
    case RopeScaling::Type::kLlama3: return "llama3";
  }
  return "?";
}

namespace {

// HF stores rope settings two ways: `rope_theta` + `rope_scaling` (transformers 4) or one
// `rope_parameters` object holding `rope_theta` and the scaling keys (transformers 5).
void parse_rope(const JsonFields& config, ModelConfig& out) {
  out.rope_theta = config.get_double("rope_theta", 10000.0);
  const nlohmann::json* scaling = nullptr;
  std::string where;
  // Below 1 the rotation frequencies 1 / theta^(2i/d) exceed 1 and grow without bound (1e-300 gives infinite
  // angles and NaN logits); no model uses such a base.
  auto check_theta = [&] {
    KV_CHECK(std::isfinite(out.rope_theta) && out.rope_theta > 0, config.source(),
             ": rope_theta must be a positive number, got ", out.rope_theta);
    KV_CHECK(out.rope_theta >= 1, config.source(), ": rope_theta must be at least 1 (models use 10000 to 1e8), got ",
             out.rope_theta);
  };
  if (config.has("rope_parameters")) {
    scaling = &config.raw("rope_parameters");
    where = "rope_parameters";
  } else if (config.has("rope_scaling")) {
    scaling = &config.raw("rope_scaling");
    where = "rope_scaling";
  }
  if (scaling == nullptr || scaling->is_null()) return check_theta();
  const JsonFields rope(*scaling, config.source() + ": " + where);
  if (rope.has("rope_theta")) out.rope_theta = rope.get_double("rope_theta");
  check_theta();
  KV_CHECK(rope.get_double("partial_rotary_factor", 1.0) == 1.0, config.source(),
           ": partial_rotary_factor other than 1 is not supported");
  const std::string type = rope.has("rope_type") ? rope.get_string("rope_type") : rope.get_string("type", "default");
  if (type == "default") return;
  if (type == "linear") {
    out.rope_scaling.type = RopeScaling::Type::kLinear;
    out.rope_scaling.factor = rope.get_double("factor");
  } else if (type == "llama3") {
    out.rope_scaling.type = RopeScaling::Type::kLlama3;
    out.rope_scaling.factor = rope.get_double("factor");
    out.rope_scaling.low_freq_factor = rope.get_double("low_freq_factor");
    out.rope_scaling.high_freq_factor = rope.get_double("high_freq_factor");
    out.rope_scaling.original_max_position_embeddings =
        rope.get_int_in("original_max_position_embeddings", 1, std::int64_t{1} << 30);
    KV_CHECK(out.rope_scaling.high_freq_factor != out.rope_scaling.low_freq_factor, config.source(),
             ": llama3 rope scaling needs high_freq_factor != low_freq_factor");
    // As transformers checks them: positive factors, the high one above the low one (else the smoothing between
    // them divides by a difference of the wrong sign or by almost nothing).
    KV_CHECK(out.rope_scaling.low_freq_factor > 0 && out.rope_scaling.high_freq_factor > out.rope_scaling.low_freq_factor,
             config.source(), ": ", where, " needs 0 < low_freq_factor < high_freq_factor, got ",
             out.rope_scaling.low_freq_factor, " and ", out.rope_scaling.high_freq_factor);
  } else {
    fail(config.source(), ": ", where, " type '", type, "' is not supported (supported: default, linear, llama3)");
  }
  KV_CHECK(std::isfinite(out.rope_scaling.factor) && out.rope_scaling.factor > 0, config.source(), ": ", where,
           ".factor must be a positive number");
  // Positions are divided by the factor: below 1 it would stretch them past what the model was trained on, and a
  // tiny one to infinity (transformers refuses factors below 1 too).
  KV_CHECK(out.rope_scaling.factor >= 1, config.source(), ": ", where, ".factor must be at least 1, got ",
           out.rope_scaling.factor);
}

std::vector<std::int64_t> parse_token_ids(const JsonFields& config, const std::string& key) {
  const auto& v = config.raw(key);
  std::vector<std::int64_t> ids;
  if (v.is_null()) return ids;
  const nlohmann::json list = v.is_array() ? v : nlohmann::json::array({v});
  for (const auto& x : list) {
    const std::optional<std::int64_t> id = json_int64(x);
    KV_CHECK(id && *id >= 0 && *id < (std::int64_t{1} << 31), config.source(), ": key '", key,
             "' must be a token id (an integer from 0) or a list of them, got ", x.dump());
    ids.push_back(*id);
  }
  return ids;
}

}  // namespace

// A size from config.json, within 1 and a bound far above any real model's (so that products of sizes cannot
// overflow and nothing is allocated from an absurd number before the checkpoint's shapes are compared).
static std::int64_t config_size(const JsonFields& config, const std::string& key, std::int64_t max,
                                 std::optional<std::int64_t> fallback = std::nullopt) {
  const std::int64_t v = fallback ? config.get_int(key, *fallback) : config.get_int(key);
  KV_CHECK(v >= 1 && v <= max, config.source(), ": ", key, " must be between 1 and ", max, ", got ", v);
  return v;
}

void parse_decoder_fields(const JsonFields& config, ModelConfig& out) {
  out.vocab_size = config_size(config, "vocab_size", 1 << 24);
  out.hidden_size = config_size(config, "hidden_size", 1 << 18);
  out.intermediate_size = config_size(config, "intermediate_size", 1 << 20);
  out.num_layers = config_size(config, "num_hidden_layers", 4096);
  out.num_heads = config_size(config, "num_attention_heads", 8192);
  out.num_kv_heads = config_size(config, "num_key_value_heads", 8192, out.num_heads);
  KV_CHECK(out.num_heads % out.num_kv_heads == 0, config.source(), ": num_attention_heads (", out.num_heads,
           ") must be a multiple of num_key_value_heads (", out.num_kv_heads, ")");
  if (config.has("head_dim")) {
    out.head_dim = config_size(config, "head_dim", 1 << 16);
  } else {
    KV_CHECK(out.hidden_size % out.num_heads == 0, config.source(), ": hidden_size (", out.hidden_size,
             ") is not a multiple of num_attention_heads (", out.num_heads, ") and no head_dim is given");
    out.head_dim = out.hidden_size / out.num_heads;
  }
  KV_CHECK(out.head_dim > 0 && out.head_dim % 2 == 0, config.source(), ": head_dim must be positive and even, got ",
           out.head_dim);
  out.max_position_embeddings = config_size(config, "max_position_embeddings", std::int64_t{1} << 30, 2048);
  out.rms_norm_eps = config.get_double("rms_norm_eps", 1e-6);
  KV_CHECK(std::isfinite(out.rms_norm_eps) && out.rms_norm_eps > 0, config.source(),
           ": rms_norm_eps must be a positive number, got ", out.rms_norm_eps);
  KV_CHECK(out.rms_norm_eps <= 1, config.source(), ": rms_norm_eps must be at most 1 (models use 1e-6 to 1e-5), got ",
           out.rms_norm_eps);
  const std::string act = config.get_string("hidden_act", "silu");
  KV_CHECK(act == "silu", config.source(), ": hidden_act '", act, "' is not supported (only silu)");
  parse_rope(config, out);
  out.tie_word_embeddings = config.get_bool("tie_word_embeddings", false);
  out.checkpoint_dtype = config.has("dtype") ? config.get_string("dtype") : config.get_string("torch_dtype", "");
  if (config.has("bos_token_id")) out.bos_token_id = config.get_int_in("bos_token_id", 0, (std::int64_t{1} << 31) - 1);
  out.eos_token_ids = parse_token_ids(config, "eos_token_id");
}

ModelConfig parse_model_config(const nlohmann::json& json, const std::string& source) {
  const JsonFields config(json, source);
  const auto& archs = config.raw("architectures");
  KV_CHECK(archs.is_array() && archs.size() == 1 && archs[0].is_string(), source,
           ": 'architectures' must be a list with one architecture name");
  ModelConfig out;
  out.architecture = archs[0].get<std::string>();
  out.model_type = config.get_string("model_type", "");
  const ModelFamily* family = find_model_family(out.architecture);
  if (family == nullptr) {
    std::string known;
    for (const auto& name : supported_architectures()) known += (known.empty() ? "" : ", ") + name;
    fail(source, ": architecture '", out.architecture, "' is not supported (supported: ", known, ")");
  }
  parse_decoder_fields(config, out);
  family->parse(config, out);
  return out;
}

ModelConfig load_model_config(const std::string& model_dir) {
  check_directory(model_dir, "model directory");
  const std::string path = paths::join(model_dir, "config.json");
  KV_CHECK(paths::exists(path), "'", model_dir, "' has no config.json (expected a HuggingFace checkpoint directory)");
  return parse_model_config(read_json_file(path), path);
}

}  // namespace kvbench
