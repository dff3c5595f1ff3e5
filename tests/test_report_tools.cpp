// The report.json tools: loading and validation (report_file.h), `kvbench table` in all four formats and
// beside published numbers (table.h), `kvbench check` and its exit codes (check.h), and
// `kvbench plot --report` (report_plots.h).
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/report/check.h"
#include "harness/report/report_file.h"
#include "harness/report/report_plots.h"
#include "harness/report/table.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using nlohmann::json;
using report::ReportFile;
using test::TempDir;

bool have_program(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// Two hand-made reports. alpha scores narrativeqa, qasper, hotpotqa; beta narrativeqa and trec, and has a
// variant whose budget is an eviction rate (resolved to 300.5 tokens on average).
json alpha_json() {
  return json::parse(R"json({
    "run": "alpha", "kvbench_version": "0.1.0", "subsets": ["qasper", "narrativeqa", "hotpotqa"],
    "variants": [
      {"name": "full", "policy": "full", "describe": "full()", "budget": null, "params": {},
       "scores": {"narrativeqa": 20.0, "qasper": 30.0, "hotpotqa": 40.0}, "average": 30.0,
       "n": {"narrativeqa": 2, "qasper": 2, "hotpotqa": 2}, "errors": {"narrativeqa": 0, "qasper": 0, "hotpotqa": 0},
       "an_unknown_field": [1, 2, 3]},
      {"name": "snapkv-128", "policy": "snapkv", "budget": 128, "params": {"window": 32},
       "scores": {"narrativeqa": 18.5, "qasper": 25.3, "hotpotqa": 33.0}, "average": 25.6,
       "categories": {"single-doc QA": 21.9, "multi-doc QA": 33.0},
       "buckets": {"qasper_e": {"0-4k": 22.05, "4-8k": 21.52, "8k+": 19.21}},
       "coverage": {"model_coverage": {"mean": 0.3, "p10": 0.2, "p50": 0.3, "p90": 0.4},
                    "layer_coverage_curve": [0.5, 0.4, 0.3, 0.35], "head_overlap_curve": [0.1, 0.1, 0.1, 0.1]},
       "timing": {"prefill_seconds": 1.5, "decode_seconds": 3.0},
       "kv_bytes": {"mean": 1.2e8, "max": 1.4e8},
       "budget_tokens": {"mean": 128, "min": 128, "max": 128}}
    ],
    "peak_device_memory_bytes": 17000000000, "wall_seconds": 12.5})json");
}

json beta_json() {
  return json::parse(R"json({
    "run": "beta", "subsets": ["narrativeqa", "trec"],
    "variants": [
      {"name": "streaming-64", "policy": "streaming", "budget": 64,
       "scores": {"narrativeqa": 10.0, "trec": 55.5}, "average": 32.75,
       "coverage": {"layer_coverage_curve": [0.2, 0.2, 0.25, 0.2]}},
      {"name": "snapkv_evict", "policy": "snapkv", "budget": {"evict": 0.75},
       "scores": {"narrativeqa": 15.0, "trec": 50.0}, "budget_tokens": {"mean": 300.5, "min": 200, "max": 400}}
    ]})json");
}

std::vector<ReportFile> both() {
  return {report::parse_report(alpha_json(), "alpha.json"), report::parse_report(beta_json(), "beta.json")};
}

// Writes alpha.json and beta.json into `dir`.
void write_fixtures(const TempDir& dir) {
  test::write_file(dir.file("alpha.json"), alpha_json().dump(2));
  test::write_file(dir.file("beta.json"), beta_json().dump(2));
}

// --- report.json ------------------------------------------------------------------------------------------

TEST(ReportFile, ParsesEveryField) {
  const ReportFile r = report::parse_report(alpha_json(), "alpha.json");
  EXPECT_EQ(r.run, "alpha");
  EXPECT_EQ(r.kvbench_version, "0.1.0");
  EXPECT_EQ(r.subsets, (std::vector<std::string>{"qasper", "narrativeqa", "hotpotqa"}));
  ASSERT_EQ(r.variants.size(), 2u);
  EXPECT_DOUBLE_EQ(*r.wall_seconds, 12.5);
  const auto& full = r.variants[0];
  EXPECT_TRUE(full.is_full());
  EXPECT_TRUE(full.budget.is_null());
  EXPECT_EQ(full.n.at("qasper"), 2);
  EXPECT_FALSE(full.coverage.has_value());
  const auto& s = *r.find("snapkv-128");
  EXPECT_FALSE(s.is_full());
  EXPECT_EQ(s.params, json({{"window", 32}}));
  EXPECT_DOUBLE_EQ(s.scores.at("qasper"), 25.3);
  EXPECT_DOUBLE_EQ(*s.average, 25.6);
  EXPECT_DOUBLE_EQ(s.buckets.at("qasper_e").at("8k+"), 19.21);
  EXPECT_DOUBLE_EQ(s.categories.at("single-doc QA"), 21.9);
  ASSERT_TRUE(s.coverage.has_value());
  EXPECT_DOUBLE_EQ(s.coverage->stats.at("model_coverage").p90, 0.4);
  EXPECT_EQ(s.coverage->layer_coverage_curve, (std::vector<double>{0.5, 0.4, 0.3, 0.35}));
  EXPECT_DOUBLE_EQ(s.timing.at("decode_seconds"), 3.0);
  EXPECT_DOUBLE_EQ(*s.kv_bytes_max, 1.4e8);
  EXPECT_DOUBLE_EQ(*s.token_budget(), 128);
  EXPECT_EQ(r.find("nope"), nullptr);

  const ReportFile b = report::parse_report(beta_json(), "beta.json");
  EXPECT_FALSE(b.variants[1].token_budget().has_value());
  EXPECT_DOUBLE_EQ(*b.variants[1].budget_for_axis(), 300.5);  // the resolved mean budget
}

// Shapes the runner writes (harness/runner/report_builder.cpp): null for a LongBench-E bucket without samples,
// for budget_tokens without samples, for peak_device_memory_bytes on the CPU and for the average of a variant
// without scores; extra top-level fields; a {"tokens": n} budget from a hand-written file.
TEST(ReportFile, AcceptsNullsTheRunnerWrites) {
  json j = alpha_json();
  j["peak_device_memory_bytes"] = nullptr;
  j["peak_host_rss_bytes"] = 123;
  j["variants"][1]["buckets"]["qasper_e"]["8k+"] = nullptr;
  j["variants"][1]["budget_tokens"] = nullptr;
  j["variants"][1]["coverage"]["evidence_recall"] = nullptr;
  j["variants"][1]["budget"] = {{"tokens", 128}};
  j["variants"][0]["scores"] = json::object();
  j["variants"][0]["average"] = nullptr;
  const ReportFile r = report::parse_report(j, "r.json");
  EXPECT_FALSE(r.peak_device_memory_bytes.has_value());
  const auto& s = r.variants[1];
  EXPECT_EQ(s.buckets.at("qasper_e").size(), 2u);
  EXPECT_FALSE(s.budget_tokens.has_value());
  EXPECT_EQ(s.coverage->stats.count("evidence_recall"), 0u);
  EXPECT_DOUBLE_EQ(*s.token_budget(), 128);
  EXPECT_EQ(report::budget_label(s.budget), "128");
  EXPECT_FALSE(r.variants[0].average.has_value());
  // A variant without scores: a row of dashes, and columns only for subsets somebody scored.
  const auto table = report::build_table({r});
  EXPECT_EQ(table.subsets, (std::vector<std::string>{"narrativeqa", "qasper", "hotpotqa"}));
  EXPECT_NE(report::render_table(table, report::TableFormat::kCsv).find("alpha,full,full,full,,,,,,\n"),
            std::string::npos);
}

