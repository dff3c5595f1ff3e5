// Engine tests against the float64 reference model (tests/reference_model.h):
//  - prefill logits match the reference for every family and rope schedule;
//  - chunked prefill equals one-shot prefill;
//  - decoding with the cache equals recomputing full attention over the whole sequence each step;
//  - streaming, and arbitrary uniform and ragged per-head kept sets, equal full attention with exactly the
//    evicted positions masked (the first generated token comes from the full prefill, as in the papers).
#include <gtest/gtest.h>

#include <numeric>
#include <optional>
#include <random>

#include "harness/common/error.h"
#include "harness/engine/engine.h"
#include "harness/engine/batch_cache.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/transformer.h"
#include "policies/registry.h"
#include "tests/policy_fixtures.h"
#include "tests/reference_model.h"
#include "tests/test_support.h"
#include "tests/test_tensors.h"

namespace kvbench {
namespace {

using test::ReferenceModel;
using test::TempDir;

struct Fixture {
  TempDir dir;
  RandomModelSpec spec;
  std::unique_ptr<Transformer> model;
  std::unique_ptr<ReferenceModel> reference;
};

std::unique_ptr<Fixture> make_fixture(const RandomModelSpec& spec, at::ScalarType dtype = at::kFloat) {
  auto f = std::make_unique<Fixture>();
  f->spec = spec;
  const auto weights = write_random_checkpoint(f->dir.path(), spec);
  f->model = Transformer::load(f->dir.path(), at::kCPU, dtype);
  f->reference = std::make_unique<ReferenceModel>(weights, spec);
  return f;
}

RandomModelSpec small_llama() { return test::small_llama_spec(7); }

using test::max_abs_diff;
using test::random_ids;

// Every KV head of every layer keeps a caller-chosen set of prompt positions (tests only).
class FixedKeptPolicy final : public EvictionPolicy {
 public:
  explicit FixedKeptPolicy(std::vector<std::vector<std::vector<std::int64_t>>> kept) : kept_(std::move(kept)) {}
  std::string describe() const override { return "fixed"; }
  KeptPositions select(const LayerView& layer) override {
    std::vector<at::Tensor> heads;
    for (const auto& positions : kept_[layer.layer]) heads.push_back(at::tensor(positions, at::kLong));
    return KeptPositions::ragged(heads);
  }

