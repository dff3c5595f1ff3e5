#include "harness/report/check.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/report/sample_scores.h"
#include "harness/report/svg.h"
#include "harness/report/table.h"

namespace kvbench::report {

namespace {

// Scores carry two decimals: a drop of exactly tol must not count because of binary rounding.
constexpr double kSlack = 1e-9;

std::optional<double> mean(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double sum = 0;
  for (const double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

// The report's average, comparable with the baseline's (see check.h).
std::optional<double> comparable_average(const ReportVariant& now, const ReportVariant& base) {
  if (!base.scores.empty()) {
    std::vector<double> values;
    for (const auto& [subset, score] : base.scores) {
      const auto it = now.scores.find(subset);
      if (it == now.scores.end()) {
        values.clear();
        break;
      }
      values.push_back(it->second);
    }
    if (!values.empty()) return mean(values);
  }
  if (now.average) return now.average;
  std::vector<double> all;
  for (const auto& [subset, score] : now.scores) all.push_back(score);
  return mean(all);
}

std::string listed(const std::vector<std::string>& names, std::size_t at_most = 5) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < at_most; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > at_most) out += ", ... (" + std::to_string(names.size()) + ")";
  return out;
}

template <typename T>
std::vector<T> minus(const std::vector<T>& a, const std::vector<T>& b) {
  const std::set<T> other(b.begin(), b.end());
  std::vector<T> out;
  for (const auto& x : a)
    if (!other.count(x)) out.push_back(x);
  return out;
}

std::vector<std::string> variant_names(const ReportFile& r) {
  std::vector<std::string> names;
  for (const auto& v : r.variants) names.push_back(v.name);
  return names;
}

// "kv_head" when a report does not say: kvbench's caches are per KV head.
std::string granularity_of(const ReportVariant& v) { return v.granularity.empty() ? "kv_head" : v.granularity; }

// What of a variant's definition differs ("protocol question_aware vs query_agnostic; params {} vs {...}").
std::string definition_difference(const ReportVariant& a, const ReportVariant& b) {
  std::string out;
  const auto field = [&](const std::string& name, const std::string& x, const std::string& y) {
    if (x != y) out += (out.empty() ? "" : "; ") + name + " " + x + " vs " + y;
  };
  field("policy", a.policy, b.policy);
  field("budget", a.budget.dump(), b.budget.dump());
  field("params", a.params.dump(), b.params.dump());
  field("protocol", a.protocol, b.protocol);
  if (!a.budget_definition.empty() && !b.budget_definition.empty())
    field("budget definition", "'" + a.budget_definition + "'", "'" + b.budget_definition + "'");
  field("granularity", granularity_of(a), granularity_of(b));
  field("decode", a.decode.dump(), b.decode.dump());
  return out;
}

std::string short_hash(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>().substr(0, 12) : std::string("none");
}

// A subset's score over `ids` only, from the predictions beside the report (official rounding).
double rescore(const ReportFile& r, const std::string& variant, const std::string& subset, const std::set<std::string>& ids) {
  std::map<std::string, double> scores;
  try {
    scores = scores_by_id(RunLayout(paths::parent(r.path)), variant, subset);
  } catch (const Error& e) {
    fail("--intersection rescores ", subset, " of ", variant, " over the samples both runs have, from the predictions "
         "beside ", r.path, ": ", e.what());
  }
  std::vector<double> kept;
  for (const auto& [id, score] : scores)
    if (ids.count(id)) kept.push_back(score);
  return kept.empty() ? 0.0 : std::round(*mean(kept) * 100.0) / 100.0;
}

}  // namespace

Comparability compare_runs(const ReportFile& report, const ReportFile& baseline, bool intersection) {
  Comparability c;
  const auto unrecorded = [&](const std::string& what, bool in_report, bool in_baseline) {
    if (in_report && in_baseline) return false;
    c.notes.push_back(what + " not checked: " + (!in_report ? report.path : baseline.path) + " does not record it");
    return true;
  };
  if (!unrecorded("the model", report.model.is_object(), baseline.model.is_object())) {
    const auto describe = [](const nlohmann::json& m) {
      return m.value("name", std::string("?")) + " (config.json sha256 " + short_hash(m.value("config_sha256", nlohmann::json())) + ")";
    };
    const bool same_name = report.model.value("name", std::string()) == baseline.model.value("name", std::string());
    const auto ha = report.model.value("config_sha256", nlohmann::json()), hb = baseline.model.value("config_sha256", nlohmann::json());
    if (!same_name || (ha.is_string() && hb.is_string() && ha != hb))
      c.differences.push_back("model: " + describe(report.model) + " vs " + describe(baseline.model));
  }
  if (!unrecorded("the evaluation settings (config_sha256)", report.config_sha256.has_value(), baseline.config_sha256.has_value()) &&
      *report.config_sha256 != *baseline.config_sha256)
    c.differences.push_back("evaluation settings: config_sha256 " + report.config_sha256->substr(0, 12) + " vs " +
                            baseline.config_sha256->substr(0, 12) + " (model dtype, device, max_length, chat format, "
                            "max_new_tokens or seed differ: compare the runs' config.resolved.json)");
  const auto files_of = [](const ReportFile& r) { return r.data.is_object() ? r.data.value("files", nlohmann::json()) : nlohmann::json(); };
  const nlohmann::json fa = files_of(report), fb = files_of(baseline);
  if (fa.is_object() && fb.is_object()) {
    for (const auto& [file, hash] : fa.items())
      if (fb.contains(file) && fb[file] != hash)
        c.differences.push_back("data: " + file + " sha256 " + short_hash(hash) + " vs " + short_hash(fb[file]));
  }

  // Samples, subset by subset.
  if (!unrecorded("the samples (sample_ids)", report.sample_ids.has_value(), baseline.sample_ids.has_value())) {
    std::set<std::string> subsets;
    for (const auto* ids : {&*report.sample_ids, &*baseline.sample_ids})
      for (const auto& entry : *ids) subsets.insert(entry.first);
    for (const auto& subset : subsets) {
      const auto a = report.sample_ids->find(subset), b = baseline.sample_ids->find(subset);
      std::string line;
      if (a == report.sample_ids->end() || b == baseline.sample_ids->end()) {
        line = "subset " + subset + " only in the " + (b == baseline.sample_ids->end() ? "report" : "baseline");
      } else {
        const auto only_a = minus(a->second, b->second), only_b = minus(b->second, a->second);
        if (only_a.empty() && only_b.empty()) continue;
        line = "samples of " + subset + ": " + std::to_string(a->second.size() - only_a.size()) + " in both";
        if (!only_a.empty()) line += ", " + std::to_string(only_a.size()) + " only in the report (" + listed(only_a, 3) + ")";
        if (!only_b.empty()) line += ", " + std::to_string(only_b.size()) + " only in the baseline (" + listed(only_b, 3) + ")";
      }
      (intersection ? c.notes : c.differences).push_back(line);
    }
  }
  const auto names_a = variant_names(report), names_b = variant_names(baseline);
  const auto only_a = minus(names_a, names_b), only_b = minus(names_b, names_a);
  if (!only_a.empty() || !only_b.empty()) {
    std::string line = "variants:";
    if (!only_a.empty()) line += " only in the report: " + listed(only_a) + (only_b.empty() ? "" : ";");
    if (!only_b.empty()) line += " only in the baseline: " + listed(only_b);
    (intersection ? c.notes : c.differences).push_back(line);
  }
  for (const auto& v : report.variants)
    if (const ReportVariant* b = baseline.find(v.name))
      if (const std::string d = definition_difference(v, *b); !d.empty()) c.differences.push_back("variant " + v.name + ": " + d);
  return c;
}

std::pair<ReportFile, ReportFile> intersect_runs(const ReportFile& report, const ReportFile& baseline) {
  std::pair<ReportFile, ReportFile> out{report, baseline};
  out.first.variants.clear();
  out.second.variants.clear();
  for (const auto& a : report.variants) {
    const ReportVariant* b = baseline.find(a.name);
    if (b == nullptr) continue;
    ReportVariant na = a, nb = *b;
    na.scores.clear();
    nb.scores.clear();
    for (const auto& [subset, score] : a.scores) {
      const auto other = b->scores.find(subset);
      if (other == b->scores.end()) continue;
      const auto ids_of = [&, &subset = subset](const ReportFile& r) {  // (clang 14 captures no binding implicitly)
        return r.sample_ids && r.sample_ids->count(subset) ? &r.sample_ids->at(subset) : nullptr;
      };
      const auto *ids_a = ids_of(report), *ids_b = ids_of(baseline);
      if (ids_a == nullptr || ids_b == nullptr || *ids_a == *ids_b) {  // the same samples (or unrecorded): as reported
        na.scores[subset] = score;
        nb.scores[subset] = other->second;
        continue;
      }
      std::set<std::string> common;
      const std::set<std::string> in_b(ids_b->begin(), ids_b->end());
      for (const auto& id : *ids_a)
        if (in_b.count(id)) common.insert(id);
      if (common.empty()) continue;
      na.scores[subset] = rescore(report, a.name, subset, common);
      nb.scores[subset] = rescore(baseline, b->name, subset, common);
    }
    for (auto* v : {&na, &nb}) {
      std::vector<double> values;
      for (const auto& [subset, score] : v->scores) values.push_back(score);
      v->average = mean(values);
    }
    if (na.scores.empty()) continue;
    out.first.variants.push_back(std::move(na));
    out.second.variants.push_back(std::move(nb));
  }
  KV_CHECK(!out.first.variants.empty(), report.path, " and ", baseline.path, " share no variant with a scored subset and "
           "sample in common: nothing to compare");
  return out;
}

CheckResult check_report(const ReportFile& report, const ReportFile& baseline, double tol) {
  KV_CHECK(std::isfinite(tol) && tol >= 0, "--tol must be a non-negative number of points, got ", tol);
  CheckResult result;
  const auto compare = [&](const std::string& variant, const std::string& subset, double base,
                           std::optional<double> now, const std::string& why) {
    Regression r{variant, subset, base, now, now ? "" : why};
    result.compared.push_back(r);
    if (!now || *now - base < -tol - kSlack) result.regressions.push_back(r);
  };
  for (const auto& base : baseline.variants) {
    const ReportVariant* now = report.find(base.name);
    std::vector<std::string> subsets;
    for (const auto& entry : base.scores) subsets.push_back(entry.first);
    for (const auto& subset : order_subsets(subsets)) {  // the papers' column order
      const double score = base.scores.at(subset);
      ++result.scores_compared;
      std::optional<double> value;
      if (now) {
        const auto it = now->scores.find(subset);
        if (it != now->scores.end()) value = it->second;
      }
      compare(base.name, subset, score, value, now ? "no score in the report" : "variant not in the report");
    }
    if (base.average) {
      ++result.averages_compared;
      compare(base.name, "average", *base.average, now ? comparable_average(*now, base) : std::nullopt,
              now ? "no scores in the report" : "variant not in the report");
    }
  }
  return result;
}

std::string format_regression(const Regression& r) {
  std::string line = "regression: " + r.variant + "  " + r.subset + "  baseline " + format_fixed(r.baseline, 2);
  if (!r.now) return line + "  now missing (" + r.why + ")";
  return line + "  now " + format_fixed(*r.now, 2) + "  delta " + format_fixed(r.delta(), 2);
}

std::string junit_xml(const CheckResult& result, const Comparability& comparability, double tol,
                      const std::string& timestamp, const std::string& hostname) {
  struct Suite {
    std::string name;
    std::vector<const Regression*> cases;
  };
  std::vector<Suite> suites;
  for (const auto& r : result.compared) {
    if (suites.empty() || suites.back().name != r.variant) suites.push_back({r.variant, {}});
    suites.back().cases.push_back(&r);
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
  const auto suite_open = [&](std::size_t id, const std::string& name, std::size_t tests, std::size_t failures,
                              std::size_t errors) {
    out += "  <testsuite package=\"kvbench.check\" id=\"" + std::to_string(id) + "\" name=\"" + xml_escape(name) +
           "\" timestamp=\"" + timestamp + "\" hostname=\"" + xml_escape(hostname) + "\" tests=\"" +
           std::to_string(tests) + "\" failures=\"" + std::to_string(failures) + "\" errors=\"" + std::to_string(errors) +
           "\" time=\"0\">\n    <properties>\n      <property name=\"tol\" value=\"" + format_fixed(tol, 2) +
           "\"/>\n    </properties>\n";
  };
  const auto suite_close = [&](const std::string& err) {
    out += "    <system-out/>\n    <system-err>" + xml_escape(err) + "</system-err>\n  </testsuite>\n";
  };
  std::string notes;
  for (const auto& n : comparability.notes) notes += n + "\n";
  if (!comparability.ok()) {
    std::string text;
    for (const auto& d : comparability.differences) text += d + "\n";
    suite_open(0, "comparability", 1, 0, 1);
    out += "    <testcase classname=\"kvbench.check\" name=\"comparable\" time=\"0\">\n      <error type=\"not_comparable\" "
           "message=\"the run and the baseline are not comparable (" + std::to_string(comparability.differences.size()) +
           " differences)\">" + xml_escape(text) + "</error>\n    </testcase>\n";
    suite_close(notes);
    return out + "</testsuites>\n";
  }
  std::set<std::pair<std::string, std::string>> failed;
  for (const auto& g : result.regressions) failed.emplace(g.variant, g.subset);
  for (std::size_t i = 0; i < suites.size(); ++i) {
    const auto failures = std::count_if(suites[i].cases.begin(), suites[i].cases.end(),
                                        [&](const Regression* r) { return failed.count({r->variant, r->subset}) > 0; });
    suite_open(i, suites[i].name, suites[i].cases.size(), static_cast<std::size_t>(failures), 0);
    for (const auto* r : suites[i].cases) {
      out += "    <testcase classname=\"" + xml_escape(suites[i].name) + "\" name=\"" + xml_escape(r->subset) + "\" time=\"0\"";
      if (!failed.count({r->variant, r->subset})) {
        out += "/>\n";
        continue;
      }
      out += ">\n      <failure type=\"" + std::string(r->now ? "regression" : "missing") + "\" message=\"" +
             xml_escape(format_regression(*r)) + "\">" + xml_escape(format_regression(*r)) + "</failure>\n    </testcase>\n";
    }
    suite_close(i == 0 ? notes : "");
  }
  return out + "</testsuites>\n";
}

}  // namespace kvbench::report
