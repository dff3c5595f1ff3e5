// Eviction policies: each component on hand-built tensors whose results are derived by hand (each test says
// how), then invariants for every registered policy: budgets kept exactly, the window always kept, positions
// sorted, unique and in range, totals across layers for the layer allocators.
#include <gtest/gtest.h>

#include <set>

#include "harness/common/error.h"
#include "policies/components.h"
#include "policies/registry.h"
#include "tests/policy_fixtures.h"

namespace kvbench {
namespace {

using test::as_vector;
using test::head_positions;
using test::sequence_info;

// A random layer: every tensor a policy may ask for.
LayerView random_view(std::int64_t layer, std::int64_t L, std::int64_t T, std::int64_t Hkv = 2, std::int64_t g = 2,
                      std::int64_t d = 8, std::uint64_t seed = 1) {
  at::Generator gen = at::detail::createCPUGenerator(seed * 100 + static_cast<std::uint64_t>(layer));
  LayerView v;
  v.layer = layer;
  v.num_layers = L;
  v.keys = at::randn({Hkv, T, d}, gen);
  v.values = at::randn({Hkv, T, d}, gen);
  v.queries = at::randn({Hkv * g, T, d}, gen);
  v.token_ids = at::randint(0, 50, {T}, gen, at::kLong);
  v.scale = 1.0 / std::sqrt(static_cast<double>(d));
  v.out_proj = at::randn({16, Hkv * g * d}, gen);  // model dimension 16
  v.rope_inv_freq = 1.0 / at::pow(10000.0, at::arange(0, d, 2).to(at::kFloat) / static_cast<double>(d));
  // KVzip's reconstruction pass as if the prompt followed itself directly (X = prompt ++ prompt): the T queries
  // are then those of positions T .. 2T - 1, which see the prompt's keys and T more.
  v.reconstruction_keys = at::cat({v.keys, at::randn({Hkv, T, d}, gen)}, 1);
  v.reconstruction_start = T;
  return v;
}

TEST(Policies, StreamingKeepsSinksAndRecent) {
  // T = 10, budget 6, sinks 2: the first 2 positions and the last 6 - 2 = 4, i.e. {0, 1, 6, 7, 8, 9}.
  auto p = make_policy({"streaming", 6, {{"sinks", 2}}});
  p->begin_sequence(sequence_info(10));
  const KeptPositions k = p->select(random_view(0, 1, 10));
  ASSERT_EQ(k.num_heads(), 2);
  for (std::int64_t h = 0; h < 2; ++h) EXPECT_EQ(head_positions(k, h), (std::vector<std::int64_t>{0, 1, 6, 7, 8, 9}));
  EXPECT_EQ(p->describe(), "streaming(budget=6, sinks=2)");
  // Default sinks = 4: T = 12, budget 8 keeps {0..3} and {8..11}.
  auto q = make_policy({"streaming", 8});
  q->begin_sequence(sequence_info(12));
  EXPECT_EQ(head_positions(q->select(random_view(0, 1, 12)), 0), (std::vector<std::int64_t>{0, 1, 2, 3, 8, 9, 10, 11}));
  // T <= budget: nothing is evicted.
  q->begin_sequence(sequence_info(8));
  EXPECT_TRUE(q->select(random_view(0, 1, 8)).everything);
}

TEST(Policies, BudgetsAsTokensEvictionRateAndBytes) {
  // evict 0.9 of a 1000-token prompt keeps round(0.1 * 1000) = 100 tokens per head.
  EXPECT_EQ(BudgetSpec::evict_rate(0.9).resolve(sequence_info(1000)), 100);
  EXPECT_EQ(BudgetSpec::evict_rate(0.75).resolve(sequence_info(10)), 3);  // 2.5 rounds half up to 3
  // 1 MiB over 2 (K, V) x 4 layers x 2 KV heads x 64 dims x 2 bytes = 2048 bytes per token -> 512 tokens.
  EXPECT_EQ(BudgetSpec::kv_bytes(parse_bytes("1MiB", "t")).resolve(sequence_info(5000, 4, 2, 8, 64)), 512);
  EXPECT_EQ(parse_budget(nlohmann::json({{"kv_bytes", "1.5KB"}}), "t").value, 1500);
  EXPECT_EQ(parse_budget(nlohmann::json(128), "t").resolve(sequence_info(5000)), 128);
  EXPECT_THROW(parse_budget(nlohmann::json({{"evict", 1.2}}), "t"), Error);
  EXPECT_THROW(parse_budget(nlohmann::json({{"kv_bytes", "12 parsecs"}}), "t"), Error);
  EXPECT_THROW(parse_budget(nlohmann::json("big"), "t"), Error);
  EXPECT_THROW(BudgetSpec::kv_bytes(100).resolve(sequence_info(5000, 4, 2, 8, 64)), Error);  // less than one token
}

TEST(PolicyParts, PoolingAndReduction) {
  // maxpool 3, stride 1, padding 1 over [1, 5, 2, 0, 0, 3]: windows {1,5} {1,5,2} {5,2,0} {2,0,0} {0,0,3} {0,3}.
  const at::Tensor s = at::tensor({1.f, 5.f, 2.f, 0.f, 0.f, 3.f}).view({1, 6});
  EXPECT_TRUE(at::equal(pool_positions(s, 3, "max"), at::tensor({5.f, 5.f, 5.f, 2.f, 3.f, 3.f}).view({1, 6})));
  // avgpool counts the zero padding (count_include_pad, as F.avg_pool1d): first = (0 + 1 + 5) / 3 = 2.
  EXPECT_NEAR(pool_positions(s, 3, "avg")[0][0].item<float>(), 2.0f, 1e-6);
  const at::Tensor g = at::tensor({1.f, 3.f, 2.f, 6.f}).view({1, 2, 2});  // one KV head, two query heads
  EXPECT_TRUE(at::equal(reduce_group(g, "mean"), at::tensor({1.5f, 4.5f}).view({1, 2})));
  EXPECT_TRUE(at::equal(reduce_group(g, "max"), at::tensor({2.f, 6.f}).view({1, 2})));
  EXPECT_TRUE(at::equal(reduce_group(g, "sum"), at::tensor({3.f, 9.f}).view({1, 2})));
}

TEST(PolicyParts, WindowScorerFollowsTheAttention) {
  // d = 2. Keys: position 3 points along x with length 30, every other key is 0; window queries point along x.
  // Every window query's logit is 30/sqrt(2) for key 3 and 0 elsewhere, so nearly all attention lands on 3
  // (and on nothing after the query itself: keys 6 and 7 are the window). With kernel 1 the top-1 is {3}.
  LayerView v;
  v.layer = 0;
  v.num_layers = 1;
  v.keys = at::zeros({1, 8, 2});
  v.keys[0][3][0] = 30;
  v.values = at::zeros({1, 8, 2});
  v.queries = at::zeros({1, 8, 2});
  v.queries.select(2, 0).fill_(1);
  v.token_ids = at::arange(8, at::kLong);
  v.scale = 1.0 / std::sqrt(2.0);
  ScoreConfig c;
  c.window = 2;
  c.kernel = 1;
  const at::Tensor s = compute_scores("window", v, c);
  ASSERT_EQ(s.sizes(), (std::vector<std::int64_t>{1, 6}));
  EXPECT_EQ(s.argmax().item<std::int64_t>(), 3);
  EXPECT_NEAR(s[0][3].item<float>(), 2.0f, 1e-6);  // two window queries, each ~all of its attention on key 3
  // K-norm prefers small keys: position 3 (norm 30) scores lowest.
  EXPECT_EQ(compute_scores("knorm", v, c).argmin().item<std::int64_t>(), 3);
  // TOVA: the last query alone, one score shared by every head.
  EXPECT_EQ(compute_scores("tova", v, c).argmax().item<std::int64_t>(), 3);
}

TEST(PolicyParts, H2oColumnSumsInChunksEqualTheFullMatrix) {
  const LayerView v = random_view(0, 1, 37);
  ScoreConfig one_chunk, small_chunks;
  one_chunk.window = small_chunks.window = 4;
  one_chunk.kernel = small_chunks.kernel = 1;
  one_chunk.h2o_query_chunk = 1000;
  small_chunks.h2o_query_chunk = 5;
  EXPECT_TRUE(at::allclose(compute_scores("h2o", v, one_chunk), compute_scores("h2o", v, small_chunks), 1e-5, 1e-6));
  // Column sums of a causal softmax: each query row sums to 1, so all columns together sum to T (37), and
  // the evictable part is what is left after the window columns.
  const at::Tensor full = compute_scores("h2o", v, one_chunk);
  EXPECT_LT(full.sum(1).max().item<double>(), 37.0);
}

TEST(PolicyParts, PyramidBudgetsByHand) {
  // b = 96, beta = 20, E = 1000, L = 4: min = 96 // 20 = 4, max = 192 - 4 = 188, step = (188 - 4) // 3 = 61:
  // 188, 127, 66, 5.
  EXPECT_EQ(pyramid_budgets(96, 1000, 4, 20), (std::vector<std::int64_t>{188, 127, 66, 5}));
  // E = 150 < 188: max = 150, min = 192 - 150 = 42, step = (150 - 42) // 3 = 36: 150, 114, 78, 42 (sum 4 * 96).
  EXPECT_EQ(pyramid_budgets(96, 150, 4, 20), (std::vector<std::int64_t>{150, 114, 78, 42}));
  // One layer (a hybrid model's only global layer): no pyramid, the average b, at most E.
  EXPECT_EQ(pyramid_budgets(96, 1000, 1, 20), (std::vector<std::int64_t>{96}));
  EXPECT_EQ(pyramid_budgets(96, 50, 1, 20), (std::vector<std::int64_t>{50}));
  EXPECT_EQ(kvpress_pyramid_budget(96.0, 1000, 64, 1, 0, 20), 96);
}

TEST(PolicyParts, AdaHeadBudgetsByHand) {
  // Head 0 scores [9, 8, 7, 1, 0], head 1 [6, 5, 0, 0, 0], b = 2: the global top 4 are 9, 8, 7 (head 0) and
  // 6 (head 1), so c = [3, 1]; alpha = 0.2: 0.8 * 3 + 0.2 * 2 = 2.8 and 0.8 * 1 + 0.4 = 1.2, rounded by
  // largest remainder to a total of 4: [3, 1].
  const at::Tensor s = at::tensor({9.f, 8.f, 7.f, 1.f, 0.f, 6.f, 5.f, 0.f, 0.f, 0.f}).view({2, 5});
  EXPECT_EQ(ada_head_budgets(s, 2, 0.2), (std::vector<std::int64_t>{3, 1}));
  // alpha = 1 is uniform.
  EXPECT_EQ(ada_head_budgets(s, 2, 1.0), (std::vector<std::int64_t>{2, 2}));
}

TEST(PolicyParts, ProportionalAllocationWaterFills) {
  // Weights [1, 1, 2], caps [10, 10, 1], total 8: item 2 would get 4 but is capped at 1; the remaining 7 split
  // 3.5 / 3.5, floored to 3 / 3, the leftover 1 to the first by largest remainder: [4, 3, 1].
  EXPECT_EQ(proportional_allocation({1, 1, 2}, {10, 10, 1}, 8), (std::vector<std::int64_t>{4, 3, 1}));
  EXPECT_EQ(proportional_allocation({1, 3}, {100, 100}, 8), (std::vector<std::int64_t>{2, 6}));
  EXPECT_EQ(proportional_allocation({1, 1}, {2, 3}, 10), (std::vector<std::int64_t>{2, 3}));  // caps bind: total 5
}

TEST(PolicyParts, TopKRagged) {
  const at::Tensor s = at::tensor({0.f, 9.f, 3.f, 7.f, 5.f, 1.f, 2.f, 8.f}).view({2, 4});
  const auto r = select_top(s, {2, 1});
  EXPECT_EQ(as_vector(r[0]), (std::vector<std::int64_t>{1, 3}));  // 9 and 7, in position order
  EXPECT_EQ(as_vector(r[1]), (std::vector<std::int64_t>{3}));     // 8
}

TEST(PolicyParts, KvecSelectionByHand) {
  // Two heads, six evictable positions, budget 3 each, rho = 1/3: core = top 2, one coverage slot each.
  // "sum" normalization (the raw scores are chosen without ties):
  //   head 0 raw [10, 8, 2, 6, 1, 0.5]   sum 27.5 -> p0 = [.364, .291, .073, .218, .036, .018]
  //   head 1 raw [10, 8, .5, 5, 1.5, 3.2] sum 28.2 -> p1 = [.355, .284, .018, .177, .053, .113]
  // Core: both heads {0, 1}; SnapKV's top 3 would be {0, 1, 3} for BOTH heads (overlap on 3).
  // Candidates {2, 3, 4, 5} go to the head that values them most: 2 -> h0, 3 -> h0, 4 -> h1, 5 -> h1.
  // h0 takes its best assigned candidate, 3; h1 takes 5 (.113 > .053). Kept: h0 {0, 1, 3}, h1 {0, 1, 5}.
  const at::Tensor s = at::tensor({10.f, 8.f, 2.f, 6.f, 1.f, .5f, 10.f, 8.f, .5f, 5.f, 1.5f, 3.2f}).view({2, 6});
  KvecConfig c;
  c.rho = 1.0 / 3.0;
  c.normalization = "sum";
  c.lambda = 3.0;
  KvecState state;
  const at::Tensor ids = at::arange(6, at::kLong);
  auto r = select_kvec(s, {3, 3}, ids, c, state);
  EXPECT_EQ(as_vector(r[0]), (std::vector<std::int64_t>{0, 1, 3}));
  EXPECT_EQ(as_vector(r[1]), (std::vector<std::int64_t>{0, 1, 5}));
  // The next layer, same scores: counts are 1 at {0, 1, 3, 5}, so priorities there are divided by
  // 1 + 3 * 1 = 4: p0[3] = .055 < p0[2] = .073, p1[5] = .028 < p1[4] = .053. Owners: 2 -> h0, 3 -> h0,
  // 4 -> h1, 5 -> h1; h0 now takes 2, h1 takes 4: h0 {0, 1, 2}, h1 {0, 1, 4}.
  r = select_kvec(s, {3, 3}, ids, c, state);
  EXPECT_EQ(as_vector(r[0]), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(as_vector(r[1]), (std::vector<std::int64_t>{0, 1, 4}));
  // Without the cross-head module each head fills its slot with its own next best: both take 3.
  KvecState fresh;
  c.cross_head = false;
  r = select_kvec(s, {3, 3}, ids, c, fresh);
  EXPECT_EQ(as_vector(r[0]), (std::vector<std::int64_t>{0, 1, 3}));
  EXPECT_EQ(as_vector(r[1]), (std::vector<std::int64_t>{0, 1, 3}));
  // token_id unit: if position 3 holds the same token as position 0 (covered by the cores), 3 is not a
  // candidate; h0's best remaining assigned candidate is 2.
  KvecState again;
  c.cross_head = true;
  c.unit = "token_id";
  const at::Tensor dup = at::tensor(std::vector<std::int64_t>{7, 8, 9, 7, 10, 11});
  r = select_kvec(s, {3, 3}, dup, c, again);
  EXPECT_EQ(as_vector(r[0]), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(as_vector(r[1]), (std::vector<std::int64_t>{0, 1, 5}));
}

using HeadPositions = std::vector<std::vector<std::int64_t>>;

// One K-VEC selection from a fresh state (the first layer of a forward pass): each head's kept positions.
HeadPositions kvec_first_layer(const at::Tensor& scores, const std::vector<std::int64_t>& budgets, const at::Tensor& ids,
                               const KvecConfig& c) {
  KvecState state;
  HeadPositions heads;
  for (const at::Tensor& h : select_kvec(scores, budgets, ids, c, state)) heads.push_back(as_vector(h));
  return heads;
}

TEST(PolicyParts, KvecLeftoverSlotsByHand) {
  // Two heads, six evictable positions, "sum" normalization, identical cores {0, 1}:
  //   head 0 raw [10, 9, 5, 4, 3, .1]  sum 31.1 -> p0 = [.322, .289, .161, .129, .096, .003]
  //   head 1 raw [10, 9, 1, .5, .2, 4] sum 24.7 -> p1 = [.405, .364, .040, .020, .008, .162]
  // Candidates {2, 3, 4, 5}; owners 2, 3, 4 -> h0 and 5 -> h1.
  const at::Tensor s = at::tensor({10.f, 9.f, 5.f, 4.f, 3.f, .1f, 10.f, 9.f, 1.f, .5f, .2f, 4.f}).view({2, 6});
  const at::Tensor ids = at::arange(6, at::kLong);
  KvecConfig c;
  c.normalization = "sum";
  // Budget 4, rho .5: core 2, two slots each. h0 takes 2 and 3; h1 takes 5 and has one slot left, which the
  // next round fills with the only unkept candidate, 4 (its own next best, 2, is already h0's).
  c.rho = 0.5;
  EXPECT_EQ(kvec_first_layer(s, {4, 4}, ids, c), (HeadPositions{{0, 1, 2, 3}, {0, 1, 4, 5}}));
  // Budget 5, rho .4: core 3 (h0 {0, 1, 2}, h1 {0, 1, 5}), two slots each. Candidates {3, 4} both go to h0,
  // which takes them; none remain, so h1 fills its two slots by its own next best: 2 (.040) and 3 (.020).
  c.rho = 0.4;
  EXPECT_EQ(kvec_first_layer(s, {5, 5}, ids, c), (HeadPositions{{0, 1, 2, 3, 4}, {0, 1, 2, 3, 5}}));
}

TEST(PolicyParts, KvecAgreementRhoAndBandByHand) {
  // Two heads, eight evictable positions, budget 4 each, rank normalization (priority (7 - rank) / 7):
  //   head 0 raw [7, 6, 2, 8, 5, 3, 4, 1]: ranks pos3 0, pos0 1, pos1 2, pos4 3, pos6 4, pos5 5, pos2 6, pos7 7
  //   head 1 raw [2, 8, 5, 1, 3, 6, 7, 4]: ranks pos1 0, pos6 1, pos5 2, pos2 3, pos7 4, pos4 5, pos0 6, pos3 7
  const at::Tensor s = at::tensor({7.f, 6.f, 2.f, 8.f, 5.f, 3.f, 4.f, 1.f, 2.f, 8.f, 5.f, 1.f, 3.f, 6.f, 7.f, 4.f}).view({2, 8});
  const at::Tensor ids = at::arange(8, at::kLong);
  KvecConfig c;
  c.rho = 0.5;
  // Fixed rho .5: 2 slots, cores h0 {3, 0}, h1 {1, 6}; candidates {2, 4, 5, 7}. Priorities h0: 2 1/7, 4 4/7,
  // 5 2/7, 7 0; h1: 2 4/7, 4 2/7, 5 5/7, 7 3/7. Owners 2 -> h1, 4 -> h0, 5 -> h1, 7 -> h1. h0 takes 4, h1
  // takes 5 and 2 (full); next round h0 takes the only candidate left, 7 (its last-ranked position).
  EXPECT_EQ(kvec_first_layer(s, {4, 4}, ids, c), (HeadPositions{{0, 3, 4, 7}, {1, 2, 5, 6}}));
  // Band 1.5: a head's candidates lie within its top ceil(6) = 6 ranks, so 2 and 7 are not h0's. Round one as
  // above; then 7 is nobody's (outside h0's band, h1 full), and h0 fills its slot by its own next best: 1.
  c.band = 1.5;
  EXPECT_EQ(kvec_first_layer(s, {4, 4}, ids, c), (HeadPositions{{0, 1, 3, 4}, {1, 2, 5, 6}}));
  // Agreement: the top-4 sets {0, 1, 3, 4} and {1, 2, 5, 6} share one position: 7 distinct of 8 slots,
  // overlap 1/8, rho .5/8 and floor(4/16) = 0 slots: each head keeps its own top 4.
  c.band = 0;
  c.rho_mode = "agreement";
  EXPECT_EQ(kvec_first_layer(s, {4, 4}, ids, c), (HeadPositions{{0, 1, 3, 4}, {1, 2, 5, 6}}));
  // Identical heads overlap by 1/2: rho 1 gives 1/2 and 2 slots, the fixed rho .5 outcome of identical heads.
  const at::Tensor same = at::cat({s[0], s[0]}).view({2, 8});
  c.rho = 1.0;
  KvecConfig half;
  half.rho = 0.5;
  const HeadPositions a = kvec_first_layer(same, {4, 4}, ids, c);
  EXPECT_EQ(a, kvec_first_layer(same, {4, 4}, ids, half));
  EXPECT_NE(a[0], a[1]);  // coverage slots went to different positions
  // Out-of-range knobs are refused by name.
  c.band = 0.5;
  KvecState bad;
  EXPECT_THROW(select_kvec(s, {3, 3}, ids, c, bad), Error);
  c.band = 0;
  c.rho_mode = "sometimes";
  EXPECT_THROW(select_kvec(s, {3, 3}, ids, c, bad), Error);
}

// Every registered policy on random 4-layer inputs: the invariants of acceptance line 1.
TEST(Policies, InvariantsForEveryPolicy) {
  const std::int64_t L = 4, T = 300, B = 64, w = 32, Hkv = 2;
  for (const std::string& name : policy_names()) {
    SCOPED_TRACE(name);
    PolicySpec spec{name, B};
    if (name == "full") spec.budget = BudgetSpec{};
    auto p = make_policy(spec);
    p->begin_sequence(sequence_info(T, L, Hkv, 4, 8));
    std::vector<KeptPositions> layers;
    for (std::int64_t l = 0; l < L; ++l) layers.push_back(p->select(random_view(l, L, T)));
    const auto trims = p->finish_sequence();
    for (std::size_t l = 0; l < trims.size(); ++l)
      if (trims[l]) layers[l] = *trims[l];
    std::int64_t total = 0;
    for (std::int64_t l = 0; l < L; ++l) {
      const KeptPositions& k = layers[static_cast<std::size_t>(l)];
      ASSERT_EQ(k.num_heads(), Hkv);
      std::int64_t layer_total = 0;
      for (std::int64_t h = 0; h < Hkv; ++h) {
        const auto pos = head_positions(k, h);
        layer_total += static_cast<std::int64_t>(pos.size());
        EXPECT_TRUE(std::is_sorted(pos.begin(), pos.end()));
        EXPECT_EQ(std::set<std::int64_t>(pos.begin(), pos.end()).size(), pos.size()) << "duplicates";
        EXPECT_TRUE(pos.empty() || (pos.front() >= 0 && pos.back() < T));
        if (name == "full") {
          EXPECT_EQ(pos.size(), static_cast<std::size_t>(T));
          continue;
        }
        const std::set<std::int64_t> s(pos.begin(), pos.end());
        const std::int64_t window = name == "streaming" ? B - 4 : w;  // streaming's "window" is its recent part
        for (std::int64_t t = T - window; t < T; ++t) EXPECT_TRUE(s.count(t)) << "window position " << t << " missing";
        const bool ragged_heads = name == "adakv" || name == "kvec+ada" || name == "criticaladakv";
        const bool per_head_exact = !ragged_heads && name != "pyramidkv" && name != "kvec+pyramid" && name != "cake";
        if (per_head_exact) {
          EXPECT_EQ(static_cast<std::int64_t>(pos.size()), B) << "layer " << l << " head " << h;
        }
      }
      if (name == "adakv" || name == "kvec+ada" || name == "criticaladakv") {
        EXPECT_EQ(layer_total, Hkv * B) << "layer " << l;
      }
      total += layer_total;
    }
    if (name == "full") continue;
    // Layer allocators: CAKE splits exactly L * B; PyramidKV's integer schedule lands within L tokens per head.
    if (name == "cake") {
      EXPECT_EQ(total, L * Hkv * B);
    }
    if (name == "pyramidkv" || name == "kvec+pyramid") {
      EXPECT_LE(std::abs(total - L * Hkv * B), L * Hkv);
    }
    if (name != "cake" && name != "pyramidkv" && name != "kvec+pyramid") {
      EXPECT_EQ(total, L * Hkv * B);
    }
  }
}

TEST(Policies, ShortPromptsAndTinyBudgets) {
  for (const std::string& name : policy_names()) {
    if (name == "full") continue;
    SCOPED_TRACE(name);
    // T <= B: everything stays.
    auto p = make_policy({name, 64});
    p->begin_sequence(sequence_info(50));
    EXPECT_TRUE(p->select(random_view(0, 1, 50)).everything);
  }
  // A budget no larger than the window keeps the most recent B positions.
  auto s = make_policy({"snapkv", 8});
  s->begin_sequence(sequence_info(100));
  EXPECT_EQ(head_positions(s->select(random_view(0, 1, 100)), 1), (std::vector<std::int64_t>{92, 93, 94, 95, 96, 97, 98, 99}));
}

TEST(Policies, SpecErrors) {
  EXPECT_THROW(make_policy({"nonsense"}), Error);
  EXPECT_THROW(make_policy({"snapkv"}), Error);                                  // no budget
  EXPECT_THROW(make_policy({"streaming", 4, {{"sinks", 4}}}), Error);            // sinks must leave room
  EXPECT_THROW(make_policy({"snapkv", 128, {{"windw", 16}}}), Error);            // typo
  EXPECT_THROW(make_policy({"snapkv", 128, {{"pool", "median"}}}), Error);
  EXPECT_THROW(make_policy({"snapkv", 128, {{"kernel", 4}}}), Error);            // even kernel
  EXPECT_THROW(make_policy({"kvec", 128, {{"rho", 1.5}}}), Error);
  EXPECT_THROW(make_policy({"compose", 128, {{"scorer", "oracle"}}}), Error);
  EXPECT_THROW(make_policy({"full", BudgetSpec{}, {{"x", 1}}}), Error);
  try {
    make_policy({"snapkv", 128, {{"windw", 16}}});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown parameter 'windw'"), std::string::npos);
  }
  // A composition by name.
  auto c = make_policy({"compose", 128, {{"scorer", "h2o"}, {"head_allocator", "ada"}, {"selector", "kvec"}}});
  EXPECT_NE(c->describe().find("compose(budget=128"), std::string::npos);
  EXPECT_TRUE(c->inputs().all_queries);
}

}  // namespace
}  // namespace kvbench

#include "harness/stats/coverage.h"

namespace kvbench {
namespace {

TEST(Coverage, StatisticsByHand) {
  // T = 10, window 2: E = {0..7}. Layer 0: head 0 keeps {0, 1, 8, 9}, head 1 keeps {1, 2, 8, 9};
  // layer 1: head 0 {3, 4}, head 1 {3, 9}. (Window positions 8 and 9 never count.)
  //   layer_coverage = [|{0,1,2}| / 8, |{3,4}| / 8] = [0.375, 0.25]
  //   head_overlap   = [1 - 3/4, 1 - 2/3] = [0.25, 1/3]
  //   model_coverage = |{0,1,2,3,4}| / 8 = 0.625
  // Token ids of E: [5, 5, 6, 7, 8, 8, 9, 9]: types {5..9} = 5; kept types ids{0..4} = {5, 6, 7, 8} = 4 -> 0.8.
  // Evidence tokens {2, 6}: layer recall [1/2, 0], model recall 1/2.
  auto entries = [](std::vector<std::int64_t> pos, std::vector<std::int64_t> heads) {
    return LayerKeptEntries{at::tensor(pos, at::kLong), at::tensor(heads, at::kLong)};
  };
  const std::vector<LayerKeptEntries> layers = {entries({0, 1, 8, 9, 1, 2, 8, 9}, {0, 0, 0, 0, 1, 1, 1, 1}),
                                                entries({3, 4, 3, 9}, {0, 0, 1, 1})};
  const at::Tensor ids = at::tensor(std::vector<std::int64_t>{5, 5, 6, 7, 8, 8, 9, 9, 1, 2});
  at::Tensor evidence = at::zeros({10}, at::kBool);
  evidence[2] = true;
  evidence[6] = true;
  const CoverageStats s = coverage_statistics(layers, 10, 2, ids, evidence);
  EXPECT_EQ(s.layer_coverage, (std::vector<double>{0.375, 0.25}));
  EXPECT_DOUBLE_EQ(s.head_overlap[0], 0.25);
  EXPECT_DOUBLE_EQ(s.head_overlap[1], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.model_coverage, 0.625);
  EXPECT_DOUBLE_EQ(s.vocab_coverage, 0.8);
  EXPECT_EQ(s.layer_evidence_recall, (std::vector<double>{0.5, 0.0}));
  ASSERT_TRUE(s.evidence_recall.has_value());
  EXPECT_DOUBLE_EQ(*s.evidence_recall, 0.5);
  EXPECT_DOUBLE_EQ(s.mean_layer_coverage(), 0.3125);
}

}  // namespace
}  // namespace kvbench

// Equal scores rank the lower position first, the same on every device (max-pooled scores tie on plateaus, and
// at::topk's choice among equal scores differs between the CPU and CUDA).
TEST(Selection, EqualScoresRankTheLowerPositionFirst) {
  const at::Tensor plateau = at::cat({at::full({1, 40}, 1.0f), at::full({1, 200}, 3.0f), at::full({1, 60}, 2.0f)}, 1);
  EXPECT_TRUE(at::equal(kvbench::top_k_indices(plateau, 150), at::arange(40, 190).unsqueeze(0)));
  EXPECT_TRUE(at::equal(kvbench::top_k_indices(plateau, 230).narrow(1, 200, 30), at::arange(240, 270).unsqueeze(0)));
  const auto kept = kvbench::select_top(at::cat({plateau, plateau.flip(1)}), {120, 10});
  EXPECT_TRUE(at::equal(kept[0], at::arange(40, 160)));
  EXPECT_TRUE(at::equal(kept[1], at::arange(60, 70)));  // flipped: the 3s start at 60
}

// Inside a RankMemoScope the ranking of a memo tensor (and of a view of one) is sorted once and reused, and equals
// the plain sort; a tensor that is not the memo's is sorted every time (it may change, or its memory be reused).
TEST(Selection, RankMemoReusesRankingsOfTheMemosTensorsOnly) {
  kvbench::LayerMemo memo;
  const at::Tensor scores = at::rand({4, 300});
  memo.tensors.emplace("scores", scores);
  const kvbench::RankMemoScope scope(&memo);
  const at::Tensor first = kvbench::rank_descending(scores);
  EXPECT_TRUE(at::equal(first, std::get<1>(scores.sort(true, -1, true))));
  EXPECT_EQ(kvbench::rank_descending(scores).data_ptr(), first.data_ptr());  // reused, not sorted again
  EXPECT_EQ(kvbench::top_k_indices(scores, 10).data_ptr(), first.data_ptr());
  const at::Tensor flat = kvbench::rank_descending(scores.reshape({-1}));    // a view: its own ranking
  EXPECT_TRUE(at::equal(flat, std::get<1>(scores.reshape({-1}).sort(true, -1, true))));
  EXPECT_EQ(kvbench::rank_descending(scores.reshape({-1})).data_ptr(), flat.data_ptr());
  at::Tensor other = at::rand({4, 300});  // not the memo's: sorted afresh each time, also after an in-place change
  EXPECT_NE(kvbench::rank_descending(other).data_ptr(), kvbench::rank_descending(other).data_ptr());
  other.mul_(-1);
  EXPECT_TRUE(at::equal(kvbench::rank_descending(other), std::get<1>(other.sort(true, -1, true))));
}
