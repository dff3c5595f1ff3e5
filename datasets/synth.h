#pragma once
// A synthetic long-context suite in the style of NVIDIA's RULER: needle-in-a-haystack retrieval (passkey,
// niah_single, niah_multikey, niah_multivalue, niah_multiquery), variable tracking, common-words extraction,
// and LongBench-like passage counting and retrieval over generated paragraphs. Each sample is a LongBench row
// (datasets/loader.h's Sample) whose prompt, built with the task's template (datasets/synth_subsets.cpp),
// has the requested number of tokens within 2%, and whose `evidence` marks the needles. Generation is
// deterministic: (task, tokens, seed, index, tokenizer, haystack) fixes every byte. No libtorch.
// Spec and design notes: docs/synthetic.md.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/loader.h"
#include "datasets/synth_haystack.h"
#include "harness/tokenizer/tokenizer.h"

namespace kvbench::synth {

/// The nine task names, in the suite's order.
const std::vector<std::string>& task_names();
/// Throws kvbench::Error naming the known tasks when `task` is not one of them.
void check_task(const std::string& task);

/// The seed of sample `index` of `task` in a set generated with `seed` (SplitMix64 over the three), so that
/// samples are independent and adding samples or tasks never changes the others.
std::uint64_t sample_seed(std::uint64_t seed, std::size_t index, const std::string& task);
/// "<task>-<tokens>-s<seed>-<index, 4 digits>", e.g. "niah_single-4096-s7-0003".
std::string sample_id(const std::string& task, std::int64_t tokens, std::uint64_t seed, std::size_t index);

/// One generated sample.
struct SynthResult {
  Sample sample;                  ///< the LongBench row (evidence: [start, end) byte offsets into sample.context)
  std::int64_t prompt_tokens = 0; ///< tokens of the task template filled with it, BOS included, no chat
};

/// Generates sample `index` of `task` whose prompt (the task's template, the tokenizer's special tokens as
/// encode adds them, no chat template, no truncation: what build_prompt gives) has `tokens` tokens within
/// 2%. The filler grows or shrinks until that holds; throws kvbench::Error when `tokens` is too small for
/// the task (naming the shortest possible prompt) or cannot be met.
SynthResult generate_sample(const std::string& task, std::int64_t tokens, std::uint64_t seed, std::size_t index,
                            const Tokenizer& tokenizer, const Haystack& haystack);

/// The sample as a LongBench JSONL row: input, context, answers, length, dataset, language, all_classes (null),
/// _id, evidence ([[start, end], ...] in characters of context, i.e. code points, as the loader reads them; the
/// Sample holds byte offsets, as the loader returns them).
nlohmann::ordered_json sample_row(const Sample& sample);

/// The answer as the model should write it after the prompt: the answers joined by ", " (multi-answer tasks
/// ask for a list; single-answer tasks have one).
std::string answer_text(const Sample& sample);

}  // namespace kvbench::synth
