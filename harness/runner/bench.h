#pragma once
// `kvbench bench`: how fast a model prefills, compresses and decodes, measured the way a sweep runs (one
// prefill feeding every variant, the variants decoding together), on random prompts.
//
// Two workloads:
//  - lengths: S random prompts at each given length, N new tokens each (no stop token), after an untimed
//    warm-up of the same length; prefill time, tokens/s and MFU; per variant the compression time, KV bytes
//    held, decode ms per step (median and p90 over every step of every sample); peak device memory.
//  - longbench16: the 16 English LongBench subsets (3,750 prompts) at each subset's published average length
//    (words x tokens-per-word, capped at max_length) with each subset's max new tokens, timed on K prompts per
//    subset and extrapolated to the whole benchmark (stated as an estimate in the output); with samples in flight,
//    each subset's K prompts decode together and the subset's wall time is divided among them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/engine/engine.h"
#include "policies/registry.h"

namespace kvbench {

/// One policy x budget of a bench.
struct BenchVariant {
  std::string name;  ///< e.g. "snapkv-1024"
  PolicySpec spec;
};

struct BenchOptions {
  std::vector<std::int64_t> prompt_tokens = {8192};
  std::vector<BenchVariant> variants;
  std::int64_t new_tokens = 64;
  std::int64_t samples = 3;       ///< prompts per length
  std::int64_t warmup = -1;       ///< warm-up prompt tokens: -1 the measured length, 0 none
  std::uint64_t seed = 1;
  bool batch_decode = true;       ///< the variants of a prompt decode together (as `run` does on CUDA)
  std::string decode_path = "auto";
  std::int64_t prefill_chunk = 0;
  std::optional<double> peak_tflops;  ///< for MFU; unknown devices report none
  // longbench16
  std::int64_t per_subset = 1;    ///< prompts timed per subset
  std::int64_t max_length = 31500;
  double tokens_per_word = 1.3;
  std::string prompts_out;        ///< write every timed prompt's ids here (JSONL), for side-by-side runs
  /// longbench16: samples decoding together (harness/engine/in_flight.h); 1: one prompt at a time. Each
  /// subset's prompts then run through the pools, and a prompt's time is the subset's wall time over its prompts.
  std::int64_t samples_in_flight = 1;
  std::int64_t in_flight_memory = 0;  ///< bytes for the caches in flight and their tails; 0: 80% of what is free
  /// Generation ends at these ids (`--stop-at-eos`: the model's end-of-sequence ids); empty: every prompt decodes
  /// its max new tokens, an upper bound.
  std::vector<std::int64_t> stop_ids;
};

/// The published average length (words) and size of a LongBench subset (LongBench paper, Table 1).
struct LongBenchShape {
  const char* subset;
  std::int64_t average_words;
  std::int64_t samples;
};
/// The 16 English subsets, in the papers' order; their samples sum to 3,750.
const std::vector<LongBenchShape>& longbench16_shapes();

/// Model FLOPs of a prefill of T tokens: 2 x (matrix weights) x T + causal attention 2 T^2 d Hq per layer.
double prefill_flops(const ModelConfig& config, std::int64_t T);

/// Datasheet dense bf16 peak in TFLOP/s of a device called `device_name`, where kvbench knows it.
std::optional<double> known_peak_tflops(const std::string& device_name);

/// The lengths workload; returns the JSON report (also printed as a table by the CLI).
nlohmann::json bench_lengths(const Transformer& model, const Engine& engine, const BenchOptions& options);
/// The longbench16 workload estimate.
nlohmann::json bench_longbench16(const Transformer& model, const Engine& engine, const BenchOptions& options);

/// Median and 90th percentile of `values` (nearest-rank); zeros when empty.
std::pair<double, double> median_p90(std::vector<double> values);

}  // namespace kvbench
