#include "harness/runner/runner.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>

#include <torch/version.h>

#include "datasets/longbench_data.h"
#include "datasets/prompt.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/folder_lock.h"
#include "harness/common/interrupt.h"
#include "harness/common/json_util.h"
#include "harness/common/jsonl.h"
#include "harness/common/log.h"
#include "harness/common/paths.h"
#include "harness/common/sha256.h"
#include "harness/common/system.h"
#include "harness/device/fault.h"
#include "harness/device/memory.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/tensor_util.h"
#include "harness/report/report_file.h"
#include "harness/report/report_plots.h"
#include "harness/report/report_writer.h"
#include "harness/report/sample_scores.h"
#include "harness/runner/plan.h"
#include "harness/runner/progress.h"
#include "harness/runner/sample_steps.h"
#include "harness/runner/run_checks.h"
#include "harness/runner/session.h"
#include "harness/runner/workers.h"
#include "harness/stats/coverage.h"
#include "policies/components.h"
#include "kvbench/version.h"

namespace kvbench::run_steps {
using Clock = std::chrono::steady_clock;

std::int64_t peak_rss_bytes() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

SessionSpec session_spec(const RunConfig& rc, bool with_model) {
  SessionSpec s;
  s.model_path = with_model ? rc.model_path : "";
  s.tokenizer = rc.tokenizer;
  s.device = rc.device;
  s.dtype = rc.dtype;
  s.chat = rc.chat;
  return s;
}

// Finished (variant, subset, _id) triples: rows already in the prediction or error files.
std::set<std::string> finished_samples(const RunPlan& plan) {
  std::set<std::string> done;
  for (const auto& v : *plan.variants) {
    for (const auto& s : plan.subsets) {
      bool repaired = false;
      for (const std::string& file : {plan.layout.predictions(v.name, s), plan.layout.errors(v.name, s)}) {
        for (const auto& row : read_jsonl_rows(file, &repaired))
          if (row.contains("_id") && row["_id"].is_string()) done.insert(v.name + "\n" + s + "\n" + row["_id"].get<std::string>());
        if (repaired) log::warn("cut a torn last line off ", file, " (the previous run was killed mid-write)");
      }
      read_jsonl_rows(plan.layout.timing(v.name, s), &repaired);
    }
  }
  return done;
}


// Refuses a folder that holds a run (unless resuming), writes the resolved config (a resumed run keeps its first
// one) and opens a manifest session. Called with the folder locked.
nlohmann::json open_run(const RunConfig& rc, const RunOptions& options, const RunLayout& layout) {
  check_output_dir(rc, options);
  remove_stale_temporaries(rc.output_dir, 3);  // of writers killed in an earlier session
  if (!paths::exists(layout.resolved_config())) write_json_file(layout.resolved_config(), rc.resolved);
  nlohmann::json manifest = paths::exists(layout.manifest()) ? read_manifest(layout.manifest()) : nlohmann::json::object();
  manifest["kvbench_version"] = KVBENCH_VERSION;
  manifest["git_commit"] = KVBENCH_GIT_COMMIT;
  manifest["libtorch_version"] = TORCH_VERSION;
  manifest["cuda_usable"] = cuda_usable();
  if (!manifest.contains("sessions")) manifest["sessions"] = nlohmann::json::array();
  manifest["sessions"].push_back({{"start", system::utc_now()}, {"command", options.command_line},
                                  {"host", system::host_name()}, {"resumed", options.resume}});
  write_json_file(layout.manifest(), manifest);
  return manifest;
}

// Raw prompt `index` of a smoke run: the given ids, or random ids (prompt i from seed + i), made when needed.
std::vector<std::int64_t> raw_prompt(const RunConfig& rc, std::size_t index, std::int64_t vocab) {
  if (!rc.prompt_ids.empty()) return rc.prompt_ids;
  at::Generator gen = at::detail::createCPUGenerator(rc.random_prompt_seed + static_cast<std::uint64_t>(index));
  return to_int_vector(at::randint(3, vocab, {rc.random_prompts.at(index).tokens}, gen, at::kLong));
}

// New tokens of raw prompt `index`: max_new_tokens if set, else the prompt's own (a shaped workload), else 32.
std::int64_t raw_prompt_new_tokens(const RunConfig& rc, std::size_t index) {
  const std::int64_t own = rc.random_prompts.empty() ? 0 : rc.random_prompts.at(index).new_tokens;
  return rc.max_new_tokens.value_or(own > 0 ? own : 32);
}


// An untimed prefill and 2-token decode of every variant, batched as the samples will be: on CUDA the kernels
// of every shape a sample uses load here (lazily, on first use), and the decoders' graphs are captured.
void warm_up(RunState& st) {
  if (st.rc.warmup_tokens <= 0 || st.plan.tasks.empty()) return;
  std::vector<std::unique_ptr<EvictionPolicy>> warm;
  std::vector<EvictionPolicy*> raw;
  for (const auto& v : st.rc.variants) warm.push_back(make_policy(v.spec));
  for (auto& p : warm) raw.push_back(p.get());
  const std::int64_t vocab = st.session.config().vocab_size;
  std::vector<std::int64_t> ids(static_cast<std::size_t>(st.rc.warmup_tokens));
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = 3 + static_cast<std::int64_t>(i) % (vocab - 3);
  const Engine& engine = st.session.engine();
  PrefillResult warm_pre = engine.prefill(ids, raw, st.prefill_options());
  GenerateOptions gen;
  gen.max_new_tokens = 2;
  gen.decode_path = st.rc.decode_path;
  std::vector<std::size_t> all(warm_pre.caches.size());
  std::iota(all.begin(), all.end(), 0);
  for (const auto& group : decode_groups(engine, warm_pre, all, st.batch_decode, gen))
    decode_group(engine, warm_pre, group, gen);
}

// What budgets mean on the run's model's sliding-window layers (null when it has none, or no config to read).
nlohmann::json sliding_layers_json(const RunConfig& rc) {
  const bool on_disk = !rc.model_path.empty() && paths::exists(paths::join(rc.model_path, "config.json"));
  if (!rc.random_model && !on_disk) return nullptr;
  const ModelConfig c = rc.random_model ? parse_model_config(random_model_config(*rc.random_model), "model.random")
                                        : load_model_config(rc.model_path);
  if (c.sliding_window == 0) return nullptr;
  const SlidingLayers mode = resolve_sliding_layers(parse_sliding_layers(rc.sliding_layers, "model.sliding_layers"), c);
  const std::int64_t full = c.num_full_attention_layers();
  return {{"mode", sliding_layers_name(mode)}, {"window", c.sliding_window}, {"windowed_layers", c.num_layers - full},
          {"full_attention_layers", full}};
}

// How report.json labels a variant: its protocol, what its budget counts and the window it always keeps.
ReportVariantInfo report_info(const Variant& v, const nlohmann::json& sliding) {
  const std::unique_ptr<EvictionPolicy> policy = make_policy(v.spec);
  ReportVariantInfo info{v.name, v.spec.name, policy->describe(), v.spec.budget.to_json(), v.spec.params};
  info.reference = v.spec.reference;
  info.protocol = v.protocol;
  using Kind = BudgetSpec::Kind;
  const Kind kind = v.spec.budget.kind;
  info.granularity = policy->granularity();
  const std::string head = info.granularity == "query_head" ? "query head" : "KV head";
  info.budget_definition = kind == Kind::kNone ? "none (every prompt token kept)"
                           : kind == Kind::kTokens || kind == Kind::kMaxCapacityPrompt
                               ? "tokens per " + head + " per layer, observation window included"
                           : kind == Kind::kEvictRate ? "share of the prompt evicted per " + head + " per layer"
                           : kind == Kind::kCompressionRatio
                               ? "share of the prompt evicted per " + head + " per layer, kept count truncated (kvpress)"
                               : std::string("bytes of keys and values over all layers");
  // Query-agnostic: the budget bounds the compressed context; the question part's entries are added after it
  // (kvpress counts its compression ratio the same way), so the cache decoding starts from is larger.
  if (kind != Kind::kNone && v.protocol == "query_agnostic") info.budget_definition += ", question part on top";
  info.sliding_layers = sliding;
  if (!sliding.is_null())
    info.budget_definition += sliding["mode"] == "window"
                                  ? "; sliding-window layers keep their whole window, the budget applies to the full-attention layers"
                                  : "; sliding-window layers are compressed too and keep what of that their window sees";
  if (kind != Kind::kNone && policy->kept_window() > 0) info.window = policy->kept_window();
  info.decode = decode_json(v.decode);
  return info;
}


bool any_query_agnostic(const RunConfig& rc) {
  return std::any_of(rc.variants.begin(), rc.variants.end(), [](const Variant& v) { return v.protocol == "query_agnostic"; });
}

SampleInput prepare_sample(const RunState& st, const Task& task) {
  const RunConfig& rc = st.rc;
  const Tokenizer* tok = st.session.tokenizer();
  SampleInput in;
  in.gen.decode_path = rc.decode_path;
  std::vector<std::pair<std::int64_t, std::int64_t>> evidence_spans;  // prompt token positions
  if (task.spec != nullptr) {
    PromptOptions po;
    po.max_length = rc.max_length;
    po.chat = st.session.chat();
    po.split_question = any_query_agnostic(rc);
    const BuiltPrompt built = build_prompt(*task.spec, task.sample, *tok, po);
    for (TokenId id : built.ids) in.ids.push_back(id);
    in.context_tokens = built.context_tokens;
    evidence_spans = evidence_token_spans(*task.spec, task.sample, *tok, built, rc.max_length);
    in.gen.max_new_tokens = rc.max_new_tokens.value_or(task.spec->max_new_tokens);
  } else {
    KV_CHECK(!any_query_agnostic(rc), "the query_agnostic protocol needs dataset prompts (a template with a context "
             "and a question part); raw prompts have neither");
    in.ids = raw_prompt(rc, task.prompt_index, st.session.config().vocab_size);
    in.gen.max_new_tokens = raw_prompt_new_tokens(rc, task.prompt_index);
  }
  in.gen.stop_ids = st.session.stop_ids(task.spec != nullptr && task.spec->chat);
  if (tok != nullptr && task.spec != nullptr && task.spec->stop_at_newline) {  // samsum: also "\n", after >= 1 token
    const std::vector<TokenId> nl = tok->encode("\n", /*add_special=*/false);
    if (!nl.empty()) in.gen.stop_ids.push_back(nl.back());
    in.gen.min_new_tokens = 1;
  }
  if (!evidence_spans.empty()) {
    in.evidence = at::zeros({static_cast<std::int64_t>(in.ids.size())}, at::kBool);
    for (const auto& [a, b] : evidence_spans) in.evidence.narrow(0, a, b - a).fill_(true);
  }
  return in;
}


void write_rows(RunState& st, const Task& task, const SampleInput& in, const std::vector<const Variant*>& pending,
                const std::vector<Outcome>& outcomes, const PrefillResult& prefilled, std::optional<std::int64_t> peak) {
  const Tokenizer* tok = st.session.tokenizer();
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (!outcomes[i].ok) continue;
    const Variant& v = *pending[i];
    const Outcome& o = outcomes[i];
    try {
      const std::vector<TokenId> out_ids(o.out.output_ids.begin(), o.out.output_ids.end());
      nlohmann::json row = {{"pred", tok ? tok->decode(out_ids, true) : ""},
                            {"answers", task.sample.answers},
                            {"all_classes", task.sample.all_classes ? nlohmann::json(*task.sample.all_classes) : nlohmann::json(nullptr)},
                            {"length", task.sample.length},
                            {"_id", task.sample.id},
                            {"prompt_tokens", in.ids.size()},
                            {"kept_tokens", o.kept},
                            {"kv_bytes", o.kv_bytes},
                            {"budget", o.budget},
                            {"new_tokens", o.out.output_ids.size()},
                            {"protocol", v.protocol},
                            {"coverage", o.coverage}};
      if (v.protocol == "query_agnostic") row["context_tokens"] = in.context_tokens;
      if (v.decode.enabled())
        row["decode_cache"] = {{"budget", v.decode.budget}, {"every", v.decode.every}, {"scores", v.decode.score_name()},
                               {"max_entries_per_head", o.out.max_entries_per_head},
                               {"peak_kv_bytes", o.out.peak_kv_bytes}, {"eviction_passes", o.out.eviction_passes}};
      if (task.spec == nullptr) row["output_ids"] = o.out.output_ids;
      st.files.get(st.plan.layout.predictions(v.name, task.subset)).append(row);
      st.files.get(st.plan.layout.timing(v.name, task.subset))
          .append({{"_id", task.sample.id}, {"prompt_tokens", in.ids.size()}, {"new_tokens", o.out.output_ids.size()},
                   {"prefill_seconds", prefilled.seconds}, {"compression_seconds", prefilled.policy_seconds[i]},
                   {"decode_seconds", o.out.decode_seconds}, {"decode_steps", o.out.decode_steps},
                   {"decode_batch_size", o.out.batch_size},
                   {"peak_device_memory_bytes", peak ? nlohmann::json(*peak) : nlohmann::json(nullptr)}});
    } catch (const std::exception& e) {
      st.record_error(v, task, e);
    }
  }
}

