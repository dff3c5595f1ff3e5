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
    if (!row.unpaired.empty()) continue;  // listed under the table instead (unpaired_lines)
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

// "SnapKV at 128 [2], beside snapkv-128: granularity query_head (published) vs kv_head (ours)", one per
// published row of a variant's policy and budget that was measured differently.
std::vector<std::string> unpaired_lines(const Table& t) {
  std::vector<std::string> lines;
  for (const auto& row : t.rows)
    if (!row.unpaired.empty())
      lines.push_back(row.variant + " at " + row.budget + " [" + std::to_string(row.note) + "], beside " +
                      row.compared_to + ": " + row.unpaired);
  return lines;
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
  const auto unpaired = unpaired_lines(t);
  if (!unpaired.empty()) {
    out += "\nPublished rows not paired (measured differently):\n";
    for (const auto& line : unpaired) out += "- " + line + "\n";
  }
  const bool any_paired = std::any_of(t.rows.begin(), t.rows.end(), [](const TableRow& r) { return r.published && r.unpaired.empty(); });
  if (t.with_paper && !any_paired) out += "\n(no published row is paired with these variants)\n";
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
  if (t.with_paper) header.insert(header.end(), {"source", "delta_average", "unpaired"});
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
      f.push_back(row.unpaired);
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
  std::vector<const TableRow*> shown;  // the rows of g, in order (unpaired published rows are not in the grid)
  for (const auto& row : t.rows)
    if (row.unpaired.empty()) shown.push_back(&row);
  for (std::size_t r = 0; r < g.rows.size(); ++r) {
    if (r > 0 && t.multi_run && !shown[r]->published && shown[r]->report_path != shown[r - 1]->report_path) {
      out += "\\midrule\n";
    }
    for (std::size_t c = 0; c < g.rows[r].size(); ++c) out += (c ? " & " : "") + latex_escape(g.rows[r][c]);
    out += " \\\\\n";
  }
  out += "\\bottomrule\n\\end{tabular}\n";
  for (std::size_t i = 0; i < t.notes.size(); ++i) {
    out += "% [" + std::to_string(i + 1) + "] " + t.notes[i] + "\n";
  }
  for (const auto& line : unpaired_lines(t)) out += "% not paired: " + line + "\n";
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
      r["granularity"] = row.granularity;
      r["compared_to"] = row.compared_to;
      r["paired"] = row.unpaired.empty();
      r["unpaired"] = row.unpaired.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(row.unpaired);
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

      const std::string budget = budget_key(v);
      if (budget.empty()) continue;
      const MeasurementKey key = measurement_key(v);
      for (const auto& p : *options.paper) {
        if (p.policy.empty() || p.policy != v.policy || p.budget != budget) continue;
        if (!options.model.empty() && p.model != options.model) continue;
        TableRow pub;
        pub.published = true;
        pub.variant = p.method;
        pub.policy = v.policy;
        pub.budget = p.budget;
        pub.budget_json = p.budget;
        pub.source = p.paper + (p.table.empty() ? "" : ", " + p.table);
        pub.model = p.model;
        pub.granularity = p.granularity;
        pub.compared_to = v.name;
        pub.unpaired = pairing_mismatch(p, key);
        pub.run = pub.unpaired.empty() ? "published" : "unpaired";
        if (pub.unpaired.empty()) matched_models.insert(p.model);
        const std::string note = pub.source + "; " + p.model + "; budget " + p.budget_definition + ", granularity " +
                                 p.granularity + ", protocol " + p.protocol + (p.source.empty() ? "" : "; " + p.source);
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
        if (pub.unpaired.empty()) pub.delta = mean_of(deltas);
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
