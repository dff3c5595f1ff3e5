// kvbench bench (harness/runner/bench.h): the statistics and FLOP counts against hand-computed values, the
// LongBench-16 workload table against the paper's totals, and the command end to end on the CPU (its JSON,
// its prompts file, its errors). Speed itself is measured on the GPU (docs/performance.md), never asserted here.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "datasets/subset.h"
#include "harness/common/jsonl.h"
#include "harness/model/model_config.h"
#include "harness/model/random_checkpoint.h"
#include "harness/runner/bench.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {
using test::expect_one_error;
using test::run_kvbench;
using test::TempDir;

TEST(Bench, MedianAndP90AreNearestRank) {
  // Sorted {1, 2, 3, 4, 5}: the median is the ceil(0.5 * 5) = 3rd value, the p90 the ceil(0.9 * 5) = 5th.
  EXPECT_EQ(median_p90({5, 1, 4, 2, 3}), std::make_pair(3.0, 5.0));
  // Ten values 1..10: the 5th and the 9th.
  EXPECT_EQ(median_p90({10, 9, 8, 7, 6, 5, 4, 3, 2, 1}), std::make_pair(5.0, 9.0));
  EXPECT_EQ(median_p90({}), std::make_pair(0.0, 0.0));
}

TEST(Bench, PrefillFlopsByHand) {
  ModelConfig c;
  c.hidden_size = 64;
  c.head_dim = 16;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.intermediate_size = 96;
  c.num_layers = 2;
  c.vocab_size = 96;
  // Weights per layer: 64*(4+2*2)*16 (qkv) + 4*16*64 (o) + 3*64*96 (gate, up, down) = 8192 + 4096 + 18432 = 30720.
  // 2 * 30720 * 10 tokens * 2 layers = 1,228,800; causal attention 2 * 10^2 * 16 * 4 heads * 2 layers = 25,600;
  // the LM head for the last position 2 * 64 * 96 = 12,288. Sum: 1,266,688.
  EXPECT_DOUBLE_EQ(prefill_flops(c, 10), 1266688.0);
}

TEST(Bench, LongBench16ShapesAreThePapers) {
  const auto& shapes = longbench16_shapes();
  ASSERT_EQ(shapes.size(), 16u);
  std::int64_t prompts = 0;
  for (const auto& s : shapes) {
    prompts += s.samples;
    EXPECT_GT(find_subset(s.subset).max_new_tokens, 0) << s.subset;  // every one is a registered subset
  }
  EXPECT_EQ(prompts, 3750);  // LongBench's 16 English subsets
  EXPECT_EQ(std::string(shapes[0].subset), "narrativeqa");
  EXPECT_EQ(shapes[0].average_words, 18409);
  EXPECT_EQ(subsets_in("longbench16").size(), shapes.size());
}

TEST(Bench, KnownPeaks) {
  EXPECT_EQ(known_peak_tflops("NVIDIA H200"), 989.4);
  EXPECT_EQ(known_peak_tflops("NVIDIA H100 80GB HBM3"), 989.4);
  EXPECT_FALSE(known_peak_tflops("cpu").has_value());
}

class BenchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    RandomModelSpec s;
    s.vocab_size = 80;
    s.hidden_size = 32;
    s.intermediate_size = 40;
    s.num_layers = 2;
    s.num_heads = 4;
    s.num_kv_heads = 2;
    s.seed = 3;
    write_random_checkpoint(dir_.file("m"), s);
  }
  std::string model() const { return dir_.file("m"); }
  TempDir dir_;
};

