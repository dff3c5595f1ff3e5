#pragma once
// Typed access to JSON configuration with errors that name the file and the key.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace kvbench {

/// Reads and parses a JSON file; throws kvbench::Error naming the file on I/O or syntax errors.
/// `allow_comments` accepts // and /* */ comments (our own config files allow them).
nlohmann::json read_json_file(const std::string& path, bool allow_comments = false);

/// Views one JSON object with the path of the file it came from, so that every error names file and key.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string source);

  bool has(const std::string& key) const;  ///< present and not null
  std::int64_t get_int(const std::string& key) const;
  std::int64_t get_int(const std::string& key, std::int64_t fallback) const;
  double get_double(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
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

}  // namespace kvbench