// Decode: the variants together in batches (one forward pass per step for a whole batch), or one by one. A batch
// that fails (an out-of-memory, most often) is retried one variant at a time, so that only the variant at fault
// loses the sample; a batched decode leaves the prefilled caches as they were.
void decode_variants(RunState& st, const Task& task, const std::vector<const Variant*>& pending,
                     const std::vector<std::size_t>& usable, const GenerateOptions& gen, PrefillResult& prefilled,
                     std::vector<Outcome>& outcomes) {
  const Engine& engine = st.session.engine();
  // Variants with a decode budget evict as they decode, each alone (their caches diverge step by step).
  std::vector<std::size_t> shared;
  for (std::size_t i : usable)
    if (!pending[i]->decode.enabled()) shared.push_back(i);
  std::vector<std::pair<std::vector<std::size_t>, GenerateOptions>> batches;
  for (auto& group : decode_groups(engine, prefilled, shared, st.batch_decode, gen)) batches.push_back({group, gen});
  for (std::size_t i : usable) {
    if (!pending[i]->decode.enabled()) continue;
    GenerateOptions own = gen;
    own.decode_budget = pending[i]->decode;
    batches.push_back({{i}, own});
  }
  for (const auto& [batch, options] : batches) {
    std::vector<std::vector<std::size_t>> attempts = {batch};
    for (std::size_t a = 0; a < attempts.size(); ++a) {
      const std::vector<std::size_t> group = attempts[a];
      try {
        std::vector<GenerationResult> outs = decode_group(engine, prefilled, group, options);
        for (std::size_t j = 0; j < group.size(); ++j) outcomes[group[j]].out = std::move(outs[j]);
      } catch (const std::exception& e) {
        if (group.size() > 1 && !st.ends_run(e)) {
          log::warn(task.subset, " / ", task.sample.id, ": a decode batch of ", group.size(),
                    " variants failed (", short_error_message(e), "); retrying them one by one");
          for (std::size_t i : group) attempts.push_back({i});
          continue;
        }
        for (std::size_t i : group) {
          outcomes[i].ok = false;
          st.record_error(*pending[i], task, e);
        }
      }
    }
    for (std::size_t i : batch) prefilled.caches[i] = KvCache{};  // free what this batch held
  }
}


