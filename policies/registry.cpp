#include "policies/registry.h"

#include <cmath>

#include "harness/common/error.h"

namespace kvbench {

#define KVBENCH_POLICY(name, factory) std::unique_ptr<EvictionPolicy> factory(const PolicySpec&);
#include "policies/policy_list.h"
#undef KVBENCH_POLICY

namespace {
struct Registration {
  const char* name;
  std::unique_ptr<EvictionPolicy> (*factory)(const PolicySpec&);
};
const Registration kPolicies[] = {
#define KVBENCH_POLICY(name, factory) {name, &factory},
#include "policies/policy_list.h"
#undef KVBENCH_POLICY
};
}  // namespace

std::vector<std::string> policy_names() {
  std::vector<std::string> names;
  for (const auto& r : kPolicies) names.emplace_back(r.name);
  return names;
}

std::unique_ptr<EvictionPolicy> make_policy(const PolicySpec& spec) {
  for (const auto& r : kPolicies)
    if (spec.name == r.name) return r.factory(spec);
  std::string known;
  for (const auto& n : policy_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown policy '", spec.name, "' (known: ", known, ")");
}

PolicyParams::PolicyParams(const PolicySpec& spec) : spec_(spec) {
  KV_CHECK(spec_.params.is_object(), "policy '", spec_.name, "': parameters must be a JSON object");
}

const nlohmann::json& PolicyParams::lookup(const std::string& key) {
  used_.insert(key);
  static const nlohmann::json kNull;
  return spec_.params.contains(key) ? spec_.params.at(key) : kNull;
}

std::int64_t PolicyParams::get_int(const std::string& key, std::int64_t fallback) {
  const auto& v = lookup(key);
  if (v.is_null()) return fallback;
  KV_CHECK(v.is_number_integer(), "policy '", spec_.name, "': parameter '", key, "' must be an integer, got ", v.dump());
  // Checked as the JSON number it is, before any narrowing: an unsigned one above INT64_MAX would wrap.
  const bool in_range = v.is_number_unsigned() ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(kMaxIntParam)
                                               : v.get<std::int64_t>() >= -kMaxIntParam && v.get<std::int64_t>() <= kMaxIntParam;
  KV_CHECK(in_range, "policy '", spec_.name, "': parameter '", key, "' must be between ", -kMaxIntParam, " and ",
           kMaxIntParam, ", got ", v.dump());
  return v.get<std::int64_t>();
}

double PolicyParams::get_double(const std::string& key, double fallback) {
  const auto& v = lookup(key);
  if (v.is_null()) return fallback;
  KV_CHECK(v.is_number(), "policy '", spec_.name, "': parameter '", key, "' must be a number, got ", v.dump());
  const double d = v.get<double>();
  KV_CHECK(std::isfinite(d) && std::abs(d) <= kMaxRealParam, "policy '", spec_.name, "': parameter '", key,
           "' must be between ", -static_cast<std::int64_t>(kMaxRealParam), " and ",
           static_cast<std::int64_t>(kMaxRealParam), ", got ", v.dump());
  return d;
}

std::string PolicyParams::get_string(const std::string& key, const std::string& fallback) {
  const auto& v = lookup(key);
  if (v.is_null()) return fallback;
  KV_CHECK(v.is_string(), "policy '", spec_.name, "': parameter '", key, "' must be a string, got ", v.dump());
  return v.get<std::string>();
}

std::vector<std::int64_t> PolicyParams::get_int_list(const std::string& key, const std::vector<std::int64_t>& fallback) {
  const auto& v = lookup(key);
  if (v.is_null()) return fallback;
  KV_CHECK(v.is_array(), "policy '", spec_.name, "': parameter '", key, "' must be a list of integers, got ", v.dump());
  std::vector<std::int64_t> out;
  for (const auto& x : v) {
    KV_CHECK(x.is_number_integer(), "policy '", spec_.name, "': parameter '", key, "' must be a list of integers, got ",
             v.dump());
    out.push_back(x.get<std::int64_t>());
  }
  return out;
}

const BudgetSpec& PolicyParams::required_budget() const {
  KV_CHECK(spec_.budget.given(), "policy '", spec_.name, "' needs a budget (tokens kept per KV head per layer, an "
           "eviction rate or KV bytes)");
  // Every way in (a config, --budget, bench, coverage) ends here: a token budget beyond kMaxBudgetTokens would not
  // survive its round trip through double and int64 (INT64_MAX came back as a budget of 1).
  KV_CHECK(spec_.budget.kind != BudgetSpec::Kind::kTokens || spec_.budget.value > 0, "policy '", spec_.name,
           "': budget must be positive, got ", spec_.budget.value);
  KV_CHECK(spec_.budget.kind != BudgetSpec::Kind::kTokens || spec_.budget.value <= kMaxBudgetTokens, "policy '",
           spec_.name, "': a token budget must be at most ", kMaxBudgetTokens, ", got ", spec_.budget.value);
  return spec_.budget;
}

bool PolicyParams::get_bool(const std::string& key, bool fallback) {
  const auto& v = lookup(key);
  if (v.is_null()) return fallback;
  KV_CHECK(v.is_boolean(), "policy '", spec_.name, "': parameter '", key, "' must be true or false, got ", v.dump());
  return v.get<bool>();
}

void PolicyParams::finish() const {
  for (auto it = spec_.params.begin(); it != spec_.params.end(); ++it) {
    KV_CHECK(used_.count(it.key()) != 0, "policy '", spec_.name, "': unknown parameter '", it.key(), "'");
  }
}

}  // namespace kvbench
