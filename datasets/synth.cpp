// The synthetic suite's entry points: task names, seeds and ids, the length fit that sizes each sample to the
// requested prompt length, and the LongBench JSONL row.
#include "datasets/synth.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include "datasets/prompt.h"
#include "datasets/subset.h"
#include "datasets/synth_tasks.h"
#include "harness/common/error.h"

namespace kvbench::synth {
namespace {

const TaskDef& task_def(const std::string& task) {
  check_task(task);
  for (const auto& t : task_defs())
    if (task == t.name) return t;
  fail("internal: no generator for synthetic task ", task);
}

// FNV-1a: the task's part of a sample seed (stable across builds, unlike std::hash).
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

// Sizes one sample: finds the filler size whose prompt has the target token count within 2%. Tokenizing is
// the expensive step and building a draft is cheap, so the search predicts token counts from prompt bytes
// (interpolating between the prompts it has tokenized) and tokenizes only where the prediction points.
// Coarse stage: adjacent unit counts lo < hi whose prompts fall below and reach the target. Fine stage: words
// trimmed off the filler's end at hi, down towards the target. It stops at 0.5%; usually 3-6 tokenizations.
class LengthFit {
 public:
  LengthFit(const TaskDef& def, const SubsetSpec& spec, const TaskInput& in, const Tokenizer& tokenizer)
      : def_(def), spec_(spec), in_(in), tokenizer_(tokenizer), target_(in.target_tokens) {}

  /// The fitted draft and its prompt's token count.
  Draft run(std::int64_t* prompt_tokens) {
    const std::int64_t tolerance = target_ / 50;  // the 2% rule
    const std::int64_t shortest = measure({def_.min_units, 0});
    KV_CHECK(shortest <= target_ + tolerance, "--tokens ", target_, " is too small for ", def_.name,
             ": its shortest prompt has ", shortest, " tokens with this tokenizer");
    const std::size_t hi = coarse();
    if (!close_enough()) fine(hi);
    const std::int64_t got = measured_.at(best_).tokens;
    KV_CHECK(std::llabs(got - target_) <= tolerance, def_.name, ": could not fit the prompt to ", target_,
             " tokens (closest: ", got, ")");
    *prompt_tokens = got;
    return def_.build(in_, best_.units, best_.trim);
  }

 private:
  struct Size {
    std::size_t units, trim;
    bool operator<(const Size& o) const { return units != o.units ? units < o.units : trim < o.trim; }
  };
  struct Point {
    std::size_t chars;
    std::int64_t tokens;
  };

  std::int64_t miss(const Size& s) const { return std::llabs(measured_.at(s).tokens - target_); }
  bool close_enough() const { return miss(best_) <= std::max<std::int64_t>(1, target_ / 200); }
  bool reaches(const Size& s) const { return measured_.at(s).tokens >= target_; }

  std::string prompt(const Draft& d) const { return format_template(spec_.prompt, d.context, d.input); }

  std::size_t chars(const Size& s) {
    auto it = chars_.find(s);
    if (it == chars_.end()) it = chars_.emplace(s, prompt(def_.build(in_, s.units, s.trim)).size()).first;
    return it->second;
  }

  // Tokens exactly as build_prompt without truncation or chat template: encode with special tokens.
  std::int64_t measure(const Size& s) {
    const std::string text = prompt(def_.build(in_, s.units, s.trim));
    const auto tokens = static_cast<std::int64_t>(tokenizer_.encode(text, /*add_special=*/true).size());
    chars_[s] = text.size();
    measured_[s] = {text.size(), tokens};
    if (measured_.size() == 1 || std::llabs(tokens - target_) < miss(best_)) best_ = s;
    return tokens;
  }

