// Every registered family on the CPU against the float64 reference (tests/reference_model.h), with each
// family's features switched on: sliding windows shorter than the prompt, soft-caps, q/k norms, experts,
// partial rotary, and every RoPE schedule (dynamic past max_position_embeddings, yarn, longrope's short and
// long factors, Gemma 3's local and global RoPE). Then every registered policy on every family, in both
// sliding-layer modes: what each layer keeps, and decoding equal to full attention with exactly the evicted
// positions (and what the windows hide) masked. Checkpoint spellings (per-expert and fused experts, Mixtral's
// w1/w2/w3, Gemma 3's two multimodal prefixes) load to the same model.
#include <gtest/gtest.h>

#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/device/ops.h"
#include "harness/engine/attention.h"
#include "harness/engine/in_flight.h"
#include "harness/engine/engine.h"
#include "harness/engine/ragged_decoder.h"
#include "harness/model/checkpoint.h"
#include "harness/model/family.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/safetensors.h"
#include "harness/model/transformer.h"
#include "policies/registry.h"
#include "tests/policy_fixtures.h"
#include "tests/reference_model.h"
#include "tests/test_support.h"
#include "tests/test_tensors.h"

namespace kvbench {
namespace {

using test::max_abs_diff;
using test::random_ids;
using test::ReferenceModel;

constexpr std::int64_t kWindow = 24;

struct FamilyModel {
  test::TempDir dir;
  std::unique_ptr<Transformer> model;
  std::unique_ptr<ReferenceModel> reference;
};

// A small checkpoint of `family` with `patch` in its config (features RandomModelSpec has no field for),
// loaded by kvbench and by the reference.
std::unique_ptr<FamilyModel> family_model(RandomModelSpec spec, const nlohmann::json& patch = nlohmann::json::object()) {
  auto f = std::make_unique<FamilyModel>();
  spec.config_overrides = patch;
  const auto weights = write_random_checkpoint(f->dir.path(), spec);
  f->model = Transformer::load(f->dir.path(), at::kCPU, at::kFloat);
  f->reference = std::make_unique<ReferenceModel>(weights, f->model->config());
  return f;
}

// The engine tests' small Llama shape (vocabulary 96, 4/2 heads), narrower and one layer deeper.
RandomModelSpec spec_of(const std::string& family, std::uint64_t seed) {
  RandomModelSpec s = test::small_llama_spec(seed);
  s.family = family;
  s.hidden_size = 32;
  s.intermediate_size = 48;
  s.num_layers = 3;
  return s;
}

struct FamilyCase {
  std::string name;
  RandomModelSpec spec;
  nlohmann::json patch;
  std::vector<std::int64_t> prompt_lengths;  ///< each > the window, and for dynamic/longrope on both sides
};

// Every registered family, every feature on.
std::vector<FamilyCase> family_cases() {
  std::vector<FamilyCase> cases;
  auto add = [&](const std::string& family, std::function<void(RandomModelSpec&)> edit, nlohmann::json patch,
                 std::vector<std::int64_t> lengths = {70}) {
    RandomModelSpec s = spec_of(family, 10 + cases.size());
    edit(s);
    cases.push_back({family, s, std::move(patch), std::move(lengths)});
  };
  add("llama", [](RandomModelSpec& s) { s.max_position_embeddings = 48; s.attention_bias = true; },
      {{"rope_scaling", {{"rope_type", "dynamic"}, {"factor", 2.0}}}, {"mlp_bias", true}}, {70, 40});
  add("mistral", [](RandomModelSpec& s) { s.sliding_window = kWindow; }, nlohmann::json::object());
  add("qwen2", [](RandomModelSpec& s) { s.sliding_window = kWindow; s.tie_word_embeddings = true; },
      {{"max_window_layers", 1},
       {"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32},
                         {"truncate", false}}}});
  add("qwen3", [](RandomModelSpec& s) { s.sliding_window = kWindow; s.head_dim = 16; },
      {{"max_window_layers", 2},
       {"rope_parameters", {{"rope_type", "yarn"}, {"rope_theta", 1e6}, {"factor", 4.0},
                            {"original_max_position_embeddings", 32}, {"beta_fast", 16}}}});
  add("qwen3_moe", [](RandomModelSpec& s) { s.head_dim = 16; s.num_experts = 4; },
      {{"norm_topk_prob", false}, {"mlp_only_layers", {1}}});
  add("mixtral", [](RandomModelSpec& s) { s.sliding_window = kWindow; s.num_experts = 4; }, nlohmann::json::object());
  {
    // Phi-3.5/Phi-4-mini style: partial rotary 0.5 of head_dim 16 (4 frequencies), longrope past 48 positions.
    nlohmann::json rope = {{"type", "longrope"},
                           {"short_factor", {1.0, 1.2, 1.5, 2.0}},
                           {"long_factor", {1.5, 3.0, 5.0, 9.0}}};
    add("phi3",
        [](RandomModelSpec& s) {
          s.hidden_size = 64;
          s.sliding_window = kWindow;
          s.tie_word_embeddings = true;
          s.max_position_embeddings = 192;
        },
        {{"rope_scaling", rope}, {"partial_rotary_factor", 0.5}, {"original_max_position_embeddings", 48}},
        {70, 28});
  }
  add("gemma2", [](RandomModelSpec& s) { s.sliding_window = kWindow; s.head_dim = 16; s.tie_word_embeddings = true; },
      {{"attn_logit_softcapping", 3.0}, {"final_logit_softcapping", 6.0}, {"query_pre_attn_scalar", 20}});
  for (const char* g3 : {"gemma3", "gemma3_mm"})
    add(g3, [](RandomModelSpec& s) { s.sliding_window = kWindow; s.head_dim = 16; s.tie_word_embeddings = true; },
        {{"sliding_window_pattern", 3}, {"rope_theta", 1e6}, {"rope_local_base_freq", 10000.0},
         {"rope_scaling", {{"rope_type", "linear"}, {"factor", 8.0}}}});
  return cases;
}

TEST(Families, TheCasesCoverEveryRegisteredFamily) {
  std::vector<std::string> covered;
  for (const auto& c : family_cases()) covered.push_back(c.spec.family);
  for (const auto& name : family_names())
    EXPECT_NE(std::find(covered.begin(), covered.end(), name), covered.end()) << name << " has no case";
}

TEST(Families, ConfigsTurnOnWhatTheCasesAskFor) {
  for (const auto& c : family_cases()) {
    SCOPED_TRACE(c.name);
    auto f = family_model(c.spec, c.patch);
    const ModelConfig& m = f->model->config();
    const bool windowed = c.spec.sliding_window > 0;
    EXPECT_EQ(m.sliding_window, windowed ? kWindow : 0);
    if (c.name == "qwen2") {
      EXPECT_EQ(m.sliding_layers, (std::vector<bool>{false, true, true}));
    }
    if (c.name == "qwen3") {
      EXPECT_EQ(m.sliding_layers, (std::vector<bool>{false, false, true}));
    }
    if (c.name == "gemma2") {
      EXPECT_EQ(m.sliding_layers, (std::vector<bool>{true, false, true}));
    }
    if (c.name.rfind("gemma3", 0) == 0) {
      EXPECT_EQ(m.sliding_layers, (std::vector<bool>{true, true, false}));
      ASSERT_TRUE(m.sliding_rope.has_value());
      EXPECT_EQ(m.sliding_rope->theta, 10000.0);
      EXPECT_EQ(m.rope_theta, 1e6);
      EXPECT_EQ(m.rope_scaling.type, RopeScaling::Type::kLinear);
    }
    if (c.name == "qwen3_moe") {
      EXPECT_EQ(m.moe_layers, (std::vector<bool>{true, false, true}));
    }
    if (c.name == "phi3") {
      EXPECT_EQ(m.rotary_dim, 8);
      EXPECT_EQ(m.rope_scaling.type, RopeScaling::Type::kLongRope);
      EXPECT_NEAR(m.rope_scaling.attention_factor, std::sqrt(1 + std::log(4.0) / std::log(48.0)), 1e-12);
    }
    if (c.name == "gemma2") {
      EXPECT_EQ(m.attn_logit_softcap, 3.0);
      EXPECT_NEAR(m.attention_scale, 1 / std::sqrt(20.0), 1e-15);
    }
  }
}

// Prefill logits over the whole prompt, and greedy decoding on every decode path the model supports (the
// reference path, a batch of two caches, and the ragged path where the model has none of the features it
// lacks), against the reference run over the same sequence.
TEST(Families, EveryFamilyMatchesTheReference) {
  for (const auto& c : family_cases()) {
    auto f = family_model(c.spec, c.patch);
    const Engine engine(*f->model);
    for (std::int64_t T : c.prompt_lengths) {
      SCOPED_TRACE(c.name + " T=" + std::to_string(T));
      const auto prompt = random_ids(T, c.spec.vocab_size, static_cast<unsigned>(T));
      auto full = make_policy({"full"});
      PrefillOptions pre;
      pre.all_logits = true;
      pre.chunk_size = 32;  // several chunks, each window crossing one
      PrefillResult r = engine.prefill(prompt, {full.get(), full.get()}, pre);
      const at::Tensor ref_prompt = f->reference->logits(prompt);
      EXPECT_LT(max_abs_diff(r.logits, ref_prompt), 1e-4);
      EXPECT_GT(ref_prompt.abs().max().item<double>(), 1.0) << "logits too flat to be a meaningful comparison";

      GenerateOptions gen;
      gen.max_new_tokens = 24;  // past the window again, and (phi3's short prompt) past neither boundary
      if (c.name == "phi3" && T < 48) gen.max_new_tokens = 48 - T;
      gen.keep_step_logits = true;
      std::vector<std::string> paths = {"reference"};
      if (engine.decode_path(GenerateOptions{}) != "reference" || RaggedDecoder::supports(*f->model)) paths.push_back("ragged");
      for (const std::string& path : paths) {
        SCOPED_TRACE(path);
        gen.decode_path = path;
        KvCache cache = r.caches[0];
        const GenerationResult out = engine.decode(cache, r.last_logits, gen);
        ASSERT_EQ(static_cast<std::int64_t>(out.output_ids.size()), gen.max_new_tokens);
        std::vector<std::int64_t> seq = prompt;
        seq.insert(seq.end(), out.output_ids.begin(), out.output_ids.end() - 1);
        const at::Tensor ref = f->reference->logits(seq, at::Tensor(), T);
        for (std::int64_t i = 0; i < gen.max_new_tokens; ++i) {
          EXPECT_LT(max_abs_diff(out.step_logits[i], ref[T - 1 + i]), 1e-4) << "step " << i;
          EXPECT_EQ(out.output_ids[i], ref[T - 1 + i].argmax().item<std::int64_t>()) << "step " << i;
        }
        const auto batch = engine.decode_batch({&r.caches[0], &r.caches[1]}, r.last_logits, gen);
        for (const auto& b : batch) EXPECT_EQ(b.output_ids, out.output_ids);
      }
    }
  }
}

// A window at least as long as the prefill hides nothing there, so the prefill computes such a layer as a
// full-attention one (the fused path on a GPU: Phi-3.5 declares 262,144 tokens); the cache keeps the window,
// so decoding past it still hides what it must. Prompts of W - 4 and W tokens, 16 steps past the window.
TEST(Families, AWindowAsLongAsThePrefillIsNoneThereAndStillHidesWhenDecodingPastIt) {
  const AttentionSpec windowed{0.5, 0.0, kWindow};
  EXPECT_EQ(prefill_spec(windowed, kWindow).window, 0);
  EXPECT_EQ(prefill_spec(windowed, kWindow - 1).window, 0);
  EXPECT_EQ(prefill_spec(windowed, kWindow + 1).window, kWindow);
  EXPECT_EQ(prefill_spec(AttentionSpec{0.5, 30.0, kWindow}, 8).softcap, 30.0);
  RandomModelSpec spec = spec_of("mistral", 77);
  spec.sliding_window = kWindow;
  auto f = family_model(spec);
  const Engine engine(*f->model);
  for (std::int64_t T : {kWindow - 4, kWindow}) {
    SCOPED_TRACE("T=" + std::to_string(T));
    const auto prompt = random_ids(T, spec.vocab_size, static_cast<unsigned>(T + 5));
    auto full = make_policy({"full"});
    PrefillOptions pre;
    pre.all_logits = true;
    PrefillResult r = engine.prefill(prompt, {full.get()}, pre);
    EXPECT_LT(max_abs_diff(r.logits, f->reference->logits(prompt)), 1e-4);
    GenerateOptions gen;
    gen.max_new_tokens = kWindow + 16 - T;
    gen.keep_step_logits = true;
    gen.decode_path = "reference";
    const GenerationResult out = engine.decode(r.caches[0], r.last_logits, gen);
    std::vector<std::int64_t> seq = prompt;
    seq.insert(seq.end(), out.output_ids.begin(), out.output_ids.end() - 1);
    const at::Tensor ref = f->reference->logits(seq, at::Tensor(), T);
    for (std::int64_t i = 0; i < gen.max_new_tokens; ++i)
      EXPECT_LT(max_abs_diff(out.step_logits[i], ref[T - 1 + i]), 1e-4) << "step " << i;
  }
}

// Which kernel computes a layer's prefill: soft-capped layers and f32 or CPU tensors never reach a fused kernel
// (none of libtorch's soft-caps, and f32 SDPA would be the T x T math kernel); a CUDA bf16 window takes the
// flash kernel's band where this libtorch has it, the chunked band otherwise, never full attention.
TEST(Families, PrefillKernelsMatchWhatTheLayerNeeds) {
  const at::Device cuda(at::kCUDA, 0), cpu(at::kCPU);
  const AttentionSpec plain{0.5, 0.0, 0}, capped{0.5, 50.0, 0}, window{0.5, 0.0, 1024}, both{0.5, 50.0, 1024};
  for (const AttentionSpec& s : {plain, capped, window, both}) {
    EXPECT_EQ(prefill_kernel(cpu, at::kBFloat16, s), PrefillKernel::kChunked);
    EXPECT_EQ(prefill_kernel(cuda, at::kFloat, s), PrefillKernel::kChunked);
  }
  // Soft-capped layers: kvbench's own kernel where this build has CUDA kernels, else the chunked path.
  const PrefillKernel capped_kernel = ops::cuda_kernels_built() && !ops::cuda_kernels_switched_off()
                                          ? PrefillKernel::kSoftcapKernel
                                          : PrefillKernel::kChunked;
  EXPECT_EQ(prefill_kernel(cuda, at::kBFloat16, capped), capped_kernel);
  EXPECT_EQ(prefill_kernel(cuda, at::kBFloat16, both), capped_kernel);
  EXPECT_NE(prefill_kernel(cuda, at::kBFloat16, window), PrefillKernel::kFusedCausal);
  EXPECT_NE(prefill_kernel(cuda, at::kHalf, plain), PrefillKernel::kFusedWindow);
}

// Every registered policy with a budget of B tokens, under kvbench's conventions and under each reference code
// base that implements it (KVCache-Factory's, Ada-KV's and SnapKV's per-query-head caches among them).
std::vector<PolicySpec> every_policy_variant(std::int64_t B) {
  std::vector<PolicySpec> out;
  for (const std::string& name : policy_names()) {
    for (const std::string reference : {"kvbench", "kvpress", "kvcache_factory", "adakv", "snapkv"}) {
      if (name == "full" && reference != "kvbench") continue;  // every code base keeps the full cache alike
      PolicySpec spec{name, name == "full" ? BudgetSpec{} : BudgetSpec(B)};
      spec.reference = reference;
      try {
        make_policy(spec);
      } catch (const Error& e) {
        // Only "this code base has no such policy" skips a variant; any other refusal is a failure.
        if (std::string(e.what()).find("implementation (references:") != std::string::npos) continue;
        ADD_FAILURE() << name << " reference " << reference << ": " << e.what();
        continue;
      }
      out.push_back(spec);
    }
  }
  return out;
}

// Every registered policy on every family, in each sliding-layer mode the model allows. A windowed layer holds
// only what its window still sees: in `window` mode all of it (the last W - 1 prompt positions), untouched by
// the policy; in `compress` mode what of the policy's choice lies there. The budget B per cache head applies to the
// layers the policy compresses (PyramidKV's schedule and Ada-KV's heads spread it: within one token per head
// and layer of L·Hkv·B in total). Decoding from each cache equals full attention with exactly what it
// evicted (and what the windows hide) masked.
TEST(Families, EveryPolicyRunsOnEveryFamilyAndKeepsItsBudget) {
  const std::int64_t T = 72, B = 16, steps = 4;  // T > kvpress's window of 64
  for (const auto& c : family_cases()) {
    auto f = family_model(c.spec, c.patch);
    const ModelConfig& m = f->model->config();
    const Engine engine(*f->model);
    const auto prompt = random_ids(T, c.spec.vocab_size, 5);
    std::vector<SlidingLayers> modes = {SlidingLayers::kCompress};
    if (m.sliding_window > 0 && m.num_full_attention_layers() > 0) modes.push_back(SlidingLayers::kWindow);
    for (const SlidingLayers mode : modes) {
      for (const PolicySpec& spec : every_policy_variant(B)) {
        const std::string& name = spec.name;
        SCOPED_TRACE(c.name + " " + sliding_layers_name(mode) + " " + name + " reference " + spec.reference);
        auto policy = make_policy(spec);
        // A per-query-head cache (granularity query_head) holds B entries per query head, windows included.
        const std::int64_t heads = policy->granularity() == "query_head" ? m.num_heads : m.num_kv_heads;
        PrefillOptions pre;
        pre.sliding_layers = mode;
        PrefillResult r = engine.prefill(prompt, {policy.get()}, pre);
        KvCache& cache = r.caches[0];
        std::vector<std::vector<std::vector<std::int64_t>>> kept;
        // KVCache-Factory's L2NormCluster leaves the first two layers it sees uncompressed (docs/policies.md).
        const std::int64_t skipped = name == "knorm" && spec.reference == "kvcache_factory" ? 2 : 0;
        std::int64_t compressed_layers = 0, held = 0, policy_layer = 0;
        for (std::int64_t l = 0; l < m.num_layers; ++l) {
          kept.push_back(cache.layers[static_cast<std::size_t>(l)].kept_positions());
          const bool windowed = m.is_sliding(l);
          const std::int64_t first = windowed ? T - (m.sliding_window - 1) : 0;
          const bool compressed = !windowed || mode == SlidingLayers::kCompress;
          const bool uncompressed = compressed && policy_layer++ < skipped;
          const bool whole_window = (windowed && (mode == SlidingLayers::kWindow || name == "full")) || uncompressed;
          if (compressed && !uncompressed) ++compressed_layers;
          ASSERT_EQ(static_cast<std::int64_t>(kept.back().size()), heads) << "layer " << l;
          for (const auto& head : kept.back()) {
            if (whole_window) {
              EXPECT_EQ(static_cast<std::int64_t>(head.size()), T - first) << "layer " << l;
            }
            for (std::int64_t p : head) EXPECT_TRUE(p >= first && p < T) << "layer " << l << " keeps " << p;
            if (compressed && !uncompressed) held += static_cast<std::int64_t>(head.size());
          }
        }
        if (name != "full") {
          EXPECT_LE(held, compressed_layers * heads * (B + 1));
          // Something is kept, except where every layer is windowed and the policy's choice (kvpress ranks its
          // 64-query window at max + 1 and keeps the oldest of those ties) lies before what the windows see.
          if (compressed_layers > 0 && (m.num_full_attention_layers() > 0 || spec.reference != "kvpress"))
            EXPECT_GT(held, 0);
        }
        GenerateOptions gen;
        gen.max_new_tokens = steps;
        gen.keep_step_logits = true;
        const GenerationResult out = engine.decode(cache, r.last_logits, gen);
        std::vector<std::int64_t> seq = prompt;
        seq.insert(seq.end(), out.output_ids.begin(), out.output_ids.end() - 1);
        const std::int64_t S = static_cast<std::int64_t>(seq.size());
        const at::Tensor ref = f->reference->logits(seq, f->reference->eviction_mask(S, T, kept), T);
        for (std::int64_t i = 0; i < steps; ++i) {
          EXPECT_LT(max_abs_diff(out.step_logits[i], ref[T - 1 + i]), 1e-4) << "step " << i;
          EXPECT_EQ(out.output_ids[i], ref[T - 1 + i].argmax().item<std::int64_t>()) << "step " << i;
        }
      }
    }
  }
}

// A KV-byte budget covers the whole cache: in `window` mode the windowed layers' bytes come off it first.
TEST(Families, KvByteBudgetsCountTheWindowedLayers) {
  const FamilyCase c = family_cases()[2];  // qwen2: 1 full-attention layer, 2 windowed
  auto f = family_model(c.spec, c.patch);
  const ModelConfig& m = f->model->config();
  const std::int64_t T = 60, per_entry = 2 * m.num_kv_heads * m.head_dim * 4, window = (m.sliding_window - 1);
  const std::int64_t budget_bytes = 2 * window * per_entry + 10 * per_entry;  // both windows plus 10 tokens
  auto policy = make_policy({"snapkv", BudgetSpec::kv_bytes(static_cast<double>(budget_bytes))});
  PrefillOptions pre;
  pre.sliding_layers = SlidingLayers::kWindow;
  PrefillResult r = Engine(*f->model).prefill(random_ids(T, c.spec.vocab_size, 3), {policy.get()}, pre);
  EXPECT_EQ(policy->resolved_budget(), 10);
  EXPECT_EQ(r.caches[0].bytes_used(), budget_bytes);
  // A per-query-head cache holds every entry, the windows' too, once per query head: g times the bytes.
  const std::int64_t g = m.num_heads / m.num_kv_heads;
  PolicySpec per_query_head{"snapkv", BudgetSpec::kv_bytes(static_cast<double>(g * budget_bytes))};
  per_query_head.params = {{"granularity", "query_head"}};
  auto q_policy = make_policy(per_query_head);
  PrefillResult q = Engine(*f->model).prefill(random_ids(T, c.spec.vocab_size, 3), {q_policy.get()}, pre);
  EXPECT_EQ(q_policy->resolved_budget(), 10);
  EXPECT_EQ(q.caches[0].bytes_used(), g * budget_bytes);
  EXPECT_THROW(parse_sliding_layers("both", "x"), Error);
  // Every layer windowed: nothing would be left to compress.
  auto mistral = family_model(family_cases()[1].spec);
  EXPECT_THROW(resolve_sliding_layers(SlidingLayers::kWindow, mistral->model->config()), Error);
  EXPECT_EQ(resolve_sliding_layers(SlidingLayers::kAuto, mistral->model->config()), SlidingLayers::kCompress);
  EXPECT_EQ(resolve_sliding_layers(SlidingLayers::kAuto, m), SlidingLayers::kWindow);
}

// Rewrites a checkpoint's safetensors file with each tensor renamed (or split) by `rename`.
void rewrite_checkpoint(const std::string& dir,
                        const std::function<std::vector<std::pair<std::string, at::Tensor>>(const std::string&, const at::Tensor&)>& rename) {
  const std::string path = paths::join(dir, "model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> out;
  {
    const Checkpoint ckpt(dir);
    for (const std::string& name : ckpt.tensor_names()) {
      const at::Tensor t = ckpt.load(name, ckpt.info(name).shape, at::kFloat, at::kCPU);
      for (auto& renamed : rename(name, t)) out.push_back({renamed.first, renamed.second.contiguous()});
    }
  }
  std::vector<TensorToWrite> tensors;
  for (const auto& [name, t] : out)
    tensors.push_back({name, DType::F32, t.sizes().vec(), t.data_ptr(), static_cast<std::size_t>(t.nbytes())});
  write_safetensors(path, tensors);
}

// The same weights, spelled as transformers 4 writes experts (one module per expert; Mixtral's w1/w3/w2 under
// block_sparse_moe) or nests Gemma 3's language model (language_model.model., language_model.lm_head), give
// the same logits as the canonical spelling.
// What the in-flight decoder expects a sample's caches to take is what they hold: in window mode the windowed
// layers' windows (whatever the budget, which is smaller here) and the budget on the full-attention layer, per KV
// head or per query head; in compress mode at most every layer at the budget.
TEST(Families, InFlightNeedsCountWhatEachLayerHolds) {
  const FamilyCase c = family_cases()[2];  // qwen2: 1 full-attention layer, 2 windowed
  auto f = family_model(c.spec, c.patch);
  const ModelConfig& m = f->model->config();
  const std::int64_t T = 60;
  ASSERT_LT(m.sliding_window, T);
  for (const std::string granularity : {"kv_head", "query_head"}) {
    for (SlidingLayers mode : {SlidingLayers::kWindow, SlidingLayers::kCompress}) {
      SCOPED_TRACE(granularity + " " + sliding_layers_name(mode));
      PolicySpec spec{"snapkv", BudgetSpec(6)};
      spec.params = {{"granularity", granularity}};
      auto policy = make_policy(spec);
      PrefillOptions pre;
      pre.sliding_layers = mode;
      const PrefillResult r = Engine(*f->model).prefill(random_ids(T, c.spec.vocab_size, 5), {policy.get()}, pre);
      const std::int64_t expected = sample_needs(m, 4, T, {{spec, true}}, mode).bytes - sample_needs(m, 4, T, {}, mode).bytes;
      if (mode == SlidingLayers::kWindow) {
        EXPECT_EQ(expected, r.caches[0].bytes_used());
      } else {
        EXPECT_GE(expected, r.caches[0].bytes_used());
      }
    }
  }
}

TEST(Families, CheckpointSpellingsLoadTheSameModel) {
  struct Spelling {
    std::string family;
    std::function<std::vector<std::pair<std::string, at::Tensor>>(const std::string&, const at::Tensor&)> rename;
  };
  auto per_expert = [](const char* block, const char* gate, const char* up, const char* down) {
    return [=](const std::string& name, const at::Tensor& t) -> std::vector<std::pair<std::string, at::Tensor>> {
      const auto mlp = name.find("mlp.");
      if (mlp == std::string::npos || (name.find("experts.") == std::string::npos && name.find("mlp.gate.") == std::string::npos))
        return {{name, t}};
      const std::string stem = name.substr(0, mlp) + block;
      if (name.find("mlp.gate.") != std::string::npos) return {{stem + "gate.weight", t}};
      std::vector<std::pair<std::string, at::Tensor>> out;
      const bool fused_gate_up = name.find("gate_up_proj") != std::string::npos;
      for (std::int64_t e = 0; e < t.size(0); ++e) {
        const std::string x = stem + "experts." + std::to_string(e) + ".";
        if (fused_gate_up) {
          const auto gu = t[e].chunk(2, 0);
          out.push_back({x + gate + ".weight", gu[0]});
          out.push_back({x + up + ".weight", gu[1]});
        } else {
          out.push_back({x + down + ".weight", t[e]});
        }
      }
      return out;
    };
  };
  const std::vector<Spelling> spellings = {
      {"mixtral", per_expert("block_sparse_moe.", "w1", "w3", "w2")},
      {"qwen3_moe", per_expert("mlp.", "gate_proj", "up_proj", "down_proj")},
      {"gemma3_mm", [](const std::string& name, const at::Tensor& t) -> std::vector<std::pair<std::string, at::Tensor>> {
         const std::string nested = "model.language_model.";
         if (name.rfind(nested, 0) == 0) return {{"language_model.model." + name.substr(nested.size()), t}};
         if (name == "lm_head.weight") return {{"language_model.lm_head.weight", t}};
         return {{name, t}};
       }}};
  for (const auto& sp : spellings) {
    SCOPED_TRACE(sp.family);
    FamilyCase c;
    for (const auto& fc : family_cases())
      if (fc.name == sp.family) c = fc;
    c.spec.tie_word_embeddings = false;
    auto f = family_model(c.spec, c.patch);
    const auto prompt = random_ids(40, c.spec.vocab_size, 9);
    auto full = make_policy({"full"});
    PrefillOptions pre;
    pre.all_logits = true;
    const at::Tensor canonical = Engine(*f->model).prefill(prompt, {full.get()}, pre).logits;
    rewrite_checkpoint(f->dir.path(), sp.rename);
    const auto renamed = Transformer::load(f->dir.path(), at::kCPU, at::kFloat);
    EXPECT_TRUE(at::equal(Engine(*renamed).prefill(prompt, {full.get()}, pre).logits, canonical));
  }
}

// A run on a hybrid model (Gemma 2: 2 windowed layers, 1 global) states in report.json what its budgets meant
// on the windowed layers, and the KV bytes it reports are what each layer held: the windows plus B entries per
// head on the global layer, in `window` mode; `compress` makes the policy compress the windows too.
TEST(Families, ReportStatesTheSlidingLayersAndTheirBytes) {
  FamilyCase c = family_cases()[7];
  ASSERT_EQ(c.name, "gemma2");
  test::TempDir dir;
  c.spec.config_overrides = c.patch;
  write_random_checkpoint(dir.file("m"), c.spec);
  const nlohmann::json config = {{"name", "hybrid"},
                                 {"output_dir", dir.file("run")},
                                 {"model", {{"path", dir.file("m")}, {"dtype", "f32"}}},
                                 {"prompt", {{"random_ids", {{"tokens", 60}, {"seed", 1}}}}},
                                 {"max_new_tokens", 4},
                                 {"policies", {{{"name", "snapkv"}, {"budgets", {16}}}}}};
  test::write_file(dir.file("c.json"), config.dump());
  for (const char* mode : {"window", "compress"}) {
    SCOPED_TRACE(mode);
    const auto r = test::run_kvbench(std::string("run --log-level warn --config ") + dir.file("c.json") +
                                     " --set model.sliding_layers=" + mode + " --set output_dir=" + dir.file(mode));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json report = nlohmann::json::parse(test::read_file(dir.file(std::string(mode) + "/report.json")));
    const nlohmann::json& v = report["variants"][0];
    EXPECT_EQ(v["sliding_layers"]["mode"], mode);
    EXPECT_EQ(v["sliding_layers"]["window"], kWindow);
    EXPECT_EQ(v["sliding_layers"]["windowed_layers"], 2);
    EXPECT_EQ(v["sliding_layers"]["full_attention_layers"], 1);
    EXPECT_NE(v["budget_definition"].get<std::string>().find("sliding-window layers"), std::string::npos);
    const double per_entry = 2.0 * 2 * 16 * 4;  // K and V, 2 KV heads of 16 floats
    const double held = std::string(mode) == "window" ? (2 * (kWindow - 1) + 16) * per_entry : 3 * 16 * per_entry;
    EXPECT_EQ(v["kv_bytes"]["max"].get<double>(), held);
  }
}

}  // namespace
}  // namespace kvbench
