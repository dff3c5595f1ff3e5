// The reference conventions (policies/reference.h): budgets as kvpress and KVCache-Factory count them, kvpress's
// PyramidKV schedule and AdaKV safeguard, Ada-KV's rounding and normalization, per-query-head scores and kept sets,
// ObservedAttention's mean, kvpress's ranked window, KVCache-Factory's uncompressed layers, and the errors for
// pairs no reference implements. Every expected value is derived by hand in the comment beside it.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "datasets/subset.h"
#include "harness/common/error.h"
#include "policies/components.h"
#include "policies/registry.h"
#include "tests/policy_fixtures.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using test::error_of;
using test::head_positions;
using test::heads_of;
using test::sequence_info;

PolicySpec spec_of(const std::string& name, BudgetSpec budget, const std::string& reference,
                   nlohmann::json params = nlohmann::json::object()) {
  PolicySpec s{name, budget, std::move(params)};
  s.reference = reference;
  return s;
}

TEST(ReferenceBudgets, CompressionRatioTruncatesAsKvpress) {
  // kvpress: n_kept = int(k_len * (1 - r)). 1 - 0.9 is 0.09999999999999998 in double, so a 1030-token prompt keeps
  // int(102.99999999999997) = 102 (rounding would say 103), and 10 tokens at 0.8 keep int(1.9999999999999996) = 1.
  const BudgetSpec b = parse_budget({{"compression_ratio", 0.9}}, "b");
  EXPECT_EQ(b.resolve(sequence_info(1030)), 102);
  EXPECT_LT(b.exact(sequence_info(1030)), 103.0);
  EXPECT_GT(b.exact(sequence_info(1030)), 102.9999);
  EXPECT_EQ(parse_budget({{"compression_ratio", 0.75}}, "b").resolve(sequence_info(517)), 129);  // int(129.25)
  EXPECT_EQ(parse_budget({{"compression_ratio", 0.8}}, "b").resolve(sequence_info(10)), 1);
  EXPECT_EQ(b.describe(), "compression_ratio=0.9");
  EXPECT_EQ(b.to_json(), nlohmann::json({{"compression_ratio", 0.9}}));
  // KVCache-Factory's max_capacity_prompt is kvbench's token count (window included) under its own name.
  const BudgetSpec m = parse_budget({{"max_capacity_prompt", 130}}, "b");
  EXPECT_EQ(m.resolve(sequence_info(1030)), 130);
  EXPECT_EQ(m.exact(sequence_info(1030)), 130.0);
  EXPECT_EQ(m.describe(), "max_capacity_prompt=130");
  EXPECT_EQ(parse_budget(m.to_json(), "b").kind, BudgetSpec::Kind::kMaxCapacityPrompt);
  EXPECT_NE(error_of([] { parse_budget({{"compression_ratio", 1}}, "b"); }).find("compression ratio must be in [0, 1), got 1"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_budget({{"max_capacity_prompt", 0}}, "b"); })
                .find("b: max_capacity_prompt (tokens per head) must be between 1 and 16777216, got 0"),
            std::string::npos);
  // Checked in its own type: 2^64-1 must not wrap to a negative budget, nor 2^40 become a budget the cache can't hold.
  EXPECT_NE(error_of([] { parse_budget(nlohmann::json::parse(R"({"max_capacity_prompt": 18446744073709551615})"), "b"); })
                .find("must be between 1 and 16777216, got 18446744073709551615"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_budget({{"max_capacity_prompt", std::int64_t{1} << 40}}, "b"); }).find("between 1 and"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_budget({{"max_capacity_prompt", 12.5}}, "b"); }).find("between 1 and"), std::string::npos);
}

TEST(ReferenceBudgets, ByteBudgetsPayForTheHeadsTheCacheHolds) {
  // 1 layer, 2 KV heads, 4 query heads, d 4, 2-byte elements: a token costs 2 (K, V) x 2 heads x 4 x 2 = 32 bytes
  // per KV-head cache, 64 per query-head cache; 6400 bytes hold 200 or 100 tokens.
  const BudgetSpec bytes = BudgetSpec::kv_bytes(6400);
  auto kv = make_policy(spec_of("snapkv", bytes, "kvbench"));
  auto q = make_policy(spec_of("snapkv", bytes, "kvcache_factory"));
  kv->begin_sequence(sequence_info(1000));
  q->begin_sequence(sequence_info(1000));
  EXPECT_EQ(kv->resolved_budget(), 200);
  EXPECT_EQ(q->resolved_budget(), 100);
  EXPECT_EQ(q->granularity(), "query_head");
}