TEST(ReportFile, ErrorsNameFileAndJsonPath) {
  const auto error_with = [](const std::function<void(json&)>& edit) {
    json j = alpha_json();
    edit(j);
    return test::error_of([&] { report::parse_report(j, "r.json"); });
  };
  EXPECT_EQ(error_with([](json& j) { j["variants"][1]["scores"]["qasper"] = "25.3"; }),
            "r.json: variants[1].scores.qasper must be a number, got string \"25.3\"");
  EXPECT_EQ(error_with([](json& j) { j["variants"][0].erase("policy"); }), "r.json: missing field variants[0].policy");
  EXPECT_EQ(error_with([](json& j) { j.erase("run"); }), "r.json: missing field run");
  EXPECT_EQ(error_with([](json& j) { j["subsets"][1] = 7; }), "r.json: subsets[1] must be a string, got number 7");
  EXPECT_EQ(error_with([](json& j) { j["variants"][0]["n"]["qasper"] = -1; }),
            "r.json: variants[0].n.qasper must be a non-negative integer, got number -1");
  EXPECT_EQ(error_with([](json& j) { j["variants"][1]["categories"]["single-doc QA"] = nullptr; }),
            "r.json: variants[1].categories.\"single-doc QA\" must be a number, got null");
  EXPECT_EQ(error_with([](json& j) { j["variants"][1]["coverage"]["layer_coverage_curve"][2] = true; }),
            "r.json: variants[1].coverage.layer_coverage_curve[2] must be a number, got boolean true");
  EXPECT_EQ(error_with([](json& j) { j["variants"][1]["coverage"]["model_coverage"].erase("p50"); }),
            "r.json: missing field variants[1].coverage.model_coverage.p50");
  EXPECT_EQ(error_with([](json& j) { j["variants"][1]["budget"] = "128"; }),
            "r.json: variants[1].budget must be null (full cache), a number of tokens, or an object such as "
            "{\"evict\": 0.9}, got string \"128\"");
  EXPECT_EQ(error_with([](json& j) { j["variants"][1]["budget_tokens"] = {{"mean", 1}}; }),
            "r.json: missing field variants[1].budget_tokens.min");
  EXPECT_EQ(error_with([](json& j) { j["variants"][1]["name"] = "full"; }),
            "r.json: variants[1].name \"full\" is used by an earlier variant (variant names must be unique)");
  EXPECT_EQ(error_with([](json& j) { j["variants"] = json::object(); }),
            "r.json: variants must be an array, got object {}");
  EXPECT_EQ(error_with([](json& j) { j["variants"][0]["average"] = "x"; }),
            "r.json: variants[0].average must be a number or null, got string \"x\"");
  EXPECT_EQ(test::error_of([] { report::parse_report(json::array(), "r.json"); }),
            "r.json: expected a JSON object (a kvbench report.json), got array []");

  TempDir dir;
  test::write_file(dir.file("broken.json"), "{\"run\": ");
  EXPECT_NE(test::error_of([&] { report::load_report(dir.file("broken.json")); }).find(dir.file("broken.json") + ": invalid JSON"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { report::load_report(dir.file("absent.json")); }).find("absent.json"), std::string::npos);
}

TEST(ReportFile, SubsetOrderAndCategoriesComeFromTheRegistry) {
  EXPECT_EQ(report::order_subsets({"custom", "lcc", "dureader", "trec", "narrativeqa", "qasper_e", "trec"}),
            (std::vector<std::string>{"narrativeqa", "trec", "lcc", "dureader", "custom", "qasper_e"}));
  EXPECT_EQ(report::subset_category("2wikimqa"), "multi-doc QA");
  EXPECT_EQ(report::subset_category("qasper_e"), "");
  EXPECT_EQ(report::categories_of({"lcc", "trec", "qasper"}),
            (std::vector<std::string>{"single-doc QA", "few-shot", "code"}));
  EXPECT_EQ(report::budget_label(nullptr), "full");
  EXPECT_EQ(report::budget_label(128), "128");
  EXPECT_EQ(report::budget_label(json{{"evict", 0.9}}), "evict=0.9");
  EXPECT_EQ(report::budget_label(json{{"kv_bytes", "256MiB"}}), "kv_bytes=256MiB");
}

// --- table ------------------------------------------------------------------------------------------------

// Columns: narrativeqa, qasper, hotpotqa (English, official order), trec; categories single-doc QA
// (narrativeqa, qasper), multi-doc QA (hotpotqa), few-shot (trec). Averages by hand:
//   full          single-doc (20 + 30) / 2 = 25      multi-doc 40   avg (20 + 30 + 40) / 3 = 30
//   snapkv-128    single-doc (18.5 + 25.3) / 2 = 21.9 multi-doc 33   avg (18.5 + 25.3 + 33) / 3 = 25.6
//   streaming-64  single-doc 10   few-shot 55.5                      avg (10 + 55.5) / 2 = 32.75
//   snapkv_evict  single-doc 15   few-shot 50                        avg (15 + 50) / 2 = 32.5
const char* const kExpectedMarkdown =
    "| run   | variant      |     budget | narrativeqa | qasper | hotpotqa |  trec | single-doc QA | multi-doc QA | few-shot |   avg |\n"
    "| ----- | ------------ | ---------: | ----------: | -----: | -------: | ----: | ------------: | -----------: | -------: | ----: |\n"
    "| alpha | full         |       full |       20.00 |  30.00 |    40.00 |     \xE2\x80\x93 |         25.00 |        40.00 |        \xE2\x80\x93 | 30.00 |\n"
    "| alpha | snapkv-128   |        128 |       18.50 |  25.30 |    33.00 |     \xE2\x80\x93 |         21.90 |        33.00 |        \xE2\x80\x93 | 25.60 |\n"
    "| beta  | streaming-64 |         64 |       10.00 |      \xE2\x80\x93 |        \xE2\x80\x93 | 55.50 |         10.00 |            \xE2\x80\x93 |    55.50 | 32.75 |\n"
    "| beta  | snapkv_evict | evict=0.75 |       15.00 |      \xE2\x80\x93 |        \xE2\x80\x93 | 50.00 |         15.00 |            \xE2\x80\x93 |    50.00 | 32.50 |\n";

const char* const kExpectedCsv =
    "run,variant,policy,budget,narrativeqa,qasper,hotpotqa,trec,single-doc QA,multi-doc QA,few-shot,average\n"
    "alpha,full,full,full,20.00,30.00,40.00,,25.00,40.00,,30.00\n"
    "alpha,snapkv-128,snapkv,128,18.50,25.30,33.00,,21.90,33.00,,25.60\n"
    "beta,streaming-64,streaming,64,10.00,,,55.50,10.00,,55.50,32.75\n"
    "beta,snapkv_evict,snapkv,evict=0.75,15.00,,,50.00,15.00,,50.00,32.50\n";

TEST(Table, MarkdownAndCsvExactly) {
  const auto table = report::build_table(both());
  EXPECT_EQ(table.subsets, (std::vector<std::string>{"narrativeqa", "qasper", "hotpotqa", "trec"}));
  EXPECT_EQ(table.categories, (std::vector<std::string>{"single-doc QA", "multi-doc QA", "few-shot"}));
  EXPECT_EQ(report::render_table(table, report::TableFormat::kMarkdown), kExpectedMarkdown);
  EXPECT_EQ(report::render_table(table, report::TableFormat::kCsv), kExpectedCsv);
  // One decimal: the same table, rounded.
  const std::string one = report::render_table(table, report::TableFormat::kCsv, 1);
  EXPECT_NE(one.find("alpha,snapkv-128,snapkv,128,18.5,25.3,33.0,,21.9,33.0,,25.6\n"), std::string::npos) << one;
}

TEST(Table, AveragesAreRecomputedNotCopied) {
  json a = alpha_json();
  a["variants"][1]["average"] = 99.0;                     // wrong on purpose
  a["variants"][1]["categories"]["single-doc QA"] = 1.0;  // likewise
  const auto table = report::build_table({report::parse_report(a, "a.json")});
  const std::string csv = report::render_table(table, report::TableFormat::kCsv);
  EXPECT_NE(csv.find("alpha,snapkv-128,snapkv,128,18.50,25.30,33.00,21.90,33.00,25.60\n"), std::string::npos) << csv;
  // One report: no run column in markdown.
  const std::string md = report::render_table(table, report::TableFormat::kMarkdown);
  EXPECT_EQ(md.rfind("| variant ", 0), 0u) << md;
}

