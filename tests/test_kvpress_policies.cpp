// The scorers taken from kvpress (expected_attention, keydiff, lagkv) and CriticalKV's two stages
// (criticalkv, criticaladakv) on tiny hand-written layers. Every expected value is derived in the comment
// beside it from the formula (by hand, checked with a few lines of plain Python arithmetic), never read
// back from the code.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "harness/common/error.h"
#include "policies/components.h"
#include "policies/registry.h"
#include "tests/policy_fixtures.h"

namespace kvbench {
namespace {

using Rows = std::vector<std::vector<float>>;

using test::heads_of;

// A one-layer view with head dimension 2 (scale 1/sqrt(2)).
LayerView hand_view(const at::Tensor& keys, const at::Tensor& values, const at::Tensor& queries = {}) {
  LayerView v;
  v.layer = 0;
  v.num_layers = 1;
  v.keys = keys;
  v.values = values;
  v.queries = queries;
  v.token_ids = at::arange(keys.size(1), at::kLong);
  v.scale = 1.0 / std::sqrt(2.0);
  return v;
}

std::vector<std::int64_t> positions(const KeptPositions& k, std::int64_t h) {
  const at::Tensor c = k.head(h).to(at::kLong).contiguous();
  return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

SequenceInfo one_layer(std::int64_t T, std::int64_t Hkv, std::int64_t Hq) {
  SequenceInfo info;
  info.prompt_len = T;
  info.num_layers = 1;
  info.num_heads = Hq;
  info.num_kv_heads = Hkv;
  info.head_dim = 2;
  return info;
}

void expect_row(const at::Tensor& scores, std::int64_t h, const std::vector<double>& expected, double tol = 1e-5) {
  ASSERT_EQ(scores.size(1), static_cast<std::int64_t>(expected.size()));
  for (std::size_t j = 0; j < expected.size(); ++j)
    EXPECT_NEAR(scores[h][static_cast<std::int64_t>(j)].item<double>(), expected[j], tol)
        << "head " << h << " position " << j;
}

TEST(PolicyParts, KeydiffScoresByHand) {
  // Head 0 keys (3,0) (0,2) (1,1) (2,0) (1,0) (0,1), normalized: (1,0) (0,1) (.7071,.7071) (1,0) (1,0) (0,1);
  // anchor = their mean = (3.7071, 2.7071) / 6 = (.61785, .45118), |anchor| = .76505.
  //   cos((1,0), a) = .61785 / .76505 = .80759;  cos((0,1), a) = .45118 / .76505 = .58974;
  //   cos((1,1)/sqrt2, a) = (.61785 + .45118) / sqrt2 / .76505 = .98806.
  // Head 1: keys (1,0) (-1,0) and four (1,0): anchor (2/3, 0), cos = +1 for (1,0), -1 for (-1,0).
  // Window 2: E = 4 scores, -cos.
  const at::Tensor keys = heads_of({{{3, 0}, {0, 2}, {1, 1}, {2, 0}, {1, 0}, {0, 1}},
                                    {{1, 0}, {-1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}}});
  const LayerView v = hand_view(keys, at::ones({2, 6, 2}));
  ScoreConfig c;
  c.window = 2;
  const at::Tensor s = compute_scores("keydiff", v, c);
  ASSERT_EQ(s.sizes(), (std::vector<std::int64_t>{2, 4}));
  expect_row(s, 0, {-0.807592, -0.589742, -0.988064, -0.807592});
  expect_row(s, 1, {-1.0, 1.0, -1.0, -1.0});
  // The preset, budget 3 = window 2 + one position: the most unusual key of each head, position 1.
  auto p = make_policy({"keydiff", 3, {{"window", 2}}});
  p->begin_sequence(one_layer(6, 2, 2));
  const KeptPositions k = p->select(v);
  EXPECT_EQ(positions(k, 0), (std::vector<std::int64_t>{1, 4, 5}));
  EXPECT_EQ(positions(k, 1), (std::vector<std::int64_t>{1, 4, 5}));
}

TEST(PolicyParts, LagkvScoresByHand) {
  // n_sink 1, lag 3, T = 7: partitions [1, 4) and [4, 7); only the first has a reference (the second), so
  // positions 0 (sink) and 4..6 score 1. Head 0, partition 1..3 against reference 4..6:
  //   keys  (1,1) (2,0) (1,2) vs (0,0) (2,4) (1,2): min (0,0), max (2,4) -> normalized (.5,.25) (1,0) (.5,.5);
  //         std over the 2 channels (unbiased, |a - b| / sqrt2): .17678 .70711 0; softmax: .28269 .48043 .23688
  //   values (0,2) (.5,1) (1,1) vs (0,0) (1,1) (0,2): min (0,0), max (1,2) -> (0,1) (.5,.5) (1,.5);
  //         std: .70711 0 .35355; softmax: .45553 .22461 .31987
  //   mean of the two: .36911 .35252 .27837 -> ranks within the partition 2 1 0, / lag: 2/3 1/3 0.
  // (The keys alone would rank position 2 first: the values matter.) Head 1 is head 0 times 10 plus 3, which
  // min-max normalization cancels: the same scores. Window 2: E = 5.
  const Rows k0 = {{5, 5}, {1, 1}, {2, 0}, {1, 2}, {0, 0}, {2, 4}, {1, 2}};
  const Rows v0 = {{5, 5}, {0, 2}, {.5f, 1}, {1, 1}, {0, 0}, {1, 1}, {0, 2}};
  const at::Tensor keys = heads_of({k0, k0}), values = heads_of({v0, v0});
  keys[1].mul_(10).add_(3);
  values[1].mul_(10).add_(3);
  ScoreConfig c;
  c.window = 2;
  c.n_sink = 1;
  c.lag_size = 3;
  const at::Tensor s = compute_scores("lagkv", hand_view(keys, values), c);
  for (std::int64_t h = 0; h < 2; ++h) expect_row(s, h, {1.0, 2.0 / 3, 1.0 / 3, 0.0, 1.0});
  c.lag_cross_scoring = true;  // the softmax means themselves
  expect_row(compute_scores("lagkv", hand_view(keys, values), c), 0, {1.0, .369108, .352517, .278375, 1.0});
  // T = 6 < n_sink + 2 lag: no reference yet; kvpress's fallback rises with the position: sink 1, then
  // (j - 1) / 5 for j = 1..5 -> E = 4 scores 1, 0, .2, .4.
  c.lag_cross_scoring = false;
  const at::Tensor short_keys = keys.narrow(1, 0, 6), short_values = values.narrow(1, 0, 6);
  expect_row(compute_scores("lagkv", hand_view(short_keys, short_values), c), 1, {1.0, 0.0, 0.2, 0.4});
}

// RoPE with d = 2 rotates (x, y) by the angle t * f.
std::vector<float> rope2(const std::vector<float>& x, double angle) {
  const double c = std::cos(angle), s = std::sin(angle);
  return {static_cast<float>(x[0] * c - x[1] * s), static_cast<float>(x[1] * c + x[0] * s)};
}

TEST(PolicyParts, ExpectedAttentionScoresByHand) {
  // d = 2, one RoPE frequency f = pi/2 (position t rotates by t * 90 degrees). One KV head, two query heads.
  // n_sink 1: position 0 is left out of the statistics and of the softmax.
  // Query head 0, pre-RoPE: position 0 (100, 100) (a sink outlier), positions 1..5 (1,0) (1,0) (1,2) (1,-2) (1,0):
  //   mean (1, 0), covariance (1/n) diag(0, 8/5) = diag(0, 1.6).
  // The view holds them post-RoPE; un-rotating them is what makes the mean (1, 0) again.
  // Query head 1: zeros after the sink: mean 0, covariance 0, so uniform attention 1/5 over keys 1..5.
  // n_future_positions 2: positions 6, 7 -> angles 3pi, 3.5pi; mean cos = (-1 + 0)/2 = -.5, mean sin = (0 - 1)/2
  //   = -.5; R = diag(c) + diag(s) P = [[-.5, .5], [-.5, -.5]]. R mu = (-.5, -.5);
  //   R Sigma R^T = .4 [[1, -1], [-1, 1]], so k^T Sigma' k = .4 (k_x - k_y)^2.
  // Keys 1..5: (-2,0) (0,0) (2,0) (-1,-1) (0,2). Logits s mu'.k + s^2/2 k^T Sigma' k with s = 1/sqrt2:
  //   mean part .70711 0 -.70711 .70711 -.70711; covariance part (1/4)(.4)(k_x - k_y)^2 = .4 0 .4 0 .4
  //   -> 1.10711 0 -.30711 .70711 -.30711; softmax .40208 .13289 .09775 .26952 .09775.
  // Group mean with head 1's .2: .30104 .16645 .14888 .23476 .14888. Values: ||v_1|| = 5, the others 1:
  //   1.50520 .16645 .14888 .23476 .14888. The sink takes the maximum + 1, 2.50520, as kvpress pads it. Window 2:
  //   E = 4.
  const double f = M_PI / 2;
  const std::vector<std::vector<float>> pre0 = {{100, 100}, {1, 0}, {1, 0}, {1, 2}, {1, -2}, {1, 0}};
  at::Tensor queries = at::zeros({2, 6, 2});
  for (std::int64_t t = 0; t < 6; ++t) {
    const auto q = rope2(pre0[static_cast<std::size_t>(t)], t * f);
    queries[0][t][0] = q[0];
    queries[0][t][1] = q[1];
  }
  queries[1][0][0] = 50;  // head 1's sink query, ignored
  const at::Tensor keys = heads_of({{{7, 7}, {-2, 0}, {0, 0}, {2, 0}, {-1, -1}, {0, 2}}});
  const at::Tensor values = heads_of({{{9, 9}, {3, 4}, {1, 0}, {1, 0}, {1, 0}, {1, 0}}});
  LayerView v = hand_view(keys, values, queries);
  v.rope_inv_freq = at::tensor({static_cast<float>(f)});
  ScoreConfig c;
  c.window = 2;
  c.n_sink = 1;
  c.n_future_positions = 2;
  expect_row(compute_scores("expected_attention", v, c), 0, {2.505200, 1.505200, 0.166446, 0.148876});
  // Without the covariance: logits .70711 0 -.70711 .70711 -.70711, softmax .33565 .16550 .08160 .33565 .08160,
  // group mean .26782 .18275 .14080 .26782 .14080, times ||v||: 1.33912 .18275 .14080 .26782; the sink 2.33912.
  c.use_covariance = false;
  expect_row(compute_scores("expected_attention", v, c), 0, {2.339123, 1.339123, 0.182749, 0.140801});
  // Without ||v|| (covariance back on): the group means, the sink at their maximum + 1, 1.30104.
  c.use_covariance = true;
  c.use_vnorm = false;
  expect_row(compute_scores("expected_attention", v, c), 0, {1.301040, 0.301040, 0.166446, 0.148876});
  // No RoPE frequencies: a clear error, not a guess.
  v.rope_inv_freq = at::Tensor();
  EXPECT_THROW(compute_scores("expected_attention", v, c), Error);
}

TEST(PolicyParts, CriticalValueNormsAndTwoStagesByHand) {
  // One KV head, two query heads, d = 2, model dimension 3. o_proj's columns 0-1 are query head 0's
  // W0 = [[1,0],[0,1],[1,1]], columns 2-3 head 1's W1 = [[0,1],[2,0],[0,0]].
  //   v (0,1):  W0 v = (0,1,1) L1 2, W1 v = (1,0,0) L1 1 -> mean 1.5
  //   v (1,2):  (1,2,3) 6, (2,2,0) 4 -> 5        v (1,-1): (1,-1,0) 2, (-1,2,0) 3 -> 2.5
  //   v (2,0):  (2,0,2) 4, (0,4,0) 4 -> 4
  const at::Tensor values = heads_of({{{0, 1}, {1, 2}, {1, -1}, {2, 0}, {1, 1}, {1, 1}}});
  LayerView v = hand_view(at::zeros({1, 6, 2}), values);
  v.out_proj = at::tensor({1.f, 0.f, 0.f, 1.f, 0.f, 1.f, 2.f, 0.f, 1.f, 1.f, 0.f, 0.f}).view({3, 4});
  const at::Tensor norms = projected_value_norms(v, 4);
  expect_row(norms, 0, {1.5, 5.0, 2.5, 4.0});
  // Base scores .5 .2 .3 .05, epsilon 1e-4: second-stage scores (b + eps) * norm = .75015 1.0005 .75025 .2004.
  const at::Tensor base = at::tensor({.5f, .2f, .3f, .05f}).view({1, 4});
  const at::Tensor none = critical_scores(base, norms, {0}, 1e-4);
  expect_row(none, 0, {.75015, 1.0005, .75025, .2004});
  EXPECT_EQ(positions(KeptPositions::ragged(select_top(none, {2})), 0), (std::vector<std::int64_t>{1, 2}));
  // First stage 1: position 0 (best base score) above everything; then the best second-stage score, 1.
  const at::Tensor one = critical_scores(base, norms, {1}, 1e-4);
  EXPECT_GT(one[0][0].item<double>(), 1.0005);
  expect_row(one.narrow(1, 1, 3), 0, {1.0005, .75025, .2004});
  EXPECT_EQ(positions(KeptPositions::ragged(select_top(one, {2})), 0), (std::vector<std::int64_t>{0, 1}));
  // First stage 2: positions 0 and 2 (base .5 and .3), in that order.
  const at::Tensor two = critical_scores(base, norms, {2}, 1e-4);
  EXPECT_GT(two[0][0].item<double>(), two[0][2].item<double>());
  EXPECT_GT(two[0][2].item<double>(), 1.0005);
  EXPECT_EQ(positions(KeptPositions::ragged(select_top(two, {2})), 0), (std::vector<std::int64_t>{0, 2}));
  // The first stage's share counts the window: floor(ratio (b + w)) - w, within [0, b].
  EXPECT_EQ(critical_first_stage(2, 4, 2, 0.5), 0);     // floor(2) - 2
  EXPECT_EQ(critical_first_stage(2, 4, 2, 0.75), 1);    // floor(3) - 2
  EXPECT_EQ(critical_first_stage(96, 128, 32, 0.5), 32);  // floor(64) - 32
  EXPECT_EQ(critical_first_stage(1, 3, 2, 0.5), 0);     // floor(1.5) - 2 < 0
  EXPECT_EQ(critical_first_stage(5, 7, 2, 1.0), 5);
  // kvpress's compression ratio: the share of the unrounded T (1 - r), e.g. int(257.5 * .5) = 128 with the
  // window inside (w = 0 when the window is ranked, as kvpress's is), where the rounded budget 257 would give 128 too,
  // and int(102.9... * .3) = 30 against floor(102 * .3) = 30; at ratio .7: 72 against floor(71.4) = 71.
  EXPECT_EQ(critical_first_stage(257, 257.5, 0, 0.5), 128);
  EXPECT_EQ(critical_first_stage(102, 1030 * (1 - 0.9), 0, 0.7), 72);
  // Without o_proj CriticalKV cannot weigh the values: an error naming what is missing.
  v.out_proj = at::Tensor();
  try {
    projected_value_norms(v, 4);
    ADD_FAILURE() << "no error without out_proj";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out_proj"), std::string::npos) << e.what();
  }
}

// Head 0 of the CriticalKV layers: window queries (1,0) put nearly all attention on key 3 = (30, 0) (logit
// 30/sqrt2 = 21.2 against 0), so the SnapKV scores (w = 2, kernel 1, the window's mean as kvpress) are about
// [5e-10, 5e-10, 5e-10, 1]; the values' L1 norms (o_proj = identity) are 1 4 2 0. Second-stage scores
// (b + 1e-4) * norm: ~1e-4 4e-4 2e-4 0.
const Rows kCriticalKeys0 = {{0, 0}, {0, 0}, {0, 0}, {30, 0}, {0, 0}, {0, 0}};
const Rows kCriticalValues0 = {{1, 0}, {3, -1}, {0, 2}, {0, 0}, {1, 1}, {1, 1}};

TEST(Policies, CriticalkvTwoStagesByHand) {
  LayerView v = hand_view(heads_of({kCriticalKeys0}), heads_of({kCriticalValues0}), heads_of({Rows(6, {1, 0})}));
  v.out_proj = at::eye(2);
  // Budget 4, window 2: two evictable slots. Ratio .5: first stage floor(.5 * 4) - 2 = 0, so both slots go
  // by the second stage: positions 1 and 2 (4e-4, 2e-4), not the attended position 3, whose value is zero.
  auto p = make_policy({"criticalkv", 4, {{"window", 2}, {"kernel", 1}}});
  p->begin_sequence(one_layer(6, 1, 1));
  EXPECT_EQ(positions(p->select(v), 0), (std::vector<std::int64_t>{1, 2, 4, 5}));
  EXPECT_NE(p->describe().find("first_stage_ratio=0.5"), std::string::npos) << p->describe();
  // Ratio .75: first stage floor(3) - 2 = 1 takes position 3 by attention; the second stage adds 1.
  auto q = make_policy({"criticalkv", 4, {{"window", 2}, {"kernel", 1}, {"first_stage_ratio", 0.75}}});
  q->begin_sequence(one_layer(6, 1, 1));
  EXPECT_EQ(positions(q->select(v), 0), (std::vector<std::int64_t>{1, 3, 4, 5}));
  // A caller without o_proj gets an error.
  v.out_proj = at::Tensor();
  EXPECT_THROW(q->select(v), Error);
}

TEST(Policies, CriticaladakvAllocatesBySnapkvScoresByHand) {
  // Head 0 as above. Head 1: keys (sqrt2 ln c_j, 0) with c = 1 2 3 4 5 5, so query (1,0) gives logits ln c_j:
  // query 4 attends c_j / 15 over keys 0..4, query 5 c_j / 20 over 0..5; SnapKV scores (the window's mean)
  // c_j (1/15 + 1/20) / 2 = c_j 7/120: .05833 .11667 .175 .23333. Value L1 norms 10 1 1 .1.
  // Ada-KV (b = 2, alpha .2): the global top 4 of both heads are 1 (head 0) and .23333 .175 .11667 (head 1):
  // counts 1, 3; weights .8 + .4 = 1.2 and 2.4 + .4 = 2.8 -> budgets 1 and 3.
  // First stage, ratio .75: head 0 floor(.75 * 3) - 2 = 0, head 1 floor(.75 * 5) - 2 = 1 (position 3).
  // Second stage: head 0 takes position 1 (4e-4); head 1's scores (b + 1e-4) * norm = .58433 .11677 .17510
  // for 0..2: it takes 0 and 2. Kept: head 0 {1} + window, head 1 {0, 2, 3} + window: 8 = 2 heads x 4.
  Rows k1;
  for (double c : {1.0, 2.0, 3.0, 4.0, 5.0, 5.0}) k1.push_back({static_cast<float>(std::sqrt(2.0) * std::log(c)), 0});
  const Rows v1 = {{10, 0}, {1, 0}, {0, 1}, {.1f, 0}, {1, 1}, {1, 1}};
  LayerView v = hand_view(heads_of({kCriticalKeys0, k1}), heads_of({kCriticalValues0, v1}),
                          heads_of({Rows(6, {1, 0}), Rows(6, {1, 0})}));
  v.out_proj = at::cat({at::eye(2), at::eye(2)}, 1);  // [D = 2, Hq d = 4]: identity for both query heads
  auto p = make_policy({"criticaladakv", 4, {{"window", 2}, {"kernel", 1}, {"first_stage_ratio", 0.75}}});
  p->begin_sequence(one_layer(6, 2, 2));
  const KeptPositions k = p->select(v);
  EXPECT_EQ(positions(k, 0), (std::vector<std::int64_t>{1, 4, 5}));
  EXPECT_EQ(positions(k, 1), (std::vector<std::int64_t>{0, 2, 3, 4, 5}));
  // Default ratio .5: no first stage in either head (floor(1.5) - 2, floor(2.5) - 2); head 1's second stage
  // (.23343 * .1 = .02334 for position 3) keeps 0, 1 and 2 instead.
  auto q = make_policy({"criticaladakv", 4, {{"window", 2}, {"kernel", 1}}});
  q->begin_sequence(one_layer(6, 2, 2));
  EXPECT_EQ(positions(q->select(v), 1), (std::vector<std::int64_t>{0, 1, 2, 4, 5}));
}

TEST(Policies, KvpressScorersCompose) {
  // One config line each: the new scorers with other parts, and CriticalKV's stages on another scorer.
  auto a = make_policy({"compose", 128, {{"scorer", "expected_attention"}, {"selector", "kvec"}}});
  EXPECT_TRUE(a->inputs().all_queries);  // kvpress's statistics use every query after the sinks
  auto b = make_policy({"compose", 128, {{"scorer", "expected_attention"}, {"ea_stats_window", 64}}});
  EXPECT_EQ(b->inputs().query_window, 64);
  EXPECT_FALSE(b->inputs().all_queries);
  auto c = make_policy({"compose", 128, {{"scorer", "keydiff"}, {"head_allocator", "ada"}}});
  EXPECT_EQ(c->inputs().query_window, 0);
  auto d = make_policy({"compose", 128, {{"scorer", "lagkv"}, {"lag_size", 64}, {"layer_allocator", "pyramid"}}});
  EXPECT_NE(d->describe().find("lag_size=64"), std::string::npos) << d->describe();
  auto e = make_policy({"compose", 128, {{"scorer", "expected_attention"}, {"use_vnorm", false}, {"critical", true}}});
  EXPECT_NE(e->describe().find("critical_epsilon=0.0001"), std::string::npos) << e->describe();
  const nlohmann::json cake_critical = {{"scorer", "cake"}, {"layer_allocator", "cake"}, {"critical", true}};
  EXPECT_THROW(make_policy({"compose", 128, cake_critical}), Error);  // CAKE's budgets come after selection
  EXPECT_THROW(make_policy({"criticalkv", 128, {{"first_stage_ratio", 1.5}}}), Error);
  EXPECT_THROW(make_policy({"lagkv", 128, {{"lag_size", 0}}}), Error);
  EXPECT_THROW(make_policy({"expected_attention", 128, {{"n_future_positions", 0}}}), Error);
}

}  // namespace
}  // namespace kvbench
