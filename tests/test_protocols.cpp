// The two compression protocols and decode-time eviction (issue 17):
//  - the query-agnostic split of every registered template, with the real tokenizers and chat formats;
//  - a question prefilled on top of a full cache gives the logits of prefilling the whole prompt at once;
//  - decode-time eviction keeps every head within budget + every, evicts what an independent computation of
//    the scores picks, and changes nothing when the budget exceeds what decoding can grow to;
//  - run configs: protocols and decode budgets per run and per policy, and their errors.
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/prompt.h"
#include "datasets/subset.h"
#include "harness/engine/decode_eviction.h"
#include "harness/engine/engine.h"
#include "harness/report/table.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/transformer.h"
#include "harness/runner/run_config.h"
#include "harness/tokenizer/tokenizer.h"
#include "policies/registry.h"
#include "tests/policy_fixtures.h"
#include "tests/test_support.h"
#include "tests/test_tensors.h"

namespace kvbench {
namespace {

using test::shared_path;

// Every template's question part follows {context}, and the registry's recorded start is where it begins.
TEST(Protocols, EveryTemplateSplitsAtItsRecordedQuestionStart) {
  std::vector<const SubsetSpec*> all;
  for (const auto& s : longbench_subsets()) all.push_back(&s);
  for (const auto& s : synth_subsets()) all.push_back(&s);
  for (const SubsetSpec* s : all) {
    SCOPED_TRACE(s->name);
    const std::string q = question_template(*s);
    EXPECT_EQ(q.rfind(s->question_starts, 0), 0u);
    const std::size_t at = s->prompt.find("{context}");
    EXPECT_EQ(s->prompt.substr(0, at + 9) + q, s->prompt);
    EXPECT_EQ(q.find("{context}"), std::string::npos);
  }
  SubsetSpec broken = *lookup_subset("qasper");
  broken.question_starts = "Question:";
  EXPECT_NE(test::error_of([&] { question_template(broken); }).find("question_starts does not follow"), std::string::npos);
}

// With each real tokenizer, plain and through its chat format: the context part is the ids of the text before
// the question part (at most its last token moved to the question part), and the question part is not empty.
TEST(Protocols, ContextAndQuestionIdsAreThePromptsIdsSplitOnATokenBoundary) {
  KVBENCH_REQUIRE_SHARED();
  const std::vector<std::pair<std::string, std::string>> tokenizers = {
      {"llama2_spm", "llama2"}, {"mistral_hf", "mistral"}, {"llama3_hf", "llama3.1"}, {"qwen2_hf", "qwen2"}};
  Sample sample;
  sample.id = "probe";
  sample.context = "Paris is the capital of France. The Seine flows through it; 2 + 2 = 4.\nAnother paragraph.";
  sample.input = "What is the capital of France?";
  for (const auto& [dir, chat_name] : tokenizers) {
    const auto tok = load_tokenizer(shared_path("data/tokenizers/" + dir));
    for (const bool chat : {false, true}) {
      for (const auto& subset : longbench_subsets()) {
        SCOPED_TRACE(dir + (chat ? " chat " : " plain ") + subset.name);
        PromptOptions po;
        po.max_length = 100000;
        po.chat = chat ? &chat_format(chat_name) : nullptr;
        po.split_question = true;
        const BuiltPrompt built = build_prompt(subset, sample, *tok, po);
        const std::int64_t s = built.context_tokens, n = static_cast<std::int64_t>(built.ids.size());
        ASSERT_GT(s, 0);
        ASSERT_LT(s, n);
        // The context part's text encoded alone (as the prompt starts: specials, chat header): its ids begin
        // with ids[0, s), and it has at most one token more (the one straddling the boundary).
        const std::string q = format_template(question_template(subset), "", sample.input);
        const std::string context_text = built.text.substr(0, built.text.size() - q.size());
        const std::vector<TokenId> alone = tok->encode(context_text, /*add_special=*/true);
        if (!built.chat_applied) {
          EXPECT_GE(s, static_cast<std::int64_t>(alone.size()) - 1);
          EXPECT_LE(s, static_cast<std::int64_t>(alone.size()));
          for (std::int64_t i = 0; i < s; ++i) ASSERT_EQ(alone[i], built.ids[i]) << "id " << i;
        }
        // The question's own words are in the question part (templates without {input} have only instructions).
        const std::string question_text = tok->decode({built.ids.begin() + s, built.ids.end()}, /*skip_special=*/true);
        if (question_template(subset).find("{input}") != std::string::npos)
          EXPECT_NE(question_text.find("capital of France?"), std::string::npos) << question_text;
        const std::string context_decoded = tok->decode({built.ids.begin(), built.ids.begin() + s}, true);
        EXPECT_EQ(context_decoded.find("What is the capital"), std::string::npos) << context_decoded;
      }
    }
  }
}

struct TinyModel {
  test::TempDir dir;
  std::unique_ptr<Transformer> model;
  std::unique_ptr<Engine> engine;
};

std::unique_ptr<TinyModel> tiny_model() {
  auto t = std::make_unique<TinyModel>();
  write_random_checkpoint(t->dir.path(), test::small_llama_spec(11));
  t->model = Transformer::load(t->dir.path(), at::kCPU, at::kFloat);
  t->engine = std::make_unique<Engine>(*t->model);
  return t;
}

// Positions continue correctly: a full cache of the context, then the question one position at a time, gives
// the next-token logits of the whole prompt prefilled at once.
TEST(Protocols, QuestionOnTopOfAFullCacheEqualsTheWholePrompt) {
  const auto t = tiny_model();
  const std::vector<std::int64_t> ids = test::random_ids(60, 96, 3);
  auto full = make_policy({"full", BudgetSpec{}});
  const PrefillResult whole = t->engine->prefill(ids, {full.get()}, {});
  auto full2 = make_policy({"full", BudgetSpec{}});
  PrefillResult parts = t->engine->prefill({ids.begin(), ids.begin() + 45}, {full2.get()}, {});
  t->engine->extend(parts, {ids.begin() + 45, ids.end()});
  ASSERT_TRUE(parts.cache_logits.defined());
  EXPECT_LT(test::max_abs_diff(parts.cache_logits[0], whole.last_logits), 1e-4);
  EXPECT_EQ(parts.caches[0].next_position, 60);
  // And decoding from there generates what decoding the whole prompt does.
  GenerateOptions g;
  g.max_new_tokens = 12;
  g.decode_path = "reference";
  PrefillResult again = t->engine->prefill(ids, {full.get()}, {});
  const auto a = t->engine->decode(again.caches[0], again.last_logits, g);
  const auto b = decode_group(*t->engine, parts, {0}, g);
  EXPECT_EQ(a.output_ids, b[0].output_ids);
}

// A budget the decode never reaches changes nothing; a small one holds every head within budget + every.
TEST(Protocols, DecodeEvictionBoundAndNoOpWhenTheBudgetIsNeverReached) {
  const auto t = tiny_model();
  const std::vector<std::int64_t> ids = test::random_ids(80, 96, 5);
  for (const std::string& policy : {"snapkv", "h2o"}) {
    SCOPED_TRACE(policy);
    GenerateOptions g;
    g.max_new_tokens = 40;
    g.decode_path = "reference";
    auto p = make_policy({policy, 48});
    PrefillResult plain = t->engine->prefill(ids, {p.get()}, {});
    const auto base = t->engine->decode(plain.caches[0], plain.last_logits, g);

    GenerateOptions roomy = g;
    roomy.decode_budget.budget = 48 + 40 + 1;
    roomy.decode_budget.accumulate = policy == "h2o";
    PrefillResult pre = t->engine->prefill(ids, {p.get()}, {});
    const auto same = t->engine->decode(pre.caches[0], pre.last_logits, roomy);
    EXPECT_EQ(same.output_ids, base.output_ids);
    EXPECT_EQ(same.eviction_passes, 0);

    for (const std::int64_t every : {1, 5}) {
      GenerateOptions tight = g;
      tight.decode_budget.budget = 32;
      tight.decode_budget.every = every;
      tight.decode_budget.window = 8;
      tight.decode_budget.accumulate = policy == "h2o";
      auto q = make_policy({policy, 24});
      PrefillResult small = t->engine->prefill(ids, {q.get()}, {});
      const auto out = t->engine->decode(small.caches[0], small.last_logits, tight);
      EXPECT_EQ(static_cast<std::int64_t>(out.output_ids.size()), 40);
      EXPECT_LE(out.max_entries_per_head, 32 + every);
      EXPECT_GT(out.max_entries_per_head, 32);  // it did grow past the budget, and was brought back
      EXPECT_GT(out.eviction_passes, 0);
      for (const auto& layer : small.caches[0].layers)
        for (std::int64_t h = 0; h < layer.num_heads(); ++h) EXPECT_LE(layer.entries(h), 32 + every);
    }
  }
}

// A layer of 2 KV heads (1 query head each) with 6 entries of d = 2 written by hand, budget 5, window 2, every 1:
// one entry goes, the lowest-scored of the 4 older ones. Window scores: the two stored queries' softmax
// attention over the 6 entries, summed, computed here with plain loops.
TEST(Protocols, DecodeEvictionEvictsTheEntryTheScoresPick) {
  const at::Tensor keys = at::tensor({1.0f, 0.0f, 0.0f, 1.0f, 2.0f, 0.5f, -1.0f, 0.0f, 0.5f, 0.5f, 0.2f, 0.1f,   // head 0
                                      0.0f, 2.0f, 1.0f, 1.0f, 0.0f, -1.0f, 1.5f, 0.0f, 0.3f, 0.3f, 0.1f, 0.2f})  // head 1
                             .view({2, 6, 2});
  const at::Tensor q1 = at::tensor({1.0f, 0.2f, 0.1f, 1.0f}).view({2, 2});  // [Hq = 2, d]
  const at::Tensor q2 = at::tensor({0.8f, -0.3f, -0.5f, 1.2f}).view({2, 2});
  for (const bool accumulate : {false, true}) {
    SCOPED_TRACE(accumulate ? "accumulated" : "window");
    LayerCache layer;
    layer.set_prompt(keys, keys.clone(), KeptPositions::all(2, 6, at::kCPU));
    DecodeBudget b;
    b.budget = 5;
    b.window = 2;
    b.accumulate = accumulate;
    DecodeEvictor evictor(b, 1, /*scale=*/1.0);
    // Both queries see all 6 entries (the cache was built before them), as in the loop below.
    evictor.observe(0, layer, q1);
    evictor.observe(0, layer, q2);
    KvCache cache;
    cache.layers.push_back(layer);
    evictor.after_step(cache);
    for (int h = 0; h < 2; ++h) {
      // Reference: per query, softmax over the 6 entries; sum over the two queries; the lowest of entries 0-3
      // (4 and 5 are the window) is evicted. Accumulated and window scores agree here: both sum the same two
      // queries' attention over the same entries.
      double score[6] = {0, 0, 0, 0, 0, 0};
      for (const at::Tensor& q : {q1, q2}) {
        double logits[6], z = 0;
        for (int j = 0; j < 6; ++j) {
          logits[j] = q[h][0].item<float>() * keys[h][j][0].item<float>() + q[h][1].item<float>() * keys[h][j][1].item<float>();
          z += std::exp(logits[j]);
        }
        for (int j = 0; j < 6; ++j) score[j] += std::exp(logits[j]) / z;
      }
      int worst = 0;
      for (int j = 1; j < 4; ++j)
        if (score[j] < score[worst]) worst = j;
      const at::Tensor kept = cache.layers[0].head_positions(h);
      ASSERT_EQ(kept.numel(), 5);
      for (int j = 0, k = 0; j < 6; ++j) {
        if (j == worst) continue;
        EXPECT_EQ(kept[k++].item<std::int64_t>(), j) << "head " << h << " evicted " << worst;
      }
    }
  }
}

TEST(Protocols, RunConfigProtocolsAndDecodeBudgets) {
  const auto parse = [](const std::string& text) {
    return parse_run_config(nlohmann::json::parse(text), "test.json");
  };
  const std::string model = R"("model": {"path": "m"}, "prompt": {"random_ids": {"tokens": 64}})";
  RunConfig rc = parse("{" + model + R"(, "protocol": ["question_aware", "query_agnostic"],
      "policies": [{"name": "snapkv"}, {"name": "h2o", "protocol": "query_agnostic", "decode": {"budget": 128, "every": 8}}],
      "budgets": [64]})");
  ASSERT_EQ(rc.variants.size(), 3u);
  EXPECT_EQ(rc.variants[0].name, "snapkv-64");
  EXPECT_EQ(rc.variants[1].name, "snapkv-64-agnostic");
  EXPECT_EQ(rc.variants[1].protocol, "query_agnostic");
  EXPECT_EQ(rc.variants[2].name, "h2o-64-agnostic-decode128");
  EXPECT_EQ(rc.variants[2].decode.budget, 128);
  EXPECT_EQ(rc.variants[2].decode.every, 8);
  EXPECT_TRUE(rc.variants[2].decode.accumulate);  // h2o scores by accumulated attention
  EXPECT_FALSE(rc.variants[0].decode.enabled());
  rc = parse("{" + model + R"(, "decode": {"budget": 100}, "policies": [{"name": "snapkv", "params": {"window": 16}}],
      "budgets": [64]})");
  EXPECT_EQ(rc.variants[0].decode.window, 16);
  EXPECT_FALSE(rc.variants[0].decode.accumulate);
  auto error = [&](const std::string& text) { return test::error_of([&] { parse(text); }); };
  EXPECT_NE(error("{" + model + R"(, "protocol": "agnostic", "policies": [{"name": "full"}]})").find("unknown protocol 'agnostic'"),
            std::string::npos);
  EXPECT_NE(error("{" + model + R"(, "policies": [{"name": "snapkv", "decode": {"budget": 0}}], "budgets": [64]})")
                .find("decode.budget must be between 1"),
            std::string::npos);
  EXPECT_NE(error("{" + model + R"(, "policies": [{"name": "snapkv", "decode": {"budget": 64, "scores": "x"}}], "budgets": [64]})")
                .find("scores must be accumulated or window"),
            std::string::npos);
  EXPECT_NE(error("{" + model + R"(, "policies": [{"name": "snapkv", "decode": {"budget": 64, "spare": 1}}], "budgets": [64]})")
                .find("spare"),
            std::string::npos);
}

