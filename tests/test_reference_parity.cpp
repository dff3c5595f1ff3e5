// kvbench against the reference implementations themselves: tests/data/reference_parity holds what kvpress's
// presses, KVCache-Factory's and Ada-KV's selection classes kept (per layer and head) and decoded, run unmodified on
// the GPU machine by tests/gpu/reference_oracle.py on the demo model and a random GQA Llama (stored beside the
// fixtures), for fixed token ids and budgets. Here kvbench recomputes everything on the CPU from the same
// checkpoints and ids with {"name", "reference", "budget", "params"} as each case names it, and must keep the same
// positions on every layer and head (or differ only among positions the fixture records as tied at the reference's
// boundary: equal scores within its tie_rel, float32 rounding between that device and this CPU) and decode the same
// 16 greedy tokens. The tests skip only while the fixture folder does not exist (it is written on the GPU
// machine; docs/policies.md, "Reference implementations", says how).
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/engine/engine.h"
#include "harness/model/transformer.h"
#include "policies/registry.h"

namespace kvbench {
namespace {

const std::string kFixtures = std::string(KVBENCH_SOURCE_DIR) + "/tests/data/reference_parity";
constexpr double kTokenTieMargin = 1e-4;  // a greedy step whose top two logits are this close is a tie

#define KVBENCH_REQUIRE_FIXTURES()                                                                           \
  if (!paths::exists(kFixtures))                                                                            \
  GTEST_SKIP() << kFixtures << " does not exist yet: it is written on the GPU machine by "                  \
               << "tests/gpu/reference_oracle.py (docs/policies.md, \"Reference implementations\")"

using Kept = std::vector<std::vector<std::vector<std::int64_t>>>;  // [layer][head] -> positions

// The oracle's bitmask: bit p of byte p / 8, least significant first, in hex.
std::vector<std::int64_t> hex_positions(const std::string& hex, std::int64_t T) {
  const std::int64_t bytes = (T + 7) / 8;
  KV_CHECK(static_cast<std::int64_t>(hex.size()) == 2 * bytes, "a fixture bitmask of ", hex.size(), " hex digits for ",
           T, " positions");
  std::vector<std::int64_t> out;
  for (std::int64_t byte = 0; byte < bytes; ++byte) {
    const int value = std::stoi(hex.substr(static_cast<std::size_t>(2 * byte), 2), nullptr, 16);
    for (int bit = 0; bit < 8; ++bit)
      if ((value >> bit) & 1) out.push_back(byte * 8 + bit);
  }
  return out;
}

struct Comparison {
  std::int64_t identical = 0, within_ties = 0, allocation_ties = 0;
  std::vector<std::string> mismatches;
  bool tied() const { return within_ties + allocation_ties > 0; }
};

// Ours against the reference's, head by head (tests/gpu/reference_oracle.py's compare_kept, the same rules).
Comparison compare_kept(const Kept& ours, const Kept& ref, const nlohmann::json& ties, const nlohmann::json& allocation) {
  std::map<std::pair<std::int64_t, std::int64_t>, std::set<std::int64_t>> tied;
  for (const auto& t : ties)
    for (const auto& p : t["positions"]) tied[{t["layer"].get<std::int64_t>(), t["head"].get<std::int64_t>()}].insert(p.get<std::int64_t>());
  std::set<std::int64_t> ambiguous_layers;
  for (const auto& a : allocation) ambiguous_layers.insert(a["layer"].get<std::int64_t>());
  Comparison c;
  if (ours.size() != ref.size()) {
    c.mismatches.push_back(std::to_string(ours.size()) + " layers, the reference " + std::to_string(ref.size()));
    return c;
  }
  for (std::size_t l = 0; l < ours.size(); ++l) {
    if (ours[l].size() != ref[l].size()) {
      c.mismatches.push_back("layer " + std::to_string(l) + ": " + std::to_string(ours[l].size()) + " heads, the reference " +
                             std::to_string(ref[l].size()));
      continue;
    }
    for (std::size_t h = 0; h < ours[l].size(); ++h) {
      const std::set<std::int64_t> a(ours[l][h].begin(), ours[l][h].end()), b(ref[l][h].begin(), ref[l][h].end());
      if (a == b) {
        ++c.identical;
        continue;
      }
      std::set<std::int64_t> only_ours, only_ref;
      for (std::int64_t p : a)
        if (!b.count(p)) only_ours.insert(p);
      for (std::int64_t p : b)
        if (!a.count(p)) only_ref.insert(p);
      const auto& band = tied[{static_cast<std::int64_t>(l), static_cast<std::int64_t>(h)}];
      auto inside = [&](const std::set<std::int64_t>& s, const std::set<std::int64_t>& extra) {
        for (std::int64_t p : s)
          if (!band.count(p) && !extra.count(p)) return false;
        return true;
      };
      if (a.size() == b.size() && inside(only_ours, {}) && inside(only_ref, {})) {
        ++c.within_ties;
      } else if (ambiguous_layers.count(static_cast<std::int64_t>(l)) &&
                 inside(only_ours, a.size() > b.size() ? only_ours : std::set<std::int64_t>{}) &&
                 inside(only_ref, b.size() > a.size() ? only_ref : std::set<std::int64_t>{})) {
        ++c.allocation_ties;  // a tied allocation may move a position between heads
      } else {
        std::ostringstream m;
        m << "layer " << l << " head " << h << ": kept " << a.size() << " vs " << b.size() << ", only ours";
        int shown = 0;
        for (std::int64_t p : only_ours) m << (shown++ < 8 ? " " + std::to_string(p) : "");
        m << "; only the reference's";
        shown = 0;
        for (std::int64_t p : only_ref) m << (shown++ < 8 ? " " + std::to_string(p) : "");
        c.mismatches.push_back(m.str());
      }
    }
  }
  return c;
}

struct CaseOutcome {
  std::string id;
  Comparison kept;
  std::vector<std::int64_t> tokens, reference_tokens;
  std::string token_note;  // why differing tokens are not a failure, when they are not
};

struct ParityRun {
  nlohmann::json manifest;
  std::vector<CaseOutcome> cases;
};

// Every fixture file through kvbench: one prefill per model and prompt feeds all its cases, then each decodes.
const ParityRun& parity_run() {
  static const ParityRun run = [] {
    ParityRun r;
    r.manifest = read_json_file(paths::join(kFixtures, "manifest.json"));
    std::map<std::string, std::unique_ptr<Transformer>> models;
    for (const auto& file : r.manifest.at("files")) {
      const nlohmann::json f = read_json_file(paths::join(kFixtures, file.get<std::string>()));
      const std::string model_name = f.at("model").get<std::string>();
      const nlohmann::json& m = r.manifest.at("models").at(model_name);
      const std::string dir = m.value("relative_to", "") == "fixture" ? paths::join(kFixtures, m.at("path").get<std::string>())
                                                                      : paths::join(KVBENCH_SOURCE_DIR, m.at("path").get<std::string>());
      if (!models.count(model_name)) models[model_name] = Transformer::load(dir, at::kCPU, at::kFloat);
      const Engine engine(*models[model_name]);
      const std::vector<std::int64_t> ids = f.at("prompt_ids").get<std::vector<std::int64_t>>();
      const std::int64_t T = static_cast<std::int64_t>(ids.size());
      std::vector<const nlohmann::json*> cases;
      std::vector<std::unique_ptr<EvictionPolicy>> policies;
      std::vector<EvictionPolicy*> raw;
      for (const auto& c : f.at("cases")) {
        if (c.at("status") != "ok") continue;
        const nlohmann::json& s = c.at("spec");
        PolicySpec spec{s.at("name").get<std::string>(), parse_budget(s.at("budget"), c.at("id").get<std::string>()),
                        s.value("params", nlohmann::json::object())};
        spec.reference = s.at("reference").get<std::string>();
        cases.push_back(&c);
        policies.push_back(make_policy(spec));
        raw.push_back(policies.back().get());
      }
      PrefillResult pre = engine.prefill(ids, raw, {});
      GenerateOptions gen;
      gen.max_new_tokens = r.manifest.at("new_tokens").get<std::int64_t>();
      for (std::size_t i = 0; i < cases.size(); ++i) {
        const nlohmann::json& c = *cases[i];
        CaseOutcome o;
        o.id = c.at("id").get<std::string>();
        Kept ours, ref;
        for (const auto& layer : pre.caches[i].layers) ours.push_back(layer.kept_positions());
        for (const auto& layer : c.at("kept")) {
          ref.emplace_back();
          for (const auto& head : layer) ref.back().push_back(hex_positions(head, T));
        }
        o.kept = compare_kept(ours, ref, c.at("ties"), c.at("allocation_ties"));
        o.tokens = engine.decode(pre.caches[i], pre.last_logits, gen).output_ids;
        o.reference_tokens = c.at("tokens").get<std::vector<std::int64_t>>();
        for (std::size_t t = 0; t < o.tokens.size() && t < o.reference_tokens.size(); ++t) {
          if (o.tokens[t] == o.reference_tokens[t]) continue;
          const double margin = c.at("margins")[t].get<double>();
          if (o.kept.tied()) o.token_note = "the kept sets differ within recorded ties";
          else if (margin < kTokenTieMargin) o.token_note = "the reference's top two logits are within " + std::to_string(margin);
          break;
        }
        r.cases.push_back(std::move(o));
      }
    }
    return r;
  }();
  return run;
}

// The pair of a case id "model-T/reference/policy/granularity/keep": "reference/policy/granularity".
std::string pair_of(const std::string& id) {
  const auto first = id.find('/'), last = id.rfind('/');
  return id.substr(first + 1, last - first - 1);
}

TEST(ReferenceParity, EveryPairRanOnTheReference) {
  KVBENCH_REQUIRE_FIXTURES();
  const nlohmann::json manifest = read_json_file(paths::join(kFixtures, "manifest.json"));
  EXPECT_TRUE(manifest.at("import_errors").empty()) << manifest.at("import_errors").dump(1);
  EXPECT_TRUE(manifest.at("summary").at("failed").empty())
      << "the oracle could not run these cases (their tracebacks are in the fixture files): "
      << manifest.at("summary").at("failed").dump();
  EXPECT_GT(manifest.at("summary").at("ok").get<int>(), 0);
}

TEST(ReferenceParity, KeptSetsEqualTheReferencesOnEveryLayerAndHead) {
  KVBENCH_REQUIRE_FIXTURES();
  const ParityRun& run = parity_run();
  std::map<std::string, Comparison> per_pair;
  for (const CaseOutcome& o : run.cases) {
    Comparison& p = per_pair[pair_of(o.id)];
    p.identical += o.kept.identical;
    p.within_ties += o.kept.within_ties;
    p.allocation_ties += o.kept.allocation_ties;
    for (const auto& m : o.kept.mismatches) p.mismatches.push_back(o.id + ": " + m);
  }
  std::cout << "pair (reference/policy/granularity): heads identical / within recorded ties / tied allocations / "
               "mismatched\n";
  for (const auto& [pair, p] : per_pair) {
    std::cout << "  " << pair << ": " << p.identical << " / " << p.within_ties << " / " << p.allocation_ties << " / "
              << p.mismatches.size() << "\n";
    for (std::size_t i = 0; i < p.mismatches.size() && i < 5; ++i) ADD_FAILURE() << p.mismatches[i];
    EXPECT_TRUE(p.mismatches.empty()) << pair << ": " << p.mismatches.size() << " heads differ outside the ties";
  }
  EXPECT_FALSE(per_pair.empty());
}

TEST(ReferenceParity, GreedyTokensEqualTheReferencesOwnDecode) {
  KVBENCH_REQUIRE_FIXTURES();
  std::int64_t equal = 0, excused = 0;
  for (const CaseOutcome& o : parity_run().cases) {
    if (o.tokens == o.reference_tokens) {
      ++equal;
    } else if (!o.token_note.empty()) {
      ++excused;
      std::cout << "  " << o.id << ": tokens differ, " << o.token_note << "\n";
    } else {
      ADD_FAILURE() << o.id << ": kvbench decoded " << nlohmann::json(o.tokens).dump() << ", the reference "
                    << nlohmann::json(o.reference_tokens).dump();
    }
  }
  std::cout << equal << " cases decode the reference's tokens; " << excused << " differ after ties (listed)\n";
}

}  // namespace
}  // namespace kvbench