// The variants of one protocol on one sample: one prefill for all of them (of the whole prompt, or of its
// context part with the question part run on top of each compressed cache) and each variant's coverage. A
// variant that fails is recorded and left out of `usable`.
ProtocolRun prefill_protocol(RunState& st, const Task& task, const SampleInput& in,
                             const std::vector<const Variant*>& pending, bool query_agnostic) {
  const Engine& engine = st.session.engine();
  ProtocolRun run;
  run.pending = pending;
  run.outcomes.resize(pending.size());
  std::vector<std::unique_ptr<EvictionPolicy>> policies;
  std::vector<EvictionPolicy*> raw;
  for (const Variant* v : pending) policies.push_back(make_policy(v->spec));
  for (auto& p : policies) raw.push_back(p.get());
  const std::int64_t T = query_agnostic ? in.context_tokens : static_cast<std::int64_t>(in.ids.size());
  const std::vector<std::int64_t> prefix(in.ids.begin(), in.ids.begin() + T);
  try {
    KV_CHECK(T >= 1, "the query-agnostic split left no context tokens");
    run.prefilled = engine.prefill(prefix, raw, st.prefill_options());
  } catch (const std::exception& e) {
    for (std::size_t i = 0; i < pending.size(); ++i) {
      run.outcomes[i].ok = false;
      st.record_error(*pending[i], task, e);
    }
    return run;
  }
  const at::Tensor id_tensor = at::tensor(prefix, at::TensorOptions().dtype(at::kLong));
  const at::Tensor evidence = in.evidence.defined() ? in.evidence.narrow(0, 0, T) : in.evidence;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    Outcome& o = run.outcomes[i];
    try {
      if (run.prefilled.policy_failed(i)) std::rethrow_exception(run.prefilled.policy_errors[i]);
      const KvCache& cache = run.prefilled.caches[i];
      for (const auto& layer : cache.layers) o.kept += layer.prompt_positions().numel();
      // A prompt no longer than the window has no position to measure: no coverage rather than a 0.
      o.coverage = T > st.rc.coverage_window ? coverage_of(cache, st.rc.coverage_window, id_tensor, evidence).to_json()
                                             : nlohmann::json(nullptr);
      o.kv_bytes = cache.bytes_used();
      o.budget = raw[i]->resolved_budget();
      run.usable.push_back(i);
    } catch (const std::exception& e) {
      o.ok = false;
      st.record_error(*pending[i], task, e);
    }
  }
  if (query_agnostic) {
    try {
      engine.extend(run.prefilled, std::vector<std::int64_t>(in.ids.begin() + T, in.ids.end()));
    } catch (const std::exception& e) {
      for (std::size_t i : run.usable) {
        run.outcomes[i].ok = false;
        st.record_error(*pending[i], task, e);
      }
      run.usable.clear();
    }
  }
  return run;
}

