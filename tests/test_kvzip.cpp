// kvzip (KVzip's context-reconstruction scores): the scorer on a hand-written layer whose expected values are
// derived in the comments from the formula (never read back from the code), the chunked scorer against one
// dense softmax written out here, the policy's selection and composition, and the engine's reconstruction pass
// on a tiny random model (what the policy sees, what its cache keeps, what it costs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "harness/common/error.h"
#include "harness/engine/engine.h"
#include "tests/policy_fixtures.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/transformer.h"
#include "policies/components.h"
#include "policies/registry.h"
#include "tests/test_support.h"
#include "tests/test_tensors.h"

namespace kvbench {
namespace {

using test::max_abs_diff;

using test::heads_of;
using test::head_positions;
using test::sequence_info;


// One KV head, d = 2, scale 1 (so logits are plain dot products). Context (T = 3): k0 = (1, 0), k1 = (0, 1),
// k2 = (0, 0). Reconstruction part (positions 3 and 4): k3 = (1, 1), k4 = (-1, 0); query head 0 asks
// q3 = (2, 0) and q4 = (0, 2); query head 1 (when `two_heads`) asks zeros at both positions.
LayerView hand_view(bool two_heads) {
  LayerView v;
  v.layer = 0;
  v.num_layers = 1;
  v.reconstruction_keys = heads_of({{{1, 0}, {0, 1}, {0, 0}, {1, 1}, {-1, 0}}});
  v.keys = v.reconstruction_keys.narrow(1, 0, 3).contiguous();
  v.values = at::zeros({1, 3, 2});
  v.queries = two_heads ? heads_of({{{2, 0}, {0, 2}}, {{0, 0}, {0, 0}}}) : heads_of({{{2, 0}, {0, 2}}});
  v.reconstruction_start = 3;
  v.token_ids = at::arange(3, at::kLong);
  v.scale = 1.0;
  return v;
}

TEST(Kvzip, MaxAttentionByHand) {
  const double e2 = std::exp(2.0);
  // q3 sees k0..k3 (k4 is its future): logits 2, 0, 0, 2, so A3 = [e^2, 1, 1, e^2] / (2e^2 + 2).
  // q4 sees k0..k4: logits 0, 2, 0, 2, 0, so A4 = [1, e^2, 1, e^2, 1] / (2e^2 + 3).
  // Max over the two queries, context columns only:
  //   j = 0: max(e^2 / (2e^2 + 2), 1 / (2e^2 + 3))   = e^2 / (2e^2 + 2)  ~ 0.4404
  //   j = 1: max(1 / (2e^2 + 2), e^2 / (2e^2 + 3))   = e^2 / (2e^2 + 3)  ~ 0.4156
  //   j = 2: max(1 / (2e^2 + 2), 1 / (2e^2 + 3))     = 1 / (2e^2 + 2)    ~ 0.0596
  // (A softmax over the context keys alone would give e^2 / (e^2 + 2) ~ 0.787 at j = 0.)
  const std::vector<double> head0 = {e2 / (2 * e2 + 2), e2 / (2 * e2 + 3), 1 / (2 * e2 + 2)};
  for (std::int64_t chunk : {1, 2, 64}) {
    SCOPED_TRACE(chunk);
    const at::Tensor a = reconstruction_max_attention(hand_view(false), chunk);  // [1, 1, 3]
    ASSERT_EQ(a.sizes().vec(), (std::vector<std::int64_t>{1, 1, 3}));
    for (std::int64_t j = 0; j < 3; ++j) EXPECT_NEAR(a[0][0][j].item<double>(), head0[j], 1e-6) << "j = " << j;
  }
  // Query head 1 (zeros) attends uniformly: 1/4 over q3's four keys, 1/5 over q4's five; its max is 1/4 everywhere.
  const at::Tensor a = reconstruction_max_attention(hand_view(true), 1);  // [1, 2, 3]
  for (std::int64_t j = 0; j < 3; ++j) {
    EXPECT_NEAR(a[0][0][j].item<double>(), head0[j], 1e-6);
    EXPECT_NEAR(a[0][1][j].item<double>(), 0.25, 1e-6);
  }
  // The kvzip scorer with window 1 (E = 2): max over the group, so [e^2 / (2e^2 + 2), max(e^2 / (2e^2 + 3), 1/4)].
  ScoreConfig c;
  c.window = 1;
  c.kernel = 1;
  c.reduction = ReductionKind::kMax;
  c.n_sink = 0;
  const at::Tensor s = compute_scores(ScorerKind::kKvzip, hand_view(true), c);
  ASSERT_EQ(s.sizes().vec(), (std::vector<std::int64_t>{1, 2}));
  EXPECT_NEAR(s[0][0].item<double>(), e2 / (2 * e2 + 2), 1e-6);
  EXPECT_NEAR(s[0][1].item<double>(), e2 / (2 * e2 + 3), 1e-6);
  // One sink: position 0 scores one above the largest score, 1 + e^2 / (2e^2 + 2).
  c.n_sink = 1;
  EXPECT_NEAR(compute_scores(ScorerKind::kKvzip, hand_view(true), c)[0][0].item<double>(), 1 + e2 / (2 * e2 + 2), 1e-6);
}

TEST(Kvzip, PolicyKeepsTheTopPositionsAndTheWindow) {
  // Budget 2, window 1 on the hand view: E = {0, 1} with scores ~0.4404 and ~0.4156 (above), one slot: {0},
  // then the window {2}.
  auto p = make_policy({"kvzip", 2, {{"window", 1}}});
  EXPECT_TRUE(p->inputs().reconstruction);
  p->begin_sequence(sequence_info(3, 1, 1, 2, 2));
  EXPECT_EQ(head_positions(p->select(hand_view(true)), 0), (std::vector<std::int64_t>{0, 2}));
  // Without the reconstruction pass the policy says what it needs instead of scoring something else.
  LayerView plain = hand_view(true);
  plain.reconstruction_keys = at::Tensor();
  const std::string message = test::error_of([&] { p->select(plain); });
  EXPECT_NE(message.find("reconstruction pass"), std::string::npos) << message;
}

// A random layer with a reconstruction part of T + extra positions after the prompt.
LayerView random_reconstruction_view(std::int64_t T, std::int64_t extra, std::int64_t Hkv, std::int64_t g,
                                     std::int64_t d, std::uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  LayerView v;
  v.num_layers = 1;
  const std::int64_t N = 2 * T + extra;
  v.reconstruction_keys = at::randn({Hkv, N, d}, gen);
  v.keys = v.reconstruction_keys.narrow(1, 0, T).contiguous();
  v.values = at::randn({Hkv, T, d}, gen);
  v.queries = at::randn({Hkv * g, N - T, d}, gen);
  v.reconstruction_start = T;
  v.token_ids = at::randint(0, 50, {T}, gen, at::kLong);
  v.scale = 1.0 / std::sqrt(static_cast<double>(d));
  v.out_proj = at::randn({16, Hkv * g * d}, gen);
  return v;
}

TEST(Kvzip, ChunksEqualOneDenseSoftmax) {
  const std::int64_t T = 37, extra = 5, Hkv = 2, g = 3, d = 8;
  const LayerView v = random_reconstruction_view(T, extra, Hkv, g, d, 5);
  const std::int64_t N = 2 * T + extra, n = N - T;
  // The whole [n, N] attention of each query head at once: query i is position T + i and sees keys 0 .. T + i.
  const at::Tensor future = at::arange(N).unsqueeze(0) > (at::arange(n) + T).unsqueeze(1);  // [n, N]
  at::Tensor expected = at::empty({Hkv, g, T});
  for (std::int64_t q = 0; q < Hkv * g; ++q) {
    const at::Tensor logits = at::matmul(v.queries[q], v.reconstruction_keys[q / g].t()) * v.scale;
    const at::Tensor a = at::softmax(logits.masked_fill(future, -std::numeric_limits<float>::infinity()), -1);
    expected[q / g][q % g].copy_(std::get<0>(a.narrow(1, 0, T).max(0)));
  }
  for (std::int64_t chunk : {1, 7, 1000}) {
    SCOPED_TRACE(chunk);
    EXPECT_LT(max_abs_diff(reconstruction_max_attention(v, chunk), expected), 1e-6);
  }
}

TEST(Kvzip, ComposesWithAdaAndPyramid) {
  const std::int64_t T = 300, B = 64, w = 32, Hkv = 2, L = 3;
  auto ada = make_policy({"kvzip", B, {{"head_allocator", "ada"}}});
  EXPECT_NE(ada->describe().find("kvzip(budget=64"), std::string::npos) << ada->describe();
  EXPECT_NE(ada->describe().find("alpha="), std::string::npos) << ada->describe();
  auto pyramid = make_policy({"kvzip", B, {{"layer_allocator", "pyramid"}}});
  for (EvictionPolicy* p : {ada.get(), pyramid.get()}) {
    SCOPED_TRACE(p->describe());
    p->begin_sequence(sequence_info(T, L, Hkv, 4, 8));
    std::int64_t total = 0;
    for (std::int64_t l = 0; l < L; ++l) {
      LayerView v = random_reconstruction_view(T, 4, Hkv, 2, 8, 10 + static_cast<std::uint64_t>(l));
      v.layer = l;
      v.num_layers = L;
      const KeptPositions k = p->select(v);
      for (std::int64_t h = 0; h < Hkv; ++h) {
        const auto pos = head_positions(k, h);
        total += static_cast<std::int64_t>(pos.size());
        for (std::int64_t t = T - w; t < T; ++t) EXPECT_TRUE(std::count(pos.begin(), pos.end(), t)) << t;
      }
      if (p == ada.get()) {
        EXPECT_EQ(k.total(), Hkv * B) << "layer " << l;
      }
    }
    EXPECT_LE(std::abs(total - L * Hkv * B), L * Hkv);  // pyramid's integer schedule; ada is exact
  }
}

// --- the engine's reconstruction pass ------------------------------------------------------------------------

// Wraps a policy and records every layer view it was shown (the memo pointer dies with the prefill).
class Spy final : public EvictionPolicy {
 public:
  explicit Spy(std::unique_ptr<EvictionPolicy> inner) : inner_(std::move(inner)) {}
  std::string describe() const override { return inner_->describe(); }
  PolicyInputs inputs() const override { return inner_->inputs(); }
  void begin_sequence(const SequenceInfo& info) override { inner_->begin_sequence(info); }
  KeptPositions select(const LayerView& view) override {
    views.push_back(view);
    return inner_->select(view);
  }
  std::vector<std::optional<KeptPositions>> finish_sequence() override { return inner_->finish_sequence(); }
  std::int64_t resolved_budget() const override { return inner_->resolved_budget(); }
  std::vector<LayerView> views;

