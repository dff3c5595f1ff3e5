#include "harness/runner/run_config.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "datasets/subset.h"
#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/common/unicode.h"
#include "harness/common/sha256.h"
#include "harness/common/system.h"
#include "harness/engine/engine.h"
#include "harness/runner/bench.h"
#include "harness/stats/coverage.h"
#include "policies/components.h"

namespace kvbench {
namespace {

// Bounds that hold any real run (a prompt of 16M tokens, a million samples) and keep the plan's up-front work
// finite; the model's limits and the device's memory are checked later against the checkpoint (run_checks.h).
constexpr std::int64_t kMaxTokens = std::int64_t{1} << 24;
constexpr std::int64_t kMaxSamples = 1'000'000;
constexpr std::int64_t kMaxSynthTokens = std::int64_t{1} << 28;

// prompt.random_ids: `count` prompts of `tokens` random ids, or a workload `shape` (longbench16).
void parse_random_prompts(const JsonFields& r, const std::string& source, RunConfig& rc) {
  r.expect_only({"tokens", "seed", "count", "shape", "per_subset", "max_tokens", "tokens_per_word"});
  rc.random_prompt_seed = r.get_seed("seed", 0);
  rc.random_prompts.clear();
  if (r.has("shape")) {
    KV_CHECK(!r.has("tokens") && !r.has("count"), source, ": prompt.random_ids.shape sets every prompt's length and "
             "count; give per_subset (and max_tokens, tokens_per_word), not tokens or count");
    const std::string shape = r.get_string("shape");
    KV_CHECK(shape == "longbench16", source, ": unknown prompt.random_ids.shape '", shape, "' (use longbench16)");
    const std::int64_t per_subset = r.get_int("per_subset", 1), max_tokens = r.get_int("max_tokens", 31500);
    const double per_word = r.get_double("tokens_per_word", 1.3);
    KV_CHECK(per_subset >= 1 && per_subset * 16 <= kMaxSamples, source, ": prompt.random_ids.per_subset must be between 1 and ",
             kMaxSamples / 16, ", got ", per_subset);
    KV_CHECK(max_tokens >= 1 && max_tokens <= kMaxTokens, source, ": prompt.random_ids.max_tokens must be between 1 and ",
             kMaxTokens, ", got ", max_tokens);
    KV_CHECK(per_word > 0 && per_word <= 100, source, ": prompt.random_ids.tokens_per_word must be in (0, 100], got ", per_word);
    for (const LongBenchShape& s : longbench16_shapes()) {
      const std::int64_t tokens = std::min<std::int64_t>(
          max_tokens, std::max<std::int64_t>(1, std::llround(static_cast<double>(s.average_words) * per_word)));
      for (std::int64_t i = 0; i < per_subset; ++i)
        rc.random_prompts.push_back({std::string(s.subset) + "-" + std::to_string(i), tokens, find_subset(s.subset).max_new_tokens});
    }
  } else {
    const std::int64_t tokens = r.get_int("tokens"), count = r.get_int("count", 1);
    KV_CHECK(count >= 1 && count <= kMaxSamples, source, ": prompt.random_ids.count must be between 1 and ", kMaxSamples,
             ", got ", count);
    KV_CHECK(tokens > 0 && tokens <= kMaxTokens, source, ": prompt.random_ids.tokens must be between 1 and ", kMaxTokens,
             ", got ", tokens);
    for (std::int64_t i = 0; i < count; ++i)
      rc.random_prompts.push_back({count == 1 ? "prompt" : "prompt-" + std::to_string(i), tokens, 0});
  }
  rc.random_prompt_tokens = 0;
  for (const auto& p : rc.random_prompts) rc.random_prompt_tokens = std::max(rc.random_prompt_tokens, p.tokens);
}


std::vector<std::string> string_list(const nlohmann::json& v, const std::string& where) {
  if (v.is_string()) return {v.get<std::string>()};
  KV_CHECK(v.is_array(), where, " must be a string or a list of strings");
  std::vector<std::string> out;
  for (const auto& x : v) {
    KV_CHECK(x.is_string(), where, " must be a list of strings, found ", x.dump());
    out.push_back(x.get<std::string>());
  }
  return out;
}

// "128", "evict0.9", "kv268435456": short, file-name safe.
std::string budget_label(const BudgetSpec& b) {
  switch (b.kind) {
    case BudgetSpec::Kind::kNone: return "";
    case BudgetSpec::Kind::kTokens: return std::to_string(static_cast<std::int64_t>(b.value));
    case BudgetSpec::Kind::kEvictRate: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "evict%g", b.value);
      return buf;
    }
    case BudgetSpec::Kind::kKvBytes: return "kv" + std::to_string(static_cast<std::int64_t>(b.value));
    case BudgetSpec::Kind::kCompressionRatio: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "cr%g", b.value);
      return buf;
    }
    case BudgetSpec::Kind::kMaxCapacityPrompt: return "mcp" + std::to_string(static_cast<std::int64_t>(b.value));
  }
  return "";
}

