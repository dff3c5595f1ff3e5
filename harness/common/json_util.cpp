#include "harness/common/json_util.h"

#include <cmath>
#include <vector>

#include "harness/common/error.h"
#include "harness/common/files.h"

namespace kvbench {
namespace {

using json = nlohmann::json;

// Builds the document from the parser's events (nlohmann's SAX interface), refusing what the DOM parser would
// silently accept (a repeated key: the last one wins) or could not survive later (unbounded nesting: every copy,
// dump and destruction recurses). Errors throw kvbench::Error at once, naming the key path.
class Builder {
 public:
  Builder(std::string_view text, const std::string& source) : text_(text), source_(source) {}
  json take() { return std::move(root_); }

  bool null() { return add(json(nullptr)); }
  bool boolean(bool v) { return add(json(v)); }
  bool number_integer(json::number_integer_t v) { return add(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return add(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) { return add(json(v)); }
  bool string(json::string_t& v) { return add(json(std::move(v))); }
  bool binary(json::binary_t&) { fail(source_, ": invalid JSON: binary values are not JSON"); }
  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    json& object = *stack_.back();
    KV_CHECK(!object.contains(k), source_, ": key '", k, "' appears twice in ", where(),
             " (JSON keys must be unique; which one was meant is ambiguous)");
    key_ = std::move(k);
    return true;
  }
  template <typename Exception>
  bool parse_error(std::size_t position, const std::string&, const Exception& e) {
    std::size_t line = 1, column = 1;
    // `position` counts the characters read, the offending one included: the column is that character's.
    for (std::size_t i = 0; i + 1 < position && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string reason = json_error_text(e);
    // "parse error at line 1, column 5: syntax error while parsing value - invalid literal; expected ..."
    if (const auto colon = reason.find(": "); reason.rfind("parse error", 0) == 0 && colon != std::string::npos)
      reason.erase(0, colon + 2);
    if (e.id == 406) reason = "a number too large for a double (number overflow)";
    // One line of JSON (a JSONL row, whose source names its line already): the column alone.
    const bool one_line = text_.find('\n') == std::string_view::npos;
    fail(source_, ": invalid JSON at ", one_line ? "" : "line " + std::to_string(line) + ", ", "column ", column, ": ",
         reason);
  }

 private:
  // "the top level", "'model.random'", "'policies[2]'".
  std::string where() const {
    std::string p;
    for (const std::string& part : path_) p += (part.front() == '[' || p.empty() ? "" : ".") + part;
    return p.empty() ? "the top level" : "'" + p + "'";
  }
  json* insert(json&& value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(value));
      return &top.back();
    }
    json& slot = top[key_];
    slot = std::move(value);
    return &slot;
  }
  bool add(json value) { return insert(std::move(value)) != nullptr; }
  bool open(json container) {
    KV_CHECK(static_cast<int>(stack_.size()) < kMaxJsonDepth, source_, ": JSON nested deeper than ", kMaxJsonDepth,
             " levels (at ", where(), "); kvbench's files need far fewer");
    std::string part;
    if (!stack_.empty()) part = stack_.back()->is_array() ? "[" + std::to_string(stack_.back()->size()) + "]" : key_;
    json* added = insert(std::move(container));
    stack_.push_back(added);
    if (stack_.size() > 1) path_.push_back(part);
    return true;
  }
  bool close() {
    stack_.pop_back();
    if (!path_.empty() && path_.size() >= stack_.size()) path_.pop_back();
    return true;
  }

