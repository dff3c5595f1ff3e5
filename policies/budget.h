#pragma once
// Memory budgets, all resolved to B = tokens kept per cache head per layer, window included (a cache head is a
// KV head, or a query head for the per-query-head caches of `granularity: query_head`):
//   tokens               `128` or {"tokens": 128}
//   max_capacity_prompt  {"max_capacity_prompt": 128}  KVCache-Factory's and Ada-KV's name for the same count
//   eviction             {"evict": 0.9}          keep round((1 - 0.9) * T) tokens of a T-token prompt
//   compression ratio    {"compression_ratio": 0.9}  kvpress's: keep int(T * (1 - 0.9)) (truncated, in double)
//   KV bytes             {"kv_bytes": "256MiB"}  B = floor((bytes - reserved) / (2 * L * H * d * element size)),
//                        H cache heads, L the layers the policy compresses, `reserved` what the other layers
//                        (sliding-window ones) hold
// The report records both the spec and the effective B.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace kvbench {

/// What a policy learns about the sequence before layer 0: enough to resolve budgets and size state.
struct SequenceInfo {
  std::int64_t prompt_len = 0;
  std::int64_t num_layers = 0;
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t element_bytes = 2;  ///< bytes of one K or V element in the cache
  /// Bytes the cache holds in layers the policy does not compress (a hybrid model's sliding-window layers keep
  /// their window): a KV-byte budget covers them too, so the policy's layers get what is left.
  std::int64_t reserved_bytes = 0;

  /// The sequence as a cache of `heads` heads per layer holds it (KV heads, or query heads for a per-query-head
  /// cache): a byte budget pays for those heads, the sliding-window layers' reserved bytes included.
  SequenceInfo with_cache_heads(std::int64_t heads) const;
};

/// The largest budgets accepted (far above any real prompt or device): a token budget per KV head per layer, and
/// a KV byte budget (1 PiB). Larger numbers are errors, not silently wrapped or rounded.
inline constexpr std::int64_t kMaxBudgetTokens = std::int64_t{1} << 24;
inline constexpr double kMaxKvBytes = 1125899906842624.0;  // 2^50

struct BudgetSpec {
  enum class Kind { kNone, kTokens, kEvictRate, kKvBytes, kCompressionRatio, kMaxCapacityPrompt };
  Kind kind = Kind::kNone;
  double value = 0;  ///< tokens, eviction rate or compression ratio in [0, 1), or bytes

  BudgetSpec() = default;
  /// A plain number of tokens per head (so that `{"snapkv", 128}` reads naturally).
  BudgetSpec(std::int64_t tokens) : kind(Kind::kTokens), value(static_cast<double>(tokens)) {}  // NOLINT
  static BudgetSpec evict_rate(double rate);
  static BudgetSpec kv_bytes(double bytes);
  static BudgetSpec compression_ratio(double ratio);

  bool given() const { return kind != Kind::kNone; }
  /// Tokens per cache head per layer (window included) for this sequence; at least 1.
  std::int64_t resolve(const SequenceInfo& info) const;
  /// The budget before rounding: T * (1 - r) for a compression ratio (kvpress sizes PyramidKV's layers and
  /// CriticalKV's first stage from it), else resolve().
  double exact(const SequenceInfo& info) const;
  /// "128", "evict=0.9", "kv_bytes=268435456", "compression_ratio=0.9" (for names and reports).
  std::string describe() const;
  nlohmann::json to_json() const;
};

/// Parses a budget: an integer, {"tokens": n}, {"max_capacity_prompt": n}, {"evict": r},
/// {"compression_ratio": r} or {"kv_bytes": n | "256MiB"}. `where` names the config key in errors.
BudgetSpec parse_budget(const nlohmann::json& value, const std::string& where);
/// Parses "256MiB", "1.5GB", "4096" into bytes: a finite number of at least 1 byte and at most kMaxKvBytes.
double parse_bytes(const std::string& text, const std::string& where);

}  // namespace kvbench