TEST(Table, Latex) {
  const std::string tex = report::render_table(report::build_table(both()), report::TableFormat::kLatex);
  EXPECT_NE(tex.find("\\begin{tabular}{llrrrrrrrrr}\n\\toprule\n"
                     "Run & Method & Budget & narrativeqa & qasper & hotpotqa & trec & single-doc QA & multi-doc QA & "
                     "few-shot & Avg. \\\\\n\\midrule\n"
                     "alpha & full & full & 20.00 & 30.00 & 40.00 & \xE2\x80\x93 & 25.00 & 40.00 & \xE2\x80\x93 & 30.00 \\\\\n"),
            std::string::npos)
      << tex;
  EXPECT_NE(tex.find("beta & snapkv\\_evict & evict=0.75 & 15.00 &"), std::string::npos) << tex;  // escaped _
  EXPECT_NE(tex.find("\\bottomrule\n\\end{tabular}\n"), std::string::npos) << tex;
  json a = alpha_json();
  a["variants"][1]["name"] = "a&b_c%d#e$f{g}h~i^j\\k";
  const std::string esc = report::render_table(report::build_table({report::parse_report(a, "a.json")}),
                                               report::TableFormat::kLatex);
  EXPECT_NE(esc.find("a\\&b\\_c\\%d\\#e\\$f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j\\textbackslash{}k & 128"),
            std::string::npos)
      << esc;
}

TEST(Table, Json) {
  const json j = json::parse(report::render_table(report::build_table(both()), report::TableFormat::kJson));
  EXPECT_EQ(j["subsets"], json({"narrativeqa", "qasper", "hotpotqa", "trec"}));
  ASSERT_EQ(j["rows"].size(), 4u);
  const json& s = j["rows"][1];
  EXPECT_EQ(s["variant"], "snapkv-128");
  EXPECT_EQ(s["run"], "alpha");
  EXPECT_EQ(s["report"], "alpha.json");
  EXPECT_EQ(s["published"], false);
  EXPECT_EQ(s["budget"], 128);
  EXPECT_DOUBLE_EQ(s["scores"]["qasper"].get<double>(), 25.3);
  EXPECT_TRUE(s["scores"]["trec"].is_null());
  EXPECT_DOUBLE_EQ(s["categories"]["single-doc QA"].get<double>(), 21.9);
  EXPECT_TRUE(s["categories"]["few-shot"].is_null());
  EXPECT_DOUBLE_EQ(s["average"].get<double>(), 25.6);
  EXPECT_EQ(j["rows"][3]["budget"], json({{"evict", 0.75}}));
  EXPECT_TRUE(j["rows"][0]["budget"].is_null());
}

// Published rows in the CSV's one-score-per-line format: `spec` holds every column but subset and score,
// `scores` the narrativeqa, qasper, hotpotqa and trec scores (empty: not published).
std::string paper_lines(const std::string& spec, const std::vector<std::string>& scores) {
  static const std::vector<std::string> kSubsets = {"narrativeqa", "qasper", "hotpotqa", "trec"};
  std::string out;
  for (std::size_t i = 0; i < kSubsets.size(); ++i)
    if (!scores[i].empty()) out += spec + "," + kSubsets[i] + "," + scores[i] + "\n";
  return out;
}

// Paper A (ModelX) is measured as kvbench measures: SnapKV at 128, FullKV, StreamingLLM at 64 (and an H2O row no
// variant has). Each other SnapKV row at 128 differs in one way from snapkv-128: Paper B's per query head
// (ModelY), Paper C's query-agnostic, Paper D's budget without the window, Paper E's unstated; Ada-PyramidKV has
// no kvbench policy.
const std::string kPaperCsv =
    "paper,table,model,method,policy,budget,budget_definition,granularity,protocol,source,subset,score\n" +
    paper_lines("Paper A,Table 1,ModelX,FullKV,full,full,none,any,any,a.pdf", {"21.00", "30.00", "41.00", "70.0"}) +
    paper_lines("Paper A,Table 1,ModelX,SnapKV,snapkv,128,tokens_per_head_window_included,kv_head,question_aware,a.pdf",
                {"19.00", "24.00", "35.00", "60.0"}) +
    paper_lines("Paper B,Table 1,ModelY,SnapKV,snapkv,128,tokens_per_head_window_included,query_head,question_aware,b.pdf",
                {"17.00", "", "30.00", "50.0"}) +
    paper_lines("Paper C,Table 2,ModelX,SnapKV,snapkv,128,tokens_per_head_window_included,kv_head,query_agnostic,c.pdf",
                {"1", "2", "3", "4"}) +
    paper_lines("Paper D,Table 3,ModelX,SnapKV,snapkv,128,tokens_per_head_window_excluded,kv_head,question_aware,d.pdf",
                {"5", "6", "7", "8"}) +
    paper_lines("Paper E,Table 4,ModelX,SnapKV,snapkv,128,unknown,unknown,unknown,e.pdf", {"9", "10", "11", "12"}) +
    paper_lines("Paper A,Table 1,ModelX,StreamingLLM,streaming,64,tokens_per_head_window_included,kv_head,question_aware,a.pdf",
                {"9.00", "12.00", "20.00", "50.0"}) +
    paper_lines("Paper A,Table 1,ModelX,H2O,h2o,128,tokens_per_head_window_included,kv_head,question_aware,a.pdf", {"1", "2", "3", "4"}) +
    paper_lines("Paper A,Table 1,ModelX,Ada-PyramidKV,,128,tokens_per_head_window_included,kv_head,question_aware,a.pdf",
                {"1", "2", "3", "4"});

// Published averages over the columns shown: FullKV (21 + 30 + 41 + 70) / 4 = 40.5; SnapKV A
// (19 + 24 + 35 + 60) / 4 = 34.5; StreamingLLM (9 + 12 + 20 + 50) / 4 = 22.75. Deltas over the subsets both rows
// have: full (20-21 + 30-30 + 40-41) / 3 = -0.67; snapkv-128 vs A (18.5-19 + 25.3-24 + 33-35) / 3 = -0.40;
// streaming-64 (10-9 + 55.5-50) / 2 = +3.25. Unpaired rows get no delta.
const char* const kNoteA = "\"Paper A, Table 1; ModelX; budget tokens_per_head_window_included, granularity kv_head, protocol question_aware; a.pdf\"";
const std::string kExpectedPaperCsv =
    "run,variant,policy,budget,narrativeqa,qasper,hotpotqa,trec,single-doc QA,multi-doc QA,few-shot,average,source,delta_average,unpaired\n"
    "alpha,full,full,full,20.00,30.00,40.00,,25.00,40.00,,30.00,,,\n"
    "published,FullKV,full,full,21.00,30.00,41.00,70.00,25.50,41.00,70.00,40.50,\"Paper A, Table 1; ModelX; budget none, "
    "granularity any, protocol any; a.pdf\",-0.67,\n"
    "alpha,snapkv-128,snapkv,128,18.50,25.30,33.00,,21.90,33.00,,25.60,,,\n"
    "published,SnapKV,snapkv,128,19.00,24.00,35.00,60.00,21.50,35.00,60.00,34.50," + std::string(kNoteA) + ",-0.40,\n"
    "unpaired,SnapKV,snapkv,128,1.00,2.00,3.00,4.00,1.50,3.00,4.00,2.50,\"Paper C, Table 2; ModelX; budget "
    "tokens_per_head_window_included, granularity kv_head, protocol query_agnostic; c.pdf\",,protocol query_agnostic "
    "(published) vs question_aware (ours)\n"
    "unpaired,SnapKV,snapkv,128,5.00,6.00,7.00,8.00,5.50,7.00,8.00,6.50,\"Paper D, Table 3; ModelX; budget "
    "tokens_per_head_window_excluded, granularity kv_head, protocol question_aware; d.pdf\",,budget definition "
    "tokens_per_head_window_excluded (published) vs tokens_per_head_window_included (ours)\n"
    "unpaired,SnapKV,snapkv,128,9.00,10.00,11.00,12.00,9.50,11.00,12.00,10.50,\"Paper E, Table 4; ModelX; budget unknown, "
    "granularity unknown, protocol unknown; e.pdf\",,the published budget definition is unknown; the published "
    "granularity is unknown; the published protocol is unknown\n"
    "beta,streaming-64,streaming,64,10.00,,,55.50,10.00,,55.50,32.75,,,\n"
    "published,StreamingLLM,streaming,64,9.00,12.00,20.00,50.00,10.50,20.00,50.00,22.75," + std::string(kNoteA) + ",3.25,\n"
    "beta,snapkv_evict,snapkv,evict=0.75,15.00,,,50.00,15.00,,50.00,32.50,,,\n";

