#pragma once
// The generators of the nine synthetic tasks (datasets/synth.h), before the length fit: each builds one
// sample from its seed and a size in "units" of filler. Internal to datasets/synth*.cpp. No libtorch.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "datasets/synth_haystack.h"

namespace kvbench::synth {

/// A [start, end) byte range of a sample's context.
using Span = std::pair<std::int64_t, std::int64_t>;

/// A sample of some size, before the fit settles the size.
struct Draft {
  std::string context, input;
  std::vector<std::string> answers;
  std::vector<Span> evidence;  ///< byte offsets into context
  std::size_t trimmable = 0;   ///< how many words `trim` may cut at these units (0: the task has no fine knob)
};

/// What every generator call for one sample shares.
struct TaskInput {
  std::uint64_t seed = 0;             ///< the sample's seed: needles, keys, values and layout come from it
  std::int64_t target_tokens = 0;     ///< the prompt length aimed at; tasks size their structure from it
  const Haystack* haystack = nullptr; ///< the essay filler (niah tasks, passages)
};

/// One task's generator.
struct TaskDef {
  const char* name;
  /// The sample with `units` units of filler (haystack sentences, list items, or paragraph sentences), less
  /// `trim` words cut from the end of its last filler sentence (or, for passages, of one paragraph shown once):
  /// units are the coarse steps of the length fit, trim the fine ones. For one input, any size gives the same
  /// needles, keys, values and structure; more units, a longer context; more trim, a shorter one.
  Draft (*build)(const TaskInput& input, std::size_t units, std::size_t trim);
  std::size_t min_units;  ///< the smallest meaningful units value
};

/// `text` without its last `words` space-separated words (at least one word is kept), ending with the
/// sentence end it had ('.', '!' or '?'; '.' otherwise): "The fox ran to the mill." less 3 → "The fox ran.".
std::string trim_words(const std::string& text, std::size_t words);
/// Number of space-separated words.
std::size_t word_count(const std::string& text);

/// The nine tasks, in the suite's order.
const std::vector<TaskDef>& task_defs();

}  // namespace kvbench::synth
