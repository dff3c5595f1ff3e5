#include "harness/report/published.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <tuple>

#include "harness/common/error.h"
#include "harness/common/files.h"

namespace kvbench::report {

namespace {

// --- CSV -------------------------------------------------------------------------------------------------

struct CsvRecord {
  std::vector<std::string> fields;
  int line = 0;
};

std::vector<CsvRecord> parse_csv_records(const std::string& text, const std::string& source) {
  std::vector<CsvRecord> records;
  CsvRecord current;
  std::string field;
  bool in_quotes = false, field_started = false;
  int line = 1;
  current.line = 1;
  const auto end_record = [&] {
    current.fields.push_back(field);
    field.clear();
    field_started = false;
    const bool blank = current.fields.size() == 1 && current.fields[0].empty();
    if (!blank) records.push_back(current);
    current = CsvRecord{};
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"') {
      KV_CHECK(!field_started, source, ":", line, ": a quote inside an unquoted field");
      in_quotes = true;
      field_started = true;
    } else if (c == ',') {
      current.fields.push_back(field);
      field.clear();
      field_started = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
      current.line = line;
    } else {
      field += c;
      field_started = true;
    }
  }
  KV_CHECK(!in_quotes, source, ":", line, ": unterminated quoted field");
  if (!field.empty() || !current.fields.empty()) end_record();
  return records;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

const std::vector<std::string> kColumns = {"paper",       "table",    "model",  "method", "policy", "budget",
                                           "budget_definition", "granularity", "protocol", "subset", "score", "source"};

void check_value(const std::string& value, const std::vector<std::string>& allowed, const std::string& source, int line,
                 const std::string& column) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  fail(source, ":", line, ": column '", column, "' must be one of ", list, ", got '", value, "'");
}

}  // namespace

const std::vector<std::string>& budget_definitions() {
  static const std::vector<std::string> kValues = {"none", "tokens_per_head_window_included",
                                                   "tokens_per_head_window_excluded", "evict_rate", "kv_bytes", "unknown"};
  return kValues;
}

const std::vector<std::string>& granularities() {
  static const std::vector<std::string> kValues = {"kv_head", "query_head", "any", "unknown"};
  return kValues;
}

const std::vector<std::string>& protocols() {
  static const std::vector<std::string> kValues = {"question_aware", "query_agnostic", "any", "unknown"};
  return kValues;
}

std::vector<PaperRow> parse_paper_csv(const std::string& text, const std::string& source) {
  const auto records = parse_csv_records(text, source);
  std::string expected;
  for (const auto& c : kColumns) expected += (expected.empty() ? "" : ",") + c;
  KV_CHECK(!records.empty(), source, ": empty CSV (expected a header line: ", expected, ")");
  std::map<std::string, std::size_t> column;
  const auto& header = records[0].fields;
  for (std::size_t i = 0; i < header.size(); ++i) {
    const std::string name = trim(header[i]);
    KV_CHECK(!name.empty(), source, ":", records[0].line, ": header column ", i + 1, " is empty");
    KV_CHECK(column.emplace(name, i).second, source, ":", records[0].line, ": header names column '", name, "' twice");
  }
  for (const auto& c : kColumns)
    KV_CHECK(column.count(c), source, ": the header has no '", c, "' column (published numbers have the columns ",
             expected, "; see published/README.md)");
  std::vector<PaperRow> rows;
  std::map<std::tuple<std::string, std::string, std::string, std::string, std::string, std::string, std::string,
                      std::string, std::string, std::string>, std::size_t> index;  // every column but subset and score
  for (std::size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    KV_CHECK(rec.fields.size() == header.size(), source, ":", rec.line, ": ", rec.fields.size(),
             " fields, but the header has ", header.size());
    const auto get = [&](const std::string& name) { return trim(rec.fields[column.at(name)]); };
    for (const char* required : {"paper", "model", "method", "budget", "subset", "score"})
      KV_CHECK(!get(required).empty(), source, ":", rec.line, ": column '", required, "' is empty");
    PaperRow row{get("paper"), get("table"), get("model"), get("method"), get("policy"), get("budget"),
                 get("budget_definition"), get("granularity"), get("protocol"), get("source"), {}, rec.line};
    check_value(row.budget_definition, budget_definitions(), source, rec.line, "budget_definition");
    check_value(row.granularity, granularities(), source, rec.line, "granularity");
    check_value(row.protocol, protocols(), source, rec.line, "protocol");
    const bool tokens = !row.budget.empty() && row.budget.find_first_not_of("0123456789") == std::string::npos;
    KV_CHECK(row.budget == "full" || tokens, source, ":", rec.line, ": column 'budget' must be full or a number of "
             "tokens, got '", row.budget, "'");
    const std::string subset = get("subset"), cell = get("score");
    errno = 0;
    char* end = nullptr;
    const double score = std::strtod(cell.c_str(), &end);
    KV_CHECK(end == cell.c_str() + cell.size() && errno == 0 && std::isfinite(score), source, ":", rec.line,
             ": column 'score' must be a number, got '", cell, "'");
    const auto key = std::make_tuple(row.paper, row.table, row.model, row.method, row.policy, row.budget,
                                     row.budget_definition, row.granularity, row.protocol, row.source);
    auto [it, fresh] = index.emplace(key, rows.size());
    if (fresh) rows.push_back(row);
    KV_CHECK(rows[it->second].scores.emplace(subset, score).second, source, ":", rec.line, ": a second score of ",
             subset, " for ", row.method, " at budget ", row.budget, " (", row.paper, ", ", row.table, ", ", row.model, ")");
  }
  return rows;
}

std::vector<PaperRow> load_paper_csv(const std::string& path) {
  return parse_paper_csv(InputFile(path).read_all(std::uint64_t{64} << 20), path);
}

MeasurementKey measurement_key(const ReportVariant& v) {
  MeasurementKey key;
  if (v.is_full()) key.budget_definition = "none";
  else if (v.token_budget()) key.budget_definition = "tokens_per_head_window_included";  // kvbench's token budgets
  else if (v.budget.is_object() && v.budget.contains("evict")) key.budget_definition = "evict_rate";
  else if (v.budget.is_object() && v.budget.contains("kv_bytes")) key.budget_definition = "kv_bytes";
  else key.budget_definition = "unknown";
  key.granularity = v.granularity.empty() ? "kv_head" : v.granularity;
  key.protocol = v.protocol;
  return key;
}

std::string pairing_mismatch(const PaperRow& row, const MeasurementKey& ours) {
  std::string why;
  const auto compare = [&](const char* what, const std::string& theirs, const std::string& mine, bool any_ok) {
    if (theirs == mine || (any_ok && theirs == "any")) return;
    why += why.empty() ? "" : "; ";
    why += theirs == "unknown" ? std::string("the published ") + what + " is unknown"
                               : std::string(what) + " " + theirs + " (published) vs " + mine + " (ours)";
  };
  compare("budget definition", row.budget_definition, ours.budget_definition, false);
  compare("granularity", row.granularity, ours.granularity, true);
  compare("protocol", row.protocol, ours.protocol, true);
  return why;
}

}  // namespace kvbench::report
