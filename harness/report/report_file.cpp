#include "harness/report/report_file.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "datasets/subset.h"
#include "harness/common/error.h"
#include "harness/common/json_util.h"

namespace kvbench::report {

namespace {

using nlohmann::json;

// "string \"abc\"", "number 1.5", "array [...]": enough to see what was found instead.
std::string describe(const json& value) {
  if (value.is_null()) return "null";
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(value.type_name()) + " " + text;
}

// Walks the document keeping the JSON path for messages: "variants[2].scores.qasper".
class Node {
 public:
  Node(const json& value, std::string source, std::string path)
      : value_(value), source_(std::move(source)), path_(std::move(path)) {}

  const json& value() const { return value_; }
  const std::string& path() const { return path_; }

  [[noreturn]] void bad(const std::string& what) const { fail(source_, ": ", path_, " ", what, ", got ", describe(value_)); }

  void expect_object() const {
    if (!value_.is_object()) bad("must be an object");
  }
  bool has(const std::string& key) const { return value_.contains(key); }
  Node at(const std::string& key) const {
    expect_object();
    KV_CHECK(value_.contains(key), source_, ": missing field ", child_path(key));
    return Node(value_.at(key), source_, child_path(key));
  }
  std::optional<Node> opt(const std::string& key) const {
    expect_object();
    if (!value_.contains(key)) return std::nullopt;
    return Node(value_.at(key), source_, child_path(key));
  }
  Node index(std::size_t i) const { return Node(value_.at(i), source_, path_ + "[" + std::to_string(i) + "]"); }

  std::string str() const {
    if (!value_.is_string()) bad("must be a string");
    return value_.get<std::string>();
  }
  double number() const {
    if (!value_.is_number()) bad("must be a number");
    const double v = value_.get<double>();
    if (!std::isfinite(v)) bad("must be a finite number");
    return v;
  }
  std::int64_t count() const {
    if (!value_.is_number_integer() || (value_.is_number_unsigned() && value_.get<std::uint64_t>() > INT64_MAX) ||
        value_.get<std::int64_t>() < 0) {
      bad("must be a non-negative integer");
    }
    return value_.get<std::int64_t>();
  }
  std::optional<double> number_or_null() const {
    if (value_.is_null()) return std::nullopt;
    if (!value_.is_number()) bad("must be a number or null");
    return number();
  }
  void expect_array() const {
    if (!value_.is_array()) bad("must be an array");
  }
  std::vector<double> numbers() const {
    expect_array();
    std::vector<double> out;
    for (std::size_t i = 0; i < value_.size(); ++i) out.push_back(index(i).number());
    return out;
  }
  /// { key: f(child) } for every key of an object.
  template <typename F>
  auto map_of(F f) const {
    expect_object();
    std::map<std::string, decltype(f(*this))> out;
    for (auto it = value_.begin(); it != value_.end(); ++it) {
      out.emplace(it.key(), f(Node(it.value(), source_, child_path(it.key()))));
    }
    return out;
  }

 private:
  std::string child_path(const std::string& key) const {
    // Plain keys as .key; anything else (spaces, dots, brackets) quoted: categories."single-doc QA".
    const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
    const std::string part = plain ? key : json(key).dump();
    return path_.empty() ? part : path_ + "." + part;
  }

