#include "harness/cli/options.h"

#include <iostream>

#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/model/tensor_util.h"

namespace kvbench::cli {

void ModelOptions::add_to(CLI::App* cmd, bool need_device) {
  cmd->add_option("--model", model_dir, "HuggingFace checkpoint directory (config.json + safetensors)")->required();
  if (!need_device) return;
  cmd->add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", dtype, "compute dtype: auto, f32, bf16 or f16 (auto: f32 on CPU, bf16/f16 on CUDA)")
      ->capture_default_str();
}

SessionSpec ModelOptions::session(const std::string& tokenizer, const std::string& chat) const {
  SessionSpec s;
  s.model_path = model_dir;
  s.tokenizer = tokenizer;
  s.device = device;
  s.dtype = dtype;
  s.chat = chat;
  return s;
}

void PolicyOptions::add_to(CLI::App* cmd) {
  std::string names;
  for (const auto& n : policy_names()) names += (names.empty() ? "" : ", ") + n;
  cmd->add_option("--policy", name, "eviction policy: " + names)->capture_default_str();
  cmd->add_option("--reference", reference, "whose conventions the policy follows: kvbench, kvpress, kvcache_factory, "
                  "adakv or snapkv (docs/policies.md)")->capture_default_str();
  cmd->add_option("--budget", budget, "tokens kept per cache head per layer (window included; KVCache-Factory's "
                  "max_capacity_prompt)");
  cmd->add_option("--evict", evict, "budget as an eviction rate: 0.9 keeps round(0.1 T) of the prompt (window included)");
  cmd->add_option("--compression-ratio", compression_ratio, "budget as kvpress's compression ratio: 0.9 keeps "
                  "int(0.1 T) (truncated)");
  cmd->add_option("--kv-bytes", kv_bytes, "budget as KV-cache bytes, e.g. 256MiB");
  cmd->add_option("--policy-param", params, "policy parameter key=value (repeatable), e.g. sinks=4");
}

PolicySpec PolicyOptions::spec() const {
  PolicySpec spec;
  spec.name = name;
  spec.reference = reference;
  const int given = (budget != 0) + (evict >= 0) + (compression_ratio >= 0) + !kv_bytes.empty();
  KV_CHECK(given <= 1, "give one of --budget, --evict, --compression-ratio and --kv-bytes");
  if (budget != 0) spec.budget = budget;
  if (evict >= 0) spec.budget = BudgetSpec::evict_rate(evict);
  if (compression_ratio >= 0) spec.budget = BudgetSpec::compression_ratio(compression_ratio);
  if (!kv_bytes.empty()) spec.budget = BudgetSpec::kv_bytes(parse_bytes(kv_bytes, "--kv-bytes"));
  for (const auto& kv : params) {
    const auto eq = kv.find('=');
    KV_CHECK(eq != std::string::npos && eq > 0, "--policy-param expects key=value, got '", kv, "'");
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    // Numbers, booleans and JSON literals keep their type; anything else is a string.
    spec.params[key] = json_or_string(value, "--policy-param " + key);
  }
  return spec;
}

std::vector<std::int64_t> parse_id_list(const std::string& text, const std::string& what) {
  std::vector<std::int64_t> ids;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  skip_space();
  while (i < text.size()) {
    const std::size_t start = i;
    if (text[i] == '-' || text[i] == '+') ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    const std::string number = text.substr(start, i - start);
    KV_CHECK(!number.empty() && number != "-" && number != "+", what, ": expected a comma-separated list of integers, got '",
             text, "'");
    try {
      ids.push_back(std::stoll(number));
    } catch (const std::exception&) {
      fail(what, ": '", number, "' is out of range");
    }
    skip_space();
    if (i < text.size()) {
      KV_CHECK(text[i] == ',', what, ": expected ',' at offset ", i, " of '", text, "'");
      ++i;
      skip_space();
      KV_CHECK(i < text.size(), what, ": trailing comma in '", text, "'");
    }
  }
  return ids;
}

void print_json(const nlohmann::json& value) { std::cout << value.dump() << std::endl; }

}  // namespace kvbench::cli