  // Tokens predicted for a prompt of `c` bytes: linear between the nearest tokenized prompts around it, or
  // along the line through the outermost two beyond them (one point: a typical 4 bytes per token).
  double predict_chars(double c) const {
    std::vector<Point> pts;
    for (const auto& [size, p] : measured_) pts.push_back(p);
    std::sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.chars < b.chars; });
    auto line = [c](const Point& a, const Point& b) {
      const double ca = static_cast<double>(a.chars), cb = static_cast<double>(b.chars);
      if (a.chars == b.chars) return static_cast<double>(a.tokens) + (c - ca) / 4.0;
      return static_cast<double>(a.tokens) + static_cast<double>(b.tokens - a.tokens) / (cb - ca) * (c - ca);
    };
    if (pts.size() == 1) return line(pts[0], pts[0]);
    for (std::size_t i = 1; i < pts.size(); ++i)
      if (c <= static_cast<double>(pts[i].chars)) return line(pts[i - 1], pts[i]);
    return line(pts[pts.size() - 2], pts.back());
  }

  double predict(const Size& s) {
    const auto it = measured_.find(s);
    return it != measured_.end() ? static_cast<double>(it->second.tokens) : predict_chars(static_cast<double>(chars(s)));
  }

  // The first unit count predicted to reach the target (doubling, then bisection).
  std::size_t first_reaching() {
    const auto t = static_cast<double>(target_);
    std::size_t lo = def_.min_units, step = 1;
    if (predict({lo, 0}) >= t) return lo;
    std::size_t hi = lo + step;
    while (predict({hi, 0}) < t) {
      KV_CHECK(step < (std::size_t{1} << 26), def_.name, ": cannot reach ", target_, " tokens");
      lo = hi;
      step *= 2;
      hi = lo + step;
    }
    while (hi - lo > 1) {  // predict(lo) < t <= predict(hi)
      const std::size_t mid = lo + (hi - lo) / 2;
      (predict({mid, 0}) < t ? lo : hi) = mid;
    }
    return hi;
  }

  // Coarse stage on untrimmed sizes: returns hi, the smallest tokenized unit count that reaches the target,
  // once hi - 1 is tokenized and falls short (or hi is the minimum).
  std::size_t coarse() {
    for (int round = 0; round < 24; ++round) {
      std::optional<std::size_t> lo, hi;
      for (const auto& [s, p] : measured_)
        if (s.trim == 0 && p.tokens >= target_ && !hi) hi = s.units;
      for (const auto& [s, p] : measured_)
        if (s.trim == 0 && p.tokens < target_ && (!hi || s.units < *hi)) lo = s.units;
      if (close_enough() || (hi && (!lo || *hi - *lo == 1))) return hi.value_or(best_.units);
      std::size_t next = first_reaching();
      if (!hi) {
        if (measured_.count({next, 0})) next = measured_.rbegin()->first.units * 2 + 1;
      } else {
        next = std::clamp(next, *lo + 1, *hi - 1);
        if (measured_.count({next, 0})) next = *lo + (*hi - *lo) / 2;
      }
      measure({next, 0});
    }
    return best_.units;
  }

  // Fine stage: trim words at `units` (a size that reaches the target) until it is just above or below.
  void fine(std::size_t units) {
    if (!measured_.count({units, 0}) || !reaches({units, 0})) return;
    const std::size_t most = def_.build(in_, units, 0).trimmable;
    std::size_t lo = 0, hi = most + 1;  // trim lo reaches the target; trim hi falls short (most + 1: not known)
    for (int round = 0; round < 12 && !close_enough() && hi - lo > 1; ++round) {
      // The largest trim still predicted to reach the target, or the next one if that is closer.
      const auto t = static_cast<double>(target_);
      std::size_t a = lo, b = std::min(hi, most + 1);
      while (b - a > 1) {
        const std::size_t mid = a + (b - a) / 2;
        (predict({units, mid}) >= t ? a : b) = mid;
      }
      std::size_t next = (b <= most && std::abs(predict({units, b}) - t) < std::abs(predict({units, a}) - t)) ? b : a;
      if (next <= lo || next >= hi || measured_.count({units, next})) next = lo + (hi - lo) / 2;
      if (next <= lo || next > most) break;
      (measure({units, next}) >= target_ ? lo : hi) = next;
    }
  }

