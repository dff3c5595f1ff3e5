// The nine synthetic task generators. Designs follow RULER (Hsieh et al., "RULER: What's the Real Context Size
// of Your Long-Context Language Models?", NVIDIA, 2024) for the needle, variable-tracking and common-words
// tasks, and LongBench's passage_count / passage_retrieval for the passage tasks, over our own filler.
//
// Every generator draws what defines the sample (keys, values, needle depths, layout) from the sample's seed
// BEFORE looking at `units`, so the length fit can resize the filler without changing the question.
#include "datasets/synth_tasks.h"

#include <algorithm>
#include <set>

#include "harness/common/error.h"

namespace kvbench::synth {
namespace {

// Independent streams of one sample: the filler must not shift when the needles draw more numbers.
constexpr std::uint64_t kFillerStream = 0x68617973ULL;    // "hays"
constexpr std::uint64_t kParagraphStream = 0x70617261ULL; // "para"

// --- shared pieces -----------------------------------------------------------------------------------------------

// A RULER-style key: "adjective-noun", a word pair the filler never writes (it has no hyphens).
std::string random_key(SynthRng& rng) { return rng.pick(key_adjectives()) + "-" + rng.pick(key_nouns()); }

std::vector<std::string> distinct_keys(SynthRng& rng, std::size_t n) {
  std::vector<std::string> out;
  while (out.size() < n) {
    std::string k = random_key(rng);
    if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(std::move(k));
  }
  return out;
}

// Distinct 7-digit numbers.
std::vector<std::string> distinct_values(SynthRng& rng, std::size_t n) {
  std::vector<std::string> out;
  while (out.size() < n) {
    std::string v = std::to_string(rng.between(1000000, 9999999));
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(std::move(v));
  }
  return out;
}

// Distinct 5-letter upper-case names, as RULER's variable tracking.
std::vector<std::string> distinct_variables(SynthRng& rng, std::size_t n) {
  std::vector<std::string> out;
  while (out.size() < n) {
    std::string v;
    for (int i = 0; i < 5; ++i) v.push_back(static_cast<char>('A' + rng.below(26)));
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(std::move(v));
  }
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// "a, b, c, and d" (two items: "a and b").
std::string english_list(const std::vector<std::string>& items) {
  if (items.size() <= 1) return join(items, "");
  if (items.size() == 2) return items[0] + " and " + items[1];
  std::vector<std::string> head(items.begin(), items.end() - 1);
  return join(head, ", ") + ", and " + items.back();
}

std::string needle(const std::string& key, const std::string& value) {
  return "One of the special magic numbers for " + key + " is: " + value + ".";
}

// A sentence put into the filler at a relative depth in [0, 1).
struct Insert {
  double depth;
  std::string text;
  bool evidence;
};

// Joins filler sentences (a space between them, a blank line after a paragraph's last) and puts each insert
// before filler sentence floor(depth * (n + 1)), i.e. anywhere from the very start to after the last sentence.
// Inserts at the same place keep their order. Records the byte span of every evidence insert.
void assemble(const std::vector<HaystackSentence>& filler, std::vector<Insert> inserts, Draft& d) {
  std::stable_sort(inserts.begin(), inserts.end(), [](const Insert& a, const Insert& b) { return a.depth < b.depth; });
  const std::size_t n = filler.size();
  std::string& out = d.context;
  const char* sep = "";
  auto append = [&](const std::string& text) -> Span {
    out += sep;
    const auto start = static_cast<std::int64_t>(out.size());
    out += text;
    return {start, static_cast<std::int64_t>(out.size())};
  };
  std::size_t next = 0;
  for (std::size_t i = 0; i <= n; ++i) {
    while (next < inserts.size() &&
           std::min(n, static_cast<std::size_t>(inserts[next].depth * static_cast<double>(n + 1))) == i) {
      const Span span = append(inserts[next].text);
      if (inserts[next].evidence) d.evidence.push_back(span);
      sep = " ";
      ++next;
    }
    if (i == n) break;
    append(filler[i].text);
    sep = filler[i].paragraph_end ? "\n\n" : " ";
  }
  std::sort(d.evidence.begin(), d.evidence.end());
}

// The fine knob of the length fit: cuts `trim` words off the last filler sentence.
void trim_tail(std::vector<HaystackSentence>& filler, std::size_t trim, Draft& d) {
  if (filler.empty()) return;
  d.trimmable = std::max<std::size_t>(word_count(filler.back().text), 1) - 1;
  filler.back().text = trim_words(filler.back().text, std::min(trim, d.trimmable));
}

std::vector<HaystackSentence> noise(std::size_t n) {
  std::vector<HaystackSentence> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back({noise_sentence(i), false});
  return out;
}

std::vector<HaystackSentence> essay(const TaskInput& in, std::size_t n) {
  return in.haystack->sentences(mix64(in.seed ^ kFillerStream), n);
}

// A draft of `filler` (its last sentence cut by `trim` words) with the inserts placed in it.
Draft place(std::vector<HaystackSentence> filler, std::size_t trim, std::vector<Insert> inserts) {
  Draft d;
  trim_tail(filler, trim, d);
  assemble(filler, std::move(inserts), d);
  return d;
}

// RULER's needle question with its answer prefix, for one key ("is") or, `several`, for all values ("are").
std::string niah_question(const std::string& keys, bool several) {
  const std::string numbers = several ? "special magic numbers" : "special magic number";
  return std::string(several ? "What are all the " : "What is the ") + numbers + " for " + keys +
         " mentioned in the provided text? Answer: The " + numbers + " for " + keys +
         " mentioned in the provided text " + (several ? "are" : "is");
}

// --- needle tasks ----------------------------------------------------------------------------------------------

// The classic passkey test: one number in repetitive noise.
Draft build_passkey(const TaskInput& in, std::size_t units, std::size_t trim) {
  SynthRng rng(in.seed);
  const std::string value = distinct_values(rng, 1)[0];
  const double depth = rng.unit();
  Draft d = place(noise(units), trim,
                  {{depth, "The pass key is " + value + ". Remember it. " + value + " is the pass key.", true}});
  d.input = "What is the pass key? The pass key is";
  d.answers = {value};
  return d;
}

// RULER niah_single_2: one "special magic number" needle in an essay.
Draft build_niah_single(const TaskInput& in, std::size_t units, std::size_t trim) {
  SynthRng rng(in.seed);
  const std::string key = distinct_keys(rng, 1)[0];
  const std::string value = distinct_values(rng, 1)[0];
  const double depth = rng.unit();
  Draft d = place(essay(in, units), trim, {{depth, needle(key, value), true}});
  d.input = niah_question(key, false);
  d.answers = {value};
  return d;
}

// RULER niah_multikey_1: the needle and three distractor needles with other keys.
Draft build_niah_multikey(const TaskInput& in, std::size_t units, std::size_t trim) {
  SynthRng rng(in.seed);
  const auto keys = distinct_keys(rng, 4);
  const auto values = distinct_values(rng, 4);
  std::vector<Insert> inserts;
  for (std::size_t k = 0; k < 4; ++k) inserts.push_back({rng.unit(), needle(keys[k], values[k]), k == 0});
  Draft d = place(essay(in, units), trim, inserts);
  d.input = niah_question(keys[0], false);
  d.answers = {values[0]};
  return d;
}

// RULER niah_multivalue: four values for one key; all must be given.
Draft build_niah_multivalue(const TaskInput& in, std::size_t units, std::size_t trim) {
  SynthRng rng(in.seed);
  const std::string key = distinct_keys(rng, 1)[0];
  const auto values = distinct_values(rng, 4);
  std::vector<Insert> inserts;
  for (const auto& v : values) inserts.push_back({rng.unit(), needle(key, v), true});
  // The answers in the order the text gives them (the scoring ignores order; a training target needs one).
  std::vector<std::size_t> order = {0, 1, 2, 3};
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return inserts[a].depth < inserts[b].depth; });
  Draft d = place(essay(in, units), trim, inserts);
  d.input = niah_question(key, true);
  for (std::size_t i : order) d.answers.push_back(values[i]);
  return d;
}

// RULER niah_multiquery: four keys, one value each; all four are asked.
Draft build_niah_multiquery(const TaskInput& in, std::size_t units, std::size_t trim) {
  SynthRng rng(in.seed);
  const auto keys = distinct_keys(rng, 4);
  const auto values = distinct_values(rng, 4);
  std::vector<Insert> inserts;
  for (std::size_t k = 0; k < 4; ++k) inserts.push_back({rng.unit(), needle(keys[k], values[k]), true});
  Draft d = place(essay(in, units), trim, inserts);
  d.input = niah_question(english_list(keys), true);
  d.answers = values;
  return d;
}

// RULER variable tracking (one chain, four hops): "VAR A = 1234567." then "VAR B = VAR A." ... in noise, in
// chain order; every variable of the chain holds the value.
Draft build_variable_tracking(const TaskInput& in, std::size_t units, std::size_t trim) {
  SynthRng rng(in.seed);
  const auto vars = distinct_variables(rng, 5);
  const std::string value = distinct_values(rng, 1)[0];
  std::vector<double> depths;
  for (std::size_t k = 0; k < vars.size(); ++k) depths.push_back(rng.unit());
  std::sort(depths.begin(), depths.end());  // statements in chain order, so the chain reads forward
  std::vector<Insert> inserts;
  for (std::size_t k = 0; k < vars.size(); ++k) {
    const std::string rhs = k == 0 ? value : "VAR " + vars[k - 1];
    inserts.push_back({depths[k], "VAR " + vars[k] + " = " + rhs + ".", true});
  }
  Draft d = place(noise(units), trim, inserts);
  d.input = "Question: Find all variables that are assigned the value " + value + " in the text above. Answer: "
            "According to the chain(s) of variable assignment in the text above, " + std::to_string(vars.size()) +
            " variables are assigned the value " + value + ", they are:";
  d.answers = vars;
  return d;
}

// --- common words extraction ---------------------------------------------------------------------------------

// How often the common and the uncommon words appear. RULER uses 30 and 3; short prompts cannot hold 10 x 30
// items, so both scale with the list length the target allows (about 6 tokens per "12. word" item), keeping
// the common words about ten times as frequent. Long prompts that would need more uncommon words than the
// vocabulary holds repeat them more, and the common words with them.
struct CweShape {
  std::size_t common_repeats, uncommon_repeats;
};

CweShape cwe_shape(std::int64_t target_tokens) {
  const std::size_t items = static_cast<std::size_t>(std::max<std::int64_t>(20, (target_tokens - 120) / 6));
  const std::size_t pool = word_pool().size() - 10;
  CweShape s{std::clamp<std::size_t>(items / 20, 3, 30), 0};
  s.uncommon_repeats = std::max<std::size_t>(1, s.common_repeats / 10);
  while (items > 10 * s.common_repeats && (items - 10 * s.common_repeats) / s.uncommon_repeats > pool) {
    ++s.uncommon_repeats;
    s.common_repeats = std::max(s.common_repeats, 10 * s.uncommon_repeats);
  }
  return s;
}

// RULER common words extraction: a numbered list in which ten words appear common_repeats times each and the
// others fewer times; answer the ten. `units` = the number of uncommon items; no trim (an item is a few tokens).
Draft build_common_words(const TaskInput& in, std::size_t units, std::size_t /*trim*/) {
  SynthRng rng(in.seed);
  const CweShape shape = cwe_shape(in.target_tokens);
  std::vector<std::string> pool = word_pool();
  rng.shuffle(pool);
  const std::vector<std::string> common(pool.begin(), pool.begin() + 10);
  const std::vector<std::string> rare(pool.begin() + 10, pool.end());

  // No rare word may be as frequent as the common ones: past that the list stops growing (the shape leaves
  // about ten times the room the target needs, so the fit only gets there when probing far beyond it).
  units = std::min(units, rare.size() * (shape.common_repeats - 1));
  // The first k rare words share the uncommon items as evenly as possible.
  const std::size_t k = std::min(rare.size(), (units + shape.uncommon_repeats - 1) / shape.uncommon_repeats);
  std::vector<std::string> items;
  for (const auto& w : common)
    for (std::size_t r = 0; r < shape.common_repeats; ++r) items.push_back(w);
  for (std::size_t i = 0; i < units; ++i) items.push_back(rare[i % std::max<std::size_t>(k, 1)]);
  rng.shuffle(items);

  Draft d;
  for (std::size_t i = 0; i < items.size(); ++i) {
    d.context += (i ? " " : "") + std::to_string(i + 1) + ". ";
    const auto start = static_cast<std::int64_t>(d.context.size());
    d.context += items[i];
    if (std::find(common.begin(), common.end(), items[i]) != common.end())
      d.evidence.push_back({start, static_cast<std::int64_t>(d.context.size())});
  }
  d.input = "Question: What are the 10 most common words in the above list? Answer: The top 10 words that appear "
            "most often in the list are:";
  d.answers = common;
  return d;
}

// --- passages ----------------------------------------------------------------------------------------------------

// How many paragraphs a prompt of the target length shows (about 160 tokens each, as a guide).
std::size_t paragraph_slots(std::int64_t target_tokens, std::size_t least) {
  return std::clamp<std::size_t>(static_cast<std::size_t>(std::max<std::int64_t>(0, target_tokens / 160)), least, 60);
}

// Paragraph j of `parts` with `sentences` sentences: a prefix of its own part of the haystack.
std::vector<std::string> paragraph_sentences(const TaskInput& in, std::size_t j, std::size_t parts, std::size_t sentences) {
  std::vector<std::string> out;
  for (auto& s : in.haystack->part(mix64(in.seed ^ kParagraphStream), j, parts, sentences)) out.push_back(std::move(s.text));
  return out;
}

// The fine knob of the passage tasks: words cut off the end of one paragraph (any number but its first word).
void trim_paragraph(std::string& text, std::size_t trim, Draft& d) {
  d.trimmable = std::max<std::size_t>(word_count(text), 1) - 1;
  text = trim_words(text, std::min(trim, d.trimmable));
}

// "Paragraph 1: ...\n\nParagraph 2: ..."; returns each paragraph's span, label included.
std::vector<Span> write_paragraphs(const std::vector<std::string>& texts, std::string& context) {
  std::vector<Span> spans;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (i) context += "\n\n";
    const auto start = static_cast<std::int64_t>(context.size());
    context += "Paragraph " + std::to_string(i + 1) + ": " + texts[i];
    spans.push_back({start, static_cast<std::int64_t>(context.size())});
  }
  return spans;
}