TEST(Table, PublishedRows) {
  const auto paper = report::parse_paper_csv(kPaperCsv, "paper.csv");
  ASSERT_EQ(paper.size(), 9u);
  EXPECT_EQ(paper[1].paper, "Paper A");
  EXPECT_EQ(paper[1].table, "Table 1");
  EXPECT_EQ(paper[1].line, 6);
  EXPECT_EQ(paper[2].scores.count("qasper"), 0u);
  EXPECT_EQ(paper[2].granularity, "query_head");

  report::TableOptions options;
  options.paper = paper;
  options.model = "ModelX";
  const auto table = report::build_table(both(), options);
  EXPECT_EQ(report::render_table(table, report::TableFormat::kCsv), kExpectedPaperCsv);
  const std::string md = report::render_table(table, report::TableFormat::kMarkdown);
  EXPECT_NE(md.find("| published | SnapKV (published [2])       |        128 |       19.00 |  24.00 |    35.00 | "
                    "60.00 |         21.50 |        35.00 |    60.00 | 34.50 | -0.40 |\n"),
            std::string::npos)
      << md;
  EXPECT_EQ(md.find("Paper C"), md.find("[3] Paper C") + 4) << md;  // unpaired rows: a footnote and a line, no table row
  EXPECT_EQ(md.find("| 1.00 "), std::string::npos) << md;
  EXPECT_NE(md.find("\nPublished rows not paired (measured differently):\n"
                    "- SnapKV at 128 [3], beside snapkv-128: protocol query_agnostic (published) vs question_aware (ours)\n"
                    "- SnapKV at 128 [4], beside snapkv-128: budget definition tokens_per_head_window_excluded (published) "
                    "vs tokens_per_head_window_included (ours)\n"
                    "- SnapKV at 128 [5], beside snapkv-128: the published budget definition is unknown; the published "
                    "granularity is unknown; the published protocol is unknown\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| \xCE\x94 avg |"), std::string::npos) << md;
  const json j = json::parse(report::render_table(table, report::TableFormat::kJson));
  EXPECT_EQ(j["rows"][3]["published"], true);
  EXPECT_EQ(j["rows"][3]["paired"], true);
  EXPECT_EQ(j["rows"][3]["compared_to"], "snapkv-128");
  EXPECT_EQ(j["rows"][3]["model"], "ModelX");
  EXPECT_EQ(j["rows"][3]["granularity"], "kv_head");
  EXPECT_DOUBLE_EQ(j["rows"][3]["delta_average"].get<double>(), -0.4);
  EXPECT_EQ(j["rows"][4]["paired"], false);
  EXPECT_TRUE(j["rows"][4]["delta_average"].is_null());
  EXPECT_EQ(j["rows"][4]["unpaired"], "protocol query_agnostic (published) vs question_aware (ours)");
  const std::string tex = report::render_table(table, report::TableFormat::kLatex);
  EXPECT_NE(tex.find("published & SnapKV (published [2]) & 128 & 19.00"), std::string::npos) << tex;
  EXPECT_EQ(tex.find("SnapKV (published [3])"), std::string::npos) << tex;
  EXPECT_NE(tex.find("% not paired: SnapKV at 128 [3], beside snapkv-128: protocol query_agnostic"), std::string::npos) << tex;

  // Without --model, Paper B's per-query-head row shows up under snapkv-128, unpaired.
  options.model.clear();
  const std::string all = report::render_table(report::build_table(both(), options), report::TableFormat::kCsv);
  EXPECT_NE(all.find("unpaired,SnapKV,snapkv,128,17.00,,30.00,50.00,17.00,30.00,50.00,32.33,\"Paper B, Table 1; ModelY; "
                     "budget tokens_per_head_window_included, granularity query_head, protocol question_aware; b.pdf\",,"
                     "granularity query_head (published) vs kv_head (ours)\n"),
            std::string::npos)
      << all;

  options.model = "ModelZ";
  EXPECT_EQ(test::error_of([&] { report::build_table(both(), options); }),
            "--model 'ModelZ' matches no row of the --paper CSV (its models: ModelX, ModelY)");
}

// A report variant that says its caches are per query head (issue 32's policies) pairs with the per-query-head
// rows, and the per-KV-head ones become the unpaired rows.
TEST(Table, GranularityFromTheReport) {
  json a = alpha_json();
  a["variants"][1]["granularity"] = "query_head";
  report::TableOptions options;
  options.paper = report::parse_paper_csv(kPaperCsv, "paper.csv");
  const auto table = report::build_table({report::parse_report(a, "alpha.json")}, options);
  const json j = json::parse(report::render_table(table, report::TableFormat::kJson));
  std::vector<std::string> paired, unpaired;
  for (const auto& row : j["rows"])
    if (row["published"] == true && row["compared_to"] == "snapkv-128")
      (row["paired"] == true ? paired : unpaired).push_back(row["source"].get<std::string>() + ": " +
                                                             (row["paired"] == true ? "" : row["unpaired"].get<std::string>()));
  EXPECT_EQ(paired, std::vector<std::string>({"Paper B, Table 1: "}));
  ASSERT_EQ(unpaired.size(), 4u);
  EXPECT_EQ(unpaired[0], "Paper A, Table 1: granularity kv_head (published) vs query_head (ours)");
}

TEST(Table, PaperCsvErrors) {
  const std::string header = "paper,table,model,method,policy,budget,budget_definition,granularity,protocol,source,subset,score\n";
  const std::string ok = "P,T,M,SnapKV,snapkv,128,tokens_per_head_window_included,kv_head,question_aware,s,qasper,";
  EXPECT_EQ(test::error_of([&] { report::parse_paper_csv(header + ok + "x1\n", "p.csv"); }),
            "p.csv:2: column 'score' must be a number, got 'x1'");
  EXPECT_EQ(test::error_of([&] { report::parse_paper_csv(header + "P,T,M\n", "p.csv"); }),
            "p.csv:2: 3 fields, but the header has 12");
  EXPECT_EQ(test::error_of([] { report::parse_paper_csv("source,model,budget,method,qasper\n", "p.csv"); }),
            "p.csv: the header has no 'paper' column (published numbers have the columns paper,table,model,method,"
            "policy,budget,budget_definition,granularity,protocol,subset,score,source; see published/README.md)");
  EXPECT_EQ(test::error_of([&] { report::parse_paper_csv(header + "P,T,M,SnapKV,snapkv,128,per_head,kv_head,question_aware,s,qasper,1\n", "p.csv"); }),
            "p.csv:2: column 'budget_definition' must be one of none, tokens_per_head_window_included, "
            "tokens_per_head_window_excluded, evict_rate, kv_bytes, unknown, got 'per_head'");
  EXPECT_EQ(test::error_of([&] { report::parse_paper_csv(header + "P,T,M,SnapKV,snapkv,128,none,GQA,question_aware,s,qasper,1\n", "p.csv"); }),
            "p.csv:2: column 'granularity' must be one of kv_head, query_head, any, unknown, got 'GQA'");
  EXPECT_EQ(test::error_of([&] { report::parse_paper_csv(header + "P,T,M,SnapKV,snapkv,1k,none,any,any,s,qasper,1\n", "p.csv"); }),
            "p.csv:2: column 'budget' must be full or a number of tokens, got '1k'");
  EXPECT_EQ(test::error_of([&] { report::parse_paper_csv(header + ok + "1\n" + ok + "2\n", "p.csv"); }),
            "p.csv:3: a second score of qasper for SnapKV at budget 128 (P, T, M)");
  EXPECT_EQ(test::error_of([&] { report::parse_paper_csv(header + "\"P,T\n", "p.csv"); }), "p.csv:3: unterminated quoted field");
}

// The shipped CSV holds exactly the scores of the anchors it was seeded from (../shared/docs/anchor-numbers.csv,
// a wide table: one row per method and budget), each with its provenance.
TEST(Table, ShippedPublishedNumbers) {
  const auto rows = report::load_paper_csv(std::string(KVBENCH_SOURCE_DIR) + "/published/longbench.csv");
  EXPECT_EQ(rows.size(), 83u);  // the anchors' 83 rows
  std::multiset<std::string> shipped;
  for (const auto& row : rows) {
    EXPECT_EQ(row.scores.size(), 16u) << "line " << row.line;
    EXPECT_FALSE(row.source.empty()) << "line " << row.line;
    for (const auto& [subset, score] : row.scores)
      shipped.insert(row.model + "|" + row.method + "|" + row.budget + "|" + subset + "|" + report::format_fixed(score, 2));
  }
  KVBENCH_REQUIRE_SHARED();
  std::multiset<std::string> anchors;
  const std::string text = test::read_file(test::shared_path("docs/anchor-numbers.csv"));
  std::vector<std::vector<std::string>> table;
  for (std::size_t start = 0, nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::vector<std::string> cells;
    std::string line = text.substr(start, nl - start), cell;
    bool quoted = false;
    for (const char c : line) {
      if (c == '"') quoted = !quoted;
      else if (c == ',' && !quoted) cells.push_back(cell), cell.clear();
      else cell += c;
    }
    cells.push_back(cell);
    table.push_back(cells);
  }
  for (std::size_t r = 1; r < table.size(); ++r)
    for (std::size_t c = 5; c + 2 < table[0].size(); ++c)  // the subsets, between method and the two averages
      if (!table[r][c].empty())
        anchors.insert(table[r][1] + "|" + table[r][4] + "|" + table[r][3] + "|" + table[0][c] + "|" +
                       report::format_fixed(std::stod(table[r][c]), 2));
  EXPECT_EQ(shipped, anchors);
}

