#include "harness/runner/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "datasets/subset.h"
#include "harness/common/error.h"
#include "harness/common/jsonl.h"
#include "harness/common/log.h"
#include "harness/device/memory.h"
#include "harness/engine/in_flight.h"
#include "harness/model/tensor_util.h"
#include "harness/runner/progress.h"
#include "harness/device/transfer.h"

namespace kvbench {

const std::vector<LongBenchShape>& longbench16_shapes() {
  // LongBench (Bai et al., 2023), Table 1 / the README's "Avg len" (words) and "#data".
  static const std::vector<LongBenchShape> shapes = {
      {"narrativeqa", 18409, 200}, {"qasper", 3619, 200},    {"multifieldqa_en", 4559, 150},
      {"hotpotqa", 9151, 200},     {"2wikimqa", 4887, 200},  {"musique", 11214, 200},
      {"gov_report", 8734, 200},   {"qmsum", 10614, 200},    {"multi_news", 2113, 200},
      {"trec", 5177, 200},         {"triviaqa", 8209, 200},  {"samsum", 6258, 200},
      {"passage_count", 11141, 200}, {"passage_retrieval_en", 9289, 200}, {"lcc", 1235, 500},
      {"repobench-p", 4206, 500}};
  return shapes;
}

double prefill_flops(const ModelConfig& c, std::int64_t T) {
  const double D = static_cast<double>(c.hidden_size), d = static_cast<double>(c.head_dim);
  const double Hq = static_cast<double>(c.num_heads), Hkv = static_cast<double>(c.num_kv_heads);
  const double I = static_cast<double>(c.intermediate_size), t = static_cast<double>(T);
  const double per_layer_weights = D * (Hq + 2 * Hkv) * d + Hq * d * D + 3 * D * I;
  const double matmul = 2.0 * per_layer_weights * t * static_cast<double>(c.num_layers);
  const double attention = 2.0 * t * t * d * Hq * static_cast<double>(c.num_layers);  // causal: half of 4 T^2 d
  const double lm_head = 2.0 * D * static_cast<double>(c.vocab_size);                // the last position only
  return matmul + attention + lm_head;
}

std::optional<double> known_peak_tflops(const std::string& device_name) {
  // Dense bf16 datasheet peaks of the SXM parts (the name is what CUDA reports, e.g. "NVIDIA H200").
  if (device_name.find("H100") != std::string::npos || device_name.find("H200") != std::string::npos) return 989.4;
  if (device_name.find("A100") != std::string::npos) return 312.0;
  return std::nullopt;
}

std::pair<double, double> median_p90(std::vector<double> v) {
  if (v.empty()) return {0.0, 0.0};
  std::sort(v.begin(), v.end());
  auto rank = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(std::ceil(q * v.size())) - 1)]; };
  return {rank(0.5), rank(0.9)};
}