// LongBench passage_count on generated paragraphs: N paragraphs shown, U < N distinct, the rest copies of
// some of them, shuffled; answer U. `units` = sentences of the distinct paragraphs, dealt one at a time in a
// fixed round-robin order (so one more unit adds one sentence to one paragraph: the prompt only grows) and
// at least one each. The trim cuts a paragraph shown once (trimming a copied one would break the copy).
Draft build_passage_count(const TaskInput& in, std::size_t units, std::size_t trim) {
  SynthRng rng(in.seed);
  const std::size_t shown = paragraph_slots(in.target_tokens, 4);
  const auto distinct = static_cast<std::size_t>(rng.between(static_cast<std::int64_t>(shown / 2 + 1),
                                                              static_cast<std::int64_t>(shown - 1)));
  std::vector<std::size_t> copies(distinct, 1), order, deal(distinct);
  for (std::size_t i = distinct; i < shown; ++i) ++copies[static_cast<std::size_t>(rng.below(distinct))];
  for (std::size_t j = 0; j < distinct; ++j)
    for (std::size_t c = 0; c < copies[j]; ++c) order.push_back(j);
  rng.shuffle(order);
  for (std::size_t j = 0; j < distinct; ++j) deal[j] = j;
  rng.shuffle(deal);
  // More than half of the distinct paragraphs are shown once, so there is one to trim.
  std::size_t trimmed = 0;
  while (copies[trimmed] != 1) ++trimmed;

  units = std::max(units, distinct);
  std::vector<std::size_t> sentences(distinct, units / distinct);
  for (std::size_t r = 0; r < units % distinct; ++r) ++sentences[deal[r]];
  std::vector<std::string> texts(distinct), shown_texts;
  for (std::size_t j = 0; j < distinct; ++j) texts[j] = join(paragraph_sentences(in, j, distinct, sentences[j]), " ");
  Draft d;
  trim_paragraph(texts[trimmed], trim, d);
  for (std::size_t j : order) shown_texts.push_back(texts[j]);
  const std::vector<Span> spans = write_paragraphs(shown_texts, d.context);
  // Evidence: every copy of a repeated paragraph (what makes the count differ from the number shown).
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (copies[order[i]] < 2) continue;
    const auto label = static_cast<std::int64_t>(("Paragraph " + std::to_string(i + 1) + ": ").size());
    d.evidence.push_back({spans[i].first + label, spans[i].second});
  }
  // The answer counts distinct texts, so it stays right even if two generated paragraphs came out equal
  // (possible with a small user haystack).
  const std::set<std::string> unique(shown_texts.begin(), shown_texts.end());
  d.input = "Please enter the final count of unique paragraphs after removing duplicates. The output format should "
            "only contain the number, such as 1, 2, 3, and so on.";
  d.answers = {std::to_string(unique.size())};
  return d;
}