TEST(ReferenceParts, KvpressPyramidScheduleByHand) {
  // x = T (1 - r) = 1300 of T = 2600, w = 64, beta 20, L = 8: min = 1300 / 20 = 65, max = 2600 - 65 = 2535
  // (< T - w = 2536, no clip), T >= 2535 >= 65 >= 64 so no fallback; step (2535 - 65) / 7 = 352.857...;
  // layer 3: round(2535 - 1058.571) = 1476, layer 4: round(1123.571) = 1124.
  EXPECT_EQ(kvpress_pyramid_budget(1300, 2600, 64, 8, 0, 20), 2535);
  EXPECT_EQ(kvpress_pyramid_budget(1300, 2600, 64, 8, 3, 20), 1476);
  EXPECT_EQ(kvpress_pyramid_budget(1300, 2600, 64, 8, 4, 20), 1124);
  EXPECT_EQ(kvpress_pyramid_budget(1300, 2600, 64, 8, 7, 20), 65);
  // x = 2000: max = 4000 - 100 = 3900 >= 2536, clipped to 2536, min = 4000 - 2536 = 1464; step 1072 / 7.
  EXPECT_EQ(kvpress_pyramid_budget(2000, 2600, 64, 8, 0, 20), 2536);
  EXPECT_EQ(kvpress_pyramid_budget(2000, 2600, 64, 8, 7, 20), 1464);
  // x = 257.5 (T = 1030, r = 0.75): min = 12.875 < 64, every layer falls back to round(257.5) = 258 (half to
  // even), not kvpress's int() of ScorerPress (257); 256.5 rounds to 256.
  EXPECT_EQ(kvpress_pyramid_budget(257.5, 1030, 64, 8, 0, 20), 258);
  EXPECT_EQ(kvpress_pyramid_budget(257.5, 1030, 64, 8, 7, 20), 258);
  EXPECT_EQ(kvpress_pyramid_budget(256.5, 1026, 64, 8, 2, 20), 256);
}

TEST(ReferenceParts, AdaRoundingByHand) {
  // Three heads of 10 positions, b = 5, alpha 0.2: the global top 15 is head 0's 100..94 (7), head 1's 90..84 (7)
  // and head 2's 50 (1), so c = (7, 7, 1).
  std::vector<float> h0 = {100, 99, 98, 97, 96, 95, 94, 0.1f, 0.1f, 0.1f};
  std::vector<float> h1 = {90, 89, 88, 87, 86, 85, 84, 0.2f, 0.2f, 0.2f};
  std::vector<float> h2 = {50, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f};
  const at::Tensor scores = at::stack({at::tensor(h0), at::tensor(h1), at::tensor(h2)});
  // Ada-KV: round(0.8 c + int(5 x 0.2) = 1): 6.6 -> 7, 6.6 -> 7, 1.8 -> 2 (16 kept, not 15).
  AdaOptions nearest;
  nearest.rounding = AdaRoundingKind::kNearest;
  EXPECT_EQ(ada_head_budgets(scores, 5, 0.2, nearest), (std::vector<std::int64_t>{7, 7, 2}));
  // kvbench: weights 6.6, 6.6, 1.8 sum to 15; floors 6, 6, 1 and the two left go to the largest remainders,
  // head 2 (.8) then head 0 (.6, first of the tie).
  EXPECT_EQ(ada_head_budgets(scores, 5, 0.2), (std::vector<std::int64_t>{7, 6, 2}));
}

TEST(ReferenceParts, AdaNormalizationByHand) {
  // Head 0 is flat (five 1s), head 1 peaked (0.9, 0.8, three 0.01); b = 2. Unnormalized, the global top 4 is four
  // of head 0's 1s: c = (4, 0). Normalized, head 0 is scaled by its top-2 share 2/5 = 0.4 and head 1 by
  // 1.7/1.73 = 0.98266: 0.884 and 0.786 now beat head 0's 0.4s, c = (2, 2). alpha 0, nearest: budgets = c.
  const at::Tensor scores = at::tensor(std::vector<float>{1, 1, 1, 1, 1, 0.9f, 0.8f, 0.01f, 0.01f, 0.01f}).view({2, 5});
  AdaOptions o;
  o.rounding = AdaRoundingKind::kNearest;
  EXPECT_EQ(ada_head_budgets(scores, 2, 0.0, o), (std::vector<std::int64_t>{4, 0}));
  o.normalize = true;
  EXPECT_EQ(ada_head_budgets(scores, 2, 0.0, o), (std::vector<std::int64_t>{2, 2}));
}

