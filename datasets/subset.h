#pragma once
// The dataset registry: what a LongBench subset is (prompt template, generation length, metric, and the
// protocol's per-subset rules). Registered in longbench_subsets.cpp, one entry per subset. No libtorch.

#include <string>
#include <vector>

namespace kvbench {

struct SubsetSpec {
  std::string name;      ///< e.g. "narrativeqa"
  std::string language;  ///< "en" or "zh"
  std::string category;  ///< the papers' averaging groups: "single-doc QA", "multi-doc QA", ...
  std::string metric;    ///< metric name in the metrics registry, e.g. "qa_f1"
  int max_new_tokens = 0;
  bool chat = true;              ///< the chat template applies (not for trec, triviaqa, samsum, lsht, lcc, repobench-p)
  bool first_line = false;       ///< score only the first line of the prediction (trec, triviaqa, samsum, lsht)
  bool stop_at_newline = false;  ///< generation also stops at "\n" and needs one new token (samsum)
  bool has_e = false;            ///< a LongBench-E file <name>_e.jsonl exists
  std::string prompt;            ///< the template, with {context} and {input}
  /// The query-agnostic split: the template text that begins the question part, right after {context}
  /// (checked by a test). The context part is the template up to and including {context}.
  std::string question_starts;
  int rows = 0;    ///< rows of the published <name>.jsonl (LongBench: 200, 150 or 500; synthetic tasks: 0)
  int rows_e = 0;  ///< rows of the published <name>_e.jsonl (has_e), else 0
};

/// The template's question part (everything after {context}); throws when `question_starts` does not follow
/// {context} in the template.
std::string question_template(const SubsetSpec& subset);

/// What a run's subsets are, for titles: "LongBench" (every one a LongBench subset, _e variants included),
/// "synthetic suite" (every one kvbench's generated tasks), else "LongBench and synthetic".
std::string suite_of(const std::vector<std::string>& subsets);

/// All registered subsets, in the official order.
const std::vector<SubsetSpec>& longbench_subsets();
/// The synthetic RULER-style tasks written by `kvbench synth` (datasets/synth_subsets.cpp), in suite order.
const std::vector<SubsetSpec>& synth_subsets();
/// The subset called `name` (a LongBench subset, where a trailing "_e" names its LongBench-E variant, or a
/// synthetic task); throws listing the known names.
const SubsetSpec& find_subset(const std::string& name);
/// The registry entry (LongBench or synthetic) named exactly `name`, or nullptr. LongBench-E names ("qasper_e")
/// are files of a subset, not entries: find_subset() takes those.
const SubsetSpec* lookup_subset(const std::string& name);
/// Whether `name` names a LongBench-E file ("qasper_e"), and the subset it belongs to ("qasper").
bool is_longbench_e(const std::string& name);
std::string base_subset(const std::string& name);
/// Subsets of a group name: "longbench16" (the 16 English subsets of the papers), "longbench21" (all),
/// "longbench-e" (the 13 with LongBench-E files), "synth" (the nine synthetic tasks), or a single subset name.
std::vector<const SubsetSpec*> subsets_in(const std::string& group);
/// The published row count of a LongBench file name ("qasper" 200, "qasper_e" 224); 0 for anything else.
int published_rows(const std::string& file_subset);
/// The papers' category order for averages.
const std::vector<std::string>& category_order();

}  // namespace kvbench