namespace {
using Clock = std::chrono::steady_clock;

std::vector<std::int64_t> random_prompt(std::int64_t tokens, std::int64_t vocab, std::uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return to_int_vector(at::randint(3, vocab, {tokens}, gen, at::kLong));
}

// One prompt through prefill (every variant's compression) and decode (the variants' groups).
struct PromptRun {
  double seconds = 0.0;          // prefill + decode, device synchronized
  double prefill_seconds = 0.0;  // compression included
  std::vector<double> compression_seconds;
  std::vector<std::int64_t> kv_bytes;
  std::vector<std::vector<double>> step_seconds;  // per variant: its group's steps
  std::vector<std::int64_t> batch_size;
  std::vector<std::string> decode_path;
  std::optional<std::int64_t> peak_device_memory;
};

// Fresh policies of every variant (a prefill's policies keep per-sequence state), and the pointers prefill takes.
struct BenchPolicies {
  std::vector<std::unique_ptr<EvictionPolicy>> owned;
  std::vector<EvictionPolicy*> raw;
  explicit BenchPolicies(const BenchOptions& o) {
    for (const auto& v : o.variants) owned.push_back(make_policy(v.spec));
    for (auto& p : owned) raw.push_back(p.get());
  }
};

PrefillOptions prefill_options(const BenchOptions& o) {
  PrefillOptions pre;
  pre.chunk_size = o.prefill_chunk;
  return pre;
}

GenerateOptions generate_options(const BenchOptions& o, std::int64_t new_tokens) {
  GenerateOptions gen;
  gen.max_new_tokens = new_tokens;
  gen.stop_ids = o.stop_ids;
  gen.decode_path = o.decode_path;
  return gen;
}

PromptRun run_prompt(const Engine& engine, at::Device device, const std::vector<std::int64_t>& ids,
                     const BenchOptions& o, std::int64_t new_tokens) {
  const BenchPolicies policies(o);
  const std::size_t n = policies.raw.size();
  PromptRun r;
  r.step_seconds.resize(n);
  r.batch_size.assign(n, 1);
  r.decode_path.resize(n);
  reset_peak_device_memory(device);
  synchronize(device);
  const auto t0 = Clock::now();
  PrefillResult prefilled = engine.prefill(ids, policies.raw, prefill_options(o));
  r.prefill_seconds = prefilled.seconds;
  r.compression_seconds = prefilled.policy_seconds;
  for (const auto& cache : prefilled.caches) r.kv_bytes.push_back(cache.bytes_used());
  GenerateOptions gen = generate_options(o, new_tokens);
  gen.time_steps = true;
  std::vector<std::size_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  for (const auto& group : decode_groups(engine, prefilled, all, o.batch_decode, gen)) {
    const std::vector<GenerationResult> outs = decode_group(engine, prefilled, group, gen);
    for (std::size_t j = 0; j < group.size(); ++j) {
      r.step_seconds[group[j]] = outs[j].step_seconds;
      r.batch_size[group[j]] = outs[j].batch_size;
      r.decode_path[group[j]] = outs[j].decode_path;
    }
    for (std::size_t i : group) prefilled.caches[i] = KvCache{};
  }
  synchronize(device);
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.peak_device_memory = peak_device_memory(device);
  return r;
}

// The prompts of one subset through the decode pools, `samples_in_flight` samples at a time, as `run` does with
// model.samples_in_flight: wall seconds of the whole (device synchronized) and the prefills' share.
struct InFlightTiming {
  double seconds = 0.0, prefill_seconds = 0.0;
  std::int64_t most_in_flight = 0;
};

InFlightTiming run_prompts_in_flight(const Transformer& model, const Engine& engine,
                                     const std::vector<std::vector<std::int64_t>>& prompts, const BenchOptions& o,
                                     std::int64_t new_tokens) {
  const at::Device device = model.device();
  const GenerateOptions gen = generate_options(o, new_tokens);
  KV_CHECK(engine.decode_path(gen) != "reference", "samples in flight need the ragged or graph decode path");
  std::vector<SampleVariant> variants;
  for (const auto& v : o.variants) variants.push_back({v.spec, true});
  const std::int64_t element_bytes = static_cast<std::int64_t>(c10::elementSize(model.dtype()));
  InFlightPlan plan;
  plan.samples = o.samples_in_flight;
  plan.max_new = new_tokens;
  for (const auto& p : prompts) plan.max_prompt = std::max<std::int64_t>(plan.max_prompt, static_cast<std::int64_t>(p.size()));
  const SlidingLayers sliding = prefill_options(o).sliding_layers;
  plan.variants_per_heads = sample_needs(model.config(), element_bytes, 1, variants, sliding).sequences;
  plan.graphs = engine.decode_path(gen) == "graph";
  plan.memory_bytes = in_flight_memory_budget(o.in_flight_memory, device);
  InFlightDecoder decoder(model, plan);
  std::vector<PrefillResult> prefilled(prompts.size());
  const BenchPolicies policies(o);
  const std::uint64_t n = policies.raw.size();
  InFlightTiming t;
  synchronize(device);
  const auto t0 = Clock::now();
  std::size_t next = 0;
  while (next < prompts.size() || decoder.in_flight() > 0) {
    while (next < prompts.size() &&
           decoder.can_start(sample_needs(model.config(), element_bytes, static_cast<std::int64_t>(prompts[next].size()),
                                          variants, sliding))) {
      PrefillResult& r = prefilled[next];
      r = engine.prefill(prompts[next], policies.raw, prefill_options(o));
      t.prefill_seconds += r.seconds;
      for (std::uint64_t i = 0; i < n; ++i) decoder.admit({next * n + i, &r.caches[i], r.last_logits, gen});
      ++next;
      t.most_in_flight = std::max(t.most_in_flight, decoder.in_flight());
    }
    for (const PoolResult& done : decoder.run_until_finished())
      prefilled[done.tag / n].caches[done.tag % n] = KvCache{};
  }
  synchronize(device);
  t.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return t;
}

void warm_up(const Engine& engine, at::Device device, std::int64_t tokens, std::int64_t vocab, const BenchOptions& o) {
  if (tokens <= 0) return;
  log::info("warm-up: ", tokens, " tokens (untimed)");
  run_prompt(engine, device, random_prompt(tokens, vocab, o.seed + 999983), o, std::min<std::int64_t>(4, o.new_tokens));
}

nlohmann::json header(const Transformer& model, const BenchOptions& o, const std::string& workload) {
  nlohmann::json variants = nlohmann::json::array();
  for (const auto& v : o.variants) variants.push_back(v.name);
  const std::int64_t weight_bytes =
      model.parameter_count() * static_cast<std::int64_t>(c10::elementSize(model.dtype()));
  return {{"workload", workload},
          {"device", model.device().str()},
          {"dtype", short_dtype_name(model.dtype())},
          {"architecture", model.config().architecture},
          {"parameters", model.parameter_count()},
          {"weight_bytes", weight_bytes},
          {"variants", variants},
          {"batch_decode", o.batch_decode},
          {"decode_path_requested", o.decode_path},
          {"peak_tflops", o.peak_tflops ? nlohmann::json(*o.peak_tflops) : nlohmann::json(nullptr)}};
}

nlohmann::json stats_json(const std::vector<double>& v, double scale) {
  const auto [median, p90] = median_p90(v);
  return {{"median", median * scale}, {"p90", p90 * scale}, {"count", v.size()}};
}

void write_prompt(const BenchOptions& o, const std::string& workload, const std::string& label,
                  const std::vector<std::int64_t>& ids, std::int64_t new_tokens) {
  if (o.prompts_out.empty()) return;
  JsonlAppender out(o.prompts_out);
  out.append({{"workload", workload}, {"label", label}, {"tokens", ids.size()}, {"new_tokens", new_tokens},
              {"ids", ids}});
}
}  // namespace

