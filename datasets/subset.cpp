#include "datasets/subset.h"

#include "harness/common/error.h"

namespace kvbench {

const SubsetSpec& find_subset(const std::string& name) {
  const std::string base = name.size() > 2 && name.compare(name.size() - 2, 2, "_e") == 0 ? name.substr(0, name.size() - 2) : name;
  for (const auto& s : longbench_subsets())
    if (s.name == base && (base == name || s.has_e)) return s;
  for (const auto& s : synth_subsets())
    if (s.name == name) return s;
  std::string known, synth;
  for (const auto& s : longbench_subsets()) known += (known.empty() ? "" : ", ") + s.name;
  for (const auto& s : synth_subsets()) synth += (synth.empty() ? "" : ", ") + s.name;
  fail("unknown LongBench subset '", name, "' (known: ", known, "; LongBench-E variants end in _e; synthetic: ",
       synth, ")");
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
