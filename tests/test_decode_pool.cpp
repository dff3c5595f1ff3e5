// Many sequences in flight (harness/engine/decode_pool.h): sequences of several prompts, admitted into a pool
// smaller than their number as slots free up, each with its own length, budget, stop ids and max new tokens,
// generate exactly what each generates decoding alone on the reference path.

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "harness/engine/decode_pool.h"
#include "harness/engine/engine.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/transformer.h"
#include "policies/registry.h"
#include "tests/policy_fixtures.h"
#include "tests/test_support.h"
#include "tests/test_tensors.h"

namespace kvbench {
namespace {

struct PoolModel {
  test::TempDir dir;
  RandomModelSpec spec;
  std::unique_ptr<Transformer> model;
  PoolModel() : spec(test::small_llama_spec(31)) {
    spec.vocab_size = 80;
    spec.intermediate_size = 128;
    write_random_checkpoint(dir.path(), spec);
    model = Transformer::load(dir.path(), at::kCPU, at::kFloat);
  }
};

PolicySpec spec_of(const char* name, std::int64_t budget, const char* reference = "") {
  PolicySpec s{name, budget};
  if (*reference != 0) s.reference = reference;
  return s;
}

// One sequence of the test: a prompt, a policy, its options, and what it generates alone.
struct Case {
  std::vector<std::int64_t> prompt;
  PolicySpec policy;
  GenerateOptions options;
  std::int64_t decoded_before = 0;  // decode entries its cache holds before it joins the pool
  GenerationResult alone;
};

// Prefills `c` and, when asked, decodes a few tokens first (the cache then holds decode entries, as after the
// query-agnostic protocol's question part); returns the cache and the logits its generation starts from.
std::pair<KvCache, at::Tensor> prepare(const Engine& engine, const Case& c) {
  auto policy = make_policy(c.policy);
  PrefillResult pre = engine.prefill(c.prompt, {policy.get()}, {});
  KvCache cache = std::move(pre.caches[0]);
  at::Tensor logits = pre.last_logits;
  if (c.decoded_before > 0) {
    GenerateOptions first;
    first.max_new_tokens = c.decoded_before;
    first.decode_path = "reference";
    const GenerationResult g = engine.decode(cache, logits, first);
    logits = engine.decode_step(cache, at::tensor(g.output_ids.back()));
  }
  return {std::move(cache), logits};
}

std::vector<Case> cases(const PoolModel& m, const Engine& engine) {
  const std::vector<std::int64_t> lengths = {90, 40, 130, 64, 75};
  const std::vector<PolicySpec> policies = {spec_of("full", 0), spec_of("snapkv", 32), spec_of("adakv", 36),
                                            spec_of("pyramidkv", 40), spec_of("snapkv", 32, "kvcache_factory")};
  std::vector<Case> out;
  for (std::size_t p = 0; p < lengths.size(); ++p)
    for (std::size_t k = 0; k < policies.size(); ++k) {
      Case c;
      c.prompt = test::random_ids(lengths[p], m.spec.vocab_size, static_cast<unsigned>(100 + p));
      c.policy = policies[k];
      c.options.max_new_tokens = 5 + static_cast<std::int64_t>((3 * p + k) % 9);  // each its own length
      c.options.decode_path = "reference";
      c.decoded_before = (p == 3 && k == 1) ? 4 : 0;
      out.push_back(c);
    }
  // Stop ids that end sequences at different steps: a token each of a few sequences generates unconstrained.
  for (std::size_t i = 0; i < out.size(); i += 3) {
    auto [cache, logits] = prepare(engine, out[i]);
    const GenerationResult free_run = engine.decode(cache, logits, out[i].options);
    const std::size_t at = (i / 3) % free_run.output_ids.size();
    out[i].options.stop_ids = {free_run.output_ids[at]};
    if (i % 2 == 0) out[i].options.min_new_tokens = std::min<std::int64_t>(2, out[i].options.max_new_tokens);
  }
  for (auto& c : out) {
    auto [cache, logits] = prepare(engine, c);
    c.alone = engine.decode(cache, logits, c.options);
  }
  return out;
}

TEST(DecodePool, SequencesOfManyPromptsEqualEachDecodedAlone) {
  PoolModel m;
  const Engine engine(*m.model);
  const std::vector<Case> all = cases(m, engine);
  // Caches per KV head and per query head go to pools of their own head count.
  std::vector<KvCache> caches(all.size());
  std::vector<at::Tensor> first(all.size());
  std::map<std::int64_t, std::vector<std::size_t>> by_heads;
  for (std::size_t i = 0; i < all.size(); ++i) {
    std::tie(caches[i], first[i]) = prepare(engine, all[i]);
    by_heads[caches[i].layers[0].num_heads()].push_back(i);
  }
  ASSERT_EQ(by_heads.size(), 2u);
  std::map<std::size_t, GenerationResult> got;
  for (const auto& [heads, members] : by_heads) {
    SCOPED_TRACE(heads);
    std::vector<const KvCache*> mine;
    for (std::size_t i : members) mine.push_back(&caches[i]);
    RaggedShape shape = RaggedShape::of(mine, 13);
    shape.batch = 3;  // fewer slots than sequences: most join as others end
    DecodePool pool(*m.model, shape, /*graphs=*/false);
    std::size_t next = 0;
    std::int64_t most_in_flight = 0;
    while (next < members.size() || pool.in_flight() > 0) {
      while (next < members.size() && pool.free_slots() > 0) {
        const std::size_t i = members[next++];
        ASSERT_TRUE(pool.fits(caches[i], all[i].options.max_new_tokens));
        pool.admit({i, &caches[i], first[i], all[i].options});
      }
      most_in_flight = std::max(most_in_flight, pool.in_flight());
      for (PoolResult& r : pool.run_until_finished()) got[r.tag] = std::move(r.result);
    }
    EXPECT_EQ(most_in_flight, 3);
  }
  ASSERT_EQ(got.size(), all.size());
  std::size_t stopped = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "sequence " << i << " (" << all[i].policy.name << ", " << all[i].prompt.size()
                                    << " prompt tokens)");
    EXPECT_EQ(got[i].output_ids, all[i].alone.output_ids);
    EXPECT_EQ(got[i].stop_reason, all[i].alone.stop_reason);
    EXPECT_EQ(got[i].decode_path, "ragged");
    stopped += got[i].stop_reason == "stop_token";
    // The pool read the caches; it did not extend them.
    EXPECT_EQ(caches[i].layers[0].tail_length(), all[i].decoded_before > 0 ? all[i].decoded_before : 0);
  }
  EXPECT_GE(stopped, 3u) << "the stop ids must end some sequences early for this test to mean anything";
}

TEST(DecodePool, RefusesWhatDoesNotFitAndEndsZeroLengthSequencesAtOnce) {
  PoolModel m;
  const Engine engine(*m.model);
  auto policy = make_policy({"snapkv", 24});
  PrefillResult pre = engine.prefill(test::random_ids(60, m.spec.vocab_size, 3), {policy.get()}, {});
  RaggedShape shape = RaggedShape::of({&pre.caches[0]}, 8);
  shape.batch = 2;
  DecodePool pool(*m.model, shape, false);
  EXPECT_TRUE(pool.fits(pre.caches[0], 8));
  EXPECT_FALSE(pool.fits(pre.caches[0], 9)) << "more new tokens than the tail holds";
  GenerateOptions none;
  none.max_new_tokens = 0;
  pool.admit({7, &pre.caches[0], pre.last_logits, none});
  EXPECT_EQ(pool.free_slots(), 2);
  const std::vector<PoolResult> r = pool.run_until_finished();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].tag, 7u);
  EXPECT_TRUE(r[0].result.output_ids.empty());
  EXPECT_TRUE(pool.run_until_finished().empty()) << "an empty pool returns at once";
}

}  // namespace
}  // namespace kvbench