bool takes_budget(const std::string& policy) { return policy != "full"; }

}  // namespace

void apply_overrides(nlohmann::json& config, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    KV_CHECK(eq != std::string::npos && eq > 0, "--set expects key=value, got '", o, "'");
    // Everything in a config ends up in JSON files, which hold UTF-8 only.
    KV_CHECK(unicode::is_valid_utf8(o), "--set '", unicode::sanitize_utf8(o), "': not valid UTF-8");
    const std::string key = o.substr(0, eq), text = o.substr(eq + 1);
    const nlohmann::json value = json_or_string(text, "--set " + key);
    nlohmann::json* node = &config;
    std::size_t start = 0;
    while (true) {
      const auto dot = key.find('.', start);
      const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      KV_CHECK(!part.empty(), "--set: empty key part in '", key, "'");
      if (!node->is_object()) *node = nlohmann::json::object();
      if (dot == std::string::npos) {
        (*node)[part] = value;
        break;
      }
      node = &(*node)[part];
      start = dot + 1;
    }
  }
}

namespace {

// model: the checkpoint (or a random one written by the run) and how to run it.
void parse_model(const JsonFields& top, const std::string& source, RunConfig& rc) {
  KV_CHECK(top.has("model"), source, ": missing required key 'model'");
  const JsonFields model(top.raw("model"), source + ": model");
  model.expect_only({"path", "random", "tokenizer", "device", "dtype", "max_length", "chat", "prefill_chunk",
                     "batch_decode", "decode", "samples_in_flight", "in_flight_memory", "sliding_layers"});
  KV_CHECK(model.has("path") != model.has("random"), source, ": model needs exactly one of 'path' and 'random'");
  rc.device = model.get_nonempty("device", "cpu");
  rc.dtype = model.get_nonempty("dtype", "auto");
  rc.tokenizer = model.get_nonempty("tokenizer", "");
  rc.max_length = model.get_int("max_length", 3500);
  // Middle truncation keeps max_length / 2 tokens of each end: below 2 it keeps nothing of the prompt.
  KV_CHECK(rc.max_length >= 2 && rc.max_length <= kMaxTokens, source, ": model.max_length must be between 2 and ",
           kMaxTokens, ", got ", rc.max_length);
  rc.chat = model.get_nonempty("chat", "auto");
  rc.prefill_chunk = model.get_int_in("prefill_chunk", 0, kMaxTokens, 0);
  rc.batch_decode = model.get_string("batch_decode", "auto");
  KV_CHECK(rc.batch_decode == "auto" || rc.batch_decode == "on" || rc.batch_decode == "off", source,
           ": model.batch_decode must be auto, on or off, got '", rc.batch_decode, "'");
  rc.decode_path = model.get_string("decode", "auto");
  const auto& paths_allowed = decode_path_names();
  KV_CHECK(std::find(paths_allowed.begin(), paths_allowed.end(), rc.decode_path) != paths_allowed.end(), source,
           ": model.decode must be auto, graph, ragged or reference, got '", rc.decode_path, "'");
  // "auto" or a count / a number of bytes.
  const auto auto_or_int = [&](const char* key, std::int64_t low, std::int64_t high, const char* what) -> std::int64_t {
    if (!model.has(key) || (model.raw(key).is_string() && model.get_string(key) == "auto")) return 0;
    KV_CHECK(model.raw(key).is_number_integer(), source, ": model.", key, " must be \"auto\" or ", what, ", got ",
             model.raw(key).dump());
    const std::int64_t v = model.get_int(key);
    KV_CHECK(v >= low && v <= high, source, ": model.", key, " must be \"auto\" or ", what, " in [", low, ", ", high,
             "], got ", v);
    return v;
  };
  rc.samples_in_flight = auto_or_int("samples_in_flight", 1, 4096, "a number of samples");
  rc.in_flight_memory = auto_or_int("in_flight_memory", std::int64_t{1} << 20, std::int64_t{1} << 50, "a number of bytes");
  rc.sliding_layers = model.get_string("sliding_layers", "auto");
  parse_sliding_layers(rc.sliding_layers, source + ": model.sliding_layers");
  if (model.has("path")) {
    rc.model_path = model.get_nonempty("path", "");
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
    s.seed = r.get_seed("seed", 0);
    rc.random_model = s;
    rc.model_path = paths::join(rc.output_dir, "model");
  }

}

// What to evaluate: LongBench/synthetic subsets, or raw prompt ids.
void parse_inputs(const JsonFields& top, const std::string& source, RunConfig& rc) {
  KV_CHECK(top.has("datasets") != top.has("prompt"), source, ": give exactly one of 'datasets' (LongBench subsets) "
           "and 'prompt' (one raw prompt of token ids)");
  if (top.has("datasets")) {
    const JsonFields d(top.raw("datasets"), source + ": datasets");
    d.expect_only({"names", "data_dir", "limit", "ids", "skip_bad_rows", "synth"});
    KV_CHECK(d.has("names"), source, ": datasets: missing required key 'names'");
    std::set<std::string> seen;
    for (const auto& group : string_list(d.raw("names"), source + ": datasets.names")) {
      for (const SubsetSpec* s : subsets_in(group)) {
        const std::string name = is_longbench_e(group) ? group : s->name;
        if (group == "longbench-e") {
          if (seen.insert(s->name + "_e").second) rc.subsets.push_back(s->name + "_e");
        } else if (seen.insert(name).second) {
          rc.subsets.push_back(name);
        }
      }
    }
    rc.data_dir = d.get_nonempty("data_dir", "");
    if (d.has("limit")) {
      const std::int64_t limit = d.get_int("limit");
      KV_CHECK(limit >= 1, source, ": datasets.limit must be >= 1");
      rc.limit = static_cast<std::size_t>(limit);
    }
    if (d.has("ids")) rc.ids = string_list(d.raw("ids"), source + ": datasets.ids");
    rc.skip_bad_rows = d.get_bool("skip_bad_rows", false);
    if (d.has("synth")) {
      const JsonFields y(d.raw("synth"), source + ": datasets.synth");
      y.expect_only({"tokens", "count", "seed", "haystack"});
      RunConfig::Synth synth;
      synth.tokens = y.get_int("tokens", synth.tokens);
      synth.count = y.get_int("count", synth.count);
      synth.seed = y.get_seed("seed", synth.seed);
      synth.haystack = y.get_nonempty("haystack", "");
      KV_CHECK(synth.tokens > 0 && synth.count > 0, source, ": datasets.synth.tokens and .count must be positive");
      KV_CHECK(synth.count <= kMaxSamples, source, ": datasets.synth.count must be at most ", kMaxSamples, ", got ",
               synth.count);
      KV_CHECK(synth.tokens <= kMaxTokens && synth.tokens * synth.count <= kMaxSynthTokens, source,
               ": datasets.synth.tokens x count (", synth.tokens, " x ", synth.count, ") must be at most ",
               kMaxSynthTokens, " tokens, and tokens at most ", kMaxTokens, " (every sample is made up front)");
      for (const auto& subset : rc.subsets)
        KV_CHECK(find_subset(subset).category == "ruler", source, ": datasets.synth generates kvbench's synthetic "
                 "tasks only, but datasets.names has '", subset, "' (use the group 'synth' or its task names)");
      rc.synth = synth;
    }
  } else {
    const JsonFields p(top.raw("prompt"), source + ": prompt");
    p.expect_only({"ids", "random_ids"});
    KV_CHECK(p.has("ids") != p.has("random_ids"), source, ": prompt needs exactly one of 'ids' and 'random_ids'");
    if (p.has("ids")) {
      KV_CHECK(p.raw("ids").is_array(), source, ": prompt.ids must be a list of token ids");
      for (const auto& id : p.raw("ids")) {
        const std::optional<std::int64_t> i = json_int64(id);
        KV_CHECK(i && *i >= 0 && *i < (std::int64_t{1} << 31), source, ": prompt.ids must be a list of token ids "
                 "(integers from 0), found ", id.dump());
        rc.prompt_ids.push_back(*i);
      }
      KV_CHECK(static_cast<std::int64_t>(rc.prompt_ids.size()) <= kMaxTokens, source, ": prompt.ids holds more than ",
               kMaxTokens, " tokens");
      KV_CHECK(!rc.prompt_ids.empty(), source, ": prompt.ids is empty");
    } else {
      parse_random_prompts(JsonFields(p.raw("random_ids"), source + ": prompt.random_ids"), source, rc);
    }
  }

}

// "protocol": one name or a list of names (each variant runs in each).
std::vector<std::string> parse_protocols(const nlohmann::json& value, const std::string& where) {
  std::vector<std::string> out;
  const nlohmann::json list = value.is_array() ? value : nlohmann::json::array({value});
  KV_CHECK(!list.empty(), where, " must name at least one protocol");
  for (const auto& p : list) {
    KV_CHECK(p.is_string(), where, " must be a protocol name or a list of them, got ", p.dump());
    const std::string name = p.get<std::string>();
    const auto& names = protocol_names();
    KV_CHECK(std::find(names.begin(), names.end(), name) != names.end(), where, ": unknown protocol '", name,
             "' (use question_aware or query_agnostic)");
    KV_CHECK(std::find(out.begin(), out.end(), name) == out.end(), where, " names '", name, "' twice");
    out.push_back(name);
  }
  return out;
}

// "decode": {"budget": B, "every": k, "window": w, "scores": "accumulated" | "window"}. H2O scores by accumulated
// attention (as the original H2O decodes); every other policy by the window's attention. The window defaults to
// the policy's own observation window.
DecodeBudget parse_decode(const nlohmann::json& value, const std::string& where, const PolicySpec& spec) {
  const JsonFields f(value, where);
  f.expect_only({"budget", "every", "window", "scores"});
  DecodeBudget d;
  d.budget = f.get_int("budget");
  KV_CHECK(d.budget >= 1 && d.budget <= kMaxTokens, where, ".budget must be between 1 and ", kMaxTokens, ", got ", d.budget);
  d.every = f.get_int("every", 1);
  KV_CHECK(d.every >= 1 && d.every <= kMaxTokens, where, ".every must be between 1 and ", kMaxTokens, ", got ", d.every);
  const std::int64_t policy_window =
      spec.params.is_object() && spec.params.contains("window") && spec.params["window"].is_number_integer()
          ? spec.params["window"].get<std::int64_t>() : ScoreConfig{}.window;
  d.window = f.get_int("window", std::min(policy_window, d.budget));
  KV_CHECK(d.window >= 0 && d.window <= d.budget, where, ".window must be between 0 and the budget (", d.budget, "), got ",
           d.window);
  const std::string scores = f.get_string("scores", spec.name == "h2o" ? "accumulated" : "window");
  KV_CHECK(scores == "accumulated" || scores == "window", where, ".scores must be accumulated or window, got '", scores, "'");
  d.accumulate = scores == "accumulated";
  return d;
}

// The variants: every policy x every budget (its own "budgets" if it has them; none for full) x every protocol.
void parse_variants(const JsonFields& top, const std::string& source, RunConfig& rc) {
  const std::vector<std::string> protocols =
      top.has("protocol") ? parse_protocols(top.raw("protocol"), source + ": 'protocol'") : std::vector<std::string>{"question_aware"};
  std::vector<BudgetSpec> budgets;
  if (top.has("budgets")) {
    KV_CHECK(top.raw("budgets").is_array(), source, ": 'budgets' must be a list");
    for (const auto& b : top.raw("budgets")) budgets.push_back(parse_budget(b, source + ": budgets[]"));
  }
  const auto& policies = top.raw("policies");
  KV_CHECK(policies.is_array() && !policies.empty(), source, ": 'policies' must be a non-empty list");
  std::set<std::string> names;
  for (std::size_t i = 0; i < policies.size(); ++i) {
    const std::string where = source + ": policies[" + std::to_string(i) + "]";
    const JsonFields f(policies[i], where);
    f.expect_only({"name", "reference", "params", "budget", "budgets", "label", "seed", "protocol", "decode"});
    const std::vector<std::string> own_protocols =
        f.has("protocol") ? parse_protocols(f.raw("protocol"), where + ".protocol") : protocols;
    const std::string policy = f.get_string("name");
    std::vector<BudgetSpec> own = budgets;
    if (f.has("budget")) own = {parse_budget(f.raw("budget"), where + ".budget")};
    if (f.has("budgets")) {
      own.clear();
      KV_CHECK(f.raw("budgets").is_array(), where, ".budgets must be a list");
      for (const auto& b : f.raw("budgets")) own.push_back(parse_budget(b, where + ".budgets[]"));
    }
    if (!takes_budget(policy)) own = {BudgetSpec{}};
    KV_CHECK(!own.empty(), where, ": '", policy, "' needs a budget: give top-level 'budgets' or its own 'budget'");
    const std::string label = f.get_string("label", policy);  // "" is refused below as a variant name
    for (const BudgetSpec& b : own) {
      for (const std::string& protocol : own_protocols) {
        Variant v;
        v.name = b.given() ? label + "-" + budget_label(b) : label;
        v.spec.name = policy;
        v.spec.reference = f.get_string("reference", "kvbench");
        v.spec.budget = b;
        v.spec.params = f.has("params") ? f.raw("params") : nlohmann::json::object();
        v.spec.seed = f.get_seed("seed", rc.seed);
        make_policy(v.spec);  // validates the name and every parameter now, before any work
        v.protocol = protocol;
        if (protocol == "query_agnostic") v.name += "-agnostic";
        const nlohmann::json* decode = f.has("decode") ? &f.raw("decode") : top.has("decode") ? &top.raw("decode") : nullptr;
        if (decode != nullptr) {
          v.decode = parse_decode(*decode, f.has("decode") ? where + ".decode" : source + ": 'decode'", v.spec);
          v.name += "-decode" + std::to_string(v.decode.budget);
        }
        paths::check_component(v.name, where + ": the variant name (label and budget)");
        KV_CHECK(names.insert(v.name).second, where, ": variant name '", v.name, "' is used twice (set a 'label')");
        rc.variants.push_back(std::move(v));
      }
    }
  }

}

// The whole configuration with every default filled in (config.resolved.json).
nlohmann::json resolved_config(const nlohmann::json& json, const RunConfig& rc) {
  nlohmann::json resolved = json;
  resolved["name"] = rc.name;
  resolved["output_dir"] = rc.output_dir;
  resolved["seed"] = rc.seed;
  resolved["model"]["device"] = rc.device;
  resolved["model"]["dtype"] = rc.dtype;
  resolved["model"]["max_length"] = rc.max_length;
  resolved["model"]["chat"] = rc.chat;
  resolved["model"]["prefill_chunk"] = rc.prefill_chunk;
  resolved["model"]["batch_decode"] = rc.batch_decode;
  resolved["model"]["decode"] = rc.decode_path;
  resolved["model"]["samples_in_flight"] = rc.samples_in_flight > 0 ? nlohmann::json(rc.samples_in_flight) : "auto";
  resolved["model"]["in_flight_memory"] = rc.in_flight_memory > 0 ? nlohmann::json(rc.in_flight_memory) : "auto";
  resolved["model"]["sliding_layers"] = rc.sliding_layers;
  if (rc.uses_datasets()) resolved["datasets"]["resolved_subsets"] = rc.subsets;
  resolved["warmup_tokens"] = rc.warmup_tokens;
  resolved["coverage_window"] = rc.coverage_window;
  nlohmann::json variants = nlohmann::json::array();
  for (const auto& v : rc.variants)
    variants.push_back({{"name", v.name}, {"policy", v.spec.name}, {"reference", v.spec.reference},
                        {"budget", v.spec.budget.to_json()},
                        {"params", v.spec.params}, {"seed", v.spec.seed}, {"protocol", v.protocol},
                        {"decode", decode_json(v.decode)}});
  resolved["resolved_variants"] = variants;
  return resolved;
}

}  // namespace