// LongBench passage_retrieval on generated paragraphs: which paragraph does a given sentence come from?
// `units` = sentences in all, dealt round-robin (paragraph j gets one more before j + 1), at least one each.
// The trim cuts the paragraph after the asked one, so the asked sentence stays whole.
Draft build_passage_retrieval(const TaskInput& in, std::size_t units, std::size_t trim) {
  SynthRng rng(in.seed);
  const std::size_t shown = paragraph_slots(in.target_tokens, 3);
  const auto target = static_cast<std::size_t>(rng.below(shown));
  const double pick = rng.unit();
  units = std::max(units, shown);
  std::vector<std::vector<std::string>> sentences(shown);
  std::vector<std::string> texts;
  for (std::size_t j = 0; j < shown; ++j) {
    sentences[j] = paragraph_sentences(in, j, shown, units / shown + (j < units % shown ? 1 : 0));
    texts.push_back(join(sentences[j], " "));
  }
  Draft d;
  trim_paragraph(texts[(target + 1) % shown], trim, d);
  // The asked sentence must identify its paragraph: it occurs nowhere else (and once in its own).
  const auto& own = sentences[target];
  const auto first = static_cast<std::size_t>(pick * static_cast<double>(own.size()));
  std::string query;
  for (std::size_t t = 0; t < own.size() && query.empty(); ++t) {
    const std::string& candidate = own[(first + t) % own.size()];
    std::size_t seen = 0;
    for (const auto& text : texts)
      for (std::size_t p = text.find(candidate); p != std::string::npos; p = text.find(candidate, p + 1)) ++seen;
    if (seen == 1) query = candidate;
  }
  KV_CHECK(!query.empty(), "synth_passage_retrieval: every sentence of paragraph ", target + 1, " also occurs in "
           "another paragraph (the haystack has too few distinct sentences for ", shown, " paragraphs)");
  const std::vector<Span> spans = write_paragraphs(texts, d.context);
  d.evidence = {spans[target]};
  d.input = query;
  d.answers = {"Paragraph " + std::to_string(target + 1)};
  return d;
}

}  // namespace

