// RoPE settings of config.json, both spellings (transformers 4's rope_theta + rope_scaling, transformers 5's
// rope_parameters, flat or nested per layer type) and every schedule's derived numbers, resolved the way
// transformers' modeling_rope_utils resolves them.
#include <cmath>

#include "harness/common/error.h"
#include "harness/model/family.h"

namespace kvbench {
namespace {

const nlohmann::json kEmpty = nlohmann::json::object();

double positive(const JsonFields& rope, const std::string& key) {
  const double v = rope.get_double(key);
  KV_CHECK(std::isfinite(v) && v > 0 && v < 1e30, rope.source(), ".", key, " must be a positive number, got ", v);
  return v;
}

// transformers' get_mscale: YaRN's attention factor for a context extended `scale` times.
double yarn_mscale(double scale, double mscale = 1.0) { return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

std::vector<double> factor_list(const JsonFields& rope, const std::string& key, std::int64_t expected) {
  const nlohmann::json& v = rope.raw(key);
  KV_CHECK(v.is_array() && static_cast<std::int64_t>(v.size()) == expected, rope.source(), ": ", key,
           " must list ", expected, " numbers (one per rotary frequency)");
  std::vector<double> out;
  for (const auto& x : v) {
    KV_CHECK(x.is_number() && std::isfinite(x.get<double>()) && x.get<double>() > 0, rope.source(), ": ", key,
             " must hold positive numbers");
    out.push_back(x.get<double>());
  }
  return out;
}

// One rotary embedding from an HF rope object (rope_scaling, rope_parameters or one of its per-layer-type
// entries); `theta` is what applies when the object does not name its own rope_theta. For a global object
// (`nested` false) a top-level original_max_position_embeddings wins over the object's own, as transformers'
// standardize_rope_params has it (Phi-3 keeps it there).
RopeParameters parse_rope_object(const JsonFields& rope, double theta, const ModelConfig& out,
                                 const JsonFields& config, bool nested) {
  RopeParameters p;
  p.theta = rope.has("rope_theta") ? rope.get_double("rope_theta") : theta;
  KV_CHECK(std::isfinite(p.theta) && p.theta > 0 && p.theta < 1e30, rope.source(),
           ": rope_theta must be a positive number, got ", p.theta);
  // Below 1 the rotation frequencies 1 / theta^(2i/d) exceed 1 and grow without bound (1e-300 gives infinite
  // angles and NaN logits); no model uses such a base.
  KV_CHECK(p.theta >= 1, rope.source(), ": rope_theta must be at least 1 (models use 10000 to 1e8), got ", p.theta);
  std::string type = rope.has("rope_type") ? rope.get_string("rope_type") : rope.get_string("type", "default");
  if (type == "su") type = "longrope";  // Phi-3's first name for it, as transformers maps it
  RopeScaling& s = p.scaling;
  const double max_pos = static_cast<double>(out.max_position_embeddings);
  const char* kOriginal = "original_max_position_embeddings";
  const bool top_level_original = !nested && config.has(kOriginal);
  auto original_max = [&](std::int64_t fallback) {
    return top_level_original ? config.get_int(kOriginal) : rope.get_int(kOriginal, fallback);
  };
  if (type == "default") return p;
  if (type == "linear" || type == "dynamic") {
    s.type = type == "linear" ? RopeScaling::Type::kLinear : RopeScaling::Type::kDynamic;
    s.factor = positive(rope, "factor");
  } else if (type == "llama3") {
    s.type = RopeScaling::Type::kLlama3;
    s.factor = positive(rope, "factor");
    s.low_freq_factor = positive(rope, "low_freq_factor");
    s.high_freq_factor = positive(rope, "high_freq_factor");
    s.original_max_position_embeddings = top_level_original ? config.get_int(kOriginal) : rope.get_int(kOriginal);
    KV_CHECK(s.high_freq_factor != s.low_freq_factor, rope.source(),
             ": llama3 rope scaling needs high_freq_factor != low_freq_factor");
  } else if (type == "yarn") {
    s.type = RopeScaling::Type::kYarn;
    s.original_max_position_embeddings = original_max(out.max_position_embeddings);
    s.factor = rope.has("factor") ? positive(rope, "factor")
                                  : max_pos / static_cast<double>(s.original_max_position_embeddings);
    // transformers: `beta_fast or 32`, `beta_slow or 1` (a 0 falls back too)
    s.beta_fast = rope.has("beta_fast") && rope.get_double("beta_fast") != 0 ? positive(rope, "beta_fast") : 32.0;
    s.beta_slow = rope.has("beta_slow") && rope.get_double("beta_slow") != 0 ? positive(rope, "beta_slow") : 1.0;
    s.truncate = rope.get_bool("truncate", true);
    const double mscale = rope.get_double("mscale", 0.0), mscale_all_dim = rope.get_double("mscale_all_dim", 0.0);
    if (rope.has("attention_factor")) {
      s.attention_factor = positive(rope, "attention_factor");
    } else if (mscale != 0 && mscale_all_dim != 0) {
      s.attention_factor = yarn_mscale(s.factor, mscale) / yarn_mscale(s.factor, mscale_all_dim);
    } else {
      s.attention_factor = yarn_mscale(s.factor);
    }
  } else if (type == "longrope") {
    s.type = RopeScaling::Type::kLongRope;
    s.original_max_position_embeddings = original_max(out.max_position_embeddings);
    const double original = static_cast<double>(s.original_max_position_embeddings);
    // Phi-3 extends max_position_embeddings beyond the original: the ratio is the factor unless one is given.
    s.factor = rope.has("factor") ? positive(rope, "factor") : max_pos / original;
    if (rope.has("attention_factor")) {
      s.attention_factor = positive(rope, "attention_factor");
    } else {
      s.attention_factor = s.factor <= 1.0 ? 1.0 : std::sqrt(1 + std::log(s.factor) / std::log(original));
    }
    s.short_factor = factor_list(rope, "short_factor", out.rotary_dim / 2);
    s.long_factor = factor_list(rope, "long_factor", out.rotary_dim / 2);
  } else {
    fail(rope.source(), ": rope type '", type,
         "' is not supported (supported: default, linear, llama3, dynamic, yarn, longrope)");
  }
  // Positions are divided by the factor: below 1 it would stretch them past what the model was trained on (and a
  // tiny one to infinity); transformers refuses such factors too. Longrope's factor is a ratio of lengths.
  KV_CHECK(s.type == RopeScaling::Type::kLongRope || s.factor >= 1, rope.source(), ".factor must be at least 1, got ",
           s.factor);
  KV_CHECK(s.type != RopeScaling::Type::kLlama3 || s.high_freq_factor > s.low_freq_factor, rope.source(),
           " needs 0 < low_freq_factor < high_freq_factor, got ", s.low_freq_factor, " and ", s.high_freq_factor);
  KV_CHECK(s.original_max_position_embeddings >= 2 && s.original_max_position_embeddings <= (std::int64_t{1} << 30),
           rope.source(), ": original_max_position_embeddings is out of range");
  KV_CHECK(std::isfinite(s.attention_factor) && s.attention_factor > 0 && s.attention_factor < 1e3, rope.source(),
           ": the rope attention factor must be a positive number, got ", s.attention_factor);
  return p;
}

}  // namespace

void parse_rope(const JsonFields& config, ModelConfig& out) {
  const double theta = config.get_double("rope_theta", 10000.0);
  const nlohmann::json* object = &kEmpty;
  std::string where = "rope_parameters";
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (config.has(key)) {
      object = &config.raw(key);
      where = key;
      break;
    }
  }
  KV_CHECK(object->is_object(), config.source(), ": ", where, " must be an object");
  const JsonFields rope(*object, config.source() + ": " + where);  // errors read "<file>: rope_scaling.factor ..."
  // Partial rotary (Phi-4-mini): the top-level key (which transformers' standardize_rope_params lets win), or
  // transformers 5's place inside rope_parameters.
  const double partial = config.has("partial_rotary_factor") ? config.get_double("partial_rotary_factor")
                                                             : rope.get_double("partial_rotary_factor", 1.0);
  KV_CHECK(std::isfinite(partial) && partial > 0 && partial <= 1, config.source(),
           ": partial_rotary_factor must be in (0, 1], got ", partial);
  out.rotary_dim = static_cast<std::int64_t>(static_cast<double>(out.head_dim) * partial);
  KV_CHECK(out.rotary_dim >= 2 && out.rotary_dim % 2 == 0, config.source(), ": head_dim x partial_rotary_factor (",
           out.rotary_dim, ") must be a positive even number");
  // Nested per layer type (Gemma 3 in transformers 5): the full-attention layers' and the sliding layers'.
  if (rope.has("full_attention") || rope.has("sliding_attention")) {
    const JsonFields full(rope.has("full_attention") ? rope.raw("full_attention") : kEmpty, rope.source() + ".full_attention");
    const RopeParameters global = parse_rope_object(full, theta, out, config, /*nested=*/true);
    out.rope_theta = global.theta;
    out.rope_scaling = global.scaling;
    if (rope.has("sliding_attention")) {
      const JsonFields local(rope.raw("sliding_attention"), rope.source() + ".sliding_attention");
      out.sliding_rope =
          parse_rope_object(local, config.get_double("rope_local_base_freq", 10000.0), out, config, /*nested=*/true);
    }
    return;
  }
  const RopeParameters global = parse_rope_object(rope, theta, out, config, /*nested=*/false);
  out.rope_theta = global.theta;
  out.rope_scaling = global.scaling;
}

}  // namespace kvbench
