#include "harness/report/table.h"

#include "datasets/subset.h"
#include "harness/common/paths.h"
#include "harness/report/paired.h"
#include "harness/report/sample_scores.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/log.h"

namespace kvbench::report {

namespace {

using nlohmann::json;

const char* const kDash = "\xE2\x80\x93";  // "–"

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

// --- numbers ---------------------------------------------------------------------------------------------

std::optional<double> mean_of(const std::vector<std::optional<double>>& values) {
  double sum = 0;
  int count = 0;
  for (const auto& v : values) {
    if (v) sum += *v, ++count;
  }
  if (count == 0) return std::nullopt;
  return sum / count;
}

// Category and overall averages of a row whose `scores` are filled in.
void fill_averages(TableRow& row, const Table& table) {
  row.categories.clear();
  for (const auto& category : table.categories) {
    std::vector<std::optional<double>> members;
    for (std::size_t i = 0; i < table.subsets.size(); ++i) {
      if (subset_category(table.subsets[i]) == category) members.push_back(row.scores[i]);
    }
    row.categories.push_back(mean_of(members));
  }
  row.average = mean_of(row.scores);
}

std::string budget_key(const ReportVariant& v) {
  if (v.is_full()) return "full";
  if (const auto b = v.token_budget(); b && *b == std::floor(*b)) return std::to_string(static_cast<std::int64_t>(*b));
  return "";  // eviction rates and byte budgets have no published counterpart
}

// The coverage_columns() of a variant in percent; a statistic the report lacks stays missing (full-cache
// variants and hand-written baselines often have no coverage at all).
std::vector<std::optional<double>> coverage_cells(const ReportVariant& v) {
  std::vector<std::optional<double>> cells;
  for (const auto& c : coverage_columns()) {
    std::optional<double> cell;
    if (v.coverage) {
      const auto it = v.coverage->stats.find(c.key);
      if (it != v.coverage->stats.end()) cell = it->second.mean * 100.0;
    }
    cells.push_back(cell);
  }
  return cells;
}

// Column i of a row's coverage; missing also for a row built by hand without coverage cells.
std::optional<double> coverage_cell(const TableRow& row, std::size_t i) {
  return i < row.coverage.size() ? row.coverage[i] : std::nullopt;
}

// --- text output -----------------------------------------------------------------------------------------

std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string pad(const std::string& s, std::size_t width, bool right) {
  const std::size_t w = display_width(s);
  if (w >= width) return s;
  const std::string fill(width - w, ' ');
  return right ? fill + s : s + fill;
}

std::string signed_fixed(double value, int digits) {
  const std::string s = format_fixed(value, digits);
  return s[0] == '-' ? s : "+" + s;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string md_cell(const std::string& s) {
  std::string out;
  for (const char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string latex_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '\\': out += "\\textbackslash{}"; break;
      case '&': out += "\\&"; break;
      case '%': out += "\\%"; break;
      case '$': out += "\\$"; break;
      case '#': out += "\\#"; break;
      case '_': out += "\\_"; break;
      case '{': out += "\\{"; break;
      case '}': out += "\\}"; break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      default: out += c;
    }
  }
  return out;
}

std::string row_label(const TableRow& row) {
  return row.published ? row.variant + " (published [" + std::to_string(row.note) + "])" : row.variant;
}

// The cells of every row as text; `missing` for absent numbers. Columns: [run], variant, budget, subsets,
// categories, avg, [coverage], [delta].
struct TextGrid {
  std::vector<std::string> header;
  std::vector<bool> numeric;
  std::vector<std::vector<std::string>> rows;
};

TextGrid text_grid(const Table& t, int digits, const std::string& missing, bool run_column, bool delta_column) {
  TextGrid g;
  const auto add_col = [&](const std::string& name, bool numeric) {
    g.header.push_back(name);
    g.numeric.push_back(numeric);
  };
  if (run_column) add_col("run", false);
  add_col("variant", false);
  add_col("budget", true);
  for (const auto& s : t.subsets) add_col(s, true);
  for (const auto& c : t.categories) add_col(c, true);
  add_col("avg", true);
  if (t.with_ci) add_col("95% CI", false);
  if (t.with_coverage) {
    for (const auto& c : coverage_columns()) add_col(c.header, true);
  }
  if (delta_column) add_col("\xCE\x94 avg", true);  // "Δ avg"
  const auto num = [&](const std::optional<double>& v) { return v ? format_fixed(*v, digits) : missing; };
  for (const auto& row : t.rows) {
    std::vector<std::string> cells;
    if (run_column) cells.push_back(row.run);
    cells.push_back(row_label(row));
    cells.push_back(row.budget);
    for (const auto& v : row.scores) cells.push_back(num(v));
    for (const auto& v : row.categories) cells.push_back(num(v));
    cells.push_back(num(row.average));
    if (t.with_ci) cells.push_back(row.ci ? "[" + format_fixed(row.ci->first, digits) + ", " + format_fixed(row.ci->second, digits) + "]" : missing);
    if (t.with_coverage) {
      for (std::size_t i = 0; i < coverage_columns().size(); ++i) cells.push_back(num(coverage_cell(row, i)));
    }
    if (delta_column) cells.push_back(row.published ? (row.delta ? signed_fixed(*row.delta, digits) : missing) : "");
    g.rows.push_back(std::move(cells));
  }
  return g;
}

std::string render_markdown(const Table& t, int digits) {
  TextGrid g = text_grid(t, digits, kDash, t.multi_run, t.with_paper);
  for (auto& row : g.rows) {
    for (auto& cell : row) cell = md_cell(cell);
  }
  std::vector<std::size_t> width(g.header.size(), 3);
  for (std::size_t c = 0; c < g.header.size(); ++c) {
    width[c] = std::max(width[c], display_width(md_cell(g.header[c])));
    for (const auto& row : g.rows) width[c] = std::max(width[c], display_width(row[c]));
  }
  std::string out = "|";
  for (std::size_t c = 0; c < g.header.size(); ++c) out += " " + pad(md_cell(g.header[c]), width[c], g.numeric[c]) + " |";
  out += "\n|";
  for (std::size_t c = 0; c < g.header.size(); ++c) {
    out += g.numeric[c] ? " " + std::string(width[c] - 1, '-') + ": |" : " " + std::string(width[c], '-') + " |";
  }
  out += "\n";
  for (const auto& row : g.rows) {
    out += "|";
    for (std::size_t c = 0; c < row.size(); ++c) out += " " + pad(row[c], width[c], g.numeric[c]) + " |";
    out += "\n";
  }
  if (!t.labels.empty()) {
    out += "\n";
    for (const auto& label : t.labels) out += "- " + label + "\n";
  }
  if (!t.notes.empty()) {
    out += "\n";
    for (std::size_t i = 0; i < t.notes.size(); ++i) out += "[" + std::to_string(i + 1) + "] " + t.notes[i] + "\n";
    out += "\n\xCE\x94 avg: ours \xE2\x88\x92 published, over the subsets both rows have.\n";
  }
  if (t.with_paper && t.notes.empty()) out += "\n(no published row matches these variants)\n";
  return out;
}

std::string render_csv(const Table& t, int digits) {
  std::vector<std::string> header = {"run", "variant", "policy", "budget"};
  for (const auto& s : t.subsets) header.push_back(s);
  for (const auto& c : t.categories) header.push_back(c);
  header.push_back("average");
  if (t.with_ci) header.insert(header.end(), {"ci95_low", "ci95_high"});
  if (t.with_coverage) {
    for (const auto& c : coverage_columns()) header.push_back(c.key);
  }
  if (t.with_paper) header.insert(header.end(), {"source", "delta_average"});
  const auto line = [](const std::vector<std::string>& fields) {
    std::string out;
    for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + csv_field(fields[i]);
    return out + "\n";
  };
  const auto num = [&](const std::optional<double>& v) { return v ? format_fixed(*v, digits) : std::string(); };
  std::string out = line(header);
  for (const auto& row : t.rows) {
    std::vector<std::string> f = {row.run, row.variant, row.policy, row.budget};
    for (const auto& v : row.scores) f.push_back(num(v));
    for (const auto& v : row.categories) f.push_back(num(v));
    f.push_back(num(row.average));
    if (t.with_ci) {
      f.push_back(row.ci ? num(row.ci->first) : std::string());
      f.push_back(row.ci ? num(row.ci->second) : std::string());
    }
    if (t.with_coverage) {
      for (std::size_t i = 0; i < coverage_columns().size(); ++i) f.push_back(num(coverage_cell(row, i)));
    }
    if (t.with_paper) {
      f.push_back(row.published ? t.notes[row.note - 1] : "");
      f.push_back(row.published ? num(row.delta) : "");
    }
    out += line(f);
  }
  return out;
}

std::string render_latex(const Table& t, int digits) {
  const TextGrid g = text_grid(t, digits, kDash, t.multi_run, /*delta_column=*/false);
  std::string spec;
  for (std::size_t c = 0; c < g.header.size(); ++c) spec += g.numeric[c] ? "r" : "l";
  std::string out = "% kvbench table: " + suite_of(t.subsets) +
                    " scores; averages recomputed from the scores shown. Needs \\usepackage{booktabs}.\n";
  out += "\\begin{tabular}{" + spec + "}\n\\toprule\n";
  for (std::size_t c = 0; c < g.header.size(); ++c) {
    std::string h = g.header[c] == "avg" ? "Avg." : g.header[c] == "variant" ? "Method" : g.header[c];
    if (g.header[c] == "budget") h = "Budget";
    if (g.header[c] == "run") h = "Run";
    out += (c ? " & " : "") + latex_escape(h);
  }
  out += " \\\\\n\\midrule\n";
  for (std::size_t r = 0; r < g.rows.size(); ++r) {
    if (r > 0 && t.multi_run && !t.rows[r].published && t.rows[r].report_path != t.rows[r - 1].report_path) {
      out += "\\midrule\n";
    }
    for (std::size_t c = 0; c < g.rows[r].size(); ++c) out += (c ? " & " : "") + latex_escape(g.rows[r][c]);
    out += " \\\\\n";
  }
  out += "\\bottomrule\n\\end{tabular}\n";
  for (std::size_t i = 0; i < t.notes.size(); ++i) {
    out += "% [" + std::to_string(i + 1) + "] " + t.notes[i] + "\n";
  }
  for (const auto& label : t.labels) out += "% " + label + "\n";
  return out;
}

std::string render_json(const Table& t, int digits) {
  const double scale = std::pow(10.0, digits);
  const auto num = [&](const std::optional<double>& v) -> nlohmann::ordered_json {
    if (!v) return nullptr;
    const double r = std::round(*v * scale) / scale;
    return r == 0 ? 0.0 : r;  // no -0
  };
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : t.rows) {
    nlohmann::ordered_json r;
    r["published"] = row.published;
    r["run"] = row.run;
    if (!row.published) r["report"] = row.report_path;
    r["variant"] = row.variant;
    r["policy"] = row.policy;
    r["budget"] = row.budget_json;
    if (!row.published) r["protocol"] = row.protocol;
    if (row.published) {
      r["source"] = row.source;
      r["model"] = row.model;
      r["cache_granularity"] = row.cache_granularity;
      r["compared_to"] = row.compared_to;
    }
    nlohmann::ordered_json scores = nlohmann::ordered_json::object(), cats = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < t.subsets.size(); ++i) scores[t.subsets[i]] = num(row.scores[i]);
    for (std::size_t i = 0; i < t.categories.size(); ++i) cats[t.categories[i]] = num(row.categories[i]);
    r["scores"] = scores;
    r["categories"] = cats;
    r["average"] = num(row.average);
    if (t.with_ci)
      r["average_ci95"] = row.ci ? nlohmann::ordered_json::array({num(row.ci->first), num(row.ci->second)})
                                 : nlohmann::ordered_json(nullptr);
    if (t.with_coverage) {
      nlohmann::ordered_json cov = nlohmann::ordered_json::object();
      for (std::size_t i = 0; i < coverage_columns().size(); ++i) {
        cov[coverage_columns()[i].key] = num(coverage_cell(row, i));
      }
      r["coverage"] = cov;
    }
    if (row.published) r["delta_average"] = num(row.delta);
    rows.push_back(r);
  }
  nlohmann::ordered_json out;
  out["subsets"] = t.subsets;
  out["categories"] = t.categories;
  out["labels"] = t.labels;
  out["digits"] = digits;
  out["rows"] = rows;
  return out.dump(2) + "\n";
}

}  // namespace