TEST(ReferenceParts, KvpressAdaSafeguardThenOneTopK) {
  // Head 0 scores 6..1, head 1 0.6..0.1; b = 3. Without a safeguard head 0 wins all 6 places; with safe = 1 each
  // head first keeps its own best, then the other 4 places go to head 0's 5, 4, 3, 2: (5, 1).
  const at::Tensor scores = at::tensor(std::vector<float>{6, 5, 4, 3, 2, 1, .6f, .5f, .4f, .3f, .2f, .1f}).view({2, 6});
  EXPECT_EQ(kvpress_ada_budgets(scores, 3, 0), (std::vector<std::int64_t>{6, 0}));
  EXPECT_EQ(kvpress_ada_budgets(scores, 3, 1), (std::vector<std::int64_t>{5, 1}));
}

TEST(ReferenceParts, PadWithTopRanksTheWindowFirst) {
  // kvpress pads with the layer's maximum (3, over every head) + 1.
  const at::Tensor s = at::tensor(std::vector<float>{1, 3, 2, 0}).view({2, 2});
  EXPECT_TRUE(at::equal(pad_with_top(s, 2), at::tensor(std::vector<float>{1, 3, 4, 4, 2, 0, 4, 4}).view({2, 4})));
  EXPECT_TRUE(at::equal(pad_with_top(s, 1, true), at::tensor(std::vector<float>{4, 1, 3, 4, 2, 0}).view({2, 3})));
}

// One KV head, two query heads (d = 2, scale 1/sqrt 2), T = 4: keys (2,0) (0,2) (0,0) (0,0); the last position's
// queries are (1,0) for query head 0 and (0,1) for query head 1.
LayerView two_query_heads() {
  LayerView v;
  v.layer = 0;
  v.num_layers = 1;
  v.keys = heads_of({{{2, 0}, {0, 2}, {0, 0}, {0, 0}}});
  v.values = at::ones({1, 4, 2});
  v.queries = at::tensor(std::vector<float>{1, 0, 0, 1}).view({2, 1, 2});
  v.token_ids = at::arange(4, at::kLong);
  v.scale = 1.0 / std::sqrt(2.0);
  v.num_query_heads = 2;
  return v;
}

TEST(ReferenceParts, PerQueryHeadWindowScoresByHand) {
  // Query head 0's logits: 2/sqrt2 = 1.41421 for key 0, 0 for the rest; e^1.41421 = 4.11325, sum 7.11325:
  // p = (.578252, .140583, .140583, .140583). Query head 1 the same with keys 0 and 1 swapped. Window 1: E = 3.
  ScoreConfig c;
  c.window = 1;
  c.kernel = 1;
  c.granularity = GranularityKind::kQueryHead;
  const at::Tensor q = compute_scores(ScorerKind::kWindow, two_query_heads(), c);
  ASSERT_EQ(q.sizes(), (std::vector<std::int64_t>{2, 3}));
  const std::vector<double> want0 = {.578252, .140583, .140583}, want1 = {.140583, .578252, .140583};
  for (std::int64_t j = 0; j < 3; ++j) {
    EXPECT_NEAR(q[0][j].item<double>(), want0[j], 1e-5);
    EXPECT_NEAR(q[1][j].item<double>(), want1[j], 1e-5);
  }
  // Per KV head the two rows are averaged: (.359417, .359417, .140583).
  c.granularity = GranularityKind::kKvHead;
  const at::Tensor kv = compute_scores(ScorerKind::kWindow, two_query_heads(), c);
  EXPECT_NEAR(kv[0][0].item<double>(), .359417, 1e-5);
  EXPECT_NEAR(kv[0][2].item<double>(), .140583, 1e-5);
  // KVCache-Factory's SnapKV at window 1, kernel 1, 2 tokens: one kept set per query head, {0, 3} and {1, 3}.
  auto p = make_policy(spec_of("snapkv", 2, "kvcache_factory", {{"window", 1}, {"kernel", 1}}));
  p->begin_sequence(sequence_info(4, 1, 1, 2, 2));
  const KeptPositions k = p->select(two_query_heads());
  ASSERT_EQ(k.num_heads(), 2);
  EXPECT_EQ(head_positions(k, 0), (std::vector<std::int64_t>{0, 3}));
  EXPECT_EQ(head_positions(k, 1), (std::vector<std::int64_t>{1, 3}));
  // Scorers without per-query-head scores repeat their KV head's row: knorm keeps the same set for both.
  auto n = make_policy(spec_of("knorm", 2, "kvcache_factory", {{"skip_layers", nlohmann::json::array()}}));
  n->begin_sequence(sequence_info(4, 1, 1, 2, 2));
  const KeptPositions kn = n->select(two_query_heads());
  ASSERT_EQ(kn.num_heads(), 2);
  EXPECT_EQ(head_positions(kn, 0), (std::vector<std::int64_t>{2, 3}));  // the two zero keys: smallest norms
  EXPECT_EQ(head_positions(kn, 1), (std::vector<std::int64_t>{2, 3}));
}

