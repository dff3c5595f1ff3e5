#pragma once
// Reading LongBench JSONL files, validating every row before any model work.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kvbench {

/// One LongBench row.
struct Sample {
  std::string id;       ///< "_id"
  std::string input;    ///< the question (may be empty)
  std::string context;  ///< the long document
  std::vector<std::string> answers;
  std::optional<std::vector<std::string>> all_classes;  ///< trec / lsht label sets
  std::int64_t length = 0;                              ///< words (en) or characters (zh), not tokens
  std::string dataset, language;
  std::vector<std::pair<std::int64_t, std::int64_t>> evidence;  ///< evidence spans as [start, end) byte offsets into context (the file gives characters)
  std::size_t line = 0;                                         ///< 1-based line in its file
};

struct LoadOptions {
  bool skip_bad_rows = false;          ///< skip (and count) malformed rows instead of failing
  std::optional<std::size_t> limit;    ///< keep the first N rows (after id filtering)
  std::vector<std::string> ids;        ///< keep only these _ids (empty: all)
};

struct LoadResult {
  std::vector<Sample> samples;
  std::size_t skipped = 0;            ///< malformed rows skipped (skip_bad_rows)
  std::vector<std::string> problems;  ///< one message per skipped row
};

/// Parses one JSONL line; throws kvbench::Error naming `file`, `line` and the field at fault.
Sample parse_sample(const std::string& text, const std::string& file, std::size_t line);
/// Loads `<data_dir>/<subset>.jsonl` (`subset` may end in _e for LongBench-E).
LoadResult load_subset(const std::string& data_dir, const std::string& subset, const LoadOptions& options = {});
/// The LongBench data folder: `flag` if given, else $LONGBENCH_DIR; throws saying how to set it.
std::string resolve_data_dir(const std::string& flag);

}  // namespace kvbench
