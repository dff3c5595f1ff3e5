#include "harness/model/model_config.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/model/family.h"

namespace kvbench {

const char* rope_scaling_name(RopeScaling::Type type) {
  switch (type) {
    case RopeScaling::Type::kNone: return "default";
    case RopeScaling::Type::kLinear: return "linear";
    case RopeScaling::Type::kLlama3: return "llama3";
    case RopeScaling::Type::kDynamic: return "dynamic";
    case RopeScaling::Type::kYarn: return "yarn";
    case RopeScaling::Type::kLongRope: return "longrope";
  }
  return "?";
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kSilu: return "silu";
    case Activation::kGeluTanh: return "gelu_pytorch_tanh";
    case Activation::kGelu: return "gelu";
  }
  return "?";
}

std::int64_t ModelConfig::num_full_attention_layers() const {
  std::int64_t n = 0;
  for (std::int64_t l = 0; l < num_layers; ++l) n += is_sliding(l) ? 0 : 1;
  return n;
}

RopeParameters ModelConfig::rope_for(std::int64_t layer) const {
  if (sliding_rope && is_sliding(layer)) return *sliding_rope;
  return {rope_theta, rope_scaling};
}

namespace {

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

double config_positive(const JsonFields& config, const std::string& key, double fallback) {
  const double v = config.get_double(key, fallback);
  KV_CHECK(std::isfinite(v) && v > 0 && v < 1e30, config.source(), ": ", key, " must be a positive number, got ", v);
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
  // Gemma names its activation hidden_activation (and may keep a hidden_act that its MLP does not use).
  const std::string act_key = config.has("hidden_activation") ? "hidden_activation" : "hidden_act";
  const std::string act = config.get_string(act_key, "silu");
  if (act == "silu" || act == "swish") {
    out.activation = Activation::kSilu;
  } else if (act == "gelu_pytorch_tanh") {
    out.activation = Activation::kGeluTanh;
  } else if (act == "gelu") {
    out.activation = Activation::kGelu;
  } else {
    fail(config.source(), ": ", act_key, " '", act, "' is not supported (silu, gelu_pytorch_tanh, gelu)");
  }
  out.attention_scale = 1.0 / std::sqrt(static_cast<double>(out.head_dim));
  parse_rope(config, out);
  out.tie_word_embeddings = config.get_bool("tie_word_embeddings", false);
  out.checkpoint_dtype = config.has("dtype") ? config.get_string("dtype") : config.get_string("torch_dtype", "");
  if (config.has("bos_token_id")) out.bos_token_id = config.get_int_in("bos_token_id", 0, (std::int64_t{1} << 31) - 1);
  out.eos_token_ids = parse_token_ids(config, "eos_token_id");
}

void set_sliding_layers(const JsonFields& config, ModelConfig& out, std::int64_t window,
                        const std::function<bool(std::int64_t)>& sliding) {
  out.sliding_window = 0;
  out.sliding_layers.clear();
  // layer_types is checked even without a window (transformers refuses a list of the wrong length too).
  const nlohmann::json& types = config.raw("layer_types");
  std::vector<bool> layers(static_cast<std::size_t>(out.num_layers));
  if (!types.is_null()) {
    KV_CHECK(types.is_array() && static_cast<std::int64_t>(types.size()) == out.num_layers, config.source(),
             ": layer_types must list one type per layer (", out.num_layers, "), got ",
             types.is_array() ? std::to_string(types.size()) + " entries" : std::string("a ") + types.type_name());
    for (std::size_t l = 0; l < types.size(); ++l) {
      const std::string t = types[l].is_string() ? types[l].get<std::string>() : "";
      KV_CHECK(t == "sliding_attention" || t == "full_attention", config.source(), ": layer_types[", l, "] '", t,
               "' is not supported (sliding_attention, full_attention)");
      layers[l] = t == "sliding_attention";
    }
  }
  if (window <= 0) return;
  KV_CHECK(window <= (std::int64_t{1} << 30), config.source(), ": sliding_window ", window, " is out of range");
  if (types.is_null()) {
    for (std::int64_t l = 0; l < out.num_layers; ++l) layers[static_cast<std::size_t>(l)] = sliding(l);
  }
  if (std::find(layers.begin(), layers.end(), true) == layers.end()) return;
  out.sliding_window = window;
  out.sliding_layers = std::move(layers);
}

namespace {
// `json` with the family's defaults under it (the config's own values win), and for a multimodal checkpoint
// its language model's config in place of the whole.
nlohmann::json with_family_defaults(const nlohmann::json& json, const ModelFamily& family, const std::string& source) {
  nlohmann::json merged =
      family.defaults != nullptr ? parse_json(family.defaults, family.name + std::string(" defaults")) : nlohmann::json::object();
  const nlohmann::json* own = &json;
  if (family.text_config != nullptr) {
    KV_CHECK(json.contains(family.text_config) && json[family.text_config].is_object(), source, ": a ",
             family.architecture, " config needs a '", family.text_config, "' object");
    own = &json[family.text_config];
  }
  for (auto it = own->begin(); it != own->end(); ++it) merged[it.key()] = it.value();
  if (family.text_config != nullptr) {
    // The multimodal config's own keys that concern the language model (HF ties the LM head from there).
    for (const char* key : {"tie_word_embeddings", "dtype", "torch_dtype"})
      if (json.contains(key) && !json[key].is_null()) merged[key] = json[key];
  }
  return merged;
}
}  // namespace

ModelConfig parse_model_config(const nlohmann::json& json, const std::string& source) {
  KV_CHECK(json.is_object(), source, ": the config must be a JSON object");
  const nlohmann::json& archs = json.contains("architectures") ? json["architectures"] : nlohmann::json::object();
  KV_CHECK(archs.is_array() && archs.size() == 1 && archs[0].is_string(), source,
           ": 'architectures' must be a list with one architecture name");
  ModelConfig out;
  out.architecture = archs[0].get<std::string>();
  const ModelFamily* family = find_model_family(out.architecture);
  if (family == nullptr) {
    std::string known;
    for (const auto& name : supported_architectures()) known += (known.empty() ? "" : ", ") + name;
    fail(source, ": architecture '", out.architecture, "' is not supported (supported: ", known, ")");
  }
  const nlohmann::json merged = with_family_defaults(json, *family, source);
  const JsonFields config(merged, family->text_config != nullptr ? source + ": " + family->text_config : source);
  const JsonFields top(json, source);
  out.model_type = top.get_string("model_type", "");
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