nlohmann::json bench_lengths(const Transformer& model, const Engine& engine, const BenchOptions& o) {
  KV_CHECK(!o.variants.empty() && o.samples > 0 && o.new_tokens >= 1, "bench needs variants, --samples >= 1 and "
           "--new-tokens >= 1");
  const at::Device device = model.device();
  const ModelConfig& c = model.config();
  nlohmann::json report = header(model, o, "lengths");
  report["new_tokens"] = o.new_tokens;
  report["samples"] = o.samples;
  report["lengths"] = nlohmann::json::array();
  for (std::int64_t T : o.prompt_tokens) {
    KV_CHECK(T >= 1, "--prompt-tokens must be positive, got ", T);
    warm_up(engine, device, o.warmup < 0 ? T : o.warmup, c.vocab_size, o);
    std::vector<double> prefill, model_seconds;
    std::vector<std::vector<double>> compression(o.variants.size()), steps(o.variants.size());
    std::vector<std::int64_t> kv_bytes(o.variants.size(), 0), batch(o.variants.size(), 1);
    std::vector<std::string> paths(o.variants.size());
    std::int64_t peak = -1;
    for (std::int64_t s = 0; s < o.samples; ++s) {
      const auto ids = random_prompt(T, c.vocab_size, o.seed + static_cast<std::uint64_t>(s));
      write_prompt(o, "lengths", std::to_string(T) + "/" + std::to_string(s), ids, o.new_tokens);
      const PromptRun r = run_prompt(engine, device, ids, o, o.new_tokens);
      prefill.push_back(r.prefill_seconds);
      model_seconds.push_back(r.prefill_seconds -
                              std::accumulate(r.compression_seconds.begin(), r.compression_seconds.end(), 0.0));
      for (std::size_t i = 0; i < o.variants.size(); ++i) {
        compression[i].push_back(r.compression_seconds[i]);
        steps[i].insert(steps[i].end(), r.step_seconds[i].begin(), r.step_seconds[i].end());
        kv_bytes[i] = r.kv_bytes[i];
        batch[i] = r.batch_size[i];
        paths[i] = r.decode_path[i];
      }
      if (r.peak_device_memory) peak = std::max(peak, *r.peak_device_memory);
      log::info("bench ", T, " tokens, sample ", s + 1, "/", o.samples, ": prefill ", log::fixed(r.prefill_seconds, 3),
                " s, whole prompt ", log::fixed(r.seconds, 3), " s");
    }
    const double median_prefill = median_p90(prefill).first, median_model = median_p90(model_seconds).first;
    nlohmann::json row = {{"prompt_tokens", T},
                          {"prefill_seconds", stats_json(prefill, 1.0)},
                          {"prefill_tokens_per_second", static_cast<double>(T) / median_prefill},
                          {"model_flops", prefill_flops(c, T)},
                          {"peak_device_memory_bytes", peak >= 0 ? nlohmann::json(peak) : nlohmann::json(nullptr)},
                          {"variants", nlohmann::json::array()}};
    row["mfu"] = o.peak_tflops ? nlohmann::json(prefill_flops(c, T) / median_model / (*o.peak_tflops * 1e12))
                               : nlohmann::json(nullptr);
    for (std::size_t i = 0; i < o.variants.size(); ++i)
      row["variants"].push_back({{"name", o.variants[i].name},
                                 {"kv_bytes", kv_bytes[i]},
                                 {"compression_seconds", stats_json(compression[i], 1.0)},
                                 {"decode_ms_per_step", stats_json(steps[i], 1e3)},
                                 {"decode_batch_size", batch[i]},
                                 {"decode_path", paths[i]}});
    report["lengths"].push_back(row);
  }
  return report;
}

