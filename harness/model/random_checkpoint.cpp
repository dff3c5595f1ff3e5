#include "harness/model/random_checkpoint.h"

#include <cmath>
#include <cstdio>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/model/family.h"
#include "harness/model/model_config.h"
#include "harness/model/safetensors.h"
#include "harness/model/tensor_util.h"
#include "harness/model/weights.h"

namespace kvbench {

nlohmann::json random_model_config(const RandomModelSpec& s) {
  const ModelFamily* fam = find_model_family_by_name(s.family);
  KV_CHECK(fam != nullptr, "unknown family '", s.family, "' (use one of: ", [] {
    std::string all;
    for (const auto& n : family_names()) all += (all.empty() ? "" : ", ") + n;
    return all;
  }(), ")");
  KV_CHECK(s.num_heads % s.num_kv_heads == 0 && (s.head_dim > 0 || s.hidden_size % s.num_heads == 0),
           "random model: heads must divide hidden size (or give a head dim) and KV heads must divide heads");
  nlohmann::json c = {{"architectures", {fam->architecture}},
                      {"model_type", fam->model_type},
                      {"vocab_size", s.vocab_size},
                      {"hidden_size", s.hidden_size},
                      {"intermediate_size", s.intermediate_size},
                      {"num_hidden_layers", s.num_layers},
                      {"num_attention_heads", s.num_heads},
                      {"num_key_value_heads", s.num_kv_heads},
                      {"max_position_embeddings", s.max_position_embeddings},
                      {"rms_norm_eps", 1e-5},
                      {"rope_theta", s.rope_theta},
                      {"rope_scaling", s.rope_scaling},
                      {"hidden_act", "silu"},
                      {"tie_word_embeddings", s.tie_word_embeddings},
                      {"torch_dtype", s.dtype == "f32" ? "float32" : s.dtype == "bf16" ? "bfloat16" : "float16"},
                      {"bos_token_id", 1},
                      {"eos_token_id", 2}};
  // The keys the families read beyond the shared ones (each family ignores the others').
  c["attention_bias"] = s.attention_bias;
  c["sliding_window"] = nullptr;
  if (fam->tiny_config != nullptr) fam->tiny_config(s, c);
  KV_CHECK(s.config_overrides.is_object(), "random model: config overrides must be a JSON object");
  for (auto it = s.config_overrides.begin(); it != s.config_overrides.end(); ++it) c[it.key()] = it.value();
  if (fam->text_config == nullptr) return c;
  // A multimodal checkpoint: the language model's config nested, as transformers writes it.
  nlohmann::json text = c;
  text.erase("architectures");
  text["model_type"] = std::string(fam->model_type) + "_text";
  return {{"architectures", {fam->architecture}},
          {"model_type", fam->model_type},
          {"tie_word_embeddings", s.tie_word_embeddings},
          {"torch_dtype", c["torch_dtype"]},
          {fam->text_config, text}};
}

std::map<std::string, at::Tensor> write_random_checkpoint(const std::string& dir, const RandomModelSpec& s) {
  const nlohmann::json config = random_model_config(s);
  paths::create_directories(dir);
  // Which tensors exist (biases, norms, experts) is the family's business: parse the config as a load would.
  const ModelConfig parsed = parse_model_config(config, dir);

  at::Generator gen = at::detail::createCPUGenerator(s.seed);
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  std::map<std::string, at::Tensor> w;
  for (const WeightSpec& spec : weight_specs(parsed)) {
    const std::int64_t fan_in = spec.shape.back();
    switch (spec.role) {
      case WeightRole::kEmbedding: w[spec.name] = at::normal(0.0, 1.0, spec.shape, gen, f32); break;
      case WeightRole::kMatrix: {
        // 1/sqrt(fan_in) gives peaked, non-degenerate logits.
        const double std = s.init_std > 0 ? s.init_std : 1.0 / std::sqrt(static_cast<double>(fan_in));
        w[spec.name] = at::normal(0.0, std, spec.shape, gen, f32);
        break;
      }
      case WeightRole::kBias: w[spec.name] = at::normal(0.0, 0.25, spec.shape, gen, f32); break;
      case WeightRole::kNorm: {
        // Scales around 1 (not exactly 1) so that a missing norm multiplication would show in the tests; Gemma's
        // norms scale by (1 + w), so theirs are drawn around 0.
        const at::Tensor noise = 0.1 * at::normal(0.0, 1.0, spec.shape, gen, f32);
        w[spec.name] = parsed.norm_unit_offset ? noise : 1.0 + noise;
        break;
      }
    }
  }

  // Round through the on-disk dtype so that the returned weights are exactly what a loader reads back.
  const at::ScalarType disk = parse_compute_dtype(s.dtype);
  const DType disk_dtype = disk == at::kFloat ? DType::F32 : disk == at::kBFloat16 ? DType::BF16 : DType::F16;
  std::map<std::string, at::Tensor> on_disk;
  for (auto& [name, t] : w) {
    on_disk[name] = t.to(disk).contiguous();
    t = on_disk[name].to(at::kFloat);
  }

  const std::int64_t shards = std::max<std::int64_t>(1, s.shards);
  std::vector<std::vector<TensorToWrite>> per_shard(shards);
  nlohmann::json weight_map = nlohmann::json::object();
  std::int64_t i = 0;
  auto shard_name = [&](std::int64_t k) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "model-%05lld-of-%05lld.safetensors", static_cast<long long>(k + 1),
                  static_cast<long long>(shards));
    return std::string(buf);
  };
  for (const auto& [name, t] : on_disk) {
    const std::int64_t k = (i++) % shards;
    per_shard[k].push_back({name, disk_dtype, t.sizes().vec(), t.data_ptr(), static_cast<std::size_t>(t.nbytes())});
    weight_map[name] = shard_name(k);
  }
  if (shards == 1) {
    write_safetensors(paths::join(dir, "model.safetensors"), per_shard[0], {{"format", "pt"}});
  } else {
    for (std::int64_t k = 0; k < shards; ++k)
      write_safetensors(paths::join(dir, shard_name(k)), per_shard[k], {{"format", "pt"}});
    write_json_file(paths::join(dir, "model.safetensors.index.json"),
                    nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}});
  }
  write_json_file(paths::join(dir, "config.json"), config);
  return w;
}

}  // namespace kvbench