std::size_t word_count(const std::string& text) {
  std::size_t n = 0;
  bool in_word = false;
  for (char c : text) {
    if (c != ' ' && !in_word) ++n;
    in_word = c != ' ';
  }
  return n;
}

std::string trim_words(const std::string& text, std::size_t words) {
  if (words == 0) return text;
  const std::size_t keep = std::max<std::size_t>(1, word_count(text) - std::min(words, word_count(text)));
  std::size_t end = 0, seen = 0;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ' ') {
      in_word = false;
    } else {
      if (!in_word) ++seen;
      in_word = true;
      if (seen == keep) end = i + 1;
    }
  }
  std::string out = text.substr(0, end);
  const char last = text.empty() ? '.' : text.back();
  while (!out.empty() && std::string(",;:.!?").find(out.back()) != std::string::npos) out.pop_back();
  return out + (last == '!' || last == '?' ? last : '.');
}

const std::vector<TaskDef>& task_defs() {
  static const std::vector<TaskDef> k = {
      {"passkey", &build_passkey, 0},
      {"niah_single", &build_niah_single, 0},
      {"niah_multikey", &build_niah_multikey, 0},
      {"niah_multivalue", &build_niah_multivalue, 0},
      {"niah_multiquery", &build_niah_multiquery, 0},
      {"variable_tracking", &build_variable_tracking, 0},
      {"common_words", &build_common_words, 0},
      // LongBench already has a subset called passage_count (and passage_retrieval_en): the prefix keeps the
      // registry's names unique.
      {"synth_passage_count", &build_passage_count, 0},
      {"synth_passage_retrieval", &build_passage_retrieval, 0},
  };
  return k;
}

}  // namespace kvbench::synth