// --- kvbench table ----------------------------------------------------------------------------------------

TEST(TableCli, FormatsAndPaper) {
  TempDir dir;
  write_fixtures(dir);
  auto r = test::run_kvbench("table --report " + dir.file("alpha.json") + " " + dir.file("beta.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpectedMarkdown);
  r = test::run_kvbench("table --report " + dir.file("alpha.json") + " --report " + dir.file("beta.json") +
                        " --format csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpectedCsv);
  r = test::run_kvbench("table --report " + dir.file("alpha.json") + " --format json --digits 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["digits"], 1);
  r = test::run_kvbench("table --report " + dir.file("beta.json") + " --format latex");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\\toprule"), std::string::npos);

  test::write_file(dir.file("paper.csv"), kPaperCsv);
  r = test::run_kvbench("table --report " + dir.file("alpha.json") + " " + dir.file("beta.json") + " --paper " +
                        dir.file("paper.csv") + " --model ModelX --format csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpectedPaperCsv);

  r = test::run_kvbench("table --report " + dir.file("alpha.json") + " --model ModelX");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--model selects rows of --paper"), std::string::npos) << r.err;
  r = test::run_kvbench("table --report " + dir.file("missing.json"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.json"), std::string::npos) << r.err;
  r = test::run_kvbench("table --report " + dir.file("alpha.json") + " --format html");
  EXPECT_NE(r.exit_code, 0);
}

// --- check ------------------------------------------------------------------------------------------------

TEST(Check, ComparesScoresAndAverages) {
  const ReportFile base = report::parse_report(alpha_json(), "base.json");
  auto result = report::check_report(base, base, 0.5);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.scores_compared, 6);
  EXPECT_EQ(result.averages_compared, 2);

  json now = alpha_json();
  now["variants"][1]["scores"]["narrativeqa"] = 18.0;  // drops exactly tol: fine
  now["variants"][1]["scores"]["qasper"] = 24.7;       // drops 0.6: a regression
  now["variants"][1]["scores"]["trec"] = 1.0;          // only in the report: fine, and not in the average
  result = report::check_report(report::parse_report(now, "now.json"), base, 0.5);
  ASSERT_EQ(result.regressions.size(), 1u);
  EXPECT_EQ(report::format_regression(result.regressions[0]),
            "regression: snapkv-128  qasper  baseline 25.30  now 24.70  delta -0.60");

  // Every score of full, and so its average, drops by 0.6: fine within tol 0.6 (no rounding noise), four
  // regressions beyond 0.55.
  now = alpha_json();
  for (const char* s : {"narrativeqa", "qasper", "hotpotqa"}) {
    now["variants"][0]["scores"][s] = now["variants"][0]["scores"][s].get<double>() - 0.6;
  }
  result = report::check_report(report::parse_report(now, "now.json"), base, 0.6);
  ASSERT_EQ(result.regressions.size(), 0u);
  result = report::check_report(report::parse_report(now, "now.json"), base, 0.55);
  ASSERT_EQ(result.regressions.size(), 4u);
  EXPECT_EQ(report::format_regression(result.regressions[3]),
            "regression: full  average  baseline 30.00  now 29.40  delta -0.60");

  // A missing score and a missing variant.
  now = alpha_json();
  now["variants"][1]["scores"].erase("hotpotqa");
  now["variants"].erase(0);
  result = report::check_report(report::parse_report(now, "now.json"), base, 0.5);
  std::vector<std::string> lines;
  for (const auto& r : result.regressions) lines.push_back(report::format_regression(r));
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "regression: full  narrativeqa  baseline 20.00  now missing (variant not in the report)",
                       "regression: full  qasper  baseline 30.00  now missing (variant not in the report)",
                       "regression: full  hotpotqa  baseline 40.00  now missing (variant not in the report)",
                       "regression: full  average  baseline 30.00  now missing (variant not in the report)",
                       "regression: snapkv-128  hotpotqa  baseline 33.00  now missing (no score in the report)",
                   }));
  // The average of a report missing a baseline subset falls back to its own "average" field (25.6: no drop).

  EXPECT_EQ(test::error_of([&] { report::check_report(base, base, -0.1); }),
            "--tol must be a non-negative number of points, got -0.1");
}

TEST(CheckCli, ExitCodes) {
  TempDir dir;
  write_fixtures(dir);
  const std::string base = " --baseline " + dir.file("alpha.json");
  // 0: the same numbers; also a report with extra variants and subsets.
  auto r = test::run_kvbench("check --report " + dir.file("alpha.json") + base);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("on all 6 score(s) and 2 average(s)"), std::string::npos) << r.out;
  json more = alpha_json();
  more["variants"][0]["scores"]["trec"] = 70.0;
  test::write_file(dir.file("more.json"), more.dump());
  r = test::run_kvbench("check --report " + dir.file("more.json") + base);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // 2: another variant set is not comparable (Check.Comparability has every kind); --intersection compares the
  // variants both have.
  more["variants"].push_back(beta_json()["variants"][0]);
  test::write_file(dir.file("more.json"), more.dump());
  r = test::run_kvbench("check --report " + dir.file("more.json") + base);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("are not comparable (1 difference(s); --intersection compares only the samples and variants "
                       "both have):\n  variants: only in the report: streaming-64\n"), std::string::npos) << r.err;
  r = test::run_kvbench("check --report " + dir.file("more.json") + base + " --intersection");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("note: variants: only in the report: streaming-64\n"), std::string::npos) << r.err;

  // 1: one score dropped beyond --tol, listed on stdout; within a wider --tol it passes.
  json worse = alpha_json();
  worse["variants"][1]["scores"]["qasper"] = 24.0;
  test::write_file(dir.file("worse.json"), worse.dump());
  r = test::run_kvbench("check --report " + dir.file("worse.json") + base + " --tol 0.5");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "regression: snapkv-128  qasper  baseline 25.30  now 24.00  delta -1.30\n");
  EXPECT_NE(r.err.find("1 regression(s) of more than 0.50 point(s)"), std::string::npos) << r.err;
  r = test::run_kvbench("check --report " + dir.file("worse.json") + base + " --tol 1.5");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // 1: a baseline score missing from the report.
  json fewer = alpha_json();
  fewer["variants"][0]["scores"].erase("qasper");
  test::write_file(dir.file("fewer.json"), fewer.dump());
  r = test::run_kvbench("check --report " + dir.file("fewer.json") + base);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("regression: full  qasper  baseline 30.00  now missing (no score in the report)\n"),
            std::string::npos)
      << r.out;
  // 2: nothing in common, even with --intersection.
  r = test::run_kvbench("check --report " + dir.file("beta.json") + base + " --intersection");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("share no variant with a scored subset and sample in common"), std::string::npos) << r.err;

  // 2: unusable input.
  r = test::run_kvbench("check --report " + dir.file("absent.json") + base);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("error: '" + dir.file("absent.json") + "' does not exist"), std::string::npos) << r.err;
  test::write_file(dir.file("bad.json"), "{\"run\": \"x\", \"subsets\": [], \"variants\": [{\"name\": 3}]}");
  r = test::run_kvbench("check --report " + dir.file("bad.json") + base);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("bad.json: variants[0].name must be a string, got number 3"), std::string::npos) << r.err;
  r = test::run_kvbench("check --report " + dir.file("alpha.json") + " --baseline " + dir.file("bad.json"));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  test::write_file(dir.file("syntax.json"), "{");
  r = test::run_kvbench("check --report " + dir.file("syntax.json") + base);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  r = test::run_kvbench("check --report " + dir.file("alpha.json") + base + " --tol -1");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--tol must be a non-negative number"), std::string::npos) << r.err;
  r = test::run_kvbench("check --report " + dir.file("alpha.json") + base + " --tol=-0.5");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