nlohmann::json bench_longbench16(const Transformer& model, const Engine& engine, const BenchOptions& o) {
  KV_CHECK(!o.variants.empty() && o.per_subset > 0 && o.max_length > 0 && o.tokens_per_word > 0,
           "the longbench16 workload needs variants, --per-subset >= 1, --max-length >= 1 and --tokens-per-word > 0");
  const at::Device device = model.device();
  const ModelConfig& c = model.config();
  nlohmann::json report = header(model, o, "longbench16");
  report["estimate"] = "timed on " + std::to_string(o.per_subset) + " random prompt(s) per subset at the subset's "
                       "published average length and extrapolated to each subset's size; every prompt decodes its "
                       "subset's max new tokens" + std::string(o.stop_ids.empty() ? " (no stop token), so decode time is an upper bound"
                       : " or stops at the model's end-of-sequence token") +
                       std::string(o.samples_in_flight > 1 ? "; each subset's prompts decode together, up to " +
                                   std::to_string(o.samples_in_flight) + " samples in flight, and a prompt's time is "
                                   "the subset's wall time over its prompts" : "");
  report["samples_in_flight"] = o.samples_in_flight;
  report["stop_ids"] = o.stop_ids;
  report["tokens_per_word"] = o.tokens_per_word;
  report["max_length"] = o.max_length;
  report["subsets"] = nlohmann::json::array();
  const auto& shapes = longbench16_shapes();
  warm_up(engine, device, o.warmup < 0 ? std::min<std::int64_t>(o.max_length, 4096) : o.warmup, c.vocab_size, o);
  double total = 0.0, total_prompts = 0.0;
  Progress progress(static_cast<std::int64_t>(shapes.size() * o.per_subset), static_cast<std::int64_t>(o.variants.size()));
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    const LongBenchShape& shape = shapes[k];
    const std::int64_t tokens = std::min<std::int64_t>(
        o.max_length, static_cast<std::int64_t>(std::llround(static_cast<double>(shape.average_words) * o.tokens_per_word)));
    const std::int64_t new_tokens = find_subset(shape.subset).max_new_tokens;
    std::vector<double> seconds, prefill;
    std::vector<std::vector<std::int64_t>> prompts;
    for (std::int64_t i = 0; i < o.per_subset; ++i) {
      prompts.push_back(random_prompt(tokens, c.vocab_size, o.seed + 1000 * (k + 1) + static_cast<std::uint64_t>(i)));
      write_prompt(o, "longbench16", shape.subset, prompts.back(), new_tokens);
    }
    std::int64_t most_in_flight = 1;
    if (o.samples_in_flight > 1) {
      const InFlightTiming t = run_prompts_in_flight(model, engine, prompts, o, new_tokens);
      seconds.assign(prompts.size(), t.seconds / static_cast<double>(prompts.size()));
      prefill.assign(prompts.size(), t.prefill_seconds / static_cast<double>(prompts.size()));
      most_in_flight = t.most_in_flight;
      for (std::size_t i = 0; i < prompts.size(); ++i) progress.advance(tokens, shape.subset);
    } else {
      for (const auto& ids : prompts) {
        const PromptRun r = run_prompt(engine, device, ids, o, new_tokens);
        seconds.push_back(r.seconds);
        prefill.push_back(r.prefill_seconds);
        progress.advance(tokens, shape.subset);
      }
    }
    const double mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) / static_cast<double>(seconds.size());
    const double mean_prefill =
        std::accumulate(prefill.begin(), prefill.end(), 0.0) / static_cast<double>(prefill.size());
    total += mean * static_cast<double>(shape.samples);
    total_prompts += static_cast<double>(shape.samples);
    report["subsets"].push_back({{"subset", shape.subset},
                                 {"average_words", shape.average_words},
                                 {"prompt_tokens", tokens},
                                 {"new_tokens", new_tokens},
                                 {"samples", shape.samples},
                                 {"seconds_per_prompt", mean},
                                 {"prefill_seconds_per_prompt", mean_prefill},
                                 {"estimated_seconds", mean * static_cast<double>(shape.samples)},
                                 {"most_sequences_in_flight", most_in_flight}});
  }
  progress.finish();
  report["prompts"] = total_prompts;
  report["estimated_seconds"] = total;
  report["estimated_hours"] = total / 3600.0;
  return report;
}

}  // namespace kvbench