TEST(ReferenceParts, ObservedAttentionAveragesOverTheQueriesThatSeeEachKey) {
  // Equal keys: causal attention is uniform, query i gives 1/(i+1) to each of keys 0..i. T = 3, window 0:
  // column sums 1 + 1/2 + 1/3 = 1.833333, 1/2 + 1/3 = .833333, 1/3; kvpress divides by the T - j queries seeing
  // key j: .611111, .416667, .333333 (which reorders nothing here, but CriticalKV's epsilon and kvpress's max + 1
  // padding read the absolute values).
  LayerView v;
  v.layer = 0;
  v.num_layers = 1;
  v.keys = heads_of({{{1, 0}, {1, 0}, {1, 0}}});
  v.values = at::ones({1, 3, 2});
  v.queries = heads_of({{{0, 1}, {1, 1}, {2, 0}}});
  v.token_ids = at::arange(3, at::kLong);
  v.scale = 1.0 / std::sqrt(2.0);
  ScoreConfig c;
  c.window = 0;
  c.kernel = 1;
  const at::Tensor sums = compute_scores(ScorerKind::kH2o, v, c);
  c.query_reduction = QueryReductionKind::kMean;
  const at::Tensor means = compute_scores(ScorerKind::kH2o, v, c);
  const std::vector<double> want_sum = {1.833333, .833333, .333333}, want_mean = {.611111, .416667, .333333};
  for (std::int64_t j = 0; j < 3; ++j) {
    EXPECT_NEAR(sums[0][j].item<double>(), want_sum[j], 1e-5);
    EXPECT_NEAR(means[0][j].item<double>(), want_mean[j], 1e-5);
  }
}

TEST(ReferencePolicies, KvpressRanksItsWindowInsteadOfKeepingIt) {
  // T = 10, window 4, compression ratio 0.8: n_kept = int(1.9999999999999996) = 1. kvpress's window scores the
  // layer's maximum + 1, so the one kept position is in the window, not the window plus one (kvbench's rule).
  auto p = make_policy(spec_of("snapkv", BudgetSpec::compression_ratio(0.8), "kvpress", {{"window", 4}}));
  p->begin_sequence(sequence_info(10, 1, 1, 1, 2));
  LayerView v;
  v.layer = 0;
  v.num_layers = 1;
  v.keys = at::randn({1, 10, 2});
  v.values = at::ones({1, 10, 2});
  v.queries = at::randn({1, 4, 2});
  v.token_ids = at::arange(10, at::kLong);
  v.scale = 1.0 / std::sqrt(2.0);
  const KeptPositions k = p->select(v);
  ASSERT_EQ(k.total(), 1);
  EXPECT_GE(head_positions(k, 0)[0], 6);
  EXPECT_EQ(p->resolved_budget(), 1);
  EXPECT_EQ(p->kept_window(), 0);
}

TEST(ReferencePolicies, KvcacheFactoryL2NormLeavesTwoLayersWhole) {
  // Layers 0 and 1 keep all 6 positions; layer 2 keeps the 2 smallest-norm keys, no window.
  auto p = make_policy(spec_of("knorm", 2, "kvcache_factory"));
  p->begin_sequence(sequence_info(6, 3, 1, 1, 2));
  LayerView v;
  v.num_layers = 3;
  v.keys = heads_of({{{5, 0}, {1, 0}, {4, 0}, {0, 2}, {3, 3}, {9, 9}}});
  v.values = at::ones({1, 6, 2});
  v.token_ids = at::arange(6, at::kLong);
  for (std::int64_t l = 0; l < 3; ++l) {
    v.layer = l;
    const KeptPositions k = p->select(v);
    const std::vector<std::int64_t> want = l < 2 ? std::vector<std::int64_t>{0, 1, 2, 3, 4, 5} : std::vector<std::int64_t>{1, 3};
    EXPECT_EQ(head_positions(k, 0), want) << "layer " << l;
  }
}

