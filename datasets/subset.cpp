#include "datasets/subset.h"

#include "harness/common/error.h"

namespace kvbench {

bool is_longbench_e(const std::string& name) {
  return name.size() > 2 && name.compare(name.size() - 2, 2, "_e") == 0;
}

std::string base_subset(const std::string& name) {
  return is_longbench_e(name) ? name.substr(0, name.size() - 2) : name;
}

const SubsetSpec* lookup_subset(const std::string& name) {
  for (const auto* list : {&longbench_subsets(), &synth_subsets()})
    for (const auto& s : *list)
      if (s.name == name) return &s;
  return nullptr;
}

std::string question_template(const SubsetSpec& subset) {
  const std::string marker = "{context}";
  const std::size_t at = subset.prompt.find(marker);
  KV_CHECK(at != std::string::npos, subset.name, ": the template has no {context}, so it has no context part");
  const std::string rest = subset.prompt.substr(at + marker.size());
  KV_CHECK(!subset.question_starts.empty() && rest.rfind(subset.question_starts, 0) == 0, subset.name,
           ": the registry's question_starts does not follow {context} in the template");
  return rest;
}

const SubsetSpec& find_subset(const std::string& name) {
  if (const SubsetSpec* s = lookup_subset(name)) return *s;
  if (const SubsetSpec* s = is_longbench_e(name) ? lookup_subset(base_subset(name)) : nullptr; s != nullptr && s->has_e)
    return *s;
  std::string known, synth;
  for (const auto& s : longbench_subsets()) known += (known.empty() ? "" : ", ") + s.name;
  for (const auto& s : synth_subsets()) synth += (synth.empty() ? "" : ", ") + s.name;
  fail("unknown LongBench subset '", name, "' (known: ", known, "; LongBench-E variants end in _e; synthetic: ",
       synth, ")");
}

int published_rows(const std::string& name) {
  const SubsetSpec* s = lookup_subset(base_subset(name));
  if (s == nullptr) return 0;
  return is_longbench_e(name) ? s->rows_e : (s->name == name ? s->rows : 0);
}

std::string suite_of(const std::vector<std::string>& subsets) {
  std::size_t synthetic = 0;
  for (const std::string& name : subsets)
    for (const auto& s : synth_subsets()) synthetic += s.name == name ? 1 : 0;
  if (synthetic == 0) return "LongBench";
  return synthetic == subsets.size() ? "synthetic suite" : "LongBench and synthetic";
}

std::vector<const SubsetSpec*> subsets_in(const std::string& group) {
  std::vector<const SubsetSpec*> out;
  if (group == "synth") {
    for (const auto& s : synth_subsets()) out.push_back(&s);
    return out;
  }
  for (const auto& s : longbench_subsets()) {
    if (group == "longbench21" || (group == "longbench16" && s.language == "en") || (group == "longbench-e" && s.has_e))
      out.push_back(&s);
  }
  if (out.empty()) out.push_back(&find_subset(group));
  return out;
}

const std::vector<std::string>& category_order() {
  static const std::vector<std::string> kOrder = {"single-doc QA", "multi-doc QA", "summarization",
                                                  "few-shot", "synthetic", "code",
                                                  "ruler"};  // kvbench's own generated suite (synth_subsets.cpp)
  return kOrder;
}

}  // namespace kvbench