// One protocol's variants on one sample, from the prefill to the rows, the decodes batched per sample.
void run_protocol(RunState& st, const Task& task, const SampleInput& in, const std::vector<const Variant*>& pending,
                  bool query_agnostic) {
  reset_peak_device_memory(st.session.device());
  ProtocolRun run = prefill_protocol(st, task, in, pending, query_agnostic);
  decode_variants(st, task, run.pending, run.usable, in.gen, run.prefilled, run.outcomes);
  const std::optional<std::int64_t> peak = peak_device_memory(st.session.device());
  if (peak) st.peak_device = std::max(st.peak_device.value_or(0), *peak);
  write_rows(st, task, in, run.pending, run.outcomes, run.prefilled, peak);
}

// The variants of `task` not finished by an earlier session (--resume).
std::vector<const Variant*> pending_variants(const RunState& st, const Task& task) {
  std::vector<const Variant*> pending;
  for (const auto& v : st.rc.variants)
    if (!st.done.count(v.name + "\n" + task.subset + "\n" + task.sample.id)) pending.push_back(&v);
  return pending;
}

// One sample: its prompt once, then the pending variants of each protocol.
void run_sample(RunState& st, const Task& task, Progress& progress) {
  const std::vector<const Variant*> pending = pending_variants(st, task);
  if (pending.empty()) return progress.advance(0, task.subset + " (done)");
  st.attempted += pending.size();
  SampleInput in;
  try {
    in = prepare_sample(st, task);
  } catch (const std::exception& e) {
    for (const Variant* v : pending) st.record_error(*v, task, e);
    return progress.advance(0, task.subset);
  }
  for (const std::string& protocol : protocol_names()) {
    std::vector<const Variant*> group;
    for (const Variant* v : pending)
      if (v->protocol == protocol) group.push_back(v);
    if (!group.empty()) run_protocol(st, task, in, group, protocol == "query_agnostic");
  }
  st.files.sync();
  progress.advance(static_cast<std::int64_t>(in.ids.size()), task.subset);
}