 private:
  std::unique_ptr<EvictionPolicy> inner_;
};

struct TinyModel {
  test::TempDir dir;
  RandomModelSpec spec;
  std::unique_ptr<Transformer> model;
  TinyModel() {
    spec.vocab_size = 96;
    spec.intermediate_size = 96;
    spec.seed = 7;
    write_random_checkpoint(dir.path(), spec);
    model = Transformer::load(dir.path(), at::kCPU, at::kFloat);
  }
};

TEST(Kvzip, EngineReconstructionPass) {
  TinyModel m;
  const Engine engine(*m.model);
  const std::int64_t T = 120, B = 48, w = 32, L = m.spec.num_layers, Hkv = m.spec.num_kv_heads;
  const auto prompt = test::random_ids(T, m.spec.vocab_size, 12);
  PrefillOptions options;
  options.reconstruction_prompt = {5, 6, 7};
  const std::int64_t N = 2 * T + 3;
  Spy plain(make_policy({"h2o", B})), kvzip(make_policy({"kvzip", B}));
  const PrefillResult pre = engine.prefill(prompt, {&plain, &kvzip}, options);
  ASSERT_EQ(static_cast<std::int64_t>(plain.views.size()), L);
  ASSERT_EQ(static_cast<std::int64_t>(kvzip.views.size()), L);  // the reconstruction pass only
  // The same pass over X = prompt ++ R ++ prompt, as a plain prefill of X shows it.
  std::vector<std::int64_t> x = prompt;
  x.insert(x.end(), options.reconstruction_prompt.begin(), options.reconstruction_prompt.end());
  x.insert(x.end(), prompt.begin(), prompt.end());
  Spy whole(make_policy({"h2o", B}));
  engine.prefill(x, {&whole}, {});
  for (std::int64_t l = 0; l < L; ++l) {
    SCOPED_TRACE(l);
    const LayerView& v = kvzip.views[l];
    EXPECT_EQ(v.layer, l);
    ASSERT_EQ(v.keys.sizes().vec(), plain.views[l].keys.sizes().vec());  // [Hkv, T, d]
    EXPECT_LT(max_abs_diff(v.keys, plain.views[l].keys), 1e-5);  // causal: X's first T keys are the prompt's
    EXPECT_LT(max_abs_diff(v.values, plain.views[l].values), 1e-5);
    EXPECT_EQ(v.reconstruction_start, T);
    ASSERT_EQ(v.reconstruction_keys.size(1), N);
    ASSERT_EQ(v.queries.size(1), N - T);
    EXPECT_LT(max_abs_diff(v.reconstruction_keys, whole.views[l].keys), 1e-5);
    EXPECT_LT(max_abs_diff(v.queries, whole.views[l].queries.narrow(1, T, N - T)), 1e-5);
    EXPECT_EQ(v.token_ids.numel(), T);
    // The cache keeps B entries per head, the window among them.
    const auto kept = pre.caches[1].layers[l].kept_positions();
    ASSERT_EQ(static_cast<std::int64_t>(kept.size()), Hkv);
    for (const auto& head : kept) {
      EXPECT_EQ(static_cast<std::int64_t>(head.size()), B);
      for (std::int64_t t = T - w; t < T; ++t) EXPECT_TRUE(std::count(head.begin(), head.end(), t)) << t;
    }
  }
  EXPECT_GT(pre.policy_seconds[1], 0.0);  // the reconstruction pass is kvzip's compression time
  // last_logits are the plain pass's: the same as a prefill without kvzip, and with kvzip alone.
  Spy alone(make_policy({"h2o", B}));
  const PrefillResult without = engine.prefill(prompt, {&alone}, {});
  EXPECT_LT(max_abs_diff(pre.last_logits, without.last_logits), 1e-6);
  auto only = make_policy({"kvzip", B});
  EXPECT_LT(max_abs_diff(engine.prefill(prompt, {only.get()}, options).last_logits, without.last_logits), 1e-6);
}

TEST(Kvzip, AFailedReconstructionPassFailsOnlyItsPolicies) {
  TinyModel m;
  const Engine engine(*m.model);
  const auto prompt = test::random_ids(80, m.spec.vocab_size, 3);
  auto snap = make_policy({"snapkv", 48}), kvzip = make_policy({"kvzip", 48});
  PrefillOptions options;
  options.reconstruction_prompt = {m.spec.vocab_size};  // outside the vocabulary
  EXPECT_NE(test::error_of([&] { engine.prefill(prompt, {snap.get(), kvzip.get()}, options); }).find("reconstruction"),
            std::string::npos);
  options.isolate_policies = true;
  const PrefillResult pre = engine.prefill(prompt, {snap.get(), kvzip.get()}, options);
  EXPECT_FALSE(pre.policy_failed(0));
  EXPECT_TRUE(pre.policy_failed(1));
  EXPECT_EQ(pre.caches[0].layers[0].kept_positions()[0].size(), 48u);
}

}  // namespace
}  // namespace kvbench
