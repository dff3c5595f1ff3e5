// HF tokenizer.json support (harness/tokenizer/hf_*.cpp): parity with HuggingFace tokenizers 0.23.
//
// 1. The real Llama-3, Qwen2 and Mistral files from ../shared (skipped when absent): llama.cpp's expected ids
//    for its edge-case strings, hand-derived Mistral expectations, round trips, special tokens, sizes.
// 2. Tiny tokenizer.json files written here, one component at a time. Most expectations are written as
//    token strings: the vocabulary holds every substring of the text a case can produce and ignore_merges is
//    on, so each pre-token becomes one id whose string shows where the pre-tokenizer split. Every expectation
//    was also checked against tokenizers 0.23 itself.
// 3. Errors for what we do not implement.
// 4. DISABLED_HfTokenizerBench: throughput on LongBench prompts (run with --gtest_also_run_disabled_tests).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/tokenizer/hf_components.h"
#include "harness/tokenizer/hf_regex.h"
#include "harness/tokenizer/hf_tokenizer.h"
#include "harness/tokenizer/tokenizer_config.h"
#include "harness/common/unicode.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using json = nlohmann::json;
using Ids = std::vector<TokenId>;
using Strings = std::vector<std::string>;

// ---- helpers ----------------------------------------------------------------------------------------------

std::unique_ptr<Tokenizer> load_json(const json& j, const TokenizerConfig& config = {}) {
  test::TempDir dir;
  test::write_file(dir.file("tokenizer.json"), j.dump());
  return load_hf_tokenizer(dir.file("tokenizer.json"), config);
}