// A report that records what it evaluated (report_writer.h): model, settings, data and samples.
json identified(const std::vector<std::string>& narrativeqa_ids) {
  json r = alpha_json();
  r["model"] = {{"name", "Mistral-7B-Instruct-v0.2"}, {"path", "/m/Mistral-7B-Instruct-v0.2"}, {"config_sha256", "aa11"}};
  r["config_sha256"] = "c0ffee";
  r["data"] = {{"dir", "/d"}, {"manifest", true}, {"files", {{"narrativeqa.jsonl", "d1"}, {"qasper.jsonl", "d2"}}}};
  r["sample_ids"] = {{"narrativeqa", narrativeqa_ids}, {"qasper", {"q1", "q2"}}, {"hotpotqa", {"h1", "h2"}}};
  for (auto& v : r["variants"]) v["protocol"] = "question_aware";
  return r;
}

std::vector<std::string> differences(const json& now, const json& base, bool intersection = false) {
  return report::compare_runs(report::parse_report(now, "run.json"), report::parse_report(base, "base.json"), intersection)
      .differences;
}

TEST(Check, Comparability) {
  const json base = identified({"n1", "n2"});
  EXPECT_TRUE(differences(base, base).empty());
  // Samples: a run of 1 sample against a baseline of 2 (issue 30), in both directions.
  const json one = identified({"n1"});
  EXPECT_EQ(differences(one, base), std::vector<std::string>({"samples of narrativeqa: 1 in both, 1 only in the baseline (n2)"}));
  EXPECT_EQ(differences(base, one), std::vector<std::string>({"samples of narrativeqa: 1 in both, 1 only in the report (n2)"}));
  json other_subset = base;
  other_subset["sample_ids"].erase("hotpotqa");
  EXPECT_EQ(differences(other_subset, base), std::vector<std::string>({"subset hotpotqa only in the baseline"}));
  EXPECT_TRUE(differences(one, base, /*intersection=*/true).empty());
  // Model: another name, or the same name with another config.json.
  json model = base;
  model["model"]["name"] = "Llama-3.1-8B-Instruct";
  EXPECT_EQ(differences(model, base), std::vector<std::string>({"model: Llama-3.1-8B-Instruct (config.json sha256 aa11) vs "
                                                                "Mistral-7B-Instruct-v0.2 (config.json sha256 aa11)"}));
  model = base;
  model["model"]["config_sha256"] = "bb22";
  EXPECT_EQ(differences(model, base, true).size(), 1u);  // --intersection does not make another model comparable
  model["model"]["path"] = "/elsewhere/Mistral-7B-Instruct-v0.2";
  model["model"]["config_sha256"] = "aa11";
  EXPECT_TRUE(differences(model, base).empty());  // where the checkpoint lies does not matter
  // Evaluation settings.
  json config = base;
  config["config_sha256"] = "beef";
  EXPECT_EQ(differences(config, base, true),
            std::vector<std::string>({"evaluation settings: config_sha256 beef vs c0ffee (model dtype, device, max_length, "
                                      "chat format, max_new_tokens or seed differ: compare the runs' config.resolved.json)"}));
  // Data: the same subset file with other bytes.
  json data = base;
  data["data"]["files"]["qasper.jsonl"] = "d9";
  EXPECT_EQ(differences(data, base), std::vector<std::string>({"data: qasper.jsonl sha256 d9 vs d2"}));
  // Protocol (and any other part of a variant's definition).
  json protocol = base;
  protocol["variants"][1]["protocol"] = "query_agnostic";
  EXPECT_EQ(differences(protocol, base, true),
            std::vector<std::string>({"variant snapkv-128: protocol query_agnostic vs question_aware"}));
  json params = base;
  params["variants"][1]["params"] = {{"window", 64}};
  params["variants"][1]["granularity"] = "query_head";
  EXPECT_EQ(differences(params, base), std::vector<std::string>({"variant snapkv-128: params {\"window\":64} vs "
                                                                 "{\"window\":32}; granularity query_head vs kv_head"}));
  // The variant set.
  json variants = base;
  variants["variants"][1]["name"] = "snapkv-256";
  EXPECT_EQ(differences(variants, base),
            std::vector<std::string>({"variants: only in the report: snapkv-256; only in the baseline: snapkv-128"}));
  EXPECT_TRUE(differences(variants, base, true).empty());
  // What a report does not record is not checked, and said so.
  const auto c = report::compare_runs(report::parse_report(alpha_json(), "old.json"), report::parse_report(base, "base.json"), false);
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.notes, std::vector<std::string>({"the model not checked: old.json does not record it",
                                                "the evaluation settings (config_sha256) not checked: old.json does not record it",
                                                "the samples (sample_ids) not checked: old.json does not record it"}));
}

// A run folder with report.json and narrativeqa predictions: `preds` maps _id to prediction (answer "paris").
std::string write_run(const TempDir& dir, const std::string& name, const std::vector<std::pair<std::string, std::string>>& preds) {
  std::vector<std::string> ids;
  std::string rows;
  double sum = 0;
  for (const auto& [id, pred] : preds) {
    ids.push_back(id);
    rows += json({{"pred", pred}, {"answers", {"paris"}}, {"all_classes", nullptr}, {"length", 10}, {"_id", id}}).dump() + "\n";
    sum += pred == "paris" ? 100 : 0;
  }
  json r = identified(ids);
  r["subsets"] = {"narrativeqa"};
  r["sample_ids"] = {{"narrativeqa", ids}};
  r["variants"] = json::array({alpha_json()["variants"][0]});
  r["variants"][0]["scores"] = {{"narrativeqa", sum / static_cast<double>(preds.size())}};
  r["variants"][0]["average"] = sum / static_cast<double>(preds.size());
  test::write_file(dir.file(name + "/predictions/full/narrativeqa.jsonl"), rows);
  test::write_file(dir.file(name + "/report.json"), r.dump());
  return dir.file(name + "/report.json");
}

TEST(CheckCli, IntersectionRescoresTheCommonSamples) {
  TempDir dir;
  const std::string base = write_run(dir, "base", {{"n1", "Paris"}, {"n2", "London"}});  // 50.00
  const std::string one = write_run(dir, "one", {{"n1", "Paris"}});                       // 100.00
  const std::string wrong = write_run(dir, "wrong", {{"n1", "Rome"}});                    // 0.00
  auto r = test::run_kvbench("check --report " + one + " --baseline " + base);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("error: " + one + " and " + base + " are not comparable (1 difference(s); --intersection compares "
                       "only the samples and variants both have):\n  samples of narrativeqa: 1 in both, 1 only in the "
                       "baseline (n2)\n"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  r = test::run_kvbench("check --report " + base + " --baseline " + one);  // the other direction
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  // Over the one common sample both runs score 100: no regression (the baseline's 50 was over two samples).
  r = test::run_kvbench("check --report " + one + " --baseline " + base + " --intersection --tol 0");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("on all 1 score(s) and 1 average(s) they share"), std::string::npos) << r.out;
  r = test::run_kvbench("check --report " + wrong + " --baseline " + base + " --intersection");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("regression: full  narrativeqa  baseline 100.00  now 0.00  delta -100.00\n"), std::string::npos) << r.out;
  // Rescoring needs the predictions.
  paths::remove_all(dir.file("base/predictions"));
  r = test::run_kvbench("check --report " + one + " --baseline " + base + " --intersection");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--intersection rescores narrativeqa of full over the samples both runs have"), std::string::npos) << r.err;
}

