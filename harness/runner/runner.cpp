#include "harness/runner/runner.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <set>

#include <torch/version.h>

#include "datasets/loader.h"
#include "datasets/prompt.h"
#include "datasets/subset.h"
#include "datasets/synth.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/jsonl.h"
#include "harness/common/log.h"
#include "harness/common/paths.h"
#include "harness/engine/batch_cache.h"
#include "harness/engine/device_memory.h"
#include "harness/engine/engine.h"
#include "harness/model/tensor_util.h"
#include "harness/runner/progress.h"
#include "harness/tokenizer/chat_template.h"
#include "harness/tokenizer/tokenizer.h"
#include "kvbench/version.h"
#include "policies/coverage.h"

namespace kvbench {

std::string RunLayout::predictions(const std::string& v, const std::string& s) const {
  return paths::join(paths::join(paths::join(root, "predictions"), v), s + ".jsonl");
}
std::string RunLayout::timing(const std::string& v, const std::string& s) const {
  return paths::join(paths::join(paths::join(root, "timing"), v), s + ".jsonl");
}
std::string RunLayout::errors(const std::string& v, const std::string& s) const {
  return paths::join(paths::join(paths::join(root, "errors"), v), s + ".jsonl");
}
std::string RunLayout::report() const { return paths::join(root, "report.json"); }
std::string RunLayout::manifest() const { return paths::join(root, "manifest.json"); }
std::string RunLayout::resolved_config() const { return paths::join(root, "config.resolved.json"); }

namespace {

// One prompt to run: a LongBench row, or the raw prompt of a smoke run (subset "prompt", spec null).
struct Task {
  std::string subset;
  const SubsetSpec* spec = nullptr;
  Sample sample;
  std::size_t prompt_index = 0;  ///< raw-prompt runs: which prompt
};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::int64_t peak_rss_bytes() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
}

std::vector<Task> load_tasks(const RunConfig& rc, std::size_t* skipped_rows) {
  std::vector<Task> tasks;
  if (!rc.uses_datasets()) {
    for (std::int64_t i = 0; i < rc.random_prompt_count; ++i) {
      Task t;
      t.subset = "prompt";
      t.sample.id = rc.random_prompt_count == 1 ? "prompt" : "prompt-" + std::to_string(i);
      t.prompt_index = static_cast<std::size_t>(i);
      tasks.push_back(std::move(t));
    }
    return tasks;
  }
  if (rc.synth) {
    // Generated here, deterministically: the same config gives the same samples (and ids), so --resume works.
    const std::string tok_path = rc.tokenizer.empty() ? rc.model_path : rc.tokenizer;
    const auto tok = load_tokenizer(tok_path);
    const synth::Haystack haystack =
        rc.synth->haystack.empty() ? synth::Haystack() : synth::Haystack::from_directory(rc.synth->haystack);
    for (const auto& subset : rc.subsets)
      for (std::int64_t i = 0; i < rc.synth->count; ++i) {
        synth::SynthResult r = synth::generate_sample(subset, rc.synth->tokens, rc.synth->seed,
                                                      static_cast<std::size_t>(i), *tok, haystack);
        if (!rc.ids.empty() && std::find(rc.ids.begin(), rc.ids.end(), r.sample.id) == rc.ids.end()) continue;
        tasks.push_back({subset, &find_subset(subset), std::move(r.sample)});
      }
    log::info("generated ", tasks.size(), " synthetic samples of ", rc.synth->tokens, " tokens");
    return tasks;
  }
  const std::string dir = resolve_data_dir(rc.data_dir);
  LoadOptions load;
  load.skip_bad_rows = rc.skip_bad_rows;
  load.limit = rc.limit;
  load.ids = rc.ids;
  for (const auto& subset : rc.subsets) {
    LoadResult r = load_subset(dir, subset, load);  // every row validated before any model work
    *skipped_rows += r.skipped;
    for (const auto& p : r.problems) log::warn("skipped: ", p);
    for (auto& s : r.samples) tasks.push_back({subset, &find_subset(subset), std::move(s)});
  }
  return tasks;
}

// Finished (variant, subset, _id) triples: rows already in the prediction or error files.
std::set<std::string> finished_samples(const RunConfig& rc, const RunLayout& layout) {
  std::set<std::string> done;
  const std::vector<std::string> subsets = rc.uses_datasets() ? rc.subsets : std::vector<std::string>{"prompt"};
  for (const auto& v : rc.variants) {
    for (const auto& s : subsets) {
      bool repaired = false;
      for (const std::string& file : {layout.predictions(v.name, s), layout.errors(v.name, s)}) {
        for (const auto& row : read_jsonl_rows(file, &repaired))
          if (row.contains("_id") && row["_id"].is_string()) done.insert(v.name + "\n" + s + "\n" + row["_id"].get<std::string>());
        if (repaired) log::warn("cut a torn last line off ", file, " (the previous run was killed mid-write)");
      }
      read_jsonl_rows(layout.timing(v.name, s), &repaired);
    }
  }
  return done;
}

nlohmann::json read_manifest(const std::string& path) {
  if (!paths::exists(path)) return nlohmann::json::object();
  return read_json_file(path);
}

class Appenders {
 public:
  JsonlAppender& get(const std::string& path) {
    auto& slot = open_[path];
    if (!slot) slot = std::make_unique<JsonlAppender>(path);
    return *slot;
  }
  void sync() {
    for (auto& [path, appender] : open_) appender->sync();
  }