// A short summary; `kvbench table` prints the full paper-style table.
// The run's table: each variant's average with its 95% interval (a bootstrap stratified by subset over the
// per-sample scores: how far the average can be trusted), KV size, compression and decode speed.
void print_summary(const nlohmann::json& report, const RunLayout& layout, std::size_t failures) {
  bool scored = false;  // random prompts have no scores, so no interval column
  for (const auto& v : report["variants"]) scored = scored || v["average"].is_number();
  std::cout << std::fixed << std::left << std::setw(28) << "variant" << std::right << std::setw(10) << "average"
            << std::setw(18) << (scored ? "95% CI" : "") << std::setw(12) << "KV MB" << std::setw(18)
            << "compress ms/smp" << std::setw(12) << "decode t/s" << "\n";
  for (const auto& v : report["variants"]) {
    const std::string name = v["name"].get<std::string>();
    std::cout << std::left << std::setw(28) << name << std::right << std::setw(10);
    if (v["average"].is_number()) std::cout << std::setprecision(2) << v["average"].get<double>();
    else std::cout << "-";
    std::string ci;
    if (scored && v["average"].is_number()) {
      std::vector<std::string> subsets;
      for (const auto& [subset, score] : v["scores"].items()) subsets.push_back(subset);
      if (const auto interval = report::average_interval(layout, name, subsets)) {
        std::ostringstream s;
        s << std::fixed << std::setprecision(1) << "[" << interval->first << ", " << interval->second << "]";
        ci = s.str();
      }
    }
    std::cout << std::setw(18) << ci;
    // Compression time per sample (the report keeps the total): a variant that computes scores shared with its
    // siblings (h2o-64 for every h2o budget) pays for them once, so compare policies by their first budget.
    double samples = 0;
    for (const auto& [subset, count] : v["n"].items()) samples += count.get<double>();
    samples = std::max(1.0, samples);
    std::cout << std::setw(12) << std::setprecision(2) << v["kv_bytes"]["mean"].get<double>() / 1e6 << std::setw(18)
              << v["timing"]["compression_seconds"].get<double>() * 1e3 / samples << std::setw(12) << std::setprecision(1)
              << v["timing"]["decode_tokens_per_second"].get<double>() << "\n";
  }
  std::cout << "report: " << layout.report() << (failures ? " (" + std::to_string(failures) + " failed samples)" : "")
            << std::endl;
}

}  // namespace kvbench::run_steps