 private:
  std::vector<std::vector<std::vector<std::int64_t>>> kept_;
};

// Greedy generation with `policy`, then the same sequence through the reference with the eviction mask:
// the logits each token was chosen from must agree, and so must the tokens.
void expect_decode_matches_masked_reference(Fixture& f, const std::vector<std::int64_t>& prompt, EvictionPolicy& policy,
                                            const std::vector<std::vector<std::vector<std::int64_t>>>& kept,
                                            std::int64_t new_tokens, std::int64_t chunk = 512) {
  const Engine engine(*f.model);
  GenerateOptions gen;
  gen.max_new_tokens = new_tokens;
  gen.keep_step_logits = true;
  PrefillOptions pre;
  pre.chunk_size = chunk;
  const GenerationResult out = engine.generate(prompt, policy, pre, gen);
  ASSERT_EQ(static_cast<std::int64_t>(out.output_ids.size()), new_tokens);

  std::vector<std::int64_t> seq = prompt;
  seq.insert(seq.end(), out.output_ids.begin(), out.output_ids.end() - 1);  // the last token is never fed back
  const std::int64_t T = static_cast<std::int64_t>(prompt.size()), S = static_cast<std::int64_t>(seq.size());
  const at::Tensor ref = f.reference->logits(seq, f.reference->eviction_mask(S, T, kept));
  for (std::int64_t i = 0; i < new_tokens; ++i) {
    const at::Tensor expected = ref[T - 1 + i];
    EXPECT_LT(max_abs_diff(out.step_logits[i], expected), 2e-3) << "step " << i;
    EXPECT_EQ(out.output_ids[i], expected.argmax().item<std::int64_t>()) << "step " << i;
  }
}

std::vector<std::vector<std::vector<std::int64_t>>> same_for_all(const Fixture& f, const std::vector<std::int64_t>& kept) {
  return std::vector<std::vector<std::vector<std::int64_t>>>(
      f.spec.num_layers, std::vector<std::vector<std::int64_t>>(f.spec.num_kv_heads, kept));
}

struct FamilyCase {
  const char* name;
  RandomModelSpec spec;
};

std::vector<FamilyCase> family_cases() {
  std::vector<FamilyCase> cases;
  RandomModelSpec llama3 = small_llama();
  // original_max_position_embeddings 64 puts head_dim 16's frequencies in all three llama3 bands.
  llama3.rope_scaling = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  llama3.rope_theta = 500000.0;
  cases.push_back({"llama3_rope_gqa", llama3});
  RandomModelSpec linear = small_llama();
  linear.rope_scaling = {{"type", "linear"}, {"factor", 4.0}};
  linear.attention_bias = true;
  cases.push_back({"llama_linear_rope_bias", linear});
  RandomModelSpec mistral = small_llama();
  mistral.family = "mistral";
  mistral.num_kv_heads = 1;  // multi-query attention: g = 4
  cases.push_back({"mistral_mqa", mistral});
  RandomModelSpec qwen = small_llama();
  qwen.family = "qwen2";
  qwen.tie_word_embeddings = true;
  qwen.num_kv_heads = 4;  // plain multi-head attention: g = 1
  cases.push_back({"qwen2_bias_tied", qwen});
  return cases;
}

TEST(Engine, PrefillLogitsMatchReferenceForEveryFamily) {
  for (const auto& c : family_cases()) {
    SCOPED_TRACE(c.name);
    auto f = make_fixture(c.spec);
    const auto ids = random_ids(150, c.spec.vocab_size, 1);
    const Engine engine(*f->model);
    PrefillOptions pre;
    pre.all_logits = true;
    auto full = make_policy({"full"});
    const PrefillResult r = engine.prefill(ids, {full.get()}, pre);
    const at::Tensor ref = f->reference->logits(ids);
    EXPECT_LT(max_abs_diff(r.logits, ref), 1e-3);
    EXPECT_GT(ref.abs().max().item<double>(), 1.0) << "logits too flat to be a meaningful comparison";
  }
}

TEST(Engine, ChunkedPrefillEqualsOneShot) {
  auto f = make_fixture(family_cases()[0].spec);
  const auto ids = random_ids(203, f->spec.vocab_size, 2);
  const Engine engine(*f->model);
  auto full = make_policy({"full"});
  PrefillOptions one_shot;
  one_shot.chunk_size = 4096;
  one_shot.all_logits = true;
  const at::Tensor reference = engine.prefill(ids, {full.get()}, one_shot).logits;
  for (std::int64_t chunk : {1, 7, 64, 202}) {
    PrefillOptions chunked = one_shot;
    chunked.chunk_size = chunk;
    const PrefillResult r = engine.prefill(ids, {full.get()}, chunked);
    EXPECT_LT(max_abs_diff(r.logits, reference), 1e-5) << "chunk " << chunk;
    // The caches must agree too: decode a few tokens from each.
    GenerateOptions gen;
    gen.max_new_tokens = 5;
    PrefillResult again = engine.prefill(ids, {full.get()}, chunked);
    PrefillResult base = engine.prefill(ids, {full.get()}, one_shot);
    EXPECT_EQ(engine.decode(again.caches[0], again.last_logits, gen).output_ids,
              engine.decode(base.caches[0], base.last_logits, gen).output_ids);
  }
}

TEST(Engine, DecodeWithCacheEqualsFullRecompute) {
  for (const auto& c : family_cases()) {
    SCOPED_TRACE(c.name);
    auto f = make_fixture(c.spec);
    const auto prompt = random_ids(40, c.spec.vocab_size, 3);
    auto full = make_policy({"full"});
    std::vector<std::int64_t> all(prompt.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
    // The full policy keeps everything, so the "eviction mask" is plain causal attention.
    expect_decode_matches_masked_reference(*f, prompt, *full, same_for_all(*f, all), 24);
  }
}

TEST(Engine, StreamingEqualsFullAttentionWithEvictedPositionsMasked) {
  auto f = make_fixture(family_cases()[0].spec);
  const auto prompt = random_ids(100, f->spec.vocab_size, 4);
  const std::int64_t budget = 24, sinks = 4, T = 100;
  auto streaming = make_policy({"streaming", budget, {{"sinks", sinks}}});
  std::vector<std::int64_t> kept;
  for (std::int64_t p = 0; p < sinks; ++p) kept.push_back(p);
  for (std::int64_t p = T - (budget - sinks); p < T; ++p) kept.push_back(p);
  expect_decode_matches_masked_reference(*f, prompt, *streaming, same_for_all(*f, kept), 20, /*chunk=*/16);
}

TEST(Engine, StreamingActuallyChangesTheOutput) {
  // Guards the test above against a cache that ignores eviction: masked and unmasked logits must differ.
  auto f = make_fixture(family_cases()[0].spec);
  const auto prompt = random_ids(100, f->spec.vocab_size, 4);
  const Engine engine(*f->model);
  GenerateOptions gen;
  gen.max_new_tokens = 6;
  gen.keep_step_logits = true;
  auto full = make_policy({"full"});
  auto streaming = make_policy({"streaming", 24});
  const auto a = engine.generate(prompt, *full, {}, gen);
  const auto b = engine.generate(prompt, *streaming, {}, gen);
  EXPECT_LT(max_abs_diff(a.step_logits[0], b.step_logits[0]), 1e-6) << "first token comes from the full prefill";
  EXPECT_GT(max_abs_diff(a.step_logits[1], b.step_logits[1]), 1e-3);
}

TEST(Engine, RaggedPerHeadCachesEqualMaskedFullAttention) {
  for (const auto& c : family_cases()) {
    SCOPED_TRACE(c.name);
    auto f = make_fixture(c.spec);
    const std::int64_t T = 60;
    const auto prompt = random_ids(T, c.spec.vocab_size, 5);
    // Each (layer, head) keeps a different random subset of a different size, always incl. the last position.
    std::mt19937 rng(11);
    std::vector<std::vector<std::vector<std::int64_t>>> kept(c.spec.num_layers);
    for (auto& layer : kept) {
      for (std::int64_t h = 0; h < c.spec.num_kv_heads; ++h) {
        std::vector<std::int64_t> positions;
        const double keep = 0.15 + 0.2 * h;
        for (std::int64_t p = 0; p < T - 1; ++p)
          if (std::uniform_real_distribution<double>(0, 1)(rng) < keep) positions.push_back(p);
        positions.push_back(T - 1);
        layer.push_back(positions);
      }
    }
    FixedKeptPolicy policy(kept);
    expect_decode_matches_masked_reference(*f, prompt, policy, kept, 12);
  }
}

// Acceptance: for every registered policy, decoding with its compressed cache equals full attention with
// exactly the positions it evicted masked (per layer and KV head), read back from the cache itself.
TEST(Engine, EveryPolicyDecodesLikeMaskedFullAttention) {
  auto f = make_fixture(family_cases()[0].spec);
  const std::int64_t T = 120;
  const auto prompt = random_ids(T, f->spec.vocab_size, 12);
  const Engine engine(*f->model);
  for (const std::string& name : policy_names()) {
    SCOPED_TRACE(name);
    PolicySpec spec{name, 48};
    if (name == "full") spec.budget = BudgetSpec{};
    auto policy = make_policy(spec);
    PrefillResult pre = engine.prefill(prompt, {policy.get()}, {});
    KvCache& cache = pre.caches[0];
    std::vector<std::vector<std::vector<std::int64_t>>> kept;
    std::int64_t held = 0;
    for (const auto& layer : cache.layers) {
      kept.push_back(layer.kept_positions());
      for (const auto& head : kept.back()) held += static_cast<std::int64_t>(head.size());
    }
    if (name != "full") {
      EXPECT_LT(held, T * f->spec.num_layers * f->spec.num_kv_heads) << "nothing was evicted";
    }
    GenerateOptions gen;
    gen.max_new_tokens = 8;
    gen.keep_step_logits = true;
    const GenerationResult out = engine.decode(cache, pre.last_logits, gen);
    std::vector<std::int64_t> seq = prompt;
    seq.insert(seq.end(), out.output_ids.begin(), out.output_ids.end() - 1);
    const at::Tensor ref = f->reference->logits(seq, f->reference->eviction_mask(static_cast<std::int64_t>(seq.size()), T, kept));
    for (std::int64_t i = 0; i < gen.max_new_tokens; ++i) {
      EXPECT_LT(max_abs_diff(out.step_logits[i], ref[T - 1 + i]), 2e-3) << "step " << i;
      EXPECT_EQ(out.output_ids[i], ref[T - 1 + i].argmax().item<std::int64_t>()) << "step " << i;
    }
  }
}

// Per-query-head caches (KVCache-Factory's and Ada-KV's default: K/V repeated to the query heads, one kept set each)
// decode like full attention with each query head's own evicted positions masked; they hold g times the entries
// of a per-KV-head cache of the same budget; and decode alone, batched beside per-KV-head caches, and on the ragged
// path gives the same tokens.
TEST(Engine, PerQueryHeadCachesDecodeLikeMaskedFullAttention) {
  auto f = make_fixture(family_cases()[0].spec);  // 4 query heads, 2 KV heads: g = 2
  const std::int64_t T = 120, Hq = f->spec.num_heads, g = Hq / f->spec.num_kv_heads;
  const auto prompt = random_ids(T, f->spec.vocab_size, 31);
  const Engine engine(*f->model);
  auto spec = [](const std::string& name, const std::string& reference, BudgetSpec budget, nlohmann::json params = {}) {
    PolicySpec s{name, budget, params.is_null() ? nlohmann::json::object() : params};
    s.reference = reference;
    return s;
  };
  std::vector<std::unique_ptr<EvictionPolicy>> policies;
  policies.push_back(make_policy(spec("snapkv", "kvcache_factory", 40)));  // uniform per query head
  policies.push_back(make_policy(spec("adakv", "adakv", 48)));             // ragged per query head
  policies.push_back(make_policy(spec("streaming", "adakv", 24)));
  policies.push_back(make_policy(spec("knorm", "kvcache_factory", 30)));   // layers 0 and 1 whole
  policies.push_back(make_policy(spec("snapkv", "kvcache_factory", 40, {{"granularity", "kv_head"}})));
  policies.push_back(make_policy(spec("criticaladakv", "kvpress", BudgetSpec::compression_ratio(0.6))));
  std::vector<EvictionPolicy*> raw;
  for (auto& p : policies) raw.push_back(p.get());
  GenerateOptions gen;
  gen.max_new_tokens = 8;
  gen.keep_step_logits = true;
  PrefillResult pre = engine.prefill(prompt, raw, {});
  std::vector<GenerationResult> alone;
  for (std::size_t i = 0; i < policies.size(); ++i) {
    SCOPED_TRACE(policies[i]->describe());
    KvCache cache = pre.caches[i];
    const bool per_query_head = policies[i]->granularity() == "query_head";
    std::vector<std::vector<std::vector<std::int64_t>>> kept;
    std::int64_t entries = 0;
    for (const auto& layer : cache.layers) {
      kept.push_back(layer.kept_positions());
      EXPECT_EQ(layer.num_heads(), per_query_head ? Hq : Hq / g);
      for (const auto& head : kept.back()) entries += static_cast<std::int64_t>(head.size());
    }
    // What the cache holds is what its heads keep: 2 (K, V) x entries x d x 4 bytes.
    EXPECT_EQ(cache.bytes_used(), 2 * entries * (f->spec.hidden_size / Hq) * 4);
    const GenerationResult out = engine.decode(cache, pre.last_logits, gen);
    std::vector<std::int64_t> seq = prompt;
    seq.insert(seq.end(), out.output_ids.begin(), out.output_ids.end() - 1);
    const at::Tensor ref =
        f->reference->logits(seq, f->reference->eviction_mask(static_cast<std::int64_t>(seq.size()), T, kept));
    for (std::int64_t t = 0; t < gen.max_new_tokens; ++t) {
      EXPECT_LT(max_abs_diff(out.step_logits[t], ref[T - 1 + t]), 2e-3) << "step " << t;
      EXPECT_EQ(out.output_ids[t], ref[T - 1 + t].argmax().item<std::int64_t>()) << "step " << t;
    }
    alone.push_back(out);
  }
  // The query heads of one KV head really keep different sets (else this would test nothing new).
  const auto layer0 = pre.caches[0].layers[1].kept_positions();
  EXPECT_NE(layer0[0], layer0[1]);
  // Batched (grouped by head count) and on the ragged path: the same tokens as alone.
  std::vector<std::size_t> all(policies.size());
  std::iota(all.begin(), all.end(), 0);
  for (const std::string path : {"reference", "ragged"}) {
    SCOPED_TRACE(path);
    PrefillResult again = engine.prefill(prompt, raw, {});
    GenerateOptions batched = gen;
    batched.decode_path = path;
    const auto groups = decode_groups(engine, again, all, /*batch=*/true, batched);
    for (const auto& group : groups) {
      for (std::size_t i : group)
        EXPECT_EQ(cache_heads(again.caches[i]), cache_heads(again.caches[group[0]])) << "a batch mixes head counts";
      const auto results = decode_group(engine, again, group, batched);
      for (std::size_t k = 0; k < group.size(); ++k)
        EXPECT_EQ(results[k].output_ids, alone[group[k]].output_ids) << policies[group[k]]->describe();
    }
  }
}

// Keeps everything and records what layer 0 showed it (tests only).
class ViewRecorder final : public EvictionPolicy {
 public:
  std::string describe() const override { return "recorder"; }
  PolicyInputs inputs() const override { return {0, true}; }
  KeptPositions select(const LayerView& layer) override {
    if (layer.layer == 0) first = layer;
    out_proj.push_back(layer.out_proj);
    return KeptPositions::all(layer.num_kv_heads(), layer.prompt_len(), layer.keys.device());
  }
  LayerView first;
  std::vector<at::Tensor> out_proj;
};

// What CriticalKV and Expected Attention read besides K/V: each layer's o_proj, and RoPE frequencies that
// rotate the post-RoPE queries back to the layer's plain q projection (llama3 scaling included).
TEST(Engine, LayerViewCarriesOutProjAndRopeFrequencies) {
  auto f = make_fixture(family_cases()[0].spec);
  const std::int64_t T = 40, Hq = f->spec.num_heads, d = f->spec.hidden_size / Hq;
  const auto prompt = random_ids(T, f->spec.vocab_size, 3);
  ViewRecorder recorder;
  Engine(*f->model).prefill(prompt, {&recorder}, {});
  ASSERT_EQ(static_cast<std::int64_t>(recorder.out_proj.size()), f->spec.num_layers);
  for (std::int64_t l = 0; l < f->spec.num_layers; ++l)
    EXPECT_TRUE(at::equal(recorder.out_proj[l], f->model->layer_weights(l).o_weight)) << "layer " << l;
  // Rotate by -t: x cos - rotate_half(x) sin with the angles t * inv_freq repeated over both halves.
  const LayerView& v = recorder.first;
  ASSERT_TRUE(v.rope_inv_freq.defined());
  const at::Tensor angles = at::arange(T).to(at::kFloat).unsqueeze(1) * v.rope_inv_freq.unsqueeze(0);
  const at::Tensor cos = at::cat({angles, angles}, 1).cos(), sin = at::cat({angles, angles}, 1).sin();
  const at::Tensor q = v.queries, half1 = q.narrow(2, 0, d / 2), half2 = q.narrow(2, d / 2, d / 2);
  const at::Tensor pre = q * cos - at::cat({-half2, half1}, 2) * sin;  // [Hq, T, d]
  const at::Tensor ids = at::tensor(prompt, at::kLong);
  const at::Tensor plain = f->model->qkv(0, f->model->embed(ids)).narrow(1, 0, Hq * d).view({T, Hq, d}).transpose(0, 1);
  EXPECT_LT(max_abs_diff(pre, plain), 1e-4);
  EXPECT_GT(plain.abs().max().item<double>(), 0.1);
}

TEST(Engine, UniformCountsWithDifferentPositionsPerHead) {
  auto f = make_fixture(family_cases()[0].spec);
  const std::int64_t T = 50;
  const auto prompt = random_ids(T, f->spec.vocab_size, 6);
  std::vector<std::vector<std::vector<std::int64_t>>> kept(f->spec.num_layers);
  for (std::int64_t l = 0; l < f->spec.num_layers; ++l)
    for (std::int64_t h = 0; h < f->spec.num_kv_heads; ++h) {
      std::vector<std::int64_t> positions;
      for (std::int64_t p = (l + h) % 3; p < T; p += 3) positions.push_back(p);
      positions.resize(12);
      kept[l].push_back(positions);
    }
  FixedKeptPolicy policy(kept);
  expect_decode_matches_masked_reference(*f, prompt, policy, kept, 10);
}

TEST(Engine, OnePrefillFeedsSeveralPoliciesLikeSeparatePrefills) {
  auto f = make_fixture(family_cases()[0].spec);
  const auto prompt = random_ids(90, f->spec.vocab_size, 7);
  const Engine engine(*f->model);
  std::vector<std::unique_ptr<EvictionPolicy>> policies;
  policies.push_back(make_policy({"full"}));
  policies.push_back(make_policy({"streaming", 16}));
  policies.push_back(make_policy({"streaming", 40, {{"sinks", 0}}}));
  GenerateOptions gen;
  gen.max_new_tokens = 8;
  PrefillResult shared = engine.prefill(prompt, {policies[0].get(), policies[1].get(), policies[2].get()}, {});
  for (std::size_t i = 0; i < policies.size(); ++i) {
    const auto together = engine.decode(shared.caches[i], shared.last_logits, gen).output_ids;
    const auto alone = engine.generate(prompt, *policies[i], {}, gen).output_ids;
    EXPECT_EQ(together, alone) << policies[i]->describe();
  }
}

// The variants of a sweep decode together: uniform, ragged (adakv, kvec+ada), full and streaming caches of
// different sizes in one padded batch give each variant the tokens and logits of its own decode; rows stop
// independently.
TEST(Engine, BatchedDecodeEqualsSeparateDecodes) {
  auto f = make_fixture(family_cases()[0].spec);
  const auto prompt = random_ids(110, f->spec.vocab_size, 21);
  const Engine engine(*f->model);
  std::vector<std::unique_ptr<EvictionPolicy>> policies;
  policies.push_back(make_policy({"full"}));
  policies.push_back(make_policy({"streaming", 24}));
  policies.push_back(make_policy({"snapkv", 48}));
  policies.push_back(make_policy({"adakv", 40}));
  policies.push_back(make_policy({"kvec+ada", 56}));
  policies.push_back(make_policy({"pyramidkv", 48}));
  std::vector<EvictionPolicy*> raw;
  for (auto& p : policies) raw.push_back(p.get());
  GenerateOptions gen;
  gen.max_new_tokens = 12;
  gen.keep_step_logits = true;
  std::vector<GenerationResult> alone;
  {
    PrefillResult pre = engine.prefill(prompt, raw, {});
    for (auto& cache : pre.caches) alone.push_back(engine.decode(cache, pre.last_logits, gen));
  }
  // Stop on a token variant 2 produces after its first and some other variant never produces: variant 2
  // (and any variant producing that id) stops early, the others run on.
  std::optional<std::int64_t> stop;
  for (std::size_t t = 1; t < alone[2].output_ids.size() && !stop; ++t) {
    const std::int64_t id = alone[2].output_ids[t];
    for (const auto& other : alone)
      if (std::find(other.output_ids.begin(), other.output_ids.end(), id) == other.output_ids.end()) stop = id;
  }
  ASSERT_TRUE(stop.has_value()) << "every variant produced the same tokens";
  gen.stop_ids = {*stop};
  for (std::int64_t interval : {1, 5}) {
    SCOPED_TRACE(interval);
    gen.sync_interval = interval;
    PrefillResult pre = engine.prefill(prompt, raw, {});
    std::vector<const KvCache*> caches;
    for (const auto& cache : pre.caches) caches.push_back(&cache);
    const std::vector<GenerationResult> together = engine.decode_batch(caches, pre.last_logits, gen);
    ASSERT_EQ(together.size(), policies.size());
    bool someone_stopped = false, someone_ran_on = false;
    for (std::size_t i = 0; i < policies.size(); ++i) {
      SCOPED_TRACE(policies[i]->describe());
      std::vector<std::int64_t> expected;
      for (std::int64_t id : alone[i].output_ids) {
        expected.push_back(id);
        if (id == gen.stop_ids[0]) break;
      }
      EXPECT_EQ(together[i].output_ids, expected);
      EXPECT_EQ(together[i].stop_reason, expected.size() < alone[i].output_ids.size() || expected.back() == gen.stop_ids[0]
                                             ? "stop_token" : "max_new_tokens");
      ASSERT_EQ(together[i].step_logits.size(), expected.size());
      for (std::size_t t = 0; t < expected.size(); ++t)
        EXPECT_LT(max_abs_diff(together[i].step_logits[t], alone[i].step_logits[t]), 1e-4) << "step " << t;
      EXPECT_EQ(together[i].batch_size, static_cast<std::int64_t>(policies.size()));
      someone_stopped |= expected.size() < alone[i].output_ids.size();
      someone_ran_on |= expected.size() == alone[i].output_ids.size();
    }
    EXPECT_TRUE(someone_stopped);
    EXPECT_TRUE(someone_ran_on) << "pick a stop id that not every variant produces";
  }
}

// Grouping for batched decode: a group is padded to its largest cache, at most doubling what it holds.
TEST(Engine, DecodeBatchesDoNotPadSmallCachesToAFullOne) {
  auto f = make_fixture(family_cases()[0].spec);
  const auto prompt = random_ids(200, f->spec.vocab_size, 22);
  const Engine engine(*f->model);
  std::vector<std::unique_ptr<EvictionPolicy>> policies;
  policies.push_back(make_policy({"snapkv", 40}));
  policies.push_back(make_policy({"full"}));
  policies.push_back(make_policy({"streaming", 40}));
  policies.push_back(make_policy({"adakv", 48}));
  std::vector<EvictionPolicy*> raw;
  for (auto& p : policies) raw.push_back(p.get());
  PrefillResult pre = engine.prefill(prompt, raw, {});
  std::vector<const KvCache*> caches;
  for (const auto& cache : pre.caches) caches.push_back(&cache);
  // Padded sizes (sum over layers of the largest head): 40 x 2 layers for snapkv and streaming, 200 x 2 for
  // full, and adakv's largest ragged head per layer (> 48, < 96): the three small ones fit together
  // (3 x adakv's size <= 2 x (80 + 80 + adakv's)), the full cache alone (4 x 400 > 2 x ~560).
  const auto groups = plan_decode_batches(caches);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0], (std::vector<std::size_t>{0, 2, 3}));
  EXPECT_EQ(groups[1], (std::vector<std::size_t>{1}));
}

// Policies of one prefill share scores through the layer memo; each still keeps exactly what it keeps alone.
TEST(Engine, SharedScoresKeepWhatEachPolicyKeepsAlone) {
  auto f = make_fixture(family_cases()[0].spec);
  const auto prompt = random_ids(140, f->spec.vocab_size, 23);
  const Engine engine(*f->model);
  const std::vector<PolicySpec> specs = {{"snapkv", 48}, {"snapkv", 64}, {"kvec", 48}, {"adakv", 48}, {"h2o", 48},
                                         {"h2o", 64}, {"cake", 48}, {"cake", 64}, {"pyramidkv", 48},
                                         {"snapkv", 48, {{"kernel", 3}}}};
  std::vector<std::unique_ptr<EvictionPolicy>> together;
  std::vector<EvictionPolicy*> raw;
  for (const auto& s : specs) together.push_back(make_policy(s));
  for (auto& p : together) raw.push_back(p.get());
  const PrefillResult shared = engine.prefill(prompt, raw, {});
  for (std::size_t i = 0; i < specs.size(); ++i) {
    auto alone = make_policy(specs[i]);
    const PrefillResult single = engine.prefill(prompt, {alone.get()}, {});
    for (std::size_t l = 0; l < shared.caches[i].layers.size(); ++l)
      EXPECT_EQ(shared.caches[i].layers[l].kept_positions(), single.caches[0].layers[l].kept_positions())
          << alone->describe() << " layer " << l;
  }
}

TEST(Engine, StopTokensMinNewAndSyncInterval) {
  auto f = make_fixture(family_cases()[0].spec);
  const auto prompt = random_ids(30, f->spec.vocab_size, 8);
  const Engine engine(*f->model);
  auto full = make_policy({"full"});
  GenerateOptions gen;
  gen.max_new_tokens = 20;
  const auto free_run = engine.generate(prompt, *full, {}, gen).output_ids;
  ASSERT_EQ(free_run.size(), 20u);

  // Stopping on the 5th token's id ends the output right after its first occurrence.
  const std::int64_t stop = free_run[4];
  const std::size_t first = std::find(free_run.begin(), free_run.end(), stop) - free_run.begin();
  gen.stop_ids = {stop};
  for (std::int64_t interval : {1, 3, 16}) {
    gen.sync_interval = interval;
    const auto r = engine.generate(prompt, *full, {}, gen);
    EXPECT_EQ(r.stop_reason, "stop_token");
    EXPECT_EQ(r.output_ids, std::vector<std::int64_t>(free_run.begin(), free_run.begin() + first + 1))
        << "interval " << interval;
  }

  // With min_new past the first occurrence the stop id is suppressed there: the output differs at that index.
  gen.sync_interval = 1;
  gen.min_new_tokens = static_cast<std::int64_t>(first) + 1;
  const auto r = engine.generate(prompt, *full, {}, gen);
  ASSERT_GT(r.output_ids.size(), first);
  EXPECT_NE(r.output_ids[first], stop);
  EXPECT_GE(static_cast<std::int64_t>(r.output_ids.size()), gen.min_new_tokens);
}

TEST(Engine, PolicySeesTheRequestedInputs) {
  struct Probe final : EvictionPolicy {
    std::vector<std::int64_t> ids;
    int calls = 0;
    std::string describe() const override { return "probe"; }
    PolicyInputs inputs() const override { return {5, false}; }
    KeptPositions select(const LayerView& v) override {
      EXPECT_EQ(v.layer, calls);
      EXPECT_EQ(v.keys.sizes(), (std::vector<std::int64_t>{2, 33, 16}));
      EXPECT_EQ(v.values.sizes(), (std::vector<std::int64_t>{2, 33, 16}));
      EXPECT_EQ(v.queries.sizes(), (std::vector<std::int64_t>{4, 5, 16}));
      EXPECT_EQ(std::vector<std::int64_t>(v.token_ids.data_ptr<std::int64_t>(), v.token_ids.data_ptr<std::int64_t>() + 33), ids);
      ++calls;
      return KeptPositions::all(v.num_kv_heads(), v.prompt_len(), v.keys.device());
    }
  };
  auto f = make_fixture(family_cases()[0].spec);
  Probe probe;
  probe.ids = random_ids(33, f->spec.vocab_size, 9);
  const Engine engine(*f->model);
  engine.prefill(probe.ids, {&probe}, {});
  EXPECT_EQ(probe.calls, f->spec.num_layers);
}

TEST(Engine, Bf16RunsAndStaysCloseToF32) {
  auto f32 = make_fixture(family_cases()[0].spec);
  auto bf16 = make_fixture(family_cases()[0].spec, at::kBFloat16);
  const auto ids = random_ids(64, f32->spec.vocab_size, 10);
  auto full = make_policy({"full"});
  PrefillOptions pre;
  pre.all_logits = true;
  const at::Tensor a = Engine(*f32->model).prefill(ids, {full.get()}, pre).logits;
  const at::Tensor b = Engine(*bf16->model).prefill(ids, {full.get()}, pre).logits;
  EXPECT_TRUE(at::isfinite(b).all().item<bool>());
  // bf16 keeps ~3 significant digits; relative to the logit scale the error must stay small.
  EXPECT_LT(max_abs_diff(a, b) / a.abs().max().item<double>(), 0.05);
}

TEST(Engine, RejectsBadPrompts) {
  auto f = make_fixture(small_llama());
  const Engine engine(*f->model);
  auto full = make_policy({"full"});
  EXPECT_THROW(engine.prefill({}, {full.get()}, {}), Error);
  EXPECT_THROW(engine.prefill({1, 2, 96}, {full.get()}, {}), Error);
  EXPECT_THROW(engine.prefill({1, -1}, {full.get()}, {}), Error);
}

}  // namespace
}  // namespace kvbench