TEST(ReferencePolicies, EachReferenceSelectsItsDefaults) {
  auto describe = [](const std::string& name, const std::string& reference) {
    return make_policy(spec_of(name, 256, reference))->describe();
  };
  EXPECT_EQ(describe("snapkv", "kvpress"), "snapkv(budget=256, reference=kvpress, window=64 (ranked, not always kept), "
                                           "kernel=5, pool=avg, query_reduction=mean)");
  EXPECT_EQ(describe("snapkv", "kvcache_factory"),
            "snapkv(budget=256, reference=kvcache_factory, window=8, granularity=query_head, kernel=7, pool=max)");
  EXPECT_EQ(describe("adakv", "adakv"), "adakv(budget=256, reference=adakv, window=32, granularity=query_head, kernel=7, "
                                        "pool=max, query_reduction=mean, ada alpha=0.2 (nearest))");
  EXPECT_EQ(describe("adakv", "kvcache_factory"),
            "adakv(budget=256, reference=kvcache_factory, window=8, granularity=query_head, kernel=7, pool=max, "
            "query_reduction=mean, ada alpha=0.2 (normalized, nearest))");
  EXPECT_EQ(describe("adakv", "kvpress"), "adakv(budget=256, reference=kvpress, window=64 (ranked, not always kept), "
                                          "kernel=5, pool=avg, query_reduction=mean, ada_kvpress alpha=0.2)");
  EXPECT_EQ(describe("pyramidkv", "kvcache_factory"),
            "pyramidkv(budget=256, reference=kvcache_factory, window=8, granularity=query_head, kernel=7, pool=max, "
            "pyramid beta=20 (fallback))");
  EXPECT_EQ(describe("h2o", "kvpress"), "h2o(budget=256, reference=kvpress, window=0, query_reduction=mean)");
  EXPECT_EQ(describe("tova", "kvpress"), "tova(budget=256, reference=kvpress, window=1 (ranked, not always kept))");
  EXPECT_EQ(describe("snapkv", "snapkv"), "snapkv(budget=256, reference=snapkv, window=32, granularity=query_head, "
                                          "kernel=7, pool=max)");
  // The CriticalKV fix: its window scores are means, kvpress's scale for epsilon = 1e-4.
  EXPECT_NE(describe("criticalkv", "kvbench").find("query_reduction=mean"), std::string::npos);
  // kvbench's own defaults are unchanged, and params still override a reference's.
  EXPECT_EQ(describe("snapkv", "kvbench"), "snapkv(budget=256, window=32, kernel=7, pool=max)");
  EXPECT_EQ(make_policy(spec_of("snapkv", 256, "kvcache_factory", {{"granularity", "kv_head"}, {"window", 16}}))->describe(),
            "snapkv(budget=256, reference=kvcache_factory, window=16, kernel=7, pool=max)");
  EXPECT_EQ(make_policy(spec_of("streaming", 256, "adakv"))->granularity(), "query_head");
  EXPECT_EQ(make_policy(spec_of("streaming", 256, "kvpress"))->granularity(), "kv_head");
  EXPECT_EQ(make_policy(spec_of("snapkv", 256, "kvcache_factory"))->kept_window(), 8);
  EXPECT_EQ(make_policy(spec_of("snapkv", 256, "kvpress"))->kept_window(), 0);
}

TEST(ReferencePolicies, PairsNoReferenceImplementsAreErrors) {
  EXPECT_NE(error_of([] { make_policy(spec_of("tova", 64, "kvcache_factory")); })
                .find("policy 'tova' has no kvcache_factory implementation (references: kvbench, kvpress)"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_policy(spec_of("kvec", 64, "kvpress")); })
                .find("policy 'kvec' has no kvpress implementation (references: kvbench)"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_policy(spec_of("snapkv", 64, "kvpres")); })
                .find("unknown reference 'kvpres' (use kvbench, kvpress, kvcache_factory, adakv or snapkv)"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_policy(spec_of("snapkv", 64, "kvbench", {{"window", 0}})); })
                .find("the window scorer needs an observation window: window must be >= 1"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_policy(spec_of("snapkv", 64, "kvbench", {{"granularity", "group"}})); })
                .find("unknown granularity 'group' (use kv_head or query_head)"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_policy(spec_of("knorm", 64, "kvbench", {{"skip_layers", {0, -1}}})); })
                .find("skip_layers must list layer indices >= 0, got -1"),
            std::string::npos);
}

