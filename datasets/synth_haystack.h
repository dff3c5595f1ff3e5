#pragma once
// Filler text and randomness for the synthetic suite (datasets/synth.h): a seeded random helper whose output
// is the same on every standard library, a procedural English-like sentence generator (a small grammar over
// word lists written for this project, so no third-party text is shipped), the repetitive "noise" filler of
// passkey and variable tracking, and an optional haystack read from a user's folder of .txt files.
// No libtorch.

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace kvbench::synth {

/// std::mt19937_64 (its sequence is fixed by the C++ standard) with our own distributions: the standard's
/// distributions (uniform_int_distribution, shuffle, ...) are implementation-defined, and a data set must be
/// byte-identical whichever standard library built the binary.
class SynthRng {
 public:
  explicit SynthRng(std::uint64_t seed) : engine_(seed) {}
  /// The next raw 64-bit value.
  std::uint64_t next() { return engine_(); }
  /// Uniform in [0, n) for n > 0, by rejection (no modulo bias).
  std::uint64_t below(std::uint64_t n);
  /// Uniform in [lo, hi] (lo <= hi).
  std::int64_t between(std::int64_t lo, std::int64_t hi);
  /// Uniform in [0, 1) with 53 random bits.
  double unit();
  /// True with probability num / den.
  bool chance(std::uint64_t num, std::uint64_t den) { return below(den) < num; }
  /// A uniformly chosen element of a non-empty list.
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[static_cast<std::size_t>(below(items.size()))];
  }
  /// Fisher-Yates shuffle.
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[static_cast<std::size_t>(below(i))]);
  }

 private:
  std::mt19937_64 engine_;
};

/// SplitMix64's finalizer: a bijective mix used to derive independent seeds from (seed, index, task).
std::uint64_t mix64(std::uint64_t x);

/// One haystack sentence; `paragraph_end` puts a blank line after it instead of a space.
struct HaystackSentence {
  std::string text;
  bool paragraph_end = false;
};

/// Where the essay-like filler of the needle tasks and the passage tasks comes from: the procedural generator
/// (default) or the sentences of a user's .txt files, cycled.
class Haystack {
 public:
  /// The procedural generator.
  Haystack() = default;
  /// All *.txt files of `dir` (sorted by name, not recursive), split into sentences. Throws kvbench::Error when
  /// the folder cannot be read, holds no .txt file, a file is not UTF-8, or there is no sentence at all.
  static Haystack from_directory(const std::string& dir);

  /// The first `n` sentences of the stream of `seed`. A larger n extends a smaller one (same seed, same
  /// prefix), which is what lets the length fit grow a sample without changing what it already holds.
  std::vector<HaystackSentence> sentences(std::uint64_t seed, std::size_t n) const;
  /// The first `n` sentences of part `part` of `parts` (the passages of one sample), again a prefix for any n.
  /// From files: disjoint stretches (the sentences cut into `parts` equal stretches after a seeded start) while
  /// n fits in a stretch, so that passages do not repeat each other; generated: an independent stream per part.
  std::vector<HaystackSentence> part(std::uint64_t seed, std::size_t part, std::size_t parts, std::size_t n) const;
  /// Whether this is the procedural generator.
  bool procedural() const { return file_sentences_.empty(); }
  /// How many sentences the files gave (0 for the procedural generator).
  std::size_t file_sentence_count() const { return file_sentences_.size(); }

 private:
  std::vector<HaystackSentence> file_sentences_;
};

/// One procedural sentence (ASCII, capitalised, ending in '.', '!' or '?'; never a digit).
std::string procedural_sentence(SynthRng& rng);

/// Splits text into sentences: paragraphs at blank lines, lines inside a paragraph joined with a space,
/// sentences ending at '.', '!' or '?' (and closing quotes or brackets) before whitespace. Sentences longer
/// than about 300 bytes are cut at spaces so that the length fit keeps fine steps. `text` must be UTF-8.
std::vector<HaystackSentence> split_sentences(const std::string& text);

/// The repetitive filler of passkey and variable tracking (RULER's "noise" haystack, in our own words):
/// five short sentences cycled; sentence i of any sample is the same.
const std::string& noise_sentence(std::size_t i);

/// Adjectives and nouns of the grammar (single words), for needle keys such as "quiet-lantern".
const std::vector<std::string>& key_adjectives();
const std::vector<std::string>& key_nouns();
/// Every distinct single word of the grammar's lists, sorted: the vocabulary of common-words extraction.
const std::vector<std::string>& word_pool();

}  // namespace kvbench::synth