// --format junit: the ok, regression and not-comparable documents all validate against the Ant JUnit schema
// (tests/data/junit/JUnit.xsd, windyroad's) with xmllint.
TEST(CheckCli, JunitValidatesAgainstTheSchema) {
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "xmllint is not installed (apt: libxml2-utils; scripts/deps.sh --test installs it)";
  TempDir dir;
  write_fixtures(dir);
  json worse = alpha_json();
  worse["variants"][1]["scores"]["qasper"] = 24.0;
  test::write_file(dir.file("worse.json"), worse.dump());
  json other = alpha_json();
  other["variants"][1]["protocol"] = "query_agnostic";
  other["variants"][1]["name"] = "snapkv-128 <&\"x\">";
  test::write_file(dir.file("other.json"), other.dump());
  const std::string xsd = std::string(KVBENCH_SOURCE_DIR) + "/tests/data/junit/JUnit.xsd";
  const struct {
    std::string report;
    int exit;
    std::string needle;
  } cases[] = {
      {"alpha.json", 0, "<testcase classname=\"snapkv-128\" name=\"qasper\" time=\"0\"/>"},
      {"worse.json", 1, "<failure type=\"regression\" message=\"regression: snapkv-128  qasper  baseline 25.30  now 24.00  delta -1.30\">"},
      {"other.json", 2, "<error type=\"not_comparable\""},
  };
  for (const auto& c : cases) {
    const std::string out = dir.file(c.report + ".xml");
    const auto r = test::run_kvbench("check --report " + dir.file(c.report) + " --baseline " + dir.file("alpha.json") +
                                     " --format junit --out " + out);
    EXPECT_EQ(r.exit_code, c.exit) << c.report << r.out << r.err;
    const std::string xml = test::read_file(out);
    EXPECT_NE(xml.find(c.needle), std::string::npos) << xml;
    EXPECT_EQ(std::system(("xmllint --noout --schema '" + xsd + "' '" + out + "' 2>" + dir.file("lint.txt")).c_str()), 0)
        << c.report << ": " << test::read_file(dir.file("lint.txt")) << xml;
  }
  // To stdout without --out: the XML alone there, the summary on stderr.
  const auto r = test::run_kvbench("check --report " + dir.file("worse.json") + " --baseline " + dir.file("alpha.json") +
                                   " --format junit");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.rfind("<?xml", 0), 0u) << r.out;
  EXPECT_NE(r.err.find("regression: snapkv-128  qasper"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("tests=\"4\" failures=\"1\" errors=\"0\""), std::string::npos) << r.out;
}

// --- plots ------------------------------------------------------------------------------------------------