std::string evaluation_sha256(const RunConfig& rc) {
  nlohmann::json settings = rc.resolved;
  for (const char* key : {"name", "output_dir", "policies", "budgets", "protocol", "decode", "resolved_variants", "warmup_tokens"})
    settings.erase(key);
  if (settings.contains("model"))
    for (const char* key : {"path", "tokenizer", "device", "prefill_chunk", "batch_decode", "decode", "samples_in_flight",
                            "in_flight_memory"})
      settings["model"].erase(key);
  // The default sliding-layer mode leaves the digest of a run made before the key existed as it was (it changes
  // nothing on a model without windows); `window` or `compress` named explicitly is a setting of its own.
  if (settings.contains("model") && settings["model"].value("sliding_layers", "auto") == "auto")
    settings["model"].erase("sliding_layers");
  if (settings.contains("datasets")) {
    for (const char* key : {"names", "resolved_subsets", "data_dir", "limit", "ids", "skip_bad_rows"}) settings["datasets"].erase(key);
    if (settings["datasets"].contains("synth"))
      for (const char* key : {"haystack", "count"}) settings["datasets"]["synth"].erase(key);
  }
  return sha256_hex(settings.dump());  // nlohmann::json keeps keys sorted: the same settings, the same text
}

void resolve_config_paths(nlohmann::json& config, const std::string& base_dir) {
  const auto resolve = [&](nlohmann::json* object, const char* key) {
    if (object == nullptr || !object->is_object() || !object->contains(key) || !(*object)[key].is_string()) return;
    const std::string value = (*object)[key].get<std::string>();
    if (!value.empty()) (*object)[key] = paths::resolve(value, base_dir);
  };
  const auto child = [](nlohmann::json* object, const char* key) -> nlohmann::json* {
    return object != nullptr && object->is_object() && object->contains(key) ? &(*object)[key] : nullptr;
  };
  resolve(&config, "output_dir");
  resolve(child(&config, "model"), "path");
  resolve(child(&config, "model"), "tokenizer");
  resolve(child(&config, "datasets"), "data_dir");
  resolve(child(child(&config, "datasets"), "synth"), "haystack");
}

