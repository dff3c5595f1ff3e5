// The ragged decode path (harness/engine/ragged_decoder.h) on the CPU, against the plain decode path:
//  - every policy (uniform, ragged, trimmed caches) decodes the same tokens and step logits, alone and batched;
//  - decode() through it extends the cache as the plain path does, and decoding can continue from there;
//  - one decoder serves prompts of other lengths (bind() resets everything a step advances);
//  - ops::decode_attention's reference and ops::rope_split_at agree with the engine's own attention and RoPE.
// On CUDA the same orchestration runs the kernels and CUDA graphs; tests/gpu/decode_parity.py checks that.
#include <gtest/gtest.h>

#include <random>
#include <tuple>

#include "harness/engine/attention.h"
#include "harness/engine/engine.h"
#include "harness/engine/ragged_decoder.h"
#include "harness/device/ops.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/transformer.h"
#include "policies/registry.h"
#include "tests/test_support.h"
#include "tests/test_tensors.h"

namespace kvbench {
namespace {

struct Model {
  test::TempDir dir;
  RandomModelSpec spec;
  std::unique_ptr<Transformer> model;
};

std::unique_ptr<Model> make_model(std::int64_t kv_heads = 2) {
  auto m = std::make_unique<Model>();
  m->spec.family = "llama";
  m->spec.vocab_size = 96;
  m->spec.hidden_size = 64;
  m->spec.intermediate_size = 96;
  m->spec.num_layers = 2;
  m->spec.num_heads = 4;
  m->spec.num_kv_heads = kv_heads;
  m->spec.seed = 9;
  write_random_checkpoint(m->dir.path(), m->spec);
  m->model = Transformer::load(m->dir.path(), at::kCPU, at::kFloat);
  return m;
}

using test::max_abs_diff;
using test::random_ids;

std::vector<std::unique_ptr<EvictionPolicy>> sweep_policies() {
  std::vector<std::unique_ptr<EvictionPolicy>> p;
  p.push_back(make_policy({"full"}));
  p.push_back(make_policy({"streaming", 24}));
  p.push_back(make_policy({"snapkv", 40}));
  p.push_back(make_policy({"adakv", 40}));     // ragged heads
  p.push_back(make_policy({"pyramidkv", 48}));  // layers of different sizes
  p.push_back(make_policy({"cake", 40}));       // trimmed after the last layer
  return p;
}

// The sweep plus caches stored per query head (KVCache-Factory's and Ada-KV's default granularity).
std::vector<std::unique_ptr<EvictionPolicy>> sweep_with_query_head_caches() {
  auto p = sweep_policies();
  for (const auto& [name, reference, budget] : {std::tuple<const char*, const char*, std::int64_t>{"snapkv", "kvcache_factory", 40},
                                                {"adakv", "adakv", 40}, {"pyramidkv", "kvcache_factory", 48}}) {
    PolicySpec spec{name, budget};
    spec.reference = reference;
    p.push_back(make_policy(spec));
  }
  return p;
}

std::vector<EvictionPolicy*> raw(const std::vector<std::unique_ptr<EvictionPolicy>>& policies) {
  std::vector<EvictionPolicy*> out;
  for (const auto& p : policies) out.push_back(p.get());
  return out;
}

GenerateOptions options(const std::string& path, std::int64_t new_tokens) {
  GenerateOptions gen;
  gen.max_new_tokens = new_tokens;
  gen.keep_step_logits = true;
  gen.decode_path = path;
  return gen;
}

void expect_same_generation(const GenerationResult& got, const GenerationResult& want) {
  EXPECT_EQ(got.output_ids, want.output_ids);
  EXPECT_EQ(got.stop_reason, want.stop_reason);
  ASSERT_EQ(got.step_logits.size(), want.step_logits.size());
  for (std::size_t t = 0; t < want.step_logits.size(); ++t)
    EXPECT_LT(max_abs_diff(got.step_logits[t], want.step_logits[t]), 1e-4) << "step " << t;
}

TEST(RaggedDecoder, EveryKindOfCacheDecodesLikeTheReferencePath) {
  for (std::int64_t kv_heads : {1, 2, 4}) {  // MQA, GQA, MHA
    SCOPED_TRACE(kv_heads);
    auto m = make_model(kv_heads);
    const Engine engine(*m->model);
    const auto prompt = random_ids(90, m->spec.vocab_size, 3);
    auto policies = sweep_with_query_head_caches();
    PrefillResult ref = engine.prefill(prompt, raw(policies), {});
    PrefillResult fast = engine.prefill(prompt, raw(policies), {});
    for (std::size_t i = 0; i < policies.size(); ++i) {
      SCOPED_TRACE(policies[i]->describe());
      const GenerationResult want = engine.decode(ref.caches[i], ref.last_logits, options("reference", 10));
      const GenerationResult got = engine.decode(fast.caches[i], fast.last_logits, options("ragged", 10));
      EXPECT_EQ(want.decode_path, "reference");
      EXPECT_EQ(got.decode_path, "ragged");
      expect_same_generation(got, want);
      // The cache was extended exactly as the plain path extends it.
      EXPECT_EQ(fast.caches[i].next_position, ref.caches[i].next_position);
      for (std::size_t l = 0; l < ref.caches[i].layers.size(); ++l) {
        ASSERT_EQ(fast.caches[i].layers[l].tail_length(), ref.caches[i].layers[l].tail_length());
        EXPECT_LT(max_abs_diff(fast.caches[i].layers[l].tail_keys(), ref.caches[i].layers[l].tail_keys()), 1e-5);
        EXPECT_LT(max_abs_diff(fast.caches[i].layers[l].tail_values(), ref.caches[i].layers[l].tail_values()), 1e-5);
      }
    }
  }
}

TEST(RaggedDecoder, BatchedDecodeEqualsSeparateReferenceDecodes) {
  auto m = make_model();
  const Engine engine(*m->model);
  const auto prompt = random_ids(110, m->spec.vocab_size, 21);
  auto policies = sweep_policies();
  std::vector<GenerationResult> alone;
  {
    PrefillResult pre = engine.prefill(prompt, raw(policies), {});
    for (auto& cache : pre.caches) alone.push_back(engine.decode(cache, pre.last_logits, options("reference", 12)));
  }
  PrefillResult pre = engine.prefill(prompt, raw(policies), {});
  std::vector<const KvCache*> caches;
  for (const auto& cache : pre.caches) caches.push_back(&cache);
  GenerateOptions gen = options("ragged", 12);
  gen.stop_ids = {alone[2].output_ids[3]};  // some variants stop early, on a token of their own
  const std::vector<GenerationResult> together = engine.decode_batch(caches, pre.last_logits, gen);
  ASSERT_EQ(together.size(), policies.size());
  for (std::size_t i = 0; i < policies.size(); ++i) {
    SCOPED_TRACE(policies[i]->describe());
    std::vector<std::int64_t> expected;
    for (std::int64_t id : alone[i].output_ids) {
      expected.push_back(id);
      if (id == gen.stop_ids[0]) break;
    }
    EXPECT_EQ(together[i].output_ids, expected);
    for (std::size_t t = 0; t < expected.size(); ++t)
      EXPECT_LT(max_abs_diff(together[i].step_logits[t], alone[i].step_logits[t]), 1e-4) << "step " << t;
    EXPECT_EQ(together[i].batch_size, static_cast<std::int64_t>(policies.size()));
  }
  // The caches were read, not extended.
  for (const auto& cache : pre.caches) EXPECT_EQ(cache.layers[0].tail_length(), 0);
}

// Per-query-head caches batch together on the ragged path (each step's entry written to the g query heads' tails).
TEST(RaggedDecoder, BatchedPerQueryHeadCachesEqualSeparateReferenceDecodes) {
  auto m = make_model();
  const Engine engine(*m->model);
  const auto prompt = random_ids(100, m->spec.vocab_size, 23);
  auto all = sweep_with_query_head_caches();
  std::vector<std::unique_ptr<EvictionPolicy>> policies;
  for (auto& p : all)
    if (p->granularity() == "query_head") policies.push_back(std::move(p));
  ASSERT_EQ(policies.size(), 3u);
  PrefillResult pre = engine.prefill(prompt, raw(policies), {});
  std::vector<const KvCache*> caches;
  for (const auto& cache : pre.caches) caches.push_back(&cache);
  const std::vector<GenerationResult> together = engine.decode_batch(caches, pre.last_logits, options("ragged", 10));
  for (std::size_t i = 0; i < policies.size(); ++i) {
    SCOPED_TRACE(policies[i]->describe());
    PrefillResult own = engine.prefill(prompt, {policies[i].get()}, {});
    expect_same_generation(together[i], engine.decode(own.caches[0], own.last_logits, options("reference", 10)));
  }
}

TEST(RaggedDecoder, ContinuesFromACacheThatAlreadyHasDecodeEntries) {
  auto m = make_model();
  const Engine engine(*m->model);
  const auto prompt = random_ids(70, m->spec.vocab_size, 5);
  auto policy = make_policy({"snapkv", 32});
  PrefillResult ref = engine.prefill(prompt, {policy.get()}, {});
  PrefillResult fast = engine.prefill(prompt, {policy.get()}, {});
  const auto a = engine.decode(ref.caches[0], ref.last_logits, options("reference", 6));
  const auto b = engine.decode(fast.caches[0], fast.last_logits, options("ragged", 6));
  ASSERT_EQ(a.output_ids, b.output_ids);
  // Continue both from their last token's logits: the second decode starts with 5 decode entries in place.
  const at::Tensor next = engine.decode_step(ref.caches[0], at::tensor(a.output_ids.back()));
  const at::Tensor next_fast = engine.decode_step(fast.caches[0], at::tensor(b.output_ids.back()));
  EXPECT_LT(max_abs_diff(next, next_fast), 1e-4);
  const auto c = engine.decode(ref.caches[0], next, options("reference", 8));
  const auto d = engine.decode(fast.caches[0], next_fast, options("ragged", 8));
  expect_same_generation(d, c);
  EXPECT_EQ(fast.caches[0].layers[1].tail_length(), 6 + 7);
}

TEST(RaggedDecoder, OneDecoderServesPromptsOfOtherLengths) {
  auto m = make_model();
  const Engine engine(*m->model);
  auto policy = make_policy({"adakv", 36});
  // Longest first: the later, shorter prompts fit the decoder planned for the first and reuse it.
  for (std::int64_t length : {120, 64, 97, 40}) {
    SCOPED_TRACE(length);
    const auto prompt = random_ids(length, m->spec.vocab_size, static_cast<unsigned>(length));
    PrefillResult ref = engine.prefill(prompt, {policy.get()}, {});
    PrefillResult fast = engine.prefill(prompt, {policy.get()}, {});
    expect_same_generation(engine.decode(fast.caches[0], fast.last_logits, options("ragged", 9)),
                           engine.decode(ref.caches[0], ref.last_logits, options("reference", 9)));
  }
}

TEST(RaggedDecoder, StepTimesAndPathNames) {
  auto m = make_model();
  const Engine engine(*m->model);
  auto policy = make_policy({"full"});
  PrefillResult pre = engine.prefill(random_ids(30, m->spec.vocab_size, 8), {policy.get()}, {});
  GenerateOptions gen = options("auto", 5);
  gen.time_steps = true;
  const GenerationResult out = engine.decode(pre.caches[0], pre.last_logits, gen);
  EXPECT_EQ(out.decode_path, "reference");  // auto on the CPU
  ASSERT_EQ(out.step_seconds.size(), static_cast<std::size_t>(out.decode_steps));
  for (double s : out.step_seconds) EXPECT_GT(s, 0.0);
  EXPECT_NE(test::error_of([&] { engine.decode(pre.caches[0], pre.last_logits, options("fastest", 2)); })
                .find("unknown decode path 'fastest'"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { engine.decode(pre.caches[0], pre.last_logits, options("graph", 2)); })
                .find("needs a CUDA device"),
            std::string::npos);
}

TEST(RaggedShape, BucketsRoundUpAndFit) {
  RaggedShape s;
  s.batch = 2;
  s.tail_slots = 40;
  s.max_entries = 1000 + 40;
  s.max_position = 3000;
  const RaggedShape b = s.bucketed();
  EXPECT_EQ(b.tail_slots, 64);
  EXPECT_GE(b.max_entries - b.tail_slots, 1000);
  EXPECT_LE(b.max_entries - b.tail_slots, 1250);  // within a quarter
  EXPECT_EQ(b.max_position, 4096);
  EXPECT_TRUE(s.fits_in(b));
  RaggedShape other = s;
  other.batch = 3;
  EXPECT_FALSE(other.fits_in(b));
  other = s;
  other.tail_slots = 65;
  EXPECT_FALSE(other.fits_in(b));
}

// ops::decode_attention's reference over a hand-built ragged layout equals the engine's own decode attention
// over a LayerCache holding the same entries.
TEST(Ops, DecodeAttentionReferenceMatchesTheEngine) {
  const std::int64_t Hkv = 2, g = 3, d = 8, T = 20, t = 3;
  at::manual_seed(4);
  const at::Tensor keys = at::randn({Hkv, T, d}), values = at::randn({Hkv, T, d});
  const KeptPositions kept = KeptPositions::ragged({at::tensor(std::vector<std::int64_t>{0, 3, 7, 19}),
                                                    at::tensor(std::vector<std::int64_t>{1, 2, 5, 8, 13, 17, 18})});
  LayerCache layer;
  layer.set_prompt(keys, values, kept);
  const at::Tensor tk = at::randn({Hkv, t, d}), tv = at::randn({Hkv, t, d});
  for (std::int64_t i = 0; i < t; ++i) layer.append(tk.select(1, i), tv.select(1, i));
  const at::Tensor q = at::randn({Hkv * g, d});
  const at::Tensor want = decode_attention(layer, q, 0.3);

  ops::RaggedBatch batch;
  std::vector<std::int64_t> meta = {reinterpret_cast<std::int64_t>(layer.prompt_keys().data_ptr()),
                                    reinterpret_cast<std::int64_t>(layer.prompt_values().data_ptr())};
  for (std::int64_t o : layer.prompt_offsets()) meta.push_back(o);
  batch.meta = at::tensor(meta, at::kLong).view({1, 3 + Hkv});
  batch.tail_k = at::zeros({1, Hkv, 8, d});
  batch.tail_v = at::zeros({1, Hkv, 8, d});
  batch.tail_k[0].narrow(1, 0, t).copy_(tk);
  batch.tail_v[0].narrow(1, 0, t).copy_(tv);
  batch.tail_count = at::tensor(std::vector<std::int64_t>{t}, at::kLong);
  const at::Tensor got = ops::decode_attention(q.unsqueeze(0), batch, 0.3, ops::DecodeSplit{});
  EXPECT_LT(max_abs_diff(got[0], want), 1e-5);
}

TEST(Ops, RopeSplitAtWritesTheSlotAndMatchesRotate) {
  const std::int64_t B = 2, Hq = 4, Hkv = 2, d = 8, P = 10, cap = 5;
  at::manual_seed(5);
  const at::Tensor qkv = at::randn({B, (Hq + 2 * Hkv) * d});
  const at::Tensor cos = at::randn({P, d}), sin = at::randn({P, d});
  at::Tensor q = at::empty({B, Hq, d}), kc = at::zeros({B, Hkv, cap, d}), vc = at::zeros({B, Hkv, cap, d});
  const at::Tensor position = at::tensor(std::vector<std::int64_t>{7}, at::kLong);
  const at::Tensor slot = at::tensor(std::vector<std::int64_t>{3}, at::kLong);
  ops::rope_split_at(qkv, cos, sin, position, Hq, Hkv, q, kc, vc, slot);
  const at::Tensor c = cos[7].expand({B, d}), s = sin[7].expand({B, d});
  const auto parts = qkv.split_with_sizes({Hq * d, Hkv * d, Hkv * d}, 1);
  EXPECT_LT(max_abs_diff(q, ops::rotate(parts[0].reshape({B, Hq, d}), c, s)), 1e-6);
  EXPECT_LT(max_abs_diff(kc.select(2, 3), ops::rotate(parts[1].reshape({B, Hkv, d}), c, s)), 1e-6);
  EXPECT_LT(max_abs_diff(vc.select(2, 3), parts[2].reshape({B, Hkv, d})), 1e-7);
  EXPECT_EQ(kc.select(2, 2).abs().sum().item<float>(), 0.0f) << "only the slot is written";
}

}  // namespace
}  // namespace kvbench