  const json& value_;
  std::string source_, path_;
};

Stat parse_stat(const Node& node) {
  node.expect_object();
  Stat s;
  s.mean = node.at("mean").number();
  s.p10 = node.at("p10").number();
  s.p50 = node.at("p50").number();
  s.p90 = node.at("p90").number();
  return s;
}

Coverage parse_coverage(const Node& node) {
  node.expect_object();
  Coverage c;
  for (auto it = node.value().begin(); it != node.value().end(); ++it) {
    const Node child = node.at(it.key());
    if (it.key() == "layer_coverage_curve") {
      c.layer_coverage_curve = child.numbers();
    } else if (it.key() == "head_overlap_curve") {
      c.head_overlap_curve = child.numbers();
    } else if (it.value().is_object()) {
      c.stats.emplace(it.key(), parse_stat(child));
    } else if (it.value().is_null()) {
      continue;  // a statistic without samples
    } else if (it.key() == "model_coverage" || it.key() == "mean_layer_coverage" || it.key() == "mean_head_overlap" ||
               it.key() == "vocab_coverage" || it.key() == "evidence_recall") {
      child.bad("must be an object {mean, p10, p50, p90}");
    }
    // Other unknown entries are ignored (extra fields are fine).
  }
  return c;
}

void check_budget(const Node& node) {
  const json& b = node.value();
  if (b.is_null()) return;
  if (b.is_number()) {
    if (node.number() < 0) node.bad("must not be negative");
    return;
  }
  if (b.is_object()) {
    if (b.empty()) node.bad("must name the budget (e.g. {\"evict\": 0.9} or {\"kv_bytes\": 268435456})");
    if (b.contains("evict")) node.at("evict").number();
    if (b.contains("tokens")) node.at("tokens").number();
    if (b.contains("kv_bytes") && !b.at("kv_bytes").is_string()) node.at("kv_bytes").number();
    return;
  }
  node.bad("must be null (full cache), a number of tokens, or an object such as {\"evict\": 0.9}");
}

ReportVariant parse_variant(const Node& node) {
  node.expect_object();
  ReportVariant v;
  v.name = node.at("name").str();
  if (v.name.empty()) node.at("name").bad("must not be empty");
  v.policy = node.at("policy").str();
  const Node budget = node.at("budget");
  check_budget(budget);
  v.budget = budget.value();
  if (auto d = node.opt("describe")) v.describe = d->str();
  if (auto p = node.opt("protocol")) v.protocol = p->str();
  if (auto b = node.opt("budget_definition")) v.budget_definition = b->str();
  if (auto g = node.opt("granularity")) v.granularity = g->str();
  if (auto w = node.opt("window")) v.window = w->value();
  if (auto d = node.opt("decode")) v.decode = d->value();
  if (auto p = node.opt("params")) {
    if (!p->value().is_null()) {
      p->expect_object();
      v.params = p->value();
    }
  }
  v.scores = node.at("scores").map_of([](const Node& s) { return s.number(); });
  if (auto n = node.opt("n")) v.n = n->map_of([](const Node& s) { return s.count(); });
  if (auto e = node.opt("errors")) v.errors = e->map_of([](const Node& s) { return s.count(); });
  if (auto b = node.opt("buckets")) {
    // A length bucket without samples is null: left out.
    const auto with_nulls = b->map_of([](const Node& subset) {
      return subset.map_of([](const Node& s) { return s.number_or_null(); });
    });
    for (const auto& [subset, by_bucket] : with_nulls) {
      auto& out = v.buckets[subset];
      for (const auto& [bucket, score] : by_bucket) {
        if (score) out.emplace(bucket, *score);
      }
    }
  }
  if (auto c = node.opt("categories")) v.categories = c->map_of([](const Node& s) { return s.number(); });
  if (auto a = node.opt("average")) v.average = a->number_or_null();
  if (auto c = node.opt("coverage")) {
    if (!c->value().is_null()) v.coverage = parse_coverage(*c);
  }
  if (auto t = node.opt("timing")) v.timing = t->map_of([](const Node& s) { return s.number(); });
  if (auto k = node.opt("kv_bytes")) {
    if (!k->value().is_null()) {
      k->expect_object();
      if (auto m = k->opt("mean")) v.kv_bytes_mean = m->number();
      if (auto m = k->opt("max")) v.kv_bytes_max = m->number();
    }
  }
  if (auto bt = node.opt("budget_tokens")) {
    if (!bt->value().is_null()) {
      bt->expect_object();
      v.budget_tokens = BudgetTokens{bt->at("mean").number(), bt->at("min").number(), bt->at("max").number()};
    }
  }
  return v;
}

}  // namespace

std::optional<double> ReportVariant::token_budget() const {
  if (budget.is_number()) return budget.get<double>();
  if (budget.is_object() && budget.size() == 1 && budget.contains("tokens") && budget.at("tokens").is_number()) {
    return budget.at("tokens").get<double>();
  }
  return std::nullopt;
}

std::optional<double> ReportVariant::budget_for_axis() const {
  if (auto t = token_budget()) return t;
  if (budget_tokens) return budget_tokens->mean;
  return std::nullopt;
}

bool ReportVariant::is_full() const { return policy == "full" || budget.is_null(); }

const ReportVariant* ReportFile::find(const std::string& name) const {
  for (const auto& v : variants) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

ReportFile parse_report(const nlohmann::json& root, const std::string& source) {
  KV_CHECK(root.is_object(), source, ": expected a JSON object (a kvbench report.json), got ", describe(root));
  const Node top(root, source, "");
  ReportFile r;
  r.path = source;
  r.run = top.at("run").str();
  const Node subsets = top.at("subsets");
  subsets.expect_array();
  for (std::size_t i = 0; i < subsets.value().size(); ++i) r.subsets.push_back(subsets.index(i).str());
  if (auto v = top.opt("kvbench_version")) r.kvbench_version = v->str();
  if (auto p = top.opt("peak_device_memory_bytes")) r.peak_device_memory_bytes = p->number_or_null();
  if (auto w = top.opt("wall_seconds")) r.wall_seconds = w->number_or_null();
  if (auto m = top.opt("model"); m && !m->value().is_null()) {
    m->expect_object();
    r.model = m->value();
  }
  if (auto c = top.opt("config_sha256"); c && !c->value().is_null()) r.config_sha256 = c->str();
  if (auto d = top.opt("data")) r.data = d->value();
  if (auto ids = top.opt("sample_ids"); ids && !ids->value().is_null()) {
    r.sample_ids = ids->map_of([](const Node& list) {
      list.expect_array();
      std::vector<std::string> out;
      for (std::size_t i = 0; i < list.value().size(); ++i) out.push_back(list.index(i).str());
      return out;
    });
  }

  const Node variants = top.at("variants");
  variants.expect_array();
  std::set<std::string> names;
  for (std::size_t i = 0; i < variants.value().size(); ++i) {
    const Node node = variants.index(i);
    ReportVariant v = parse_variant(node);
    KV_CHECK(names.insert(v.name).second, source, ": ", node.path(), ".name \"", v.name,
             "\" is used by an earlier variant (variant names must be unique)");
    r.variants.push_back(std::move(v));
  }
  return r;
}

ReportFile load_report(const std::string& path) { return parse_report(read_json_file(path), path); }

std::string budget_label(const nlohmann::json& budget) {
  if (budget.is_null()) return "full";
  if (budget.is_number_integer()) return std::to_string(budget.get<std::int64_t>());
  if (budget.is_number()) {
    const double b = budget.get<double>();
    if (b == std::floor(b) && std::abs(b) < 1e15) return std::to_string(static_cast<std::int64_t>(b));
    return budget.dump();
  }
  if (budget.is_object() && budget.size() == 1) {
    const auto it = budget.begin();
    if (it.key() == "tokens" && it.value().is_number()) return budget_label(it.value());
    return it.key() + "=" + (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  }
  return budget.dump();
}

// --- LongBench subsets ----------------------------------------------------------------------------------

std::vector<std::string> order_subsets(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  const auto wanted = [&](const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end() &&
           std::find(out.begin(), out.end(), name) == out.end();
  };
  for (const bool english : {true, false}) {
    for (const SubsetSpec& spec : longbench_subsets()) {
      if ((spec.language == "en") == english && wanted(spec.name)) out.push_back(spec.name);
    }
  }
  for (const auto& name : names) {
    if (wanted(name)) out.push_back(name);
  }
  return out;
}

std::string subset_category(const std::string& name) {
  const SubsetSpec* spec = lookup_subset(name);
  return spec != nullptr ? spec->category : "";
}

std::vector<std::string> categories_of(const std::vector<std::string>& subsets) {
  std::vector<std::string> out;
  for (const auto& category : category_order()) {
    for (const auto& s : subsets) {
      if (subset_category(s) == category) {
        out.push_back(category);
        break;
      }
    }
  }
  return out;
}

}  // namespace kvbench::report
