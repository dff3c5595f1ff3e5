#pragma once
// The paper-style LongBench table of one or more report.json files (kvbench table), optionally beside the
// published numbers of a CSV such as the shipped published/longbench.csv (published.h).
//
// Rows: the variants of every report, in order; with published rows, each variant is followed by the published
// rows of its policy and budget (the CSV's policy column; budget null -> "full", N tokens -> "N"; eviction rates
// and byte budgets have no published counterpart) that were measured as it was: the same budget definition, KV
// granularity and protocol (published.h's pairing_mismatch). A published row of the same policy and budget that
// differs in any of them is not paired: it is listed under the table with the reason (md, latex), as a row
// marked unpaired with the reason (csv, json), never given a delta. Columns: the subsets any variant has a score
// for (order_subsets: English 16 in the official order first), then the category averages (categories_of),
// then the average. Every average is recomputed as the plain mean of the row's scores in the columns shown (a
// missing score is left out), never copied: a published row is averaged over the same columns as ours. Paired
// rows also carry delta = mean over the subsets both rows have of (ours - published) - the difference of the
// two averages when neither row misses a score.
//
// With coverage (--coverage), four more columns follow the average: the `mean` of the variant's report.json
// coverage statistics (coverage_columns()), as percentages. They describe what the cache kept, not how well
// the model answered, so they enter no average; a variant without a statistic, and every published row, shows
// the missing marker.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/report/published.h"
#include "harness/report/report_file.h"

namespace kvbench::report {

/// One --coverage column: the report.json statistic (coverage.<key>.mean) and the md/latex header. csv and
/// json name the column by its key.
struct CoverageColumn {
  std::string key, header;
};
/// model_coverage "model cov.", mean_layer_coverage "layer cov.", mean_head_overlap "head overlap",
/// evidence_recall "evidence recall", in that order.
const std::vector<CoverageColumn>& coverage_columns();

/// One line of the table: a variant of ours, or a published row matched to the variant above it.
struct TableRow {
  bool published = false;
  std::string run, report_path, variant, policy, budget;  ///< published: variant = method, run = "published" (or "unpaired")
  std::string protocol;                                   ///< ours: question_aware | query_agnostic
  nlohmann::json budget_json;                             ///< ours: as configured; published: the CSV text
  std::string source, model, granularity;                 ///< published rows only
  int note = 0;                                           ///< published rows: footnote number (1-based)
  std::string compared_to;                                ///< published rows: the variant of the row above
  std::string unpaired;                                   ///< published rows not paired: why (else "")
  std::vector<std::optional<double>> scores;              ///< per subset column
  std::vector<std::optional<double>> categories;          ///< per category column
  std::optional<double> average;
  std::optional<double> delta;                            ///< published rows: ours − published (see above)
  std::optional<std::pair<double, double>> ci;            ///< with_ci, ours: the average's 95% interval
  std::vector<std::optional<double>> coverage;            ///< with_coverage: per coverage_columns() entry, the
                                                          ///< mean in percent (0.0138 → 1.38); else empty
};

/// The whole table: columns, rows in order and what to show beside the scores.
struct Table {
  std::vector<std::string> subsets, categories;
  std::vector<TableRow> rows;
  bool multi_run = false;   ///< rows come from more than one report: md/latex show a run column
  bool with_paper = false;  ///< published rows requested: md/csv/json show the delta
  bool with_coverage = false;  ///< --coverage: every format shows the coverage_columns() after the average
  bool with_ci = false;        ///< --ci: every format shows the average's 95% interval right after it
  std::vector<std::string> notes;  ///< footnote i+1: "paper, table; model; granularity, protocol; source"
  /// What our rows were measured under, one line per distinct protocol / budget definition / window /
  /// decode budget, naming its variants (under the table in markdown, as comments in LaTeX, in JSON; reports
  /// written before the fields existed have none).
  std::vector<std::string> labels;
};

/// What build_table adds to our rows.
struct TableOptions {
  std::optional<std::vector<PaperRow>> paper;  ///< --paper: rows to match
  std::string model;                           ///< --model: only paper rows of this model ("" = any)
  bool coverage = false;                       ///< --coverage: coverage columns (see the header comment)
  /// --ci: beside each of our averages its 95% interval, a bootstrap stratified by subset over the per-sample
  /// scores in the run's predictions (10,000 resamples, seed 1; paired.h's stratified_bootstrap_ci).
  bool ci = false;
};

Table build_table(const std::vector<ReportFile>& reports, const TableOptions& options = {});

enum class TableFormat { kMarkdown, kCsv, kLatex, kJson };
/// "md", "csv", "latex" or "json"; throws otherwise.
TableFormat parse_table_format(const std::string& name);
/// Numbers with `digits` decimals (0..6). Missing: "–" (md, latex), empty (csv), null (json). Coverage
/// (with_coverage): columns after the average, md/latex headers from coverage_columns(), csv headers its keys,
/// json an object "coverage" {key: percent} per row.
std::string render_table(const Table& table, TableFormat format, int digits = 2);

/// `value` with `digits` decimals, never "-0.00".
std::string format_fixed(double value, int digits);

}  // namespace kvbench::report
