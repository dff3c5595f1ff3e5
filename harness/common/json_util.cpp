#include "harness/common/json_util.h"

#include <fstream>
#include <sstream>

#include "harness/common/error.h"

namespace kvbench {

nlohmann::json read_json_file(const std::string& path, bool allow_comments) {
  std::ifstream in(path, std::ios::binary);
  KV_CHECK(in.good(), "cannot open '", path, "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return nlohmann::json::parse(buffer.str(), nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/allow_comments);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": invalid JSON: ", json_error_text(e));
  }
}

namespace {
const nlohmann::json& null_json() {
  static const nlohmann::json kNull;
  return kNull;
}
}  // namespace

JsonFields::JsonFields(const nlohmann::json& object, std::string source) : object_(object), source_(std::move(source)) {
  KV_CHECK(object_.is_object(), source_, ": expected a JSON object");
}

bool JsonFields::has(const std::string& key) const { return object_.contains(key) && !object_.at(key).is_null(); }

void JsonFields::expect_only(std::initializer_list<const char*> allowed) const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    bool known = false;
    for (const char* key : allowed) known = known || it.key() == key;
    if (known) continue;
    std::string list;
    for (const char* key : allowed) list += (list.empty() ? "" : ", ") + std::string(key);
    fail(source_, ": unknown key '", it.key(), "' (allowed: ", list, ")");
  }
}

const nlohmann::json& JsonFields::raw(const std::string& key) const {
  return object_.contains(key) ? object_.at(key) : null_json();
}

const nlohmann::json& JsonFields::require(const std::string& key) const {
  KV_CHECK(has(key), source_, ": missing required key '", key, "'");
  return object_.at(key);
}

std::int64_t JsonFields::get_int(const std::string& key) const {
  const auto& v = require(key);
  KV_CHECK(v.is_number_integer(), source_, ": key '", key, "' must be an integer, got ", v.dump());
  return v.get<std::int64_t>();
}

std::int64_t JsonFields::get_int(const std::string& key, std::int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

double JsonFields::get_double(const std::string& key) const {
  const auto& v = require(key);
  KV_CHECK(v.is_number(), source_, ": key '", key, "' must be a number, got ", v.dump());
  return v.get<double>();
}

double JsonFields::get_double(const std::string& key, double fallback) const {
  return has(key) ? get_double(key) : fallback;
}

bool JsonFields::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& v = object_.at(key);
  KV_CHECK(v.is_boolean(), source_, ": key '", key, "' must be true or false, got ", v.dump());
  return v.get<bool>();
}

std::string JsonFields::get_string(const std::string& key) const {
  const auto& v = require(key);
  KV_CHECK(v.is_string(), source_, ": key '", key, "' must be a string, got ", v.dump());
  return v.get<std::string>();
}

std::string JsonFields::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

}  // namespace kvbench