 private:
  std::map<std::string, std::unique_ptr<JsonlAppender>> open_;
};

}  // namespace

void run_experiment(const RunConfig& rc, const RunOptions& options) {
  const RunLayout layout(rc.output_dir);
  const auto t_start = std::chrono::steady_clock::now();
  std::size_t skipped_rows = 0;
  const std::vector<Task> tasks = load_tasks(rc, &skipped_rows);

  if (options.dry_run) {
    std::map<std::string, std::size_t> per_subset;
    for (const auto& t : tasks) ++per_subset[t.subset];
    std::cout << "run " << rc.name << " -> " << rc.output_dir << "\nmodel " << rc.model_path
              << (rc.random_model ? " (random weights, written by the run)" : "") << " on " << rc.device << " ("
              << rc.dtype << ")\n"
              << rc.variants.size() << " variants:";
    for (const auto& v : rc.variants) std::cout << " " << v.name;
    std::cout << "\n" << tasks.size() << " samples (" << skipped_rows << " malformed rows skipped):\n";
    for (const auto& [subset, n] : per_subset) std::cout << "  " << subset << ": " << n << "\n";
    std::unique_ptr<Tokenizer> tok;
    const std::string tok_path = rc.tokenizer.empty() ? rc.model_path : rc.tokenizer;
    if (rc.uses_datasets() && (paths::exists(paths::join(tok_path, "tokenizer.json")) ||
                               paths::exists(paths::join(tok_path, "tokenizer.model")) || paths::is_regular_file(tok_path))) {
      tok = load_tokenizer(tok_path);
      PromptOptions po;
      po.max_length = rc.max_length;
      std::int64_t tokens = 0;
      for (const auto& t : tasks) tokens += static_cast<std::int64_t>(build_prompt(*t.spec, t.sample, *tok, po).ids.size());
      std::cout << tokens << " prompt tokens (before chat templates), each prefilled once for all "
                << rc.variants.size() << " variants\n";
    } else if (rc.uses_datasets()) {
      std::cout << "token counts need the tokenizer (" << tok_path << " has none)\n";
    } else {
      std::cout << (rc.prompt_ids.empty() ? rc.random_prompt_tokens * rc.random_prompt_count
                                          : static_cast<std::int64_t>(rc.prompt_ids.size()))
                << " prompt tokens\n";
    }
    return;
  }

  if (!options.resume && paths::exists(paths::join(rc.output_dir, "predictions"))) {
    fail("'", rc.output_dir, "' already holds a run: pass --resume to continue it, or choose another name or "
         "output_dir");
  }
  paths::create_directories(rc.output_dir);
  write_file_atomic(layout.resolved_config(), rc.resolved.dump(2) + "\n");
  nlohmann::json manifest = read_manifest(layout.manifest());
  manifest["kvbench_version"] = KVBENCH_VERSION;
  manifest["git_commit"] = KVBENCH_GIT_COMMIT;
  manifest["libtorch_version"] = TORCH_VERSION;
  manifest["cuda_usable"] = cuda_usable();
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  nlohmann::json session = {{"start", utc_now()}, {"command", options.command_line}, {"host", host},
                            {"resumed", options.resume}};
  if (!manifest.contains("sessions")) manifest["sessions"] = nlohmann::json::array();
  manifest["sessions"].push_back(session);
  write_file_atomic(layout.manifest(), manifest.dump(2) + "\n");

  // Model, tokenizer, chat format.
  const at::Device device = parse_device(rc.device);
  if (rc.random_model) {
    log::info("writing a random-weights ", rc.random_model->family, " checkpoint to ", rc.model_path);
    write_random_checkpoint(rc.model_path, *rc.random_model);
  }
  const ModelConfig mconfig = load_model_config(rc.model_path);
  std::unique_ptr<Tokenizer> tok;
  const std::string tok_path = rc.tokenizer.empty() ? rc.model_path : rc.tokenizer;
  if (!rc.tokenizer.empty() || paths::exists(paths::join(tok_path, "tokenizer.json")) ||
      paths::exists(paths::join(tok_path, "tokenizer.model")))
    tok = load_tokenizer(tok_path);
  KV_CHECK(tok || !rc.uses_datasets(), "LongBench runs need a tokenizer: ", rc.model_path,
           " has none; set model.tokenizer");
  const ChatFormat* chat = nullptr;
  std::string chat_name = "none";
  if (rc.chat != "none" && tok) {
    if (rc.chat == "auto") {
      const std::string dir = paths::is_directory(tok_path) ? tok_path : paths::parent(tok_path);
      const auto detected = detect_chat_format(read_tokenizer_config(dir), mconfig.architecture);
      if (detected) chat_name = *detected;
      else log::warn("no chat template recognised for ", tok_path, ": prompts are used without one (set model.chat)");
    } else {
      chat_name = rc.chat;
    }
    if (chat_name != "none") chat = &chat_format(chat_name);
  }
  const at::ScalarType dtype = rc.dtype == "auto" ? (device.is_cpu() ? at::kFloat : at::kBFloat16)
                                                  : parse_compute_dtype(rc.dtype);
  const auto model = Transformer::load(rc.model_path, device, dtype);
  const Engine engine(*model);
  manifest["sessions"].back()["device"] = device.str();
  manifest["sessions"].back()["dtype"] = short_dtype_name(dtype);
  manifest["sessions"].back()["chat_format"] = chat_name;

  std::set<std::string> done = finished_samples(rc, layout);
  PrefillOptions prefill_options;
  prefill_options.chunk_size = rc.prefill_chunk;

  // The raw prompts of a smoke run: the given ids, or random ids (prompt i from seed + i).
  std::vector<std::vector<std::int64_t>> raw_prompts;
  if (!rc.uses_datasets() && !rc.prompt_ids.empty()) raw_prompts.push_back(rc.prompt_ids);
  if (!rc.uses_datasets() && rc.prompt_ids.empty()) {
    for (std::int64_t i = 0; i < rc.random_prompt_count; ++i) {
      at::Generator gen = at::detail::createCPUGenerator(rc.random_prompt_seed + static_cast<std::uint64_t>(i));
      raw_prompts.push_back(to_int_vector(at::randint(3, mconfig.vocab_size, {rc.random_prompt_tokens}, gen, at::kLong)));
    }
  }
  const bool batch_decode = rc.batch_decode == "on" || (rc.batch_decode == "auto" && device.is_cuda());
  if (rc.warmup_tokens > 0 && !tasks.empty()) {
    std::vector<std::unique_ptr<EvictionPolicy>> warm;
    std::vector<EvictionPolicy*> raw;
    for (const auto& v : rc.variants) warm.push_back(make_policy(v.spec));
    for (auto& p : warm) raw.push_back(p.get());
    std::vector<std::int64_t> ids(static_cast<std::size_t>(rc.warmup_tokens));
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = 3 + static_cast<std::int64_t>(i) % (mconfig.vocab_size - 3);
    // Prefill and a 2-token decode, batched as the samples will be: on CUDA the kernels of every shape a
    // sample uses load here (lazily, on first use), not inside the first sample's timings. Give the
    // warm-up the samples' prompt length for steady-state times.
    PrefillResult warm_pre = engine.prefill(ids, raw, prefill_options);
    GenerateOptions warm_gen;
    warm_gen.max_new_tokens = 2;
    warm_gen.decode_path = rc.decode_path;
    std::vector<std::size_t> all(warm_pre.caches.size());
    std::iota(all.begin(), all.end(), 0);
    for (const auto& group : decode_groups(engine, warm_pre, all, batch_decode, warm_gen))
      decode_group(engine, warm_pre, group, warm_gen);
  }

  std::optional<std::int64_t> session_peak_device;
  const auto t_samples = std::chrono::steady_clock::now();
  Appenders files;
  Progress progress(static_cast<std::int64_t>(tasks.size()), static_cast<std::int64_t>(rc.variants.size()));
  std::size_t failures = 0;
  for (const Task& task : tasks) {
    std::vector<const Variant*> pending;
    for (const auto& v : rc.variants)
      if (!done.count(v.name + "\n" + task.subset + "\n" + task.sample.id)) pending.push_back(&v);
    if (pending.empty()) {
      progress.advance(0, task.subset + " (done)");
      continue;
    }
    auto record_error = [&](const Variant& v, const std::exception& e) {
      if (options.fail_fast) throw;
      ++failures;
      const std::string message = short_error_message(e);
      log::warn(v.name, " / ", task.subset, " / ", task.sample.id, ": ", message);
      files.get(layout.errors(v.name, task.subset)).append({{"_id", task.sample.id}, {"error", message}});
    };

    // Prompt ids and generation settings of this sample.
    std::vector<std::int64_t> ids;
    std::vector<std::pair<std::int64_t, std::int64_t>> evidence_spans;  // prompt token positions
    GenerateOptions gen;
    gen.sync_interval = 0;
    gen.decode_path = rc.decode_path;
    try {
      if (task.spec != nullptr) {
        PromptOptions po;
        po.max_length = rc.max_length;
        po.chat = chat;
        const BuiltPrompt built = build_prompt(*task.spec, task.sample, *tok, po);
        for (TokenId id : built.ids) ids.push_back(id);
        evidence_spans = evidence_token_spans(*task.spec, task.sample, *tok, built, rc.max_length);
        gen.max_new_tokens = rc.max_new_tokens.value_or(task.spec->max_new_tokens);
      } else {
        ids = raw_prompts.at(task.prompt_index);
        gen.max_new_tokens = rc.max_new_tokens.value_or(32);
      }
      gen.stop_ids = mconfig.eos_token_ids;
      if (tok) {
        for (TokenId id : chat_stop_ids(*tok, task.spec != nullptr && task.spec->chat ? chat : nullptr))
          if (std::find(gen.stop_ids.begin(), gen.stop_ids.end(), id) == gen.stop_ids.end()) gen.stop_ids.push_back(id);
        if (task.spec != nullptr && task.spec->stop_at_newline) {  // samsum: also stop at "\n", after >= 1 token
          const std::vector<TokenId> nl = tok->encode("\n", /*add_special=*/false);
          if (!nl.empty()) gen.stop_ids.push_back(nl.back());
          gen.min_new_tokens = 1;
        }
      }
    } catch (const std::exception& e) {
      for (const Variant* v : pending) record_error(*v, e);
      progress.advance(0, task.subset);
      continue;
    }

    std::vector<std::unique_ptr<EvictionPolicy>> policies;
    std::vector<EvictionPolicy*> raw;
    for (const Variant* v : pending) policies.push_back(make_policy(v->spec));
    for (auto& p : policies) raw.push_back(p.get());
    reset_peak_device_memory(device);
    PrefillResult prefilled;
    try {
      prefilled = engine.prefill(ids, raw, prefill_options);
    } catch (const std::exception& e) {
      for (const Variant* v : pending) record_error(*v, e);
      progress.advance(static_cast<std::int64_t>(ids.size()), task.subset);
      continue;
    }
    const at::Tensor id_tensor = at::tensor(ids, at::TensorOptions().dtype(at::kLong));
    at::Tensor evidence;  // bool [T] when the sample marks evidence
    if (!evidence_spans.empty()) {
      evidence = at::zeros({static_cast<std::int64_t>(ids.size())}, at::kBool);
      for (const auto& [a, b] : evidence_spans) evidence.narrow(0, a, b - a).fill_(true);
    }

    // What each variant's cache holds, before decoding.
    struct Outcome {
      bool ok = true;
      nlohmann::json coverage;
      std::int64_t kept = 0, kv_bytes = 0;
      GenerationResult out;
    };
    std::vector<Outcome> outcomes(pending.size());
    for (std::size_t i = 0; i < pending.size(); ++i) {
      try {
        const KvCache& cache = prefilled.caches[i];
        std::vector<LayerKeptEntries> entries;
        for (const auto& layer : cache.layers) {
          entries.push_back({layer.prompt_positions(), layer.prompt_heads()});
          outcomes[i].kept += layer.prompt_positions().numel();
        }
        outcomes[i].coverage =
            coverage_statistics(entries, static_cast<std::int64_t>(ids.size()), 32, id_tensor, evidence).to_json();
        outcomes[i].kv_bytes = cache.bytes_used();
      } catch (const std::exception& e) {
        outcomes[i].ok = false;
        record_error(*pending[i], e);
      }
    }

    // Decode: the variants together in batches (one forward pass per step for a whole batch), or one by one.
    std::vector<std::size_t> usable;
    for (std::size_t i = 0; i < pending.size(); ++i)
      if (outcomes[i].ok) usable.push_back(i);
    for (const auto& batch : decode_groups(engine, prefilled, usable, batch_decode, gen)) {
      try {
        std::vector<GenerationResult> outs = decode_group(engine, prefilled, batch, gen);
        for (std::size_t j = 0; j < batch.size(); ++j) outcomes[batch[j]].out = std::move(outs[j]);
      } catch (const std::exception& e) {
        for (std::size_t i : batch) {
          outcomes[i].ok = false;
          record_error(*pending[i], e);
        }
      }
      for (std::size_t i : batch) prefilled.caches[i] = KvCache{};  // free what this batch held
    }
    const std::optional<std::int64_t> peak = peak_device_memory(device);
    if (peak) session_peak_device = std::max(session_peak_device.value_or(0), *peak);

    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (!outcomes[i].ok) continue;
      const Variant& v = *pending[i];
      const Outcome& o = outcomes[i];
      try {
        nlohmann::json row = {{"pred", tok ? tok->decode(std::vector<TokenId>(o.out.output_ids.begin(), o.out.output_ids.end()), true) : ""},
                              {"answers", task.sample.answers},
                              {"all_classes", task.sample.all_classes ? nlohmann::json(*task.sample.all_classes) : nlohmann::json(nullptr)},
                              {"length", task.sample.length},
                              {"_id", task.sample.id},
                              {"prompt_tokens", ids.size()},
                              {"kept_tokens", o.kept},
                              {"kv_bytes", o.kv_bytes},
                              {"budget", raw[i]->resolved_budget()},
                              {"new_tokens", o.out.output_ids.size()},
                              {"coverage", o.coverage}};
        if (task.spec == nullptr) row["output_ids"] = o.out.output_ids;
        files.get(layout.predictions(v.name, task.subset)).append(row);
        files.get(layout.timing(v.name, task.subset))
            .append({{"_id", task.sample.id}, {"prompt_tokens", ids.size()}, {"new_tokens", o.out.output_ids.size()},
                     {"prefill_seconds", prefilled.seconds}, {"compression_seconds", prefilled.policy_seconds[i]},
                     {"decode_seconds", o.out.decode_seconds}, {"decode_steps", o.out.decode_steps},
                     {"decode_batch_size", o.out.batch_size},
                     {"peak_device_memory_bytes", peak ? nlohmann::json(*peak) : nlohmann::json(nullptr)}});
      } catch (const std::exception& e) {
        record_error(v, e);
      }
    }
    files.sync();
    progress.advance(static_cast<std::int64_t>(ids.size()), task.subset);
  }
  progress.finish();

  manifest["sessions"].back()["end"] = utc_now();
  // The sample loop alone (no model load or warm-up): what a sweep costs beside a single-variant run.
  manifest["sessions"].back()["samples_wall_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_samples).count();
  manifest["sessions"].back()["wall_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  manifest["sessions"].back()["peak_host_rss_bytes"] = peak_rss_bytes();
  manifest["sessions"].back()["peak_device_memory_bytes"] =
      session_peak_device ? nlohmann::json(*session_peak_device) : nlohmann::json(nullptr);
  manifest["sessions"].back()["failed_samples"] = failures;
  write_file_atomic(layout.manifest(), manifest.dump(2) + "\n");
  const nlohmann::json report = build_report(rc);
  write_file_atomic(layout.report(), report.dump(2) + "\n");

  // A short summary; `kvbench table` prints the full paper-style table.
  std::cout << std::fixed << std::left << std::setw(28) << "variant" << std::right << std::setw(10) << "average" << std::setw(12)
            << "KV MB" << std::setw(18) << "compress ms/smp" << std::setw(12) << "decode t/s" << "\n";
  for (const auto& v : report["variants"]) {
    std::cout << std::left << std::setw(28) << v["name"].get<std::string>() << std::right << std::setw(10);
    if (v["average"].is_number()) std::cout << std::setprecision(2) << v["average"].get<double>();
    else std::cout << "-";
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

}  // namespace kvbench