TEST(ReportPlots, ScoreVsBudget) {
  const std::string svg = report::score_vs_budget_svg(both());
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find(">LongBench average score vs KV cache budget</text>"), std::string::npos);
  EXPECT_NE(svg.find(">full cache (30.00) \xC2\xB7 alpha</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">snapkv \xC2\xB7 alpha</text>"), std::string::npos);
  EXPECT_NE(svg.find(">snapkv (evict) \xC2\xB7 beta</text>"), std::string::npos);
  EXPECT_NE(svg.find(">streaming \xC2\xB7 beta</text>"), std::string::npos);
  EXPECT_NE(svg.find(">128</text>"), std::string::npos);  // power-of-two tick labels
  EXPECT_NE(svg.find(">256</text>"), std::string::npos);
  EXPECT_NE(svg.find("KV budget (tokens per KV head per layer, log scale)"), std::string::npos);

  report::ReportPlotOptions one;
  one.subset = "trec";
  const std::string trec = report::score_vs_budget_svg(both(), one);
  EXPECT_NE(trec.find(">trec score vs KV cache budget</text>"), std::string::npos);
  one.subset = "nosuch";
  EXPECT_EQ(test::error_of([&] { report::score_vs_budget_svg(both(), one); }),
            "plot: no variant has a nosuch score and a budget to plot");
  report::ReportPlotOptions filter;
  filter.variants = {"nope"};
  EXPECT_EQ(test::error_of([&] { report::score_vs_budget_svg(both(), filter); }),
            "--variant nope: no report has a variant of that name");
}

TEST(ReportPlots, CoverageVsLayer) {
  const std::string svg = report::coverage_vs_layer_svg(both());
  EXPECT_NE(svg.find(">snapkv-128 \xC2\xB7 alpha</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">streaming-64 \xC2\xB7 beta</text>"), std::string::npos);
  EXPECT_EQ(svg.find(">full \xC2\xB7 alpha</text>"), std::string::npos);  // full cache left out
  EXPECT_NE(svg.find(">layer</text>"), std::string::npos);
  json a = alpha_json();
  a["variants"][1].erase("coverage");
  EXPECT_EQ(test::error_of([&] { report::coverage_vs_layer_svg({report::parse_report(a, "a.json")}); }),
            "plot: no (non-full-cache) variant has coverage.layer_coverage_curve to plot");
}

TEST(PlotReportCli, WritesValidSvgAndPng) {
  TempDir dir;
  write_fixtures(dir);
  const std::string reports = " --report " + dir.file("alpha.json") + " " + dir.file("beta.json");
  for (const std::string kind : {"budget", "coverage"}) {
    const std::string out = dir.file(kind + ".svg");
    const auto r = test::run_kvbench("plot" + reports + " --out " + out + " --kind " + kind);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string svg = test::read_file(out);
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << kind;
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << kind;
    if (have_program("xmllint")) {
      EXPECT_EQ(std::system(("xmllint --noout " + out).c_str()), 0) << kind;
    }
  }
  auto r = test::run_kvbench("plot" + reports + " --out " + dir.file("q.svg") + " --subset narrativeqa --variant full"
                             " --variant snapkv-128 --title 'NarrativeQA'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(test::read_file(dir.file("q.svg")).find(">NarrativeQA</text>"), std::string::npos);

  if (have_program("rsvg-convert")) {
    r = test::run_kvbench("plot" + reports + " --out " + dir.file("budget.png"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(test::read_file(dir.file("budget.png")).substr(0, 8), "\x89PNG\r\n\x1a\n");
  }

  r = test::run_kvbench("plot --report " + dir.file("alpha.json") + " --kept " + dir.file("alpha.json") + " --out " +
                        dir.file("x.svg"));
  EXPECT_NE(r.exit_code, 0);  // --kept excludes --report
  r = test::run_kvbench("plot --kept " + dir.file("alpha.json") + " --kind coverage --out " + dir.file("x.svg"));
  EXPECT_NE(r.exit_code, 0);  // --kind needs --report
  r = test::run_kvbench("plot --report " + dir.file("alpha.json") + " --kind coverage --subset qasper --out " +
                        dir.file("x.svg"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--subset applies to --kind budget only"), std::string::npos) << r.err;
}


// --- table --coverage -------------------------------------------------------------------------------------

// alpha with coverage statistics on snapkv-128: model 0.0138 → 1.38 %, layer 0.25 → 25.00 %, head overlap
// 0.1234 → 12.34 %, no evidence recall. full has no coverage; beta's streaming-64 has only curves (no
// statistic) and snapkv_evict none: all missing.
json alpha_with_coverage_json() {
  json j = alpha_json();
  j["variants"][1]["coverage"]["model_coverage"] = {{"mean", 0.0138}, {"p10", 0.01}, {"p50", 0.0135}, {"p90", 0.02}};
  j["variants"][1]["coverage"]["mean_layer_coverage"] = {{"mean", 0.25}, {"p10", 0.2}, {"p50", 0.25}, {"p90", 0.3}};
  j["variants"][1]["coverage"]["mean_head_overlap"] = {{"mean", 0.1234}, {"p10", 0.1}, {"p50", 0.12}, {"p90", 0.15}};
  j["variants"][1]["coverage"]["vocab_coverage"] = {{"mean", 0.9}, {"p10", 0.9}, {"p50", 0.9}, {"p90", 0.9}};
  return j;
}

std::vector<ReportFile> both_with_coverage() {
  return {report::parse_report(alpha_with_coverage_json(), "alpha.json"), report::parse_report(beta_json(), "beta.json")};
}

report::Table coverage_table(std::vector<ReportFile> reports, report::TableOptions options = {}) {
  options.coverage = true;
  return report::build_table(reports, options);
}

// Every line of a markdown table without its last `n` cells (separator line included).
std::string drop_last_md_cells(const std::string& md, int n) {
  std::string out;
  std::size_t start = 0;
  while (start < md.size()) {
    const std::size_t end = md.find('\n', start);
    std::string line = md.substr(start, end - start);
    if (!line.empty() && line[0] == '|') {
      for (int i = 0; i < n; ++i) line.erase(line.rfind('|', line.size() - 2) + 1);
    }
    out += line + "\n";
    start = end + 1;
  }
  return out;
}

const char* const kExpectedCoverageMarkdown =
    "| variant    | budget | narrativeqa | qasper | hotpotqa | single-doc QA | multi-doc QA |   avg | model cov. | layer cov. | head overlap | evidence recall |\n"
    "| ---------- | -----: | ----------: | -----: | -------: | ------------: | -----------: | ----: | ---------: | ---------: | -----------: | --------------: |\n"
    "| full       |   full |       20.00 |  30.00 |    40.00 |         25.00 |        40.00 | 30.00 |          \xE2\x80\x93 |          \xE2\x80\x93 |            \xE2\x80\x93 |               \xE2\x80\x93 |\n"
    "| snapkv-128 |    128 |       18.50 |  25.30 |    33.00 |         21.90 |        33.00 | 25.60 |       1.38 |      25.00 |        12.34 |               \xE2\x80\x93 |\n";

const char* const kExpectedCoverageCsv =
    "run,variant,policy,budget,narrativeqa,qasper,hotpotqa,trec,single-doc QA,multi-doc QA,few-shot,average,"
    "model_coverage,mean_layer_coverage,mean_head_overlap,evidence_recall\n"
    "alpha,full,full,full,20.00,30.00,40.00,,25.00,40.00,,30.00,,,,\n"
    "alpha,snapkv-128,snapkv,128,18.50,25.30,33.00,,21.90,33.00,,25.60,1.38,25.00,12.34,\n"
    "beta,streaming-64,streaming,64,10.00,,,55.50,10.00,,55.50,32.75,,,,\n"
    "beta,snapkv_evict,snapkv,evict=0.75,15.00,,,50.00,15.00,,50.00,32.50,,,,\n";

TEST(TableCoverage, MarkdownShowsPercentagesAndMissingMarker) {
  const auto one = coverage_table({report::parse_report(alpha_with_coverage_json(), "alpha.json")});
  EXPECT_TRUE(one.with_coverage);
  EXPECT_EQ(report::render_table(one, report::TableFormat::kMarkdown), kExpectedCoverageMarkdown);
  // The digits apply to the percentages too.
  const std::string md1 = report::render_table(one, report::TableFormat::kMarkdown, 1);
  EXPECT_NE(md1.find("| 25.6 |        1.4 |       25.0 |         12.3 |               \xE2\x80\x93 |\n"), std::string::npos)
      << md1;
  // A coverage object with curves only (streaming-64) and none at all (snapkv_evict): every column missing.
  const std::string md = report::render_table(coverage_table(both_with_coverage()), report::TableFormat::kMarkdown);
  EXPECT_NE(md.find("| 32.75 |          \xE2\x80\x93 |          \xE2\x80\x93 |            \xE2\x80\x93 |               \xE2\x80\x93 |\n"),
            std::string::npos)
      << md;
  const std::string tex = report::render_table(one, report::TableFormat::kLatex);
  EXPECT_NE(tex.find("\\begin{tabular}{lrrrrrrrrrrr}\n"), std::string::npos) << tex;
  EXPECT_NE(tex.find("& Avg. & model cov. & layer cov. & head overlap & evidence recall \\\\\n"), std::string::npos) << tex;
  EXPECT_NE(tex.find("snapkv-128 & 128 & 18.50 & 25.30 & 33.00 & 21.90 & 33.00 & 25.60 & 1.38 & 25.00 & 12.34 & "
                     "\xE2\x80\x93 \\\\\n"),
            std::string::npos)
      << tex;
}

TEST(TableCoverage, CsvAndJsonCarryTheSameValues) {
  const auto table = coverage_table(both_with_coverage());
  EXPECT_EQ(report::render_table(table, report::TableFormat::kCsv), kExpectedCoverageCsv);

  const json j = json::parse(report::render_table(table, report::TableFormat::kJson));
  ASSERT_EQ(j["rows"].size(), 4u);
  const json& s = j["rows"][1]["coverage"];
  EXPECT_EQ(s.size(), 4u) << s;  // vocab_coverage is not a column
  EXPECT_DOUBLE_EQ(s["model_coverage"].get<double>(), 1.38);
  EXPECT_DOUBLE_EQ(s["mean_layer_coverage"].get<double>(), 25.0);
  EXPECT_DOUBLE_EQ(s["mean_head_overlap"].get<double>(), 12.34);
  EXPECT_TRUE(s["evidence_recall"].is_null()) << s;
  for (const int row : {0, 2, 3}) {
    const json& c = j["rows"][row]["coverage"];
    ASSERT_EQ(c.size(), 4u) << c;
    for (const char* key : {"model_coverage", "mean_layer_coverage", "mean_head_overlap", "evidence_recall"}) {
      EXPECT_TRUE(c[key].is_null()) << "row " << row << " " << key;
    }
  }
  const json j1 = json::parse(report::render_table(table, report::TableFormat::kJson, 1));
  EXPECT_DOUBLE_EQ(j1["rows"][1]["coverage"]["model_coverage"].get<double>(), 1.4);
  EXPECT_DOUBLE_EQ(j1["rows"][1]["coverage"]["mean_head_overlap"].get<double>(), 12.3);
}

TEST(TableCoverage, PublishedRowsHaveNone) {
  report::TableOptions options;
  options.paper = report::parse_paper_csv(kPaperCsv, "paper.csv");
  options.model = "ModelX";
  const auto table = coverage_table(both_with_coverage(), options);
  const std::string csv = report::render_table(table, report::TableFormat::kCsv);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "run,variant,policy,budget,narrativeqa,qasper,hotpotqa,trec,single-doc QA,multi-doc QA,few-shot,average,"
            "model_coverage,mean_layer_coverage,mean_head_overlap,evidence_recall,source,delta_average,unpaired");
  EXPECT_NE(csv.find("alpha,snapkv-128,snapkv,128,18.50,25.30,33.00,,21.90,33.00,,25.60,1.38,25.00,12.34,,,,\n"
                     "published,SnapKV,snapkv,128,19.00,24.00,35.00,60.00,21.50,35.00,60.00,34.50,,,,," +
                     std::string(kNoteA) + ",-0.40,\n"),
            std::string::npos)
      << csv;
  const std::string md = report::render_table(table, report::TableFormat::kMarkdown);
  EXPECT_NE(md.find("| 34.50 |          \xE2\x80\x93 |          \xE2\x80\x93 |            \xE2\x80\x93 |               "
                    "\xE2\x80\x93 | -0.40 |\n"),
            std::string::npos)
      << md;
  const json j = json::parse(report::render_table(table, report::TableFormat::kJson));
  ASSERT_EQ(j["rows"][3]["published"], true);
  EXPECT_TRUE(j["rows"][3]["coverage"]["model_coverage"].is_null()) << j["rows"][3];
  EXPECT_DOUBLE_EQ(j["rows"][2]["coverage"]["model_coverage"].get<double>(), 1.38);
}

TEST(TableCoverage, WithoutTheFlagNothingChanges) {
  // Coverage in the reports does not matter unless asked for.
  const auto plain = report::build_table(both_with_coverage());
  EXPECT_FALSE(plain.with_coverage);
  const std::string md = report::render_table(plain, report::TableFormat::kMarkdown);
  EXPECT_EQ(md, kExpectedMarkdown);
  EXPECT_EQ(md.find("model cov."), std::string::npos);
  EXPECT_EQ(report::render_table(plain, report::TableFormat::kCsv), kExpectedCsv);
  EXPECT_EQ(report::render_table(plain, report::TableFormat::kLatex),
            report::render_table(report::build_table(both()), report::TableFormat::kLatex));
  const json j = json::parse(report::render_table(plain, report::TableFormat::kJson));
  for (const auto& row : j["rows"]) EXPECT_FALSE(row.contains("coverage")) << row;
  // The coverage table is the plain one plus four columns: the other columns keep their widths and cells.
  const std::string with = report::render_table(coverage_table(both_with_coverage()), report::TableFormat::kMarkdown);
  EXPECT_NE(with, md);
  EXPECT_EQ(drop_last_md_cells(with, 4), md);
}

TEST(TableCoverageCli, FlagAddsTheColumns) {
  TempDir dir;
  test::write_file(dir.file("alpha.json"), alpha_with_coverage_json().dump(2));
  test::write_file(dir.file("beta.json"), beta_json().dump(2));
  auto r = test::run_kvbench("table --report " + dir.file("alpha.json") + " --coverage");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpectedCoverageMarkdown);
  EXPECT_NE(r.out.find("| model cov. | layer cov. | head overlap | evidence recall |\n"), std::string::npos) << r.out;
  r = test::run_kvbench("table --report " + dir.file("alpha.json") + " " + dir.file("beta.json") +
                        " --format csv --coverage");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpectedCoverageCsv);
  r = test::run_kvbench("table --report " + dir.file("alpha.json") + " " + dir.file("beta.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpectedMarkdown);
}

}  // namespace
}  // namespace kvbench
