#pragma once
// Published LongBench numbers (published/longbench.csv; format in published/README.md): one score per line with
// its provenance (paper, table, model, the paper's method and kvbench's policy, budget) and what it was measured
// under (budget definition, KV granularity, protocol). A published score is set beside one of ours only when
// the three agree: a per-query-head budget of 128 keeps g times the tokens of a per-KV-head one.
// No libtorch.

#include <map>
#include <string>
#include <vector>

#include "harness/report/report_file.h"

namespace kvbench::report {

/// One published result: a method's per-subset scores in one table of a paper, for one model and budget (the
/// CSV lines that share every column but subset and score).
struct PaperRow {
  std::string paper, table, model, method;
  std::string policy;             ///< kvbench's policy of the method ("" when kvbench has none)
  std::string budget;             ///< "full" or tokens ("128")
  std::string budget_definition;  ///< budget_definitions()
  std::string granularity;        ///< granularities()
  std::string protocol;           ///< protocols()
  std::string source;             ///< where the numbers were read
  std::map<std::string, double> scores;
  int line = 0;  ///< the CSV line of its first score
};

/// The values each measurement column may take; "unknown" pairs with nothing, "any" (granularity and protocol
/// of a full cache, which keeps every token whatever the heads or the question) with everything.
const std::vector<std::string>& budget_definitions();  ///< none, tokens_per_head_window_included, ..., unknown
const std::vector<std::string>& granularities();       ///< kv_head, query_head, any, unknown
const std::vector<std::string>& protocols();           ///< question_aware, query_agnostic, any, unknown

/// Parses the CSV (RFC 4180 quoting); throws kvbench::Error naming `source`, the line and the column at fault.
std::vector<PaperRow> parse_paper_csv(const std::string& text, const std::string& source);
std::vector<PaperRow> load_paper_csv(const std::string& path);

/// What one of our variants was measured under, in the CSV's terms: the budget definition from its budget
/// (null: none; tokens: tokens_per_head_window_included; {"evict"}: evict_rate; {"kv_bytes"}: kv_bytes), its
/// granularity (report.json's, else kv_head: kvbench's caches are per KV head) and its protocol.
struct MeasurementKey {
  std::string budget_definition, granularity, protocol;
};
MeasurementKey measurement_key(const ReportVariant& v);

/// Why `row` cannot be set beside a variant measured under `ours` ("granularity query_head (published) vs
/// kv_head (ours)"; several reasons joined by "; "), or "" when it can.
std::string pairing_mismatch(const PaperRow& row, const MeasurementKey& ours);

}  // namespace kvbench::report