json bpe(json vocab, json merges = json::array()) {
  return json{{"type", "BPE"},          {"dropout", nullptr},        {"unk_token", nullptr},
              {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", false},
              {"byte_fallback", false}, {"ignore_merges", false},    {"vocab", std::move(vocab)},
              {"merges", std::move(merges)}};
}

json tokenizer(json model, json normalizer = nullptr, json pre = nullptr, json post = nullptr, json decoder = nullptr,
               json added = json::array()) {
  return json{{"version", "1.0"},      {"truncation", nullptr},           {"padding", nullptr},
              {"added_tokens", added}, {"normalizer", normalizer},        {"pre_tokenizer", pre},
              {"post_processor", post}, {"decoder", decoder},             {"model", model}};
}

json added(TokenId id, const std::string& content, bool special = true, bool normalized = false, bool lstrip = false,
           bool rstrip = false, bool single_word = false) {
  return json{{"id", id},         {"content", content}, {"single_word", single_word}, {"lstrip", lstrip},
              {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < s.size();) {
    const auto n = static_cast<std::size_t>(unicode::utf8_length(static_cast<unsigned char>(s[i])));
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// Every substring (on character boundaries) of the given texts, numbered from `first_id`.
json substring_vocab(const Strings& texts, TokenId first_id = 0) {
  std::set<std::string> all;
  for (const auto& t : texts) {
    const auto chars = utf8_chars(t);
    for (std::size_t i = 0; i < chars.size(); ++i) {
      std::string s;
      for (std::size_t j = i; j < chars.size(); ++j) all.insert(s += chars[j]);
    }
  }
  json vocab = json::object();
  TokenId id = first_id;
  for (const auto& s : all) vocab[s] = id++;
  return vocab;
}

// A BPE model whose vocabulary is every substring of `texts` with ignore_merges on: each pre-token is one id.
json piece_model(const Strings& texts) {
  json m = bpe(substring_vocab(texts));
  m["ignore_merges"] = true;
  return m;
}

Strings token_strings(const Tokenizer& t, const Ids& ids) {
  Strings out;
  for (TokenId id : ids) out.push_back(t.id_to_token(id));
  return out;
}

Strings pieces(const Tokenizer& t, const std::string& text, bool add_special = false) {
  return token_strings(t, t.encode(text, add_special));
}

Ids ids_of(const Tokenizer& t, const Strings& tokens) {
  Ids out;
  for (const auto& s : tokens) {
    const auto id = t.token_to_id(s);
    EXPECT_TRUE(id.has_value()) << "no token '" << s << "'";
    out.push_back(id.value_or(-1));
  }
  return out;
}

// The GPT-2 byte-level form of a string.
std::string bl(const std::string& s) {
  std::string out;
  for (char c : s) out += hf::byte_level_char(static_cast<unsigned char>(c));
  return out;
}

json byte_level_pre(bool add_prefix_space, bool use_regex) {
  return json{{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

json split_pre(const std::string& regex, const std::string& behavior, bool invert = false) {
  return json{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", behavior}, {"invert", invert}};
}

std::string expect_error(const json& j) {
  try {
    load_json(j);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << j.dump().substr(0, 200);
  return "";
}

// ---- tiny tokenizers: the BPE model -----------------------------------------------------------------------

TEST(HfTokenizerBpe, MergesLowestRankFirstAndSkipsStaleEntries) {
  // "abcd": (b,c) has rank 0, so it merges first; the queued (a,b) entry is then stale (the pair at its position
  // is (a,bc)), "a bc" merges next, and (c,d) no longer exists.
  const json vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"d", 3}, {"ab", 4}, {"bc", 5}, {"abc", 6}, {"cd", 7}};
  auto t = load_json(tokenizer(bpe(vocab, {"b c", "a b", "a bc", "c d"})));
  EXPECT_EQ(t->encode("abcd", false), (Ids{6, 3}));
  EXPECT_EQ(t->encode("abd", false), (Ids{4, 3}));
  EXPECT_EQ(t->encode("cd", false), (Ids{7}));
  // The same merges in the ["a", "b"] form.
  const json pair_merges = json::array({json::array({"b", "c"}), json::array({"a", "b"}), json::array({"a", "bc"}),
                                        json::array({"c", "d"})});
  auto pairs = load_json(tokenizer(bpe(vocab, pair_merges)));
  EXPECT_EQ(pairs->encode("abcd", false), (Ids{6, 3}));
}

TEST(HfTokenizerBpe, EqualRanksMergeLeftmostFirst) {
  auto t = load_json(tokenizer(bpe({{"a", 0}, {"aa", 1}, {"aaaa", 2}}, {"a a", "aa aa"})));
  EXPECT_EQ(t->encode("aaa", false), (Ids{1, 0}));
  EXPECT_EQ(t->encode("aaaaa", false), (Ids{2, 0}));
  EXPECT_EQ(t->encode("aaaaaaa", false), (Ids{2, 1, 0}));
}

TEST(HfTokenizerBpe, LongWordIsNotQuadratic) {
  // One 200k-character word (no pre-tokenizer): the heap-based merge loop handles it at once.
  auto t = load_json(tokenizer(bpe({{"a", 0}, {"b", 1}, {"ab", 2}, {"abab", 3}}, {"a b", "ab ab"})));
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "ab";
  const auto start = std::chrono::steady_clock::now();
  const Ids ids = t->encode(text, false);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ids, Ids(50000, 3));
  EXPECT_LT(seconds, 2.0);
}

TEST(HfTokenizerBpe, UnknownCharacters) {
  const json vocab = {{"<unk>", 0}, {"a", 1}, {"b", 2}};
  json m = bpe(vocab);
  m["unk_token"] = "<unk>";
  EXPECT_EQ(load_json(tokenizer(m))->encode("axyb", false), (Ids{1, 0, 0, 2}));
  m["fuse_unk"] = true;
  EXPECT_EQ(load_json(tokenizer(m))->encode("axyb", false), (Ids{1, 0, 2}));
  // Without an unk token HF drops unknown characters.
  EXPECT_EQ(load_json(tokenizer(bpe(vocab)))->encode("axyb", false), (Ids{1, 2}));
}

TEST(HfTokenizerBpe, ByteFallback) {
  // "é" is C3 A9. With both byte tokens it falls back to bytes; with one missing, to <unk>. As in HF, bytes of
  // a character go in before a pending (fused) unk: "xé" gives <0xC3> <0xA9> <unk>.
  const json vocab = {{"<unk>", 0}, {"<0xC3>", 1}, {"<0xA9>", 2}, {"a", 3}};
  json m = bpe(vocab);
  m["unk_token"] = "<unk>";
  m["byte_fallback"] = true;
  m["fuse_unk"] = true;
  auto t = load_json(tokenizer(m));
  EXPECT_EQ(t->encode("aé", false), (Ids{3, 1, 2}));
  EXPECT_EQ(t->encode("aü", false), (Ids{3, 0}));  // ü is C3 BC: no <0xBC>
  EXPECT_EQ(t->encode("xé", false), (Ids{1, 2, 0}));
  EXPECT_EQ(t->encode("xyé", false), (Ids{1, 2, 0}));
}

TEST(HfTokenizerBpe, IgnoreMerges) {
  const json vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"abc", 3}};
  EXPECT_EQ(load_json(tokenizer(bpe(vocab)))->encode("abc", false), (Ids{0, 1, 2}));
  json m = bpe(vocab);
  m["ignore_merges"] = true;
  EXPECT_EQ(load_json(tokenizer(m))->encode("abc", false), (Ids{3}));
}

// ---- normalizers ----------------------------------------------------------------------------------------

TEST(HfTokenizerNormalizer, PrependAndReplaceAsInLlama2Files) {
  const json norm = {{"type", "Sequence"},
                     {"normalizers",
                      {{{"type", "Prepend"}, {"prepend", "▁"}},
                       {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}};
  auto t = load_json(tokenizer(piece_model({"▁a▁▁b▁"}), norm));
  EXPECT_EQ(pieces(*t, "a  b "), (Strings{"▁a▁▁b▁"}));
  EXPECT_TRUE(t->encode("", false).empty());  // Prepend leaves an empty string empty
}

TEST(HfTokenizerNormalizer, RegexReplaceNfcLowercaseStrip) {
  const json norm = {{"type", "Sequence"},
                     {"normalizers",
                      {{{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
                       {{"type", "NFC"}},
                       {{"type", "Lowercase"}},
                       {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", "_"}}}}};
  auto t = load_json(tokenizer(piece_model({"\xC3\xA9_a_i\xCC\x87"}), norm));
  // "e" + U+0301 composes to "é"; Lowercase maps İ (U+0130) to "i̇" (i + U+0307) as Rust's to_lowercase does.
  EXPECT_EQ(pieces(*t, " \u3000E\xCC\x81  A\t\n\xC4\xB0 "), (Strings{"\xC3\xA9_a_i\xCC\x87"}));
}

TEST(HfTokenizerNormalizer, NfkcAndNfd) {
  auto nfkc = load_json(tokenizer(piece_model({"fi2"}), json{{"type", "NFKC"}}));
  EXPECT_EQ(pieces(*nfkc, "ﬁ²"), (Strings{"fi2"}));
  auto nfd = load_json(tokenizer(piece_model({"e\xCC\x81"}), json{{"type", "NFD"}}));
  EXPECT_EQ(pieces(*nfd, "é"), (Strings{"e\xCC\x81"}));
}

// ---- pre-tokenizers ---------------------------------------------------------------------------------------

TEST(HfTokenizerPreTokenizer, SplitBehaviors) {
  const std::string text = "ab  cd1e";
  const auto run = [&](const std::string& behavior, bool invert) {
    return pieces(*load_json(tokenizer(piece_model({text}), nullptr, split_pre("\\s+|[0-9]", behavior, invert))), text);
  };
  EXPECT_EQ(run("Isolated", false), (Strings{"ab", "  ", "cd", "1", "e"}));
  EXPECT_EQ(run("Removed", false), (Strings{"ab", "cd", "e"}));
  EXPECT_EQ(run("MergedWithPrevious", false), (Strings{"ab  ", "cd1", "e"}));
  EXPECT_EQ(run("MergedWithNext", false), (Strings{"ab", "  cd", "1e"}));
  EXPECT_EQ(run("Contiguous", false), (Strings{"ab", "  ", "cd", "1", "e"}));
  EXPECT_EQ(run("Removed", true), (Strings{"  ", "1"}));
  EXPECT_EQ(run("MergedWithPrevious", true), (Strings{"ab", "  cd", "1e"}));
  EXPECT_EQ(run("MergedWithNext", true), (Strings{"ab  ", "cd1", "e"}));
  // Contiguous joins runs of adjacent matches: "1" and "2" are separate matches of [0-9].
  auto digits = load_json(tokenizer(piece_model({"ab12 c"}), nullptr, split_pre("[0-9]", "Contiguous")));
  EXPECT_EQ(pieces(*digits, "ab12 c"), (Strings{"ab", "12", " c"}));
  // A String pattern matches literally.
  auto literal = load_json(tokenizer(piece_model({"a.b.c"}), nullptr,
                                     json{{"type", "Split"}, {"pattern", {{"String", "."}}}, {"behavior", "Removed"}, {"invert", false}}));
  EXPECT_EQ(pieces(*literal, "a.b.c"), (Strings{"a", "b", "c"}));
}

TEST(HfTokenizerPreTokenizer, ByteLevelWithGpt2Regex) {
  const std::string text = "Hello world's  123!!\n";
  auto t = load_json(tokenizer(piece_model({bl(" " + text)}), nullptr, byte_level_pre(true, true)));
  EXPECT_EQ(pieces(*t, text), (Strings{bl(" Hello"), bl(" world"), bl("'s"), bl(" "), bl(" 123"), bl("!!"), bl("\n")}));
  // add_prefix_space does not add a second space; without use_regex the piece stays whole.
  auto whole = load_json(tokenizer(piece_model({bl(" a b")}), nullptr, byte_level_pre(true, false)));
  EXPECT_EQ(pieces(*whole, " a b"), (Strings{bl(" a b")}));
  EXPECT_EQ(pieces(*whole, "a b"), (Strings{bl(" a b")}));
}

TEST(HfTokenizerPreTokenizer, Llama3StyleSequence) {
  const json pre = {{"type", "Sequence"},
                    {"pretokenizers",
                     {split_pre("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
                                "Isolated"),
                      byte_level_pre(false, false)}}};
  const std::string text = "I'LL pay 12345 now\n\n  ok";
  auto t = load_json(tokenizer(piece_model({bl(text)}), nullptr, pre));
  EXPECT_EQ(pieces(*t, text), (Strings{bl("I"), bl("'LL"), bl(" pay"), bl(" "), bl("123"), bl("45"), bl(" now"),
                                       bl("\n\n"), bl(" "), bl(" ok")}));
}

TEST(HfTokenizerPreTokenizer, Metaspace) {
  const auto make = [](const std::string& scheme, bool split) {
    json pre = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", scheme}, {"split", split}};
    json vocab = substring_vocab({"▁a▁b▁", "▁c"}, 1);
    vocab["<x>"] = 0;
    json m = bpe(vocab);
    m["ignore_merges"] = true;
    return load_json(tokenizer(m, nullptr, pre, nullptr, nullptr, json::array({added(0, "<x>")})));
  };
  EXPECT_EQ(pieces(*make("always", false), "a b <x>c"), (Strings{"▁a▁b▁", "<x>", "▁c"}));
  EXPECT_EQ(pieces(*make("always", true), "a b <x>c"), (Strings{"▁a", "▁b", "▁", "<x>", "▁c"}));
  // "first": only the segment at the very start of the input gets the prefix.
  EXPECT_EQ(pieces(*make("first", false), "a b <x>c"), (Strings{"▁a▁b▁", "<x>", "c"}));
  EXPECT_EQ(pieces(*make("first", false), "<x>c"), (Strings{"<x>", "c"}));
  EXPECT_EQ(pieces(*make("never", true), "a b"), (Strings{"a", "▁b"}));
}

TEST(HfTokenizerPreTokenizer, DigitsWhitespaceSplitCharDelimiter) {
  const json pre = {{"type", "Sequence"},
                    {"pretokenizers",
                     {{{"type", "WhitespaceSplit"}},
                      {{"type", "Digits"}, {"individual_digits", true}},
                      {{"type", "CharDelimiterSplit"}, {"delimiter", "-"}}}}};
  auto t = load_json(tokenizer(piece_model({"ab12-c", "x"}), nullptr, pre));
  EXPECT_EQ(pieces(*t, " ab12-c \u3000x"), (Strings{"ab", "1", "2", "c", "x"}));
}

// ---- added tokens --------------------------------------------------------------------------------------------

TEST(HfTokenizerAdded, LeftmostLongestBeforeNormalization) {
  // Added tokens are found in the raw text, leftmost-longest; the text between them is normalized apart (so
  // Prepend gives each segment its own prefix, as HF does).
  json m = piece_model({"▁x▁", "▁y"});
  const json norm = {{"type", "Sequence"},
                     {"normalizers",
                      {{{"type", "Prepend"}, {"prepend", "▁"}},
                       {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}};
  const json tokens = json::array({added(0, "<a>"), added(0, "<a>b"), added(0, "b>")});
  auto t = load_json(tokenizer(m, norm, nullptr, nullptr, nullptr, tokens));
  EXPECT_EQ(pieces(*t, "x <a>by"), (Strings{"▁x▁", "<a>b", "▁y"}));
  EXPECT_EQ(pieces(*t, "x b>y"), (Strings{"▁x▁", "b>", "▁y"}));
  EXPECT_EQ(pieces(*t, "<a><a>"), (Strings{"<a>", "<a>"}));
}

TEST(HfTokenizerAdded, StripAndSingleWord) {
  const json tokens = json::array({added(0, "<l>", true, false, /*lstrip=*/true), added(0, "<r>", true, false, false, /*rstrip=*/true),
                                   added(0, "w", false, false, false, false, /*single_word=*/true)});
  auto t = load_json(tokenizer(piece_model({"a b c"}), nullptr, nullptr, nullptr, nullptr, tokens));
  EXPECT_EQ(pieces(*t, "a  <l>b"), (Strings{"a", "<l>", "b"}));
  EXPECT_EQ(pieces(*t, "a<r> \t b"), (Strings{"a", "<r>", "b"}));
  EXPECT_EQ(pieces(*t, "a w b"), (Strings{"a ", "w", " b"}));
  // Inside a word "w" is not the added token; the model drops it (no unk token).
  EXPECT_EQ(pieces(*t, "aw b"), (Strings{"a", " ", "b"}));
}

TEST(HfTokenizerAdded, NormalizedTokensMatchNormalizedText) {
  // A normalized: true token matches the normalized text, and HF 0.23 decodes it (and gives its string) as
  // its normalized form, so a normalized special token whose form changes is not skipped by skip_special.
  const json tokens = json::array({added(0, "HeLLo", false, /*normalized=*/true), added(0, "Sp", true, true)});
  auto t = load_json(tokenizer(piece_model({"xy"}), json{{"type", "Lowercase"}}, nullptr, nullptr, nullptr, tokens));
  const TokenId hello = *t->token_to_id("HeLLo"), sp = *t->token_to_id("Sp");
  EXPECT_EQ(t->encode("xHELLOy", false), (Ids{*t->token_to_id("x"), hello, *t->token_to_id("y")}));
  EXPECT_EQ(t->encode("sP", false), (Ids{sp}));
  EXPECT_EQ(t->id_to_token(hello), "hello");
  EXPECT_EQ(t->decode({hello, sp}, true), "hello sp");  // no decoder: tokens joined by spaces
  EXPECT_FALSE(t->is_special(sp));
}

TEST(HfTokenizerAdded, IdsAssignedAsHfDoes) {
  // HF ignores the ids written in added_tokens: a token already in the vocabulary keeps its id, a new one gets
  // the next id after the model's (vocab size 3 here).
  const json tokens = json::array({added(100, "<a>"), added(7, "b", false), added(200, "<c>")});
  auto t = load_json(tokenizer(bpe({{"a", 0}, {"b", 1}, {"c", 2}}), nullptr, nullptr, nullptr, nullptr, tokens));
  EXPECT_EQ(t->token_to_id("<a>"), 3);
  EXPECT_EQ(t->token_to_id("b"), 1);
  EXPECT_EQ(t->token_to_id("<c>"), 4);
  EXPECT_EQ(t->vocab_size(), 5);
  EXPECT_TRUE(t->is_special(3));
  EXPECT_FALSE(t->is_special(1));
  EXPECT_EQ(t->encode("a<c>b<a>", false), (Ids{0, 4, 1, 3}));
}

// ---- post-processors ------------------------------------------------------------------------------------

TEST(HfTokenizerPostProcessor, TemplateBertSequence) {
  const json vocab = {{"<s>", 0}, {"</s>", 1}, {"a", 2}};
  const json tmpl = {{"type", "TemplateProcessing"},
                     {"single",
                      {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                       {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                       {{"SpecialToken", {{"id", "END"}, {"type_id", 0}}}}}},
                     {"pair", json::array()},
                     {"special_tokens",
                      {{"<s>", {{"id", "<s>"}, {"ids", {0}}, {"tokens", {"<s>"}}}},
                       {"END", {{"id", "END"}, {"ids", {1, 0}}, {"tokens", {"</s>", "<s>"}}}}}}};
  auto t = load_json(tokenizer(bpe(vocab), nullptr, nullptr, tmpl));
  EXPECT_EQ(t->encode("aa", true), (Ids{0, 2, 2, 1, 0}));
  EXPECT_EQ(t->encode("aa", false), (Ids{2, 2}));
  EXPECT_EQ(t->encode("", true), (Ids{0, 1, 0}));
  const json seq = {{"type", "Sequence"},
                    {"processors",
                     {{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}},
                      {{"type", "BertProcessing"}, {"sep", {"</s>", 1}}, {"cls", {"<s>", 0}}}}}};
  EXPECT_EQ(load_json(tokenizer(bpe(vocab), nullptr, nullptr, seq))->encode("a", true), (Ids{0, 2, 1}));
}

// ---- decoders ---------------------------------------------------------------------------------------------

TEST(HfTokenizerDecoder, ByteLevelAndLossyUtf8) {
  const json vocab = {{bl("é"), 0}, {bl("\xC3"), 1}, {bl(" x"), 2}, {"<sp ok>", 3}};
  auto t = load_json(tokenizer(bpe(vocab), nullptr, nullptr, nullptr, json{{"type", "ByteLevel"}}));
  EXPECT_EQ(t->decode({0, 2}, false), "é x");
  EXPECT_EQ(t->decode({1, 2}, false), "\xEF\xBF\xBD x");  // a lone C3 byte becomes U+FFFD
  EXPECT_EQ(t->decode({3, 2}, false), "<sp ok> x");       // a character outside the alphabet: token as is
  EXPECT_EQ(t->decode({0, 99, 2}, false), "é x");          // unknown ids are dropped
}

TEST(HfTokenizerDecoder, SentencePieceStyleChain) {
  // Mistral's chain: Replace ▁ -> " ", ByteFallback, Fuse, Strip one leading space.
  const json vocab = {{"<0xF0>", 0}, {"<0x9F>", 1}, {"<0xA6>", 2}, {"<0x99>", 3}, {"▁a", 4}, {"▁", 5}, {"b", 6}};
  const json dec = {{"type", "Sequence"},
                    {"decoders",
                     {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  auto t = load_json(tokenizer(bpe(vocab), nullptr, nullptr, nullptr, dec));
  EXPECT_EQ(t->decode({4, 5, 0, 1, 2, 3, 6}, false), "a 🦙b");
  // An invalid byte run becomes one U+FFFD per byte (not per maximal subpart).
  EXPECT_EQ(t->decode({4, 0, 1, 6}, false), "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
}

TEST(HfTokenizerDecoder, MetaspaceDropsEveryReplacementOfTheFirstToken) {
  const json vocab = {{"▁▁", 0}, {"a", 1}, {"▁b", 2}};
  const auto make = [&](const std::string& scheme) {
    return load_json(tokenizer(bpe(vocab), nullptr, nullptr, nullptr,
                               json{{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", scheme}, {"split", true}}));
  };
  EXPECT_EQ(make("always")->decode({0, 1, 2}, false), "a b");
  EXPECT_EQ(make("never")->decode({0, 1, 2}, false), "  a b");
}

TEST(HfTokenizerDecoder, NoDecoderJoinsWithSpaces) {
  auto t = load_json(tokenizer(bpe({{"a", 0}, {"b", 1}})));
  EXPECT_EQ(t->decode({0, 1, 0}, false), "a b a");
}

// ---- errors ------------------------------------------------------------------------------------------------

TEST(HfTokenizerErrors, UnsupportedConstructsAreNamedWithTheFile) {
  const json base = tokenizer(bpe({{"a", 0}}));
  const auto with = [&](const char* key, json value) {
    json j = base;
    j[key] = std::move(value);
    return j;
  };
  const auto check = [](const std::string& message, const std::string& construct) {
    EXPECT_NE(message.find(construct), std::string::npos) << message;
    EXPECT_NE(message.find("tokenizer.json"), std::string::npos) << message;
  };
  json wordpiece = base;
  wordpiece["model"] = {{"type", "WordPiece"}, {"vocab", {{"a", 0}}}};
  check(expect_error(wordpiece), "WordPiece");
  check(expect_error(with("normalizer", {{"type", "BertNormalizer"}})), "BertNormalizer");
  check(expect_error(with("normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "Precompiled"}}}}})), "Precompiled");
  check(expect_error(with("pre_tokenizer", {{"type", "BertPreTokenizer"}})), "BertPreTokenizer");
  check(expect_error(with("decoder", {{"type", "WordPiece"}})), "WordPiece");
  check(expect_error(with("post_processor", {{"type", "Weird"}})), "Weird");
  check(expect_error(with("truncation", {{"max_length", 8}})), "truncation");
  check(expect_error(with("pre_tokenizer", split_pre("(", "Isolated"))), "regex");
  check(expect_error(with("pre_tokenizer", split_pre("a", "Sideways"))), "Sideways");
  json prefix = base;
  prefix["model"]["continuing_subword_prefix"] = "##";
  check(expect_error(prefix), "continuing_subword_prefix");
  json dropout = base;
  dropout["model"]["dropout"] = 0.1;
  check(expect_error(dropout), "dropout");
  json bad_merge = base;
  bad_merge["model"]["merges"] = {"a b"};
  check(expect_error(bad_merge), "merges[0]");
  bad_merge["model"]["merges"] = {"ab"};
  check(expect_error(bad_merge), "merges[0]");
  EXPECT_THROW(load_hf_tokenizer("/nonexistent/tokenizer.json", {}), Error);
}

TEST(HfTokenizerRegex, OnigurumaEscapesAreTranslated) {
  std::vector<std::pair<std::size_t, std::size_t>> m;
  hf::Regex space("\\s+", "test");
  space.find_all("a\xC2\x85" "b", m);  // U+0085 is \s in Oniguruma, not in PCRE2
  EXPECT_EQ(m, (std::vector<std::pair<std::size_t, std::size_t>>{{1, 3}}));
  m.clear();
  hf::Regex letters("\\p{L}+", "test");
  letters.find_all("\xF0\xB1\x8D\x90!", m);  // U+31350, CJK extension H (Unicode 15)
  EXPECT_EQ(m, (std::vector<std::pair<std::size_t, std::size_t>>{{0, 4}}));
  m.clear();
  hf::Regex empty("x*", "test");  // empty matches right after a match are skipped, as Onig's find_iter does
  empty.find_all("axxb", m);
  EXPECT_EQ(m, (std::vector<std::pair<std::size_t, std::size_t>>{{0, 0}, {1, 3}, {4, 4}}));
}

// ---- the real files in ../shared ---------------------------------------------------------------------------

std::optional<std::string> shared_tokenizer(const std::string& name) {
  const auto shared = test::shared_dir();
  if (!shared) return std::nullopt;
  const std::string path = *shared + "/data/tokenizers/" + name + "/tokenizer.json";
  if (test::read_file(path).empty()) return std::nullopt;
  return path;
}

std::unique_ptr<Tokenizer> load_shared(const std::string& name) {
  const auto path = shared_tokenizer(name);
  return path ? load_hf_tokenizer(*path, read_tokenizer_config(*test::shared_dir() + "/data/tokenizers/" + name)) : nullptr;
}

#define LOAD_SHARED_OR_SKIP(var, name)                                                    \
  auto var = load_shared(name);                                                           \
  if (!var) GTEST_SKIP() << "../shared/data/tokenizers/" name " is absent (no shared data)"

// llama.cpp's vocab tests: inputs separated by "\n__ggml_vocab_test__\n", each input (the last one too) ended
// by it; the .out has one line of ids per input (add_special_tokens=False).
void check_ggml_cases(const Tokenizer& t, const std::string& base) {
  const std::string inputs = test::read_file(base + ".inp"), outputs = test::read_file(base + ".out");
  ASSERT_FALSE(inputs.empty()) << base << ".inp";
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (std::size_t pos = 0;;) {
    const std::size_t next = inputs.find(sep, pos);
    if (next == std::string::npos) break;
    texts.push_back(inputs.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<Ids> expected;
  std::istringstream lines(outputs);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    Ids ids;
    for (TokenId id; fields >> id;) ids.push_back(id);
    expected.push_back(ids);
  }
  ASSERT_EQ(texts.size(), expected.size());
  ASSERT_GE(texts.size(), 40u);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(t.encode(texts[i], false), expected[i]) << "case " << i << ": '" << texts[i] << "'";
    EXPECT_EQ(t.decode(expected[i], false), texts[i]) << "case " << i;
  }
}

TEST(HfTokenizerShared, Llama3MatchesLlamaCppExpectations) {
  LOAD_SHARED_OR_SKIP(t, "llama3_hf");
  check_ggml_cases(*t, *test::shared_dir() + "/data/tokenizer-tests/ggml-vocab-llama-bpe.gguf");
}

TEST(HfTokenizerShared, Qwen2MatchesLlamaCppExpectations) {
  LOAD_SHARED_OR_SKIP(t, "qwen2_hf");
  check_ggml_cases(*t, *test::shared_dir() + "/data/tokenizer-tests/ggml-vocab-qwen2.gguf");
}

TEST(HfTokenizerShared, MistralHandDerivedExpectations) {
  LOAD_SHARED_OR_SKIP(t, "mistral_hf");
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);
  EXPECT_EQ(t->vocab_size(), 32000);
  EXPECT_EQ(t->describe(), "tokenizer.json (BPE, byte-fallback, 32000 ids)");
  // Prepend "▁" and spaces -> "▁": "▁Hello▁world", two vocabulary tokens; TemplateProcessing adds <s> (id 1).
  const Ids hello = ids_of(*t, {"▁Hello", "▁world"});
  EXPECT_EQ(hello, (Ids{22557, 1526}));
  EXPECT_EQ(t->encode("Hello world", false), hello);
  EXPECT_EQ(t->encode("Hello world", true), (Ids{1, 22557, 1526}));
  EXPECT_EQ(t->encode("", true), (Ids{1}));
  EXPECT_TRUE(t->encode("", false).empty());
  // 🦙 (F0 9F A6 99) is not in the vocabulary: "▁" then the byte tokens <0xF0> <0x9F> <0xA6> <0x99>.
  const Ids llama = ids_of(*t, {"▁", "<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"});
  EXPECT_EQ(llama, (Ids{28705, 243, 162, 169, 156}));
  EXPECT_EQ(t->encode("🦙", false), llama);
  EXPECT_EQ(t->decode(llama, false), "🦙");
  // "<s>" in the text is the special token; the text after it is a new segment that gets its own "▁".
  EXPECT_EQ(t->encode("Hello world <s> 🦙", true), (Ids{1, 22557, 1526, 28705, 1, 259, 243, 162, 169, 156}));
  EXPECT_EQ(t->decode({1, 22557, 1526, 28705, 1, 259, 243, 162, 169, 156}, false), "<s> Hello world <s>  🦙");
  EXPECT_EQ(t->decode({1, 22557, 1526, 28705, 1, 259, 243, 162, 169, 156}, true), "Hello world   🦙");
  // A leading space: "▁▁Hello" is "▁" + "▁Hello".
  EXPECT_EQ(t->encode(" Hello", false), ids_of(*t, {"▁", "▁Hello"}));
  EXPECT_EQ(t->encode("<s>Hello</s>", false), (Ids{1, 22557, 2}));
  EXPECT_TRUE(t->is_special(1));
  EXPECT_FALSE(t->is_special(22557));
}

TEST(HfTokenizerShared, SpecialTokensInPromptsAndSkipSpecial) {
  LOAD_SHARED_OR_SKIP(llama, "llama3_hf");
  EXPECT_EQ(llama->bos_id(), 128000);
  EXPECT_EQ(llama->eos_id(), 128001);
  EXPECT_EQ(llama->vocab_size(), 128256);
  EXPECT_EQ(llama->describe(), "tokenizer.json (BPE, byte-level, 128256 ids)");
  const std::string prompt = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>";
  const Ids ids = llama->encode(prompt, false);
  EXPECT_EQ(ids, (Ids{128000, 128006, 882, 128007, 271, 13347, 1070, 128009}));
  EXPECT_EQ(llama->encode(prompt, true), ids);  // this file's post-processor (ByteLevel) adds nothing
  EXPECT_EQ(llama->decode(ids, false), prompt);
  EXPECT_EQ(llama->decode(ids, true), "user\n\nHi there");
  EXPECT_EQ(llama->id_to_token(128009), "<|eot_id|>");
  EXPECT_EQ(llama->token_to_id("<|eot_id|>"), 128009);
  EXPECT_EQ(llama->id_to_token(13347), "Hi");

  LOAD_SHARED_OR_SKIP(qwen, "qwen2_hf");
  EXPECT_FALSE(qwen->bos_id().has_value());
  EXPECT_EQ(qwen->eos_id(), 151645);
  const std::string chat = "<|im_start|>user\nHello<|im_end|>\n<think>\n</think>";
  const Ids q = qwen->encode(chat, true);
  EXPECT_EQ(q.front(), 151644);
  EXPECT_EQ(qwen->decode(q, false), chat);
  // <think> is an added token but not special: skip_special keeps it.
  EXPECT_EQ(qwen->decode(q, true), "user\nHello\n<think>\n</think>");
  EXPECT_FALSE(qwen->is_special(*qwen->token_to_id("<think>")));
  EXPECT_TRUE(qwen->is_special(151645));
}

TEST(HfTokenizerShared, RoundTripsAndInvalidUtf8) {
  const std::vector<std::string> texts = {
      "Hello world",
      "  leading and trailing spaces  ",
      "Tabs\tand\nnewlines\r\n\n\nand   runs of    spaces",
      "Numbers 1234567890 3.14159 -42 1e10 ½ ² ①",
      "Ünïcödé façade naïve coöperate Ελληνικά Русский текст العربية עברית हिन्दी ไทย",
      "中文文本，日本語のテキスト、한국어 텍스트。",
      "Emoji 🦙🤗👍🏽🇺🇸👨‍👩‍👧 and symbols ™ © ® ∑ ∞ ≠ → ←",
      "Code: int main() { return a->b[0] != nullptr && x <= 3; } // comment",
      "Contractions: I'm, you're, he's, we'll, they'd, it's, DON'T, O'Neil",
      "Mixed\u00a0nbsp\u2009thin\u3000ideographic\u200bzero-width",
      "e\xCC\x81 decomposed vs \xC3\xA9 composed",
  };
  for (const char* name : {"llama3_hf", "qwen2_hf", "mistral_hf", "gemma3_hf"}) {
    SCOPED_TRACE(name);
    const auto t = load_shared(name);
    if (!t) GTEST_SKIP() << "../shared/data/tokenizers is absent (no shared data)";
    const bool nfc = std::string(name) == "qwen2_hf";
    for (const auto& text : texts) {
      const std::string want = nfc ? unicode::nfc(text) : text;
      EXPECT_EQ(t->decode(t->encode(text, true), true), want) << text;
    }
    EXPECT_TRUE(t->encode("", false).empty());
    // Invalid UTF-8 is replaced by U+FFFD per maximal subpart before encoding.
    EXPECT_EQ(t->encode("a\xFF" "b\xE2\x82", false), t->encode("a\xEF\xBF\xBD" "b\xEF\xBF\xBD", false));
    EXPECT_EQ(t->decode(t->encode("a\xFF" "b", false), false), "a\xEF\xBF\xBD" "b");
  }
}

TEST(HfTokenizerShared, LongSingleWordForMistral) {
  LOAD_SHARED_OR_SKIP(t, "mistral_hf");
  // No pre-tokenizer: 60 kB without added tokens is one BPE word.
  std::string text;
  while (text.size() < 60000) text += "The quick brown fox jumps over the lazy dog, again and again. ";
  const auto start = std::chrono::steady_clock::now();
  const Ids ids = t->encode(text, false);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(t->decode(ids, false), text);
  EXPECT_LT(seconds, 2.0);
}

// Gemma 3's tokenizer (262k vocabulary; Replace " " -> "▁" normalizer, a Split pre-tokenizer that then never
// splits, byte fallback). Ids of the first text recorded from HF tokenizers 0.23.2 (its Node binding); the
// byte tokens are hand-derived (<0xNN> is id 238 + NN); <bos> 2 and <end_of_turn> 106 are Gemma's published ids.
TEST(HfTokenizerShared, Gemma3) {
  LOAD_SHARED_OR_SKIP(t, "gemma3_hf");
  EXPECT_EQ(t->vocab_size(), 262145);
  EXPECT_EQ(t->bos_id(), 2);
  EXPECT_EQ(t->eos_id(), 106);  // its tokenizer_config.json names <end_of_turn> as EOS
  const std::string turn = "<start_of_turn>user\n  Hello   world<end_of_turn>\n";
  EXPECT_EQ(t->encode(turn, true), (Ids{2, 105, 2364, 107, 138, 9259, 139, 12392, 106, 107}));
  EXPECT_EQ(t->decode(t->encode(turn, true), true), "user\n  Hello   world\n");
  // 🦙 is not in the vocabulary: its four UTF-8 bytes.
  EXPECT_EQ(t->encode("\xF0\x9F\xA6\x99", false), (Ids{238 + 0xF0, 238 + 0x9F, 238 + 0xA6, 238 + 0x99}));
  EXPECT_EQ(t->token_to_id("<0x00>"), 238);
}

TEST(HfTokenizerShared, ConcurrentEncodesAgree) {
  LOAD_SHARED_OR_SKIP(t, "qwen2_hf");
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i)
    texts.push_back("Thread-safe? Yes: " + std::to_string(i * 7919) + " words, " + std::string(static_cast<std::size_t>(i % 5) + 1, ' ') +
                    "<|im_end|> naïve 日本語 " + std::to_string(i));
  std::vector<Ids> expected;
  for (const auto& text : texts) expected.push_back(t->encode(text, true));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (int round = 0; round < 20; ++round)
        for (std::size_t i = 0; i < texts.size(); ++i) mismatches[static_cast<std::size_t>(k)] += t->encode(texts[i], true) != expected[i];
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

// ---- throughput (disabled by default) ---------------------------------------------------------------------

TEST(HfTokenizerBench, DISABLED_LongBenchThroughput) {
  const auto shared = test::shared_dir();
  if (!shared) GTEST_SKIP() << "no shared data";
  std::vector<std::string> prompts;
  std::ifstream in(*shared + "/data/longbench/multi_news.jsonl");
  std::size_t bytes = 0;
  for (std::string line; std::getline(in, line);) {
    prompts.push_back(json::parse(line).at("context").get<std::string>());
    bytes += prompts.back().size();
  }
  ASSERT_FALSE(prompts.empty());
  for (const char* name : {"llama3_hf", "qwen2_hf", "mistral_hf", "gemma3_hf"}) {
    const auto t = load_shared(name);
    ASSERT_TRUE(t);
    double best = 1e30;
    std::size_t tokens = 0;
    for (int rep = 0; rep < 3; ++rep) {
      tokens = 0;
      const auto start = std::chrono::steady_clock::now();
      for (const auto& p : prompts) tokens += t->encode(p, false).size();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::printf("[ bench    ] %-11s %zu prompts, %.1f MB, %zu tokens: %.1f MB/s, %.2f M tokens/s (one thread)\n", name,
                prompts.size(), bytes / 1e6, tokens, bytes / best / 1e6, tokens / best / 1e6);
  }
}

}  // namespace
}  // namespace kvbench