// A table of a run with both protocols and a decode budget says under the rows what each row was run under.
TEST(Protocols, TablesLabelProtocolBudgetDefinitionAndWindow) {
  const auto report = report::parse_report(nlohmann::json::parse(R"json({
    "run": "r", "subsets": ["passkey"],
    "variants": [
      {"name": "snapkv-64", "policy": "snapkv", "budget": 64, "protocol": "question_aware",
       "budget_definition": "tokens per KV head per layer, observation window included", "window": 32, "decode": null,
       "scores": {"passkey": 90.0}},
      {"name": "snapkv-64-agnostic", "policy": "snapkv", "budget": 64, "protocol": "query_agnostic",
       "budget_definition": "tokens per KV head per layer, observation window included", "window": 32, "decode": null,
       "scores": {"passkey": 40.0}},
      {"name": "h2o-64-decode128", "policy": "h2o", "budget": 64, "protocol": "question_aware",
       "budget_definition": "tokens per KV head per layer, observation window included", "window": 32,
       "decode": {"budget": 128, "every": 8, "window": 32, "scores": "accumulated"}, "scores": {"passkey": 20.0}}]})json"),
                                            "r.json");
  const std::string md = report::render_table(report::build_table({report}), report::TableFormat::kMarkdown);
  EXPECT_NE(md.find("- query_agnostic protocol; budget: tokens per KV head per layer, observation window included; "
                    "window 32: snapkv-64-agnostic\n"), std::string::npos) << md;
  EXPECT_NE(md.find("- question_aware protocol; budget: tokens per KV head per layer, observation window included; "
                    "window 32: snapkv-64\n"), std::string::npos) << md;
  EXPECT_NE(md.find("window 32; decode budget 128 every 8 (accumulated scores): h2o-64-decode128\n"), std::string::npos) << md;
  const auto j = nlohmann::json::parse(report::render_table(report::build_table({report}), report::TableFormat::kJson));
  EXPECT_EQ(j["rows"][1]["protocol"], "query_agnostic");
  EXPECT_EQ(j["labels"].size(), 3u);
}

}  // namespace
}  // namespace kvbench
