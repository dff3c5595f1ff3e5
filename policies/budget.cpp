#include "policies/budget.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "harness/common/error.h"

namespace kvbench {

namespace {
// A budget given as a share of the prompt, in [0, 1).
BudgetSpec share_of_prompt(BudgetSpec::Kind kind, double share, const char* what) {
  KV_CHECK(share >= 0 && share < 1, what, " must be in [0, 1), got ", share);
  BudgetSpec b;
  b.kind = kind;
  b.value = share;
  return b;
}
}  // namespace

BudgetSpec BudgetSpec::evict_rate(double rate) { return share_of_prompt(Kind::kEvictRate, rate, "eviction rate"); }

BudgetSpec BudgetSpec::kv_bytes(double bytes) {
  KV_CHECK(std::isfinite(bytes) && bytes >= 1 && bytes <= kMaxKvBytes, "a KV byte budget must be between 1 byte and ",
           static_cast<std::int64_t>(kMaxKvBytes), " (1 PiB), got ", bytes);
  BudgetSpec b;
  b.kind = Kind::kKvBytes;
  b.value = bytes;
  return b;
}

BudgetSpec BudgetSpec::compression_ratio(double ratio) {
  return share_of_prompt(Kind::kCompressionRatio, ratio, "compression ratio");
}

SequenceInfo SequenceInfo::with_cache_heads(std::int64_t heads) const {
  SequenceInfo cache = *this;
  cache.num_kv_heads = heads;
  if (num_kv_heads > 0) cache.reserved_bytes = reserved_bytes / num_kv_heads * heads;
  return cache;
}

std::int64_t BudgetSpec::resolve(const SequenceInfo& info) const {
  switch (kind) {
    case Kind::kNone: fail("internal error: resolving an absent budget");
    case Kind::kTokens:
    case Kind::kMaxCapacityPrompt: return std::max<std::int64_t>(1, static_cast<std::int64_t>(value));
    case Kind::kCompressionRatio:  // kvpress's ScorerPress: n_kept = int(k_len * (1 - compression_ratio))
      return std::max<std::int64_t>(1, static_cast<std::int64_t>(exact(info)));
    case Kind::kEvictRate:
      return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor((1.0 - value) * info.prompt_len + 0.5)));
    case Kind::kKvBytes: {
      const double per_token = 2.0 * info.num_layers * info.num_kv_heads * info.head_dim * info.element_bytes;
      KV_CHECK(per_token > 0, "internal error: KV bytes per token unknown");
      const auto tokens = static_cast<std::int64_t>(std::floor((value - static_cast<double>(info.reserved_bytes)) / per_token));
      KV_CHECK(tokens >= 1, "KV byte budget ", value, " holds less than one token per head (", per_token,
               " bytes per token", info.reserved_bytes > 0 ? ", after the " + std::to_string(info.reserved_bytes) +
               " bytes of the sliding-window layers" : std::string(), ")");
      return tokens;
    }
  }
  return 1;
}

double BudgetSpec::exact(const SequenceInfo& info) const {
  if (kind == Kind::kCompressionRatio) return static_cast<double>(info.prompt_len) * (1.0 - value);
  return static_cast<double>(resolve(info));
}

std::string BudgetSpec::describe() const {
  switch (kind) {
    case Kind::kNone: return "none";
    case Kind::kTokens: return std::to_string(static_cast<std::int64_t>(value));
    case Kind::kEvictRate: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "evict=%g", value);
      return buf;
    }
    case Kind::kKvBytes: return "kv_bytes=" + std::to_string(static_cast<std::int64_t>(value));
    case Kind::kCompressionRatio: {
      char buf[48];
      std::snprintf(buf, sizeof buf, "compression_ratio=%g", value);
      return buf;
    }
    case Kind::kMaxCapacityPrompt: return "max_capacity_prompt=" + std::to_string(static_cast<std::int64_t>(value));
  }
  return "?";
}

nlohmann::json BudgetSpec::to_json() const {
  switch (kind) {
    case Kind::kNone: return nullptr;
    case Kind::kTokens: return static_cast<std::int64_t>(value);
    case Kind::kEvictRate: return {{"evict", value}};
    case Kind::kKvBytes: return {{"kv_bytes", static_cast<std::int64_t>(value)}};
    case Kind::kCompressionRatio: return {{"compression_ratio", value}};
    case Kind::kMaxCapacityPrompt: return {{"max_capacity_prompt", static_cast<std::int64_t>(value)}};
  }
  return nullptr;
}