  const TaskDef& def_;
  const SubsetSpec& spec_;
  const TaskInput& in_;
  const Tokenizer& tokenizer_;
  const std::int64_t target_;
  std::map<Size, Point> measured_;
  std::map<Size, std::size_t> chars_;
  Size best_{0, 0};
};

}  // namespace

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> k = [] {
    std::vector<std::string> out;
    for (const auto& t : task_defs()) out.push_back(t.name);
    return out;
  }();
  return k;
}

void check_task(const std::string& task) {
  for (const auto& t : task_defs())
    if (task == t.name) return;
  std::string known;
  for (const auto& name : task_names()) known += (known.empty() ? "" : ", ") + name;
  fail("unknown synthetic task '", task, "' (known: ", known, ")");
}

std::uint64_t sample_seed(std::uint64_t seed, std::size_t index, const std::string& task) {
  return mix64(mix64(mix64(seed) ^ fnv1a(task)) ^ static_cast<std::uint64_t>(index));
}

std::string sample_id(const std::string& task, std::int64_t tokens, std::uint64_t seed, std::size_t index) {
  char n[32];
  std::snprintf(n, sizeof n, "%04zu", index);
  return task + "-" + std::to_string(tokens) + "-s" + std::to_string(seed) + "-" + n;
}

SynthResult generate_sample(const std::string& task, std::int64_t tokens, std::uint64_t seed, std::size_t index,
                            const Tokenizer& tokenizer, const Haystack& haystack) {
  const TaskDef& def = task_def(task);
  KV_CHECK(tokens > 0, "--tokens must be positive, got ", tokens);
  const SubsetSpec& spec = find_subset(task);
  const TaskInput in{sample_seed(seed, index, task), tokens, &haystack};
  SynthResult r;
  Draft d = LengthFit(def, spec, in, tokenizer).run(&r.prompt_tokens);
  Sample& s = r.sample;
  s.id = sample_id(task, tokens, seed, index);
  s.dataset = task;
  s.language = "en";
  // LongBench's length is in words; ours counts tokens of context and input, each encoded without specials.
  s.length = static_cast<std::int64_t>(tokenizer.encode(d.context, false).size() + tokenizer.encode(d.input, false).size());
  s.context = std::move(d.context);
  s.input = std::move(d.input);
  s.answers = std::move(d.answers);
  s.evidence = std::move(d.evidence);
  return r;
}

nlohmann::ordered_json sample_row(const Sample& s) {
  nlohmann::ordered_json row;
  row["input"] = s.input;
  row["context"] = s.context;
  row["answers"] = s.answers;
  row["length"] = s.length;
  row["dataset"] = s.dataset;
  row["language"] = s.language;
  row["all_classes"] = nullptr;
  row["_id"] = s.id;
  // In memory spans are byte offsets (as the loader stores them); the file counts characters (code points, as
  // Python indexes `context`), which the loader converts back to bytes.
  std::vector<std::int64_t> char_at_byte;  // empty: ASCII, where the two agree
  if (std::any_of(s.context.begin(), s.context.end(), [](char c) { return (static_cast<unsigned char>(c) & 0x80) != 0; })) {
    char_at_byte.reserve(s.context.size() + 1);
    std::int64_t chars = 0;
    for (char c : s.context) {
      char_at_byte.push_back(chars);
      if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
    }
    char_at_byte.push_back(chars);
  }
  auto to_chars = [&](std::int64_t byte) { return char_at_byte.empty() ? byte : char_at_byte[static_cast<std::size_t>(byte)]; };
  nlohmann::ordered_json spans = nlohmann::ordered_json::array();
  for (const auto& [a, b] : s.evidence) spans.push_back({to_chars(a), to_chars(b)});
  row["evidence"] = spans;
  return row;
}

std::string answer_text(const Sample& sample) {
  std::string out;
  for (std::size_t i = 0; i < sample.answers.size(); ++i) out += (i ? ", " : "") + sample.answers[i];
  return out;
}

}  // namespace kvbench::synth
