#include "datasets/loader.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/log.h"
#include "harness/common/paths.h"

namespace kvbench {
namespace {

constexpr std::uint64_t kMaxDataFileBytes = std::uint64_t{2} << 30;

std::vector<std::string> string_list(const nlohmann::json& v, const std::string& where, const char* field) {
  KV_CHECK(v.is_array(), where, ": field '", field, "' must be a list of strings");
  std::vector<std::string> out;
  for (const auto& x : v) {
    KV_CHECK(x.is_string(), where, ": field '", field, "' must be a list of strings, found ", x.dump());
    out.push_back(x.get<std::string>());
  }
  return out;
}

std::string string_field(const nlohmann::json& row, const std::string& where, const char* field, bool required) {
  if (!row.contains(field) || row[field].is_null()) {
    KV_CHECK(!required, where, ": missing field '", field, "'");
    return "";
  }
  KV_CHECK(row[field].is_string(), where, ": field '", field, "' must be a string");
  return row[field].get<std::string>();
}

}  // namespace

Sample parse_sample(const std::string& text, const std::string& file, std::size_t line) {
  const std::string where = file + ":" + std::to_string(line);
  const nlohmann::json row = parse_json(text, where);
  KV_CHECK(row.is_object(), where, ": a row must be a JSON object");
  Sample s;
  s.line = line;
  s.context = string_field(row, where, "context", true);
  s.input = string_field(row, where, "input", true);
  s.id = string_field(row, where, "_id", true);
  s.dataset = string_field(row, where, "dataset", false);
  s.language = string_field(row, where, "language", false);
  KV_CHECK(row.contains("answers"), where, ": missing field 'answers'");
  s.answers = string_list(row["answers"], where, "answers");
  KV_CHECK(row.contains("length") && row["length"].is_number_integer(), where,
           ": field 'length' must be an integer");
  s.length = row["length"].get<std::int64_t>();
  if (row.contains("all_classes") && !row["all_classes"].is_null())
    s.all_classes = string_list(row["all_classes"], where, "all_classes");
  if (row.contains("evidence") && !row["evidence"].is_null()) {
    KV_CHECK(row["evidence"].is_array(), where, ": field 'evidence' must be a list of [start, end) pairs");
    // Spans count characters (code points, as Python indexes `context`); stored as byte offsets.
    std::vector<std::int64_t> byte_of_char;  // byte offset of every code point, plus the end
    for (std::size_t i = 0; i < s.context.size(); ++i)
      if ((static_cast<unsigned char>(s.context[i]) & 0xC0) != 0x80) byte_of_char.push_back(static_cast<std::int64_t>(i));
    byte_of_char.push_back(static_cast<std::int64_t>(s.context.size()));
    const std::int64_t chars = static_cast<std::int64_t>(byte_of_char.size()) - 1;
    for (const auto& span : row["evidence"]) {
      KV_CHECK(span.is_array() && span.size() == 2 && span[0].is_number_integer() && span[1].is_number_integer(), where,
               ": field 'evidence' must be a list of [start, end) integer pairs");
      const std::int64_t a = span[0].get<std::int64_t>(), b = span[1].get<std::int64_t>();
      KV_CHECK(0 <= a && a <= b && b <= chars, where, ": evidence span [", a, ", ", b, ") is outside the context (",
               chars, " characters)");
      s.evidence.emplace_back(byte_of_char[a], byte_of_char[b]);
    }
  }
  return s;
}

LoadResult load_subset(const std::string& data_dir, const std::string& subset, const LoadOptions& options) {
  check_directory(data_dir, "the LongBench data folder");
  const std::string path = paths::join(data_dir, subset + ".jsonl");
  KV_CHECK(paths::exists(path), "LongBench file '", path, "' does not exist (unpack THUDM/LongBench's data.zip "
           "with `kvbench data longbench --from data.zip --dir DIR` and point --data-dir or $LONGBENCH_DIR at DIR)");
  LineReader in(path);  // a regular file, streamed line by line, each line within kMaxLineBytes
  // Every row is kept for the plan: a file far beyond LongBench's (its largest is about 100 MB) is refused first.
  KV_CHECK(in.size() <= kMaxDataFileBytes, "'", path, "' is ", in.size() >> 20, " MiB, more than the ",
           kMaxDataFileBytes >> 20, " MiB kvbench reads of one subset");
  LoadResult result;
  std::set<std::string> ids;  // every _id given so far, so that a repeated one is made unique
  std::size_t repeated = 0;
  for (std::string text; in.next(text);) {
    if (text.empty() || text == "\r") continue;
    try {
      Sample s = parse_sample(text, path, in.line_number());
      // A repeated _id (resume and the reports key rows by it) becomes "<_id>#2", "#3", ...: the first free
      // suffix, decided by the rows above it only, so the same file always gives the same ids.
      if (!ids.insert(s.id).second) {
        std::string unique;
        for (int k = 2; !ids.insert(unique = s.id + "#" + std::to_string(k)).second; ++k) {}
        s.id = unique;
        ++repeated;
      }
      if (!options.ids.empty() && std::find(options.ids.begin(), options.ids.end(), s.id) == options.ids.end()) continue;
      result.samples.push_back(std::move(s));
    } catch (const Error& e) {
      if (!options.skip_bad_rows) throw;
      ++result.skipped;
      result.problems.emplace_back(e.what());
    }
    if (options.limit && result.samples.size() >= *options.limit) break;
  }
  if (repeated > 0)
    log::warn(path, ": ", repeated, " row(s) repeat the _id of an earlier row; each is kept under '<_id>#2' (#3, ...)");
  return result;
}

std::string resolve_data_dir(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("LONGBENCH_DIR");
  KV_CHECK(env != nullptr && *env, "no LongBench data folder: pass --data-dir DIR or set LONGBENCH_DIR (a folder "
           "made by `kvbench data longbench --from data.zip --dir DIR`)");
  return env;
}

}  // namespace kvbench