TEST_F(BenchCli, LengthsReportEveryVariantAndWriteThePrompts) {
  const std::string prompts = dir_.file("prompts.jsonl");
  const auto r = run_kvbench("--log-level warn bench --model " + model() + " --prompt-tokens 40,72 --policy full "
                             "--policy snapkv --budget 16 --budget 24 --new-tokens 4 --samples 2 --json --prompts-out " +
                             prompts);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["workload"], "lengths");
  EXPECT_EQ(report["variants"], nlohmann::json({"full", "snapkv-16", "snapkv-24"}));
  EXPECT_TRUE(report["peak_tflops"].is_null());  // the CPU: no MFU
  ASSERT_EQ(report["lengths"].size(), 2u);
  for (const auto& row : report["lengths"]) {
    EXPECT_GT(row["prefill_seconds"]["median"].get<double>(), 0.0);
    EXPECT_GE(row["prefill_seconds"]["p90"].get<double>(), row["prefill_seconds"]["median"].get<double>());
    EXPECT_TRUE(row["mfu"].is_null());
    ASSERT_EQ(row["variants"].size(), 3u);
    const std::int64_t full = row["variants"][0]["kv_bytes"], small = row["variants"][1]["kv_bytes"];
    // 2 layers x 2 KV heads x 2 (K and V) x head dim 8 x 4 bytes per kept token.
    EXPECT_EQ(full, row["prompt_tokens"].get<std::int64_t>() * 2 * 2 * 2 * 8 * 4);
    EXPECT_EQ(small, 16 * 2 * 2 * 2 * 8 * 4);
    for (const auto& v : row["variants"]) {
      EXPECT_EQ(v["decode_ms_per_step"]["count"], 2 * 3) << "2 samples x (4 new tokens - 1 from the prefill)";
      EXPECT_GT(v["decode_ms_per_step"]["median"].get<double>(), 0.0);
      EXPECT_EQ(v["decode_path"], "reference");
    }
  }
  bool repaired = false;
  const auto rows = read_jsonl_rows(prompts, &repaired);
  ASSERT_EQ(rows.size(), 4u);  // 2 lengths x 2 samples; the warm-ups are not written
  EXPECT_EQ(rows[0]["ids"].size(), 40u);
  EXPECT_EQ(rows[3]["ids"].size(), 72u);
  EXPECT_NE(rows[0]["ids"], rows[1]["ids"]) << "each sample its own prompt";
}

TEST_F(BenchCli, LongBench16EstimatesEverySubset) {
  const auto r = run_kvbench("--log-level warn bench --model " + model() + " --workload longbench16 --max-length 24 "
                             "--warmup 0 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  ASSERT_EQ(report["subsets"].size(), 16u);
  double sum = 0.0;
  for (const auto& s : report["subsets"]) {
    EXPECT_EQ(s["prompt_tokens"].get<std::int64_t>(), 24) << "capped at --max-length";
    EXPECT_EQ(s["new_tokens"].get<int>(), find_subset(s["subset"].get<std::string>()).max_new_tokens);
    EXPECT_NEAR(s["estimated_seconds"].get<double>(),
                s["seconds_per_prompt"].get<double>() * s["samples"].get<double>(), 1e-9);
    sum += s["estimated_seconds"].get<double>();
  }
  EXPECT_NEAR(report["estimated_seconds"].get<double>(), sum, 1e-6);
  EXPECT_EQ(report["prompts"].get<double>(), 3750.0);
  EXPECT_NE(report["estimate"].get<std::string>().find("extrapolated"), std::string::npos);
}

TEST_F(BenchCli, BadFlagsAreOneClearError) {
  const std::string base = "bench --model " + model() + " ";
  expect_one_error(run_kvbench(base + "--policy snapkv"), "--policy snapkv needs --budget");
  expect_one_error(run_kvbench(base + "--workload every"), "--workload must be lengths or longbench16");
  expect_one_error(run_kvbench(base + "--prompt-tokens 0"), "--prompt-tokens must be positive");
  expect_one_error(run_kvbench(base + "--decode-path fastest"), "--decode-path must be");
  expect_one_error(run_kvbench(base + "--policy nope --budget 4"), "nope");
  test::write_file(dir_.file("taken.jsonl"), "");
  expect_one_error(run_kvbench(base + "--prompts-out " + dir_.file("taken.jsonl")), "exists already");
}

}  // namespace
}  // namespace kvbench