namespace kvbench {
using namespace run_steps;

nlohmann::json build_report(const RunConfig& rc) {
  ReportInputs in;
  in.run_name = rc.name;
  in.output_dir = rc.output_dir;
  in.subsets = rc.uses_datasets() ? rc.subsets : std::vector<std::string>{"prompt"};
  in.scored = rc.uses_datasets();
  const nlohmann::json sliding = sliding_layers_json(rc);
  for (const auto& v : rc.variants)
    in.variants.push_back(report_info(v, sliding));
  // The checkpoint by its folder's name and config.json; a random one (written into each run or shard folder) by
  // the config it is made from.
  const std::string model_config = paths::join(rc.model_path, "config.json");
  if (rc.random_model)
    in.model = {{"name", "random " + rc.random_model->family}, {"path", nullptr},
                {"config_sha256", sha256_hex(random_model_config(*rc.random_model).dump())}};
  else
    in.model = {{"name", paths::filename(paths::absolute(rc.model_path))}, {"path", rc.model_path},
                {"config_sha256", paths::is_regular_file(model_config) ? nlohmann::json(sha256_file(model_config)) : nlohmann::json(nullptr)}};
  in.config_sha256 = evaluation_sha256(rc);
  if (rc.uses_datasets() && !rc.synth) in.data = data_provenance(resolve_data_dir(rc.data_dir), rc.subsets);
  return kvbench::build_report(in);
}

void run_experiment(const RunConfig& config, const RunOptions& options) {
  if (!options.devices.empty()) return run_on_devices(config, options);
  const auto t_start = Clock::now();
  // A shard is a run of its own in <output_dir>/shards/I-of-N (a random checkpoint too: shards run in parallel).
  RunConfig rc = config;
  if (options.shard) {
    rc.output_dir = shard_dir(config.output_dir, *options.shard);
    if (rc.random_model) rc.model_path = paths::join(rc.output_dir, "model");
  }
  // The plan and every check first: every row is read, and every size, policy and path checked, before anything
  // is written or loaded. A dry run stops there, having done all of it but the weights and the forward passes.
  check_fault_setting();
  auto session = std::make_unique<Session>(session_spec(rc, !rc.random_model));
  RunPlan plan = make_plan(rc, session->tokenizer());
  if (options.shard) plan = shard_plan(plan, *options.shard, rc.output_dir);
  KV_CHECK(session->tokenizer() || !rc.uses_datasets(), "LongBench runs need a tokenizer: ", rc.model_path,
           " has none; set model.tokenizer");
  check_output_dir(rc, options);
  const ModelConfig model_config = run_model_config(rc, *session);
  check_run_sizes(rc, model_config, *session);
  for (const auto& problem : check_variants(rc, model_config, *session))
    log::warn(problem, " (each of its samples will be recorded as that variant's error)");
  if (options.dry_run) {
    check_checkpoint(rc, model_config, *session);
    if (options.shard) std::cout << "shard " << options.shard->name() << " of the plan:\n";
    return print_plan(std::cout, rc, plan, session->tokenizer());
  }

  const FolderLock lock(rc.output_dir, options.command_line);  // one process per run folder, from here to the end
  nlohmann::json manifest = open_run(rc, options, plan.layout);
  if (options.shard) {
    manifest["sessions"].back()["shard"] = options.shard->name();
    write_json_file(paths::join(rc.output_dir, "shard.json"), shard_manifest(plan, *options.shard));
    write_json_file(paths::join(rc.output_dir, kShardInputConfig), options.input_config);
  }
  if (rc.random_model) {
    log::info("writing a random-weights ", rc.random_model->family, " checkpoint to ", rc.model_path);
    write_random_checkpoint(rc.model_path, *rc.random_model);
    session = std::make_unique<Session>(session_spec(rc, true));
  }
  session->engine();  // the weights
  manifest["sessions"].back().update(session->describe());

  RunState st{rc, options, plan, *session, finished_samples(plan), {}};
  st.batch_decode = rc.batch_decode == "on" || (rc.batch_decode == "auto" && session->device().is_cuda());
  warm_up(st);
  const auto t_samples = Clock::now();
  Progress progress(static_cast<std::int64_t>(plan.tasks.size()), static_cast<std::int64_t>(rc.variants.size()));
  const InterruptScope interrupt_scope;  // SIGINT / SIGTERM: finish the sample in flight, save, say how to resume
  std::size_t tasks_run = 0;
  const std::int64_t in_flight = samples_in_flight(st);
  nlohmann::json in_flight_info = nullptr;
  if (in_flight > 1) {
    tasks_run = run_samples_in_flight(st, progress, in_flight, in_flight_info);
  } else {
    for (const Task& task : plan.tasks) {
      if (interrupt_signal() != 0) break;
      try {
        run_sample(st, task, progress);
      } catch (const Interrupted&) {
        break;  // a long sample abandoned (check_interrupt): --resume redoes it
      }
      lock.check_still_held();  // the folder deleted under the run: stop, rather than write into nothing
      ++tasks_run;
    }
  }
  progress.finish();
  st.files.sync();
  lock.check_still_held();

  nlohmann::json& session_entry = manifest["sessions"].back();
  session_entry["end"] = system::utc_now();
  // The sample loop alone (no model load or warm-up): what a sweep costs beside a single-variant run.
  session_entry["samples_wall_seconds"] = seconds_since(t_samples);
  session_entry["wall_seconds"] = seconds_since(t_start);
  session_entry["peak_host_rss_bytes"] = peak_rss_bytes();
  session_entry["peak_device_memory_bytes"] = st.peak_device ? nlohmann::json(*st.peak_device) : nlohmann::json(nullptr);
  session_entry["failed_samples"] = st.failures;
  session_entry["samples_in_flight"] = in_flight_info.is_null() ? nlohmann::json({{"samples", 1}}) : in_flight_info;
  if (interrupt_signal() != 0) session_entry["interrupted_by"] = signal_name(interrupt_signal());
  write_json_file(plan.layout.manifest(), manifest);
  const nlohmann::json report = build_report(rc);
  write_json_file(plan.layout.report(), report);
  print_summary(report, plan.layout, st.failures);
  if (const int sig = interrupt_signal(); sig != 0) {
    const bool resumed = options.command_line.find("--resume") != std::string::npos;
    throw Interrupted(detail::concat("interrupted by ", signal_name(sig), " after ", tasks_run, " of ",
                                     plan.tasks.size(), " samples (their results and the report above are saved); ",
                                     "resume with: ", options.command_line, resumed ? "" : " --resume"),
                      sig);
  }
  KV_CHECK(st.attempted == 0 || st.failures < st.attempted, "every one of the ", st.attempted,
           " (variant, sample) pairs of this run failed: the reasons are in ", paths::join(rc.output_dir, "errors"));
  if (rc.uses_datasets()) write_budget_plot(rc.output_dir);
}

void write_budget_plot(const std::string& output_dir) {
  const std::string report_path = paths::join(output_dir, "report.json");
  if (!paths::exists(report_path)) return;
  try {
    const std::string svg = report::score_vs_budget_svg({report::load_report(report_path)});
    const std::string out = paths::join(output_dir, "budget.svg");
    write_file_atomic(out, svg);
    std::cout << "plot: " << out << std::endl;
  } catch (const WriteError&) {
    throw;
  } catch (const Error& e) {
    log::info("no score-vs-budget plot: ", e.what());
  }
}

void print_run_summary(const nlohmann::json& report, const std::string& output_dir, std::size_t failures) {
  print_summary(report, RunLayout(output_dir), failures);
}

}  // namespace kvbench
