// kvbench run: runs a job from a config file, or the embedded default (configs/smoke.json) without one.
// Today's job: one prompt, prefilled once, one compressed cache per policy from that prefill, greedy decode
// with each, a table on stdout and report.json in the output directory.
#include <iomanip>
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/cli/options.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/log.h"
#include "harness/common/paths.h"
#include "harness/engine/engine.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/tensor_util.h"
#include "kvbench/embedded_config.h"
#include "kvbench/version.h"

namespace kvbench::cli {
namespace {

struct RunConfig {
  std::string name, output_dir, model_dir, device = "cpu", dtype = "auto";
  std::optional<RandomModelSpec> random_model;
  std::vector<std::int64_t> prompt_ids;
  std::int64_t random_prompt_tokens = 0;
  std::uint64_t random_prompt_seed = 0;
  std::int64_t max_new_tokens = 32;
  std::int64_t warmup_tokens = 0;  ///< an untimed prefill of this many tokens first (kernel and allocator warm-up)
  std::vector<PolicySpec> policies;
};

RunConfig parse_run_config(const nlohmann::json& json, const std::string& source) {
  const JsonFields top(json, source);
  top.expect_only({"name", "output_dir", "model", "prompt", "max_new_tokens", "warmup_tokens", "policies"});
  RunConfig rc;
  rc.name = top.get_string("name", "run");
  rc.output_dir = top.get_string("output_dir", "results/" + rc.name);
  rc.max_new_tokens = top.get_int("max_new_tokens", 32);
  rc.warmup_tokens = top.get_int("warmup_tokens", 0);
  KV_CHECK(rc.warmup_tokens >= 0, source, ": warmup_tokens must be >= 0");

  const JsonFields model(top.raw("model"), source + ": model");
  model.expect_only({"path", "random", "device", "dtype"});
  rc.device = model.get_string("device", "cpu");
  rc.dtype = model.get_string("dtype", "auto");
  KV_CHECK(model.has("path") != model.has("random"), source, ": model needs exactly one of 'path' and 'random'");
  if (model.has("path")) {
    rc.model_dir = model.get_string("path");
  } else {
    const JsonFields r(model.raw("random"), source + ": model.random");
    r.expect_only({"family", "layers", "hidden", "intermediate", "heads", "kv_heads", "vocab", "seed"});
    RandomModelSpec s;
    s.family = r.get_string("family", s.family);
    s.num_layers = r.get_int("layers", s.num_layers);
    s.hidden_size = r.get_int("hidden", s.hidden_size);
    s.intermediate_size = r.get_int("intermediate", s.intermediate_size);
    s.num_heads = r.get_int("heads", s.num_heads);
    s.num_kv_heads = r.get_int("kv_heads", s.num_kv_heads);
    s.vocab_size = r.get_int("vocab", s.vocab_size);
    s.seed = static_cast<std::uint64_t>(r.get_int("seed", 0));
    rc.random_model = s;
    rc.model_dir = paths::join(rc.output_dir, "model");
  }

  const JsonFields prompt(top.raw("prompt"), source + ": prompt");
  prompt.expect_only({"ids", "random_ids"});
  if (prompt.has("ids")) {
    for (const auto& id : prompt.raw("ids")) {
      KV_CHECK(id.is_number_integer(), source, ": prompt.ids must be a list of integers");
      rc.prompt_ids.push_back(id.get<std::int64_t>());
    }
  } else {
    const JsonFields r(prompt.raw("random_ids"), source + ": prompt.random_ids");
    r.expect_only({"tokens", "seed"});
    rc.random_prompt_tokens = r.get_int("tokens");
    rc.random_prompt_seed = static_cast<std::uint64_t>(r.get_int("seed", 0));
    KV_CHECK(rc.random_prompt_tokens > 0, source, ": prompt.random_ids.tokens must be positive");
  }

  const auto& policies = top.raw("policies");
  KV_CHECK(policies.is_array() && !policies.empty(), source, ": 'policies' must be a non-empty list");
  for (const auto& p : policies) {
    const JsonFields f(p, source + ": policies[]");
    f.expect_only({"name", "budget", "params"});
    PolicySpec spec;
    spec.name = f.get_string("name");
    spec.budget = parse_budget(f.raw("budget"), source + ": policies[].budget");
    if (f.has("params")) spec.params = f.raw("params");
    rc.policies.push_back(spec);
  }
  return rc;
}

void run_job(const RunConfig& rc) {
  const at::Device device = parse_device(rc.device);
  std::vector<std::unique_ptr<EvictionPolicy>> policies;
  for (const auto& spec : rc.policies) policies.push_back(make_policy(spec));

  if (rc.random_model) {
    log::info("writing a random-weights ", rc.random_model->family, " checkpoint to ", rc.model_dir);
    write_random_checkpoint(rc.model_dir, *rc.random_model);
  }
  const ModelConfig config = load_model_config(rc.model_dir);
  at::ScalarType dtype = rc.dtype == "auto" ? (device.is_cpu() ? at::kFloat : at::kBFloat16) : parse_compute_dtype(rc.dtype);
  const auto model = Transformer::load(rc.model_dir, device, dtype);
  const Engine engine(*model);

  std::vector<std::int64_t> ids = rc.prompt_ids;
  if (ids.empty()) {
    at::Generator gen = at::detail::createCPUGenerator(rc.random_prompt_seed);
    const at::Tensor t = at::randint(3, config.vocab_size, {rc.random_prompt_tokens}, gen, at::kLong);
    ids = to_int_vector(t);
  }

  std::vector<EvictionPolicy*> raw;
  for (auto& p : policies) raw.push_back(p.get());
  if (rc.warmup_tokens > 0) {
    const std::vector<std::int64_t> warm(ids.begin(), ids.begin() + std::min<std::int64_t>(rc.warmup_tokens, ids.size()));
    engine.prefill(warm, raw, PrefillOptions{});
  }
  PrefillResult prefilled = engine.prefill(ids, raw, PrefillOptions{});
  log::info("prefilled ", ids.size(), " tokens once for ", raw.size(), " policies in ", log::fixed(prefilled.seconds * 1e3, 1),
            " ms");

  GenerateOptions gen;
  gen.max_new_tokens = rc.max_new_tokens;
  nlohmann::json rows = nlohmann::json::array();
  std::vector<std::int64_t> reference;
  std::cout << std::left << std::setw(34) << "policy" << std::right << std::setw(12) << "KV bytes" << std::setw(14)
            << "compress ms" << std::setw(10) << "tok/s" << std::setw(16) << "same as first" << "\n";
  for (std::size_t i = 0; i < raw.size(); ++i) {
    KvCache& cache = prefilled.caches[i];
    const std::int64_t kv_bytes = cache.bytes_used();
    const GenerationResult out = engine.decode(cache, prefilled.last_logits, gen);
    if (i == 0) reference = out.output_ids;
    std::size_t agree = 0;
    while (agree < out.output_ids.size() && agree < reference.size() && out.output_ids[agree] == reference[agree]) ++agree;
    const double tps = out.decode_seconds > 0 ? out.decode_steps / out.decode_seconds : 0.0;
    rows.push_back({{"policy", raw[i]->describe()},
                    {"budget", raw[i]->resolved_budget()},
                    {"compression_seconds", prefilled.policy_seconds[i]},
                    {"prompt_kv_bytes", kv_bytes},
                    {"output_ids", out.output_ids},
                    {"decode_tokens_per_second", tps},
                    {"tokens_matching_first_policy", agree}});
    std::cout << std::left << std::setw(34) << raw[i]->describe().substr(0, 33) << std::right << std::setw(12) << kv_bytes
              << std::setw(14) << std::fixed << std::setprecision(2) << prefilled.policy_seconds[i] * 1e3 << std::setw(10)
              << std::setprecision(0) << tps << std::setw(10) << agree << "/" << out.output_ids.size() << "\n";
  }
  double compression = 0;
  for (double s : prefilled.policy_seconds) compression += s;
  const nlohmann::json report = {{"name", rc.name},
                                 {"prefill_seconds_without_compression", prefilled.seconds - compression},
                                 {"kvbench_version", KVBENCH_VERSION},
                                 {"git_commit", KVBENCH_GIT_COMMIT},
                                 {"model", rc.model_dir},
                                 {"device", device.str()},
                                 {"dtype", short_dtype_name(dtype)},
                                 {"prompt_tokens", ids.size()},
                                 {"prefill_seconds", prefilled.seconds},
                                 {"variants", rows}};
  const std::string path = paths::join(rc.output_dir, "report.json");
  write_file_atomic(path, report.dump(2) + "\n");
  std::cout << "report: " << path << std::endl;
}

}  // namespace

Command add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "run a job from a config file (default: the embedded smoke run)");
  auto config = std::make_shared<std::string>();
  cmd->add_option("--config", *config, "JSON config (comments allowed); omit for the embedded default");
  return {cmd, [config] {
            const bool embedded = config->empty();
            const nlohmann::json json =
                embedded ? nlohmann::json::parse(kEmbeddedDefaultConfig, nullptr, true, /*ignore_comments=*/true)
                         : read_json_file(*config, /*allow_comments=*/true);
            run_job(parse_run_config(json, embedded ? kEmbeddedDefaultConfigSource : *config));
          }};
}

}  // namespace kvbench::cli