  std::string_view text_;
  const std::string& source_;
  json root_;
  std::vector<json*> stack_;
  std::vector<std::string> path_;  // the key or [index] of each open container below the root
  std::string key_;
};

}  // namespace

json parse_json(std::string_view text, const std::string& source, bool allow_comments) {
  Builder builder(text, source);
  try {
    json::sax_parse(text.begin(), text.end(), &builder, nlohmann::detail::input_format_t::json, /*strict=*/true,
                    allow_comments);
  } catch (const json::exception& e) {  // the lexer's own complaints reach parse_error; this is a safety net
    fail(source, ": invalid JSON: ", json_error_text(e));
  }
  return builder.take();
}

json read_json_file(const std::string& path, bool allow_comments, std::uint64_t max_bytes) {
  return parse_json(InputFile(path).read_all(max_bytes), path, allow_comments);
}

json read_own_json_file(const std::string& path) {
  return parse_json(InputFile(path, InputFile::kOwnState).read_all(kMaxJsonFileBytes), path);
}

void write_json_file(const std::string& path, const json& value) {
  write_file_atomic(path, value.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

json json_or_string(const std::string& value, const std::string& source) {
  // Only what looks like a JSON value is parsed (so that "abc" stays a string without an error); a value that
  // looks like JSON but is not (an unclosed "[1, 2") is an error rather than a string.
  const auto first = value.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return value;
  const char c = value[first];
  const bool looks_json = c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || value == "true" ||
                          value == "false" || value == "null";
  if (!looks_json) return value;
  if (c == '-' || (c >= '0' && c <= '9')) {  // a number, or a string that starts with a digit ("8bit", "1/4")
    try {
      return parse_json(value, source);
    } catch (const Error&) {
      return value;
    }
  }
  return parse_json(value, source);
}

std::string json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "a list";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "a value";
  }
}

std::optional<std::int64_t> json_int64(const json& v) {
  if (v.is_number_unsigned()) {
    if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(v.get<std::uint64_t>());
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return std::nullopt;
}

namespace {
const json& null_json() {
  static const json kNull;
  return kNull;
}

// A value for a message: short, and never invalid UTF-8 (dump() would throw on it).
std::string shown(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}
}  // namespace

JsonFields::JsonFields(const json& object, std::string source) : object_(object), source_(std::move(source)) {
  KV_CHECK(object_.is_object(), source_, ": expected a JSON object, got ", json_type_name(object_));
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

const json& JsonFields::raw(const std::string& key) const { return object_.contains(key) ? object_.at(key) : null_json(); }

const json& JsonFields::require(const std::string& key) const {
  KV_CHECK(has(key), source_, ": missing required key '", key, "'");
  return object_.at(key);
}

std::int64_t JsonFields::get_int(const std::string& key) const {
  const auto& v = require(key);
  KV_CHECK(v.is_number_integer(), source_, ": key '", key, "' must be an integer, got ", shown(v));
  const std::optional<std::int64_t> i = json_int64(v);
  KV_CHECK(i.has_value(), source_, ": key '", key, "' is out of range (at most ", std::numeric_limits<std::int64_t>::max(),
           "), got ", shown(v));
  return *i;
}

std::int64_t JsonFields::get_int(const std::string& key, std::int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

std::int64_t JsonFields::get_int_in(const std::string& key, std::int64_t lo, std::int64_t hi,
                                    std::optional<std::int64_t> fallback) const {
  if (!has(key) && fallback) return *fallback;
  const auto& v = require(key);
  KV_CHECK(v.is_number_integer(), source_, ": key '", key, "' must be an integer, got ", shown(v));
  const std::optional<std::int64_t> i = json_int64(v);
  KV_CHECK(i && *i >= lo && *i <= hi, source_, ": key '", key, "' must be between ", lo, " and ", hi, ", got ", shown(v));
  return *i;
}

std::uint64_t JsonFields::get_seed(const std::string& key, std::uint64_t fallback) const {
  return static_cast<std::uint64_t>(get_int_in(key, 0, std::numeric_limits<std::int64_t>::max(),
                                               static_cast<std::int64_t>(fallback)));
}

double JsonFields::get_double(const std::string& key) const {
  const auto& v = require(key);
  KV_CHECK(v.is_number(), source_, ": key '", key, "' must be a number, got ", shown(v));
  return v.get<double>();
}

double JsonFields::get_double(const std::string& key, double fallback) const {
  return has(key) ? get_double(key) : fallback;
}

double JsonFields::get_double_in(const std::string& key, double lo, double hi, std::optional<double> fallback) const {
  if (!has(key) && fallback) return *fallback;
  const double v = get_double(key);
  KV_CHECK(std::isfinite(v) && v >= lo && v <= hi, source_, ": key '", key, "' must be between ", lo, " and ", hi,
           ", got ", shown(raw(key)));
  return v;
}

bool JsonFields::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& v = object_.at(key);
  KV_CHECK(v.is_boolean(), source_, ": key '", key, "' must be true or false, got ", shown(v));
  return v.get<bool>();
}

std::string JsonFields::get_string(const std::string& key) const {
  const auto& v = require(key);
  KV_CHECK(v.is_string(), source_, ": key '", key, "' must be a string, got ", shown(v));
  return v.get<std::string>();
}

std::string JsonFields::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

std::string JsonFields::get_nonempty(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  std::string s = get_string(key);
  KV_CHECK(!s.empty(), source_, ": key '", key, "' must not be empty (leave it out for the default)");
  return s;
}

}  // namespace kvbench