std::string format_fixed(double value, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, value);
  std::string s = buf;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

const std::vector<CoverageColumn>& coverage_columns() {
  // Which context the cache kept; vocab_coverage (which token ids survive) stays in report.json to keep the
  // table narrow.
  static const std::vector<CoverageColumn> kColumns = {{"model_coverage", "model cov."},
                                                       {"mean_layer_coverage", "layer cov."},
                                                       {"mean_head_overlap", "head overlap"},
                                                       {"evidence_recall", "evidence recall"}};
  return kColumns;
}

std::string paper_method(const std::string& policy) {
  static const std::vector<std::pair<std::string, std::string>> kMap = {
      {"full", "FullKV"},   {"streaming", "StreamingLLM"}, {"h2o", "H2O"},
      {"snapkv", "SnapKV"}, {"pyramidkv", "PyramidKV"},    {"adakv", "Ada-SnapKV"}};
  for (const auto& [ours, theirs] : kMap) {
    if (ours == policy) return theirs;
  }
  return "";
}

std::vector<PaperRow> parse_paper_csv(const std::string& text, const std::string& source) {
  const auto records = parse_csv_records(text, source);
  KV_CHECK(!records.empty(), source, ": empty CSV (expected a header line: source,model,cache_granularity,budget,method,<subsets>...)");
  const auto& header = records[0].fields;
  std::map<std::string, std::size_t> column;
  for (std::size_t i = 0; i < header.size(); ++i) {
    const std::string name = trim(header[i]);
    KV_CHECK(!name.empty(), source, ":", records[0].line, ": header column ", i + 1, " is empty");
    KV_CHECK(column.emplace(name, i).second, source, ":", records[0].line, ": header names column '", name, "' twice");
  }
  for (const char* required : {"source", "model", "budget", "method"}) {
    KV_CHECK(column.count(required), source, ": the header has no '", required,
             "' column (expected source,model,cache_granularity,budget,method,<subsets>...)");
  }
  static const std::set<std::string> kMeta = {"source",       "model",        "cache_granularity", "budget", "method",
                                              "avg_computed", "avg_reported"};
  std::vector<PaperRow> rows;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    KV_CHECK(rec.fields.size() == header.size(), source, ":", rec.line, ": ", rec.fields.size(),
             " fields, but the header has ", header.size());
    PaperRow row;
    row.line = rec.line;
    const auto get = [&](const std::string& name) { return column.count(name) ? trim(rec.fields[column.at(name)]) : ""; };
    row.source = get("source");
    row.model = get("model");
    row.cache_granularity = get("cache_granularity");
    row.budget = get("budget");
    row.method = get("method");
    KV_CHECK(!row.method.empty(), source, ":", rec.line, ": column 'method' is empty");
    KV_CHECK(!row.budget.empty(), source, ":", rec.line, ": column 'budget' is empty");
    for (std::size_t i = 0; i < header.size(); ++i) {
      const std::string name = trim(header[i]);
      if (kMeta.count(name)) continue;
      const std::string cell = trim(rec.fields[i]);
      if (cell.empty()) continue;
      errno = 0;
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      KV_CHECK(end == cell.c_str() + cell.size() && errno == 0 && std::isfinite(v), source, ":", rec.line,
               ": column '", name, "' must be a number or empty, got '", cell, "'");
      row.scores.emplace(name, v);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<PaperRow> load_paper_csv(const std::string& path) {
  return parse_paper_csv(InputFile(path).read_all(std::uint64_t{64} << 20), path);
}

namespace {
// The 95% interval of a row's average over the subsets the table shows (those the variant has a score for).
std::optional<std::pair<double, double>> average_interval(const ReportFile& report, const ReportVariant& v, const Table& t) {
  std::vector<std::string> scored;
  for (const auto& subset : t.subsets)
    if (v.scores.count(subset)) scored.push_back(subset);
  try {
    return report::average_interval(RunLayout(paths::parent(report.path)), v.name, scored);
  } catch (const Error& e) {
    fail("--ci needs the run's predictions beside its report.json: ", e.what());
  }
}

// "query_agnostic protocol; budget: tokens per KV head per layer, observation window included; window 32;
// decode budget 128 every 8 (window scores)".
std::string measurement_label(const ReportVariant& v) {
  std::string label = v.protocol + " protocol";
  if (v.is_full()) return label + "; full cache";
  label += "; budget: " + v.budget_definition;
  label += "; window " + (v.window.is_number_integer() ? std::to_string(v.window.get<std::int64_t>()) : std::string("none"));
  if (v.decode.is_object())
    label += "; decode budget " + v.decode.value("budget", nlohmann::json(0)).dump() + " every " +
             v.decode.value("every", nlohmann::json(1)).dump() + " (" + v.decode.value("scores", std::string("window")) + " scores)";
  return label;
}
}  // namespace

Table build_table(const std::vector<ReportFile>& reports, const TableOptions& options) {
  Table t;
  std::vector<std::string> names;
  for (const auto& r : reports) {
    for (const auto& v : r.variants) {
      for (const auto& [subset, score] : v.scores) names.push_back(subset);
    }
  }
  t.subsets = order_subsets(names);
  t.categories = categories_of(t.subsets);
  t.multi_run = reports.size() > 1;
  t.with_paper = options.paper.has_value();
  t.with_coverage = options.coverage;
  t.with_ci = options.ci;

  if (options.paper && !options.model.empty()) {
    const bool known = std::any_of(options.paper->begin(), options.paper->end(),
                                   [&](const PaperRow& p) { return p.model == options.model; });
    if (!known) {
      std::set<std::string> models;
      for (const auto& p : *options.paper) models.insert(p.model);
      std::string list;
      for (const auto& m : models) list += (list.empty() ? "" : ", ") + m;
      fail("--model '", options.model, "' matches no row of the --paper CSV (its models: ", list, ")");
    }
  }

  std::map<std::string, std::vector<std::string>> labels;  // label → its variants
  std::map<std::string, int> note_number;  // footnote text → its number
  std::set<std::string> matched_models;
  for (const auto& report : reports) {
    for (const auto& v : report.variants) {
      TableRow row;
      row.run = report.run;
      row.report_path = report.path;
      row.variant = v.name;
      row.policy = v.policy;
      row.budget = budget_label(v.budget);
      row.budget_json = v.budget;
      row.protocol = v.protocol;
      if (!v.budget_definition.empty()) labels[measurement_label(v)].push_back(v.name);  // older reports: unlabelled
      for (const auto& s : t.subsets) {
        const auto it = v.scores.find(s);
        row.scores.push_back(it == v.scores.end() ? std::nullopt : std::optional<double>(it->second));
      }
      fill_averages(row, t);
      if (t.with_coverage) row.coverage = coverage_cells(v);
      if (t.with_ci) row.ci = average_interval(report, v, t);
      const TableRow ours = row;
      t.rows.push_back(std::move(row));
      if (!options.paper) continue;

      const std::string method = paper_method(v.policy), budget = budget_key(v);
      if (method.empty() || budget.empty()) continue;
      for (const auto& p : *options.paper) {
        if (p.method != method || p.budget != budget) continue;
        if (!options.model.empty() && p.model != options.model) continue;
        matched_models.insert(p.model);
        TableRow pub;
        pub.published = true;
        pub.run = "published";
        pub.variant = p.method;
        pub.policy = v.policy;
        pub.budget = p.budget;
        pub.budget_json = p.budget;
        pub.source = p.source;
        pub.model = p.model;
        pub.cache_granularity = p.cache_granularity;
        pub.compared_to = v.name;
        std::string note = p.source;
        if (!p.model.empty()) note += "; " + p.model;
        if (!p.cache_granularity.empty()) note += "; " + p.cache_granularity;
        auto [it, inserted] = note_number.emplace(note, static_cast<int>(t.notes.size()) + 1);
        if (inserted) t.notes.push_back(note);
        pub.note = it->second;
        std::vector<std::optional<double>> deltas;
        for (std::size_t i = 0; i < t.subsets.size(); ++i) {
          const auto s = p.scores.find(t.subsets[i]);
          pub.scores.push_back(s == p.scores.end() ? std::nullopt : std::optional<double>(s->second));
          if (pub.scores[i] && ours.scores[i]) deltas.push_back(*ours.scores[i] - *pub.scores[i]);
        }
        fill_averages(pub, t);
        pub.delta = mean_of(deltas);
        if (t.with_coverage) pub.coverage.assign(coverage_columns().size(), std::nullopt);  // papers report none
        t.rows.push_back(std::move(pub));
      }
    }
  }
  for (const auto& [label, names] : labels) {
    std::string list;
    for (std::size_t i = 0; i < names.size() && i < 6; ++i) list += (i ? ", " : "") + names[i];
    if (names.size() > 6) list += ", ... (" + std::to_string(names.size()) + " variants)";
    t.labels.push_back(label + ": " + list);
  }
  if (options.model.empty() && matched_models.size() > 1) {
    log::warn("published rows of ", matched_models.size(),
              " different models match; pick one with --model (see the CSV's model column)");
  }
  return t;
}

TableFormat parse_table_format(const std::string& name) {
  if (name == "md" || name == "markdown") return TableFormat::kMarkdown;
  if (name == "csv") return TableFormat::kCsv;
  if (name == "latex" || name == "tex") return TableFormat::kLatex;
  if (name == "json") return TableFormat::kJson;
  fail("unknown table format '", name, "' (md, csv, latex or json)");
}

std::string render_table(const Table& table, TableFormat format, int digits) {
  KV_CHECK(digits >= 0 && digits <= 6, "--digits must be in 0..6, got ", digits);
  switch (format) {
    case TableFormat::kMarkdown: return render_markdown(table, digits);
    case TableFormat::kCsv: return render_csv(table, digits);
    case TableFormat::kLatex: return render_latex(table, digits);
    case TableFormat::kJson: return render_json(table, digits);
  }
  return "";
}

}  // namespace kvbench::report