nlohmann::json prepare_run_config(nlohmann::json config, const std::string& base_dir,
                                  const std::vector<std::string>& overrides) {
  resolve_config_paths(config, base_dir);
  apply_overrides(config, overrides);
  resolve_config_paths(config, system::current_directory());
  return config;
}

nlohmann::json read_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  return prepare_run_config(read_json_file(path, /*allow_comments=*/true), paths::parent(paths::absolute(path)), overrides);
}

const std::vector<std::string>& protocol_names() {
  static const std::vector<std::string> names = {"question_aware", "query_agnostic"};
  return names;
}

nlohmann::json decode_json(const DecodeBudget& d) {
  if (!d.enabled()) return nullptr;
  return {{"budget", d.budget}, {"every", d.every}, {"window", d.window}, {"scores", d.score_name()}};
}

RunConfig parse_run_config(const nlohmann::json& json, const std::string& source) {
  const JsonFields top(json, source);
  top.expect_only({"name", "output_dir", "seed", "model", "datasets", "prompt", "max_new_tokens", "warmup_tokens",
                   "coverage_window", "policies", "budgets", "protocol", "decode"});
  RunConfig rc;
  rc.name = top.get_string("name", "run");
  paths::check_component(rc.name, source + ": 'name'");
  rc.output_dir = top.get_nonempty("output_dir", paths::join("results", rc.name));
  rc.seed = top.get_seed("seed", 0);
  if (top.has("max_new_tokens")) {
    rc.max_new_tokens = top.get_int("max_new_tokens");
    KV_CHECK(*rc.max_new_tokens >= 1 && *rc.max_new_tokens <= kMaxTokens, source,
             ": 'max_new_tokens' must be between 1 and ", kMaxTokens, ", got ", *rc.max_new_tokens);
  }
  rc.warmup_tokens = top.get_int("warmup_tokens", 0);
  KV_CHECK(rc.warmup_tokens >= 0 && rc.warmup_tokens <= kMaxTokens, source, ": 'warmup_tokens' must be between 0 and ",
           kMaxTokens, ", got ", rc.warmup_tokens);
  rc.coverage_window = top.get_int_in("coverage_window", 0, kMaxTokens, kDefaultCoverageWindow);
  rc.coverage_window_given = top.has("coverage_window");

  parse_model(top, source, rc);
  parse_inputs(top, source, rc);
  parse_variants(top, source, rc);
  rc.resolved = resolved_config(json, rc);
  return rc;
}

const std::vector<std::string>& resume_safe_keys() {
  static const std::vector<std::string> keys = {"output_dir",         "datasets.data_dir", "model.device",
                                                "model.batch_decode", "model.decode",      "model.prefill_chunk",
                                                "warmup_tokens"};
  return keys;
}

namespace {
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& path) {
  const auto& safe = resume_safe_keys();
  if (std::find(safe.begin(), safe.end(), path) != safe.end()) return "";
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const std::string& key : keys) {
      const std::string sub = path.empty() ? key : path + "." + key;
      if (!a.contains(key) || !b.contains(key)) {
        if (std::find(safe.begin(), safe.end(), sub) == safe.end()) return sub;
        continue;
      }
      if (std::string d = first_difference(a[key], b[key], sub); !d.empty()) return d;
    }
    return "";
  }
  if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::string d = first_difference(a[i], b[i], path + "[" + std::to_string(i) + "]"); !d.empty()) return d;
    return "";
  }
  return a == b ? "" : path.empty() ? "(the whole config)" : path;
}
}  // namespace

std::string resume_difference(const nlohmann::json& run, const nlohmann::json& now) {
  return first_difference(run, now, "");
}

}  // namespace kvbench
