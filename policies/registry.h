#pragma once
// Building policies by name: `make_policy({"streaming", 128, {{"sinks", 4}}})`.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/policy.h"

namespace kvbench {

/// A policy as a config names it: registered name, budget (tokens kept per cache head per layer, window
/// included; or an eviction rate, a compression ratio or KV bytes, see budget.h), the code base whose conventions
/// it follows (reference.h: kvbench, kvpress, kvcache_factory, adakv or snapkv) and policy-specific parameters,
/// which override the reference's defaults.
struct PolicySpec {
  std::string name;
  BudgetSpec budget;
  nlohmann::json params = nlohmann::json::object();
  std::uint64_t seed = 0;
  std::string reference = "kvbench";
};

/// Builds the policy `spec` names; throws kvbench::Error for unknown names, unknown or ill-typed
/// parameters, and missing or invalid budgets.
std::unique_ptr<EvictionPolicy> make_policy(const PolicySpec& spec);
/// All registered policy names.
std::vector<std::string> policy_names();

/// Reads policy parameters with defaults and rejects keys nobody read (typos must not pass silently).
/// Bounds of every policy parameter, far beyond any meaningful value (windows and chunks are token counts,
/// weights and ratios are small numbers), so that no parameter overflows what is computed from it.
inline constexpr std::int64_t kMaxIntParam = std::int64_t{1} << 24;
inline constexpr double kMaxRealParam = 1e6;

class PolicyParams {
 public:
  PolicyParams(const PolicySpec& spec);
  std::int64_t get_int(const std::string& key, std::int64_t fallback);
  double get_double(const std::string& key, double fallback);
  std::string get_string(const std::string& key, const std::string& fallback);
  std::vector<std::int64_t> get_int_list(const std::string& key, const std::vector<std::int64_t>& fallback);
  /// The budget, which must be given.
  const BudgetSpec& required_budget() const;
  bool get_bool(const std::string& key, bool fallback);
  /// Throws when `params` holds a key no getter asked for.
  void finish() const;

 private:
  const nlohmann::json& lookup(const std::string& key);
  const PolicySpec& spec_;
  std::set<std::string> used_;
};

}  // namespace kvbench