// The two reproduction configs, through `kvbench run --dry-run` on the demo checkpoint (standing in for the 7B/8B
// models CI does not have) and one LongBench-shaped row per subset: every variant resolves to the paper's or the
// code base's settings, printed in the plan as reports record them.
std::string dry_run(const std::string& config, const std::string& extra = "") {
  test::TempDir dir;
  for (const SubsetSpec* s : subsets_in("longbench16")) {
    const nlohmann::json row = {{"input", "What is the answer?"}, {"context", "Some context. The answer is 42."},
                                {"answers", {"42"}}, {"length", 7}, {"dataset", s->name}, {"language", "en"},
                                {"all_classes", nullptr}, {"_id", "row-" + s->name}};
    test::write_file(dir.file(s->name + ".jsonl"), row.dump() + "\n");
  }
  const auto r = test::run_kvbench("run --dry-run --log-level error --config " + std::string(KVBENCH_SOURCE_DIR) +
                                   "/configs/" + config + " --set model.path=\"" + std::string(KVBENCH_SOURCE_DIR) +
                                   "/models/kvbench-demo\" --set model.device=cpu --set model.dtype=f32" +
                                   " --set datasets.data_dir=\"" + dir.path() + "\" --output-dir " + dir.file("out") + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(ReferenceConfigs, AdakvPaperMistralSettingDryRuns) {
  const std::string out = dry_run("adakv-paper-mistral-7b-longbench.json");
  // Window 32, maxpool 7, alpha 0.2 rounded per head as Ada-KV does, normalize off, caches per query head.
  EXPECT_NE(out.find("  ada-snapkv-mcp128: adakv(budget=max_capacity_prompt=128, reference=adakv, window=32, "
                     "granularity=query_head, kernel=7, pool=max, query_reduction=mean, ada alpha=0.2 (nearest))"),
            std::string::npos) << out;
  EXPECT_NE(out.find("  snapkv-mcp1024: snapkv(budget=max_capacity_prompt=1024, reference=adakv, window=32, "
                     "granularity=query_head, kernel=7, pool=max, query_reduction=mean)"),
            std::string::npos) << out;
  EXPECT_NE(out.find("  ada-pyramidkv-mcp256: compose(budget=max_capacity_prompt=256, reference=adakv, window=32, "
                     "granularity=query_head, kernel=7, pool=max, query_reduction=mean, pyramid beta=20, ada alpha=0.2 "
                     "(nearest))"),
            std::string::npos) << out;
  EXPECT_NE(out.find("17 variants:"), std::string::npos) << out;
  EXPECT_NE(out.find("16 samples"), std::string::npos) << out;
}

TEST(ReferenceConfigs, KvpressLongbenchSettingDryRuns) {
  // The demo checkpoint has no Llama-3.1 chat tokens and 8k positions: the stand-in changes those two keys only.
  const std::string out = dry_run("kvpress-longbench.json", " --set model.chat=none --set model.max_length=8192");
  EXPECT_NE(out.find("  snapkv-cr0.5-agnostic: snapkv(budget=compression_ratio=0.5, reference=kvpress, window=64 (ranked, "
                     "not always kept), kernel=5, pool=avg, query_reduction=mean)"),
            std::string::npos) << out;
  EXPECT_NE(out.find("  observed_attention-cr0.25-agnostic: h2o(budget=compression_ratio=0.25, reference=kvpress, "
                     "window=0, query_reduction=mean)"),
            std::string::npos) << out;
  EXPECT_NE(out.find("  knorm-cr0.75-agnostic: knorm(budget=compression_ratio=0.75, reference=kvpress, window=0)"),
            std::string::npos) << out;
  EXPECT_NE(out.find("  adakv-cr0.5-agnostic: adakv(budget=compression_ratio=0.5, reference=kvpress, window=64 (ranked, "
                     "not always kept), kernel=5, pool=avg, query_reduction=mean, ada_kvpress alpha=0.2)"),
            std::string::npos) << out;
  EXPECT_NE(out.find("37 variants:"), std::string::npos) << out;
}

}  // namespace
}  // namespace kvbench