double parse_bytes(const std::string& text, const std::string& where) {
  // Digits and a point only: strtod alone would also take "inf", "nan" and hexadecimal floats.
  const std::size_t digits = text.find_first_not_of("0123456789.eE+-");
  KV_CHECK(!text.empty() && (text[0] == '.' || std::isdigit(static_cast<unsigned char>(text[0]))), where, ": '", text,
           "' is not a byte size (e.g. 256MiB, 1.5GB)");
  errno = 0;
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  KV_CHECK(end != text.c_str() && static_cast<std::size_t>(end - text.c_str()) <= (digits == std::string::npos ? text.size() : digits),
           where, ": '", text, "' is not a byte size (e.g. 256MiB, 1.5GB)");
  KV_CHECK(errno != ERANGE && std::isfinite(number), where, ": '", text, "' is out of range (at most 1 PiB)");
  KV_CHECK(number > 0, where, ": '", text, "' is not a positive byte size");
  std::string unit(end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1}, {"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"KiB", 1024.0}, {"MiB", 1024.0 * 1024},
      {"GiB", 1024.0 * 1024 * 1024}};
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    const double bytes = number * scale;
    KV_CHECK(bytes >= 1 && bytes <= kMaxKvBytes, where, ": '", text, "' is out of range (between 1 byte and 1 PiB)");
    return bytes;
  }
  fail(where, ": unknown byte unit '", unit, "' (use B, KB, MB, GB, KiB, MiB or GiB)");
}

namespace {
// A token count, checked as the JSON number it is (an unsigned one above INT64_MAX must not wrap to a negative
// budget, a float must not be truncated).
std::int64_t budget_tokens(const nlohmann::json& v, const std::string& where, const char* what) {
  const bool in_range = v.is_number_unsigned() ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(kMaxBudgetTokens)
                        : v.is_number_integer() ? v.get<std::int64_t>() <= kMaxBudgetTokens : false;
  KV_CHECK(in_range && v.get<std::int64_t>() >= 1, where, ": ", what, " must be between 1 and ", kMaxBudgetTokens,
           ", got ", v.dump());
  return v.get<std::int64_t>();
}
}  // namespace

BudgetSpec parse_budget(const nlohmann::json& v, const std::string& where) {
  if (v.is_null()) return {};
  if (v.is_number_integer()) return BudgetSpec(budget_tokens(v, where, "a token budget"));
  KV_CHECK(v.is_object() && v.size() == 1, where, ": budget must be an integer (tokens per head) or one of ",
           "{\"tokens\": n}, {\"max_capacity_prompt\": n}, {\"evict\": rate}, {\"compression_ratio\": r}, ",
           "{\"kv_bytes\": n | \"256MiB\"}, got ", v.dump());
  const auto entry = v.begin();
  const std::string key = entry.key();
  const nlohmann::json& value = entry.value();
  if (key == "tokens") return parse_budget(value, where);
  if (key == "max_capacity_prompt") {
    BudgetSpec b(budget_tokens(value, where, "max_capacity_prompt (tokens per head)"));
    b.kind = BudgetSpec::Kind::kMaxCapacityPrompt;
    return b;
  }
  if (key == "compression_ratio") {
    KV_CHECK(value.is_number(), where, ": compression_ratio must be a number in [0, 1), got ", value.dump());
    return BudgetSpec::compression_ratio(value.get<double>());
  }
  if (key == "evict") {
    KV_CHECK(value.is_number() && value.get<double>() >= 0 && value.get<double>() < 1, where,
             ": evict must be a number in [0, 1), got ", value.dump());
    return BudgetSpec::evict_rate(value.get<double>());
  }
  if (key == "kv_bytes") {
    if (value.is_number()) {
      // Checked as the number it is: an unsigned one converts to double exactly enough to compare.
      const double bytes = value.is_number_unsigned() ? static_cast<double>(value.get<std::uint64_t>()) : value.get<double>();
      KV_CHECK(bytes >= 1 && bytes <= kMaxKvBytes, where, ": kv_bytes must be at most ",
               static_cast<std::int64_t>(kMaxKvBytes), " (1 PiB) and at least 1, got ", value.dump());
      return BudgetSpec::kv_bytes(bytes);
    }
    KV_CHECK(value.is_string(), where, ": kv_bytes must be a number or a string such as \"256MiB\"");
    return BudgetSpec::kv_bytes(parse_bytes(value.get<std::string>(), where));
  }
  fail(where, ": unknown budget kind '", key, "' (use tokens, max_capacity_prompt, evict, compression_ratio or kv_bytes)");
}

}  // namespace kvbench
