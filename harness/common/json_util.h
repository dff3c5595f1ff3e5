#pragma once
// The one JSON reading path of kvbench (docs/robustness.md): every user file and every JSON value given on a
// command line is parsed here, with a nesting limit, duplicate keys refused, and messages that name the file, the
// position or key path and what was expected (never the parser's own text). Typed access to the result names the
// file and the key too.

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kvbench {

/// The deepest nesting of arrays and objects kvbench accepts (its own files need fewer than 10 levels): deeper
/// input is refused while parsing, so that nothing later recurses without bound.
inline constexpr int kMaxJsonDepth = 64;
/// The largest JSON file read whole (a tokenizer.json of a 256k vocabulary is about 35 MB).
inline constexpr std::uint64_t kMaxJsonFileBytes = std::uint64_t{256} << 20;

/// Parses `text`; throws kvbench::Error naming `source` on a syntax error (with line and column), a number out of
/// a double's range, a key repeated in one object (with its key path) or nesting deeper than kMaxJsonDepth.
/// `allow_comments` accepts // and /* */ comments (our own config files allow them).
nlohmann::json parse_json(std::string_view text, const std::string& source, bool allow_comments = false);

/// Reads and parses a JSON file as parse_json does, after checking that it is a regular file of at most
/// `max_bytes` (so a FIFO, a device or a folder is refused, not waited on or read without end). The file counts
/// as one of this command's inputs, which no output may replace (files.h).
nlohmann::json read_json_file(const std::string& path, bool allow_comments = false,
                              std::uint64_t max_bytes = kMaxJsonFileBytes);

/// read_json_file for a file of kvbench's own state that the command rewrites (a run's manifest.json).
nlohmann::json read_own_json_file(const std::string& path);

/// Writes `value` to `path` as indented JSON, atomically (files.h). A string that is not UTF-8 (a path given on
/// a command line) is written with U+FFFD in place of its bad bytes rather than failing the write.
void write_json_file(const std::string& path, const nlohmann::json& value);

/// `value` parsed as JSON when it is JSON (`--set k=v`, `--policy-param k=v`), else the string itself.
nlohmann::json json_or_string(const std::string& value, const std::string& source);

/// A JSON type for messages: "an object", "a string", "an integer", ...
std::string json_type_name(const nlohmann::json& value);

/// Views one JSON object with the path of the file it came from, so that every error names file and key.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string source);

  bool has(const std::string& key) const;  ///< present and not null
  /// An integer that fits int64 (a larger one is out of range, not wrapped).
  std::int64_t get_int(const std::string& key) const;
  std::int64_t get_int(const std::string& key, std::int64_t fallback) const;
  /// An integer in [lo, hi], checked before anything narrows it; the message names the key and both bounds.
  std::int64_t get_int_in(const std::string& key, std::int64_t lo, std::int64_t hi,
                          std::optional<std::int64_t> fallback = std::nullopt) const;
  /// A seed: an integer in [0, 2^63).
  std::uint64_t get_seed(const std::string& key, std::uint64_t fallback) const;
  double get_double(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  /// A number in [lo, hi] (always finite).
  double get_double_in(const std::string& key, double lo, double hi, std::optional<double> fallback = std::nullopt) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  /// A string that must not be empty when given (paths and names: "" is never a default).
  std::string get_nonempty(const std::string& key, const std::string& fallback) const;
  /// Throws naming the first key of the object that is not in `allowed` (typos must not pass silently).
  void expect_only(std::initializer_list<const char*> allowed) const;
  /// The value of `key`, or null when absent.
  const nlohmann::json& raw(const std::string& key) const;
  const std::string& source() const { return source_; }

 private:
  const nlohmann::json& require(const std::string& key) const;
  const nlohmann::json& object_;
  std::string source_;
};

/// An integer JSON value that fits int64, or nullopt (a float, a string, or an unsigned number above INT64_MAX).
std::optional<std::int64_t> json_int64(const nlohmann::json& value);

}  // namespace kvbench
