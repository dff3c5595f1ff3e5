// The synthetic tasks (datasets/synth.h) as datasets of the registry, so a run evaluates a folder written by
// `kvbench synth` like LongBench subsets. Each template ends where the answer starts (RULER's answer prefixes
// folded into the input or the template), so that a base model continues with the answer. The needle,
// variable-tracking and common-words templates follow NVIDIA RULER (Apache-2.0); the passage templates adapt
// LongBench's (THUDM, MIT). No chat template: the tasks test retrieval, not instruction following.
#include "datasets/subset.h"

namespace kvbench {

const std::vector<SubsetSpec>& synth_subsets() {
  static const std::string kNiah =
      "Some special magic numbers are hidden within the following text. Make sure to memorize it. I will quiz you "
      "about the numbers afterwards.\n\n{context}\n\n{input}";
  // Fields: name, language, category, metric, max_new_tokens, chat, first_line, stop_at_newline, has_e, prompt,
  // question_starts.
  static const std::vector<SubsetSpec> kSubsets = {
    {"passkey", "en", "ruler", "ruler_all", 16, false, false, false, false,
     "There is an important piece of information hidden inside a lot of irrelevant text. Find it and memorize it. "
     "I will quiz you about it afterwards.\n\n{context}\n\n{input}", /*question_starts=*/"\n\n{input}"},
    {"niah_single", "en", "ruler", "ruler_all", 16, false, false, false, false, kNiah, /*question_starts=*/"\n\n{input}"},
    {"niah_multikey", "en", "ruler", "ruler_all", 16, false, false, false, false, kNiah, /*question_starts=*/"\n\n{input}"},
    {"niah_multivalue", "en", "ruler", "ruler_all", 64, false, false, false, false, kNiah, /*question_starts=*/"\n\n{input}"},
    {"niah_multiquery", "en", "ruler", "ruler_all", 64, false, false, false, false, kNiah, /*question_starts=*/"\n\n{input}"},
    {"variable_tracking", "en", "ruler", "ruler_all", 48, false, false, false, false,
     "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\n\n{input}", /*question_starts=*/"\n\n{input}"},
    {"common_words", "en", "ruler", "ruler_all", 64, false, false, false, false,
     "Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones "
     "that appear most often.\n\n{context}\n\n{input}", /*question_starts=*/"\n\n{input}"},
    // Counting and paragraph ids are scored as LongBench does (share of the numbers in the prediction that are
    // right): a substring match would take "17" for "7" and "Paragraph 12" for "Paragraph 1".
    {"synth_passage_count", "en", "ruler", "count", 16, false, false, false, false,
     "There are some paragraphs below. Some of them may be duplicates. Please carefully read these paragraphs and "
     "determine how many unique paragraphs there are after removing duplicates. In other words, how many "
     "non-repeating paragraphs are there in total?\n\n{context}\n\n{input}\n\nThe final answer is:",
     /*question_starts=*/"\n\n{input}"},
    {"synth_passage_retrieval", "en", "ruler", "retrieval", 16, false, false, false, false,
     "Here are some paragraphs, along with a sentence taken from one of them. Please determine which paragraph the "
     "sentence is from.\n\n{context}\n\nThe following is the sentence.\n\n{input}\n\nPlease enter the number of "
     "the paragraph that the sentence is from. The answer format must be like \"Paragraph 1\", \"Paragraph 2\", "
     "etc.\n\nThe answer is:",
     /*question_starts=*/"\n\nThe following is the sentence."},
  };
  return kSubsets;
}

}  // namespace kvbench
