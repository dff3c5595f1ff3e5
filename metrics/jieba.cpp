#include "metrics/jieba.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/paths.h"
#include "metrics/text.h"

namespace kvbench::metrics {
namespace {

constexpr double kMinFloat = -3.14e100;  // finalseg.MIN_FLOAT
constexpr int kB = 0, kE = 1, kM = 2, kS = 3;

int state_index(const std::string& name) {
  if (name == "B") return kB;
  if (name == "E") return kE;
  if (name == "M") return kM;
  if (name == "S") return kS;
  return -1;
}

std::string read_whole_file(const std::string& path) {
  KV_CHECK(paths::exists(path), "cannot read jieba data file ", path,
           " (set KVBENCH_JIEBA_DIR to the jieba package directory, e.g. /usr/lib/python3/dist-packages/jieba "
           "from Debian's python3-jieba)");
  return InputFile(path).read_all(std::uint64_t{256} << 20);
}

// --- a minimal reader for the Python dict literals of finalseg/prob_*.py --------------------------------

struct PyValue {
  bool is_dict = false;
  double number = 0;
  std::vector<std::pair<std::u32string, PyValue>> items;
};

class PyLiteralParser {
 public:
  PyLiteralParser(const std::string& text, std::string path) : s_(text), path_(std::move(path)) {}

  // The value assigned to `P` at the start of a line.
  PyValue parse_assignment() {
    std::size_t p = 0;
    while (true) {
      p = s_.find('P', p);
      KV_CHECK(p != std::string::npos, path_, ": no `P = {...}` assignment found");
      if (p == 0 || s_[p - 1] == '\n') {
        std::size_t q = p + 1;
        while (q < s_.size() && (s_[q] == ' ' || s_[q] == '\t')) ++q;
        if (q < s_.size() && s_[q] == '=') {
          pos_ = q + 1;
          break;
        }
      }
      ++p;
    }
    PyValue v = value();
    skip();
    return v;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    std::size_t line = 1;
    for (std::size_t i = 0; i < pos_ && i < s_.size(); ++i) line += s_[i] == '\n';
    fail(path_, ":", line, ": cannot parse the Python literal: ", what);
  }

  void skip() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else if (c == '\\' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '\n') {
        pos_ += 2;
      } else {
        break;
      }
    }
  }

  PyValue value() {
    skip();
    KV_CHECK(pos_ < s_.size(), path_, ": unexpected end of file");
    const char c = s_[pos_];
    if (c == '{') return dict();
    if (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')) return number();
    error(std::string("unexpected character '") + c + "'");
  }

  PyValue dict() {
    PyValue v;
    v.is_dict = true;
    ++pos_;  // {
    while (true) {
      skip();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return v;
      }
      std::u32string key = string();
      skip();
      if (pos_ >= s_.size() || s_[pos_] != ':') error("expected ':'");
      ++pos_;
      PyValue item = value();
      v.items.emplace_back(std::move(key), std::move(item));
      skip();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
      } else if (pos_ >= s_.size() || s_[pos_] != '}') {
        error("expected ',' or '}'");
      }
    }
  }

  PyValue number() {
    const char* begin = s_.c_str() + pos_;
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(begin, &end);  // correctly rounded, as Python's float literal
    if (end == begin || errno == ERANGE) error("bad number");
    pos_ += static_cast<std::size_t>(end - begin);
    PyValue v;
    v.number = d;
    return v;
  }

  unsigned hex(std::size_t count) {
    if (pos_ + count > s_.size()) error("truncated escape");
    unsigned value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = s_[pos_ + i];
      value <<= 4;
      if (c >= '0' && c <= '9') value |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') value |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') value |= static_cast<unsigned>(c - 'A' + 10);
      else error("bad hex escape");
    }
    pos_ += count;
    return value;
  }

  std::u32string string() {
    if (pos_ < s_.size() && (s_[pos_] == 'u' || s_[pos_] == 'U')) ++pos_;
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) error("expected a string key");
    const char quote = s_[pos_++];
    std::string raw;  // UTF-8 of the literal characters; escapes appended as UTF-8 too
    while (true) {
      if (pos_ >= s_.size() || s_[pos_] == '\n') error("unterminated string");
      const char c = s_[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        raw.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) error("unterminated escape");
      const char e = s_[pos_++];
      std::u32string one;
      switch (e) {
        case 'u': one.push_back(hex(4)); break;
        case 'U': one.push_back(hex(8)); break;
        case 'x': one.push_back(hex(2)); break;
        case 'n': one.push_back(U'\n'); break;
        case 't': one.push_back(U'\t'); break;
        case 'r': one.push_back(U'\r'); break;
        case '\\': one.push_back(U'\\'); break;
        case '\'': one.push_back(U'\''); break;
        case '"': one.push_back(U'"'); break;
        default: error(std::string("unsupported escape \\") + e);
      }
      raw += py::encode(one);
    }
    return py::decode(raw);
  }

  const std::string& s_;
  std::string path_;
  std::size_t pos_ = 0;
};

const PyValue& dict_item(const PyValue& dict, const std::string& key, const std::string& path) {
  for (const auto& [k, v] : dict.items) {
    if (py::encode(k) == key) return v;
  }
  fail(path, ": missing key '", key, "'");
}

// Characters of re_han_default: [\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-].
bool is_han_default(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FD5) || (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z') ||
         (c >= U'0' && c <= U'9') || c == U'+' || c == U'#' || c == U'&' || c == U'.' || c == U'_' || c == U'%' ||
         c == U'-';
}

bool is_han(char32_t c) { return c >= 0x4E00 && c <= 0x9FD5; }  // finalseg's re_han
bool is_ascii_alnum(char32_t c) {
  return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z') || (c >= U'0' && c <= U'9');
}

std::uint64_t child_key(std::int32_t node, char32_t c) {
  return (static_cast<std::uint64_t>(node) << 21) | static_cast<std::uint64_t>(c);
}

}  // namespace

std::string jieba_data_dir() {
  const char* env = std::getenv("KVBENCH_JIEBA_DIR");
  if (env && *env) return env;
  return "/usr/lib/python3/dist-packages/jieba";
}

Jieba::Jieba(const std::string& dir) {
  KV_CHECK(paths::is_directory(dir), "jieba data directory ", dir,
           " not found: install Debian's python3-jieba or set KVBENCH_JIEBA_DIR to a directory holding "
           "dict.txt and finalseg/prob_*.py");
  load_dictionary(paths::join(dir, "dict.txt"));
  load_hmm(paths::join(dir, "finalseg"));
}

const Jieba& Jieba::instance() {
  static std::once_flag once;
  static std::unique_ptr<Jieba> jieba;
  std::call_once(once, [] { jieba = std::make_unique<Jieba>(jieba_data_dir()); });
  return *jieba;
}

std::int32_t Jieba::child(std::int32_t node, char32_t c) const {
  const auto it = children_.find(child_key(node, c));
  return it == children_.end() ? -1 : it->second;
}

std::int64_t Jieba::frequency(std::u32string_view word) const {
  std::int32_t node = 0;
  for (char32_t c : word) {
    node = child(node, c);
    if (node < 0) return -1;
  }
  return word.empty() ? -1 : freq_[static_cast<std::size_t>(node)];
}

void Jieba::load_dictionary(const std::string& path) {
  const std::string text = read_whole_file(path);
  children_.reserve(700000);
  freq_.reserve(700000);
  freq_.push_back(0);  // root
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    // gen_pfdict: line.strip() (ASCII whitespace of bytes), then split(' ')[:2] → word, int(freq).
    std::size_t b = pos, e = end;
    const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
    while (b < e && ws(text[b])) ++b;
    while (e > b && ws(text[e - 1])) --e;
    pos = end + 1;
    const std::string_view line(text.data() + b, e - b);
    const std::size_t sp1 = line.find(' ');
    KV_CHECK(sp1 != std::string_view::npos, "invalid dictionary entry in ", path, " at line ", line_no, ": ",
             std::string(line));
    const std::size_t sp2 = line.find(' ', sp1 + 1);
    const std::string_view word_bytes = line.substr(0, sp1);
    const std::string freq_text(line.substr(sp1 + 1, sp2 == std::string_view::npos ? std::string_view::npos : sp2 - sp1 - 1));
    char* parse_end = nullptr;
    errno = 0;
    const long long freq = std::strtoll(freq_text.c_str(), &parse_end, 10);
    KV_CHECK(!freq_text.empty() && parse_end && *parse_end == '\0' && errno == 0,
             "invalid dictionary entry in ", path, " at line ", line_no, ": ", std::string(line));
    const std::u32string word = py::decode(word_bytes);
    std::int32_t node = 0;
    for (char32_t c : word) {
      const auto [it, inserted] = children_.try_emplace(child_key(node, c), static_cast<std::int32_t>(freq_.size()));
      if (inserted) freq_.push_back(0);  // a new prefix: FREQ[prefix] = 0
      node = it->second;
    }
    if (node != 0) freq_[static_cast<std::size_t>(node)] = freq;  // later duplicates override
    total_ += freq;
  }
  KV_CHECK(total_ > 0, "jieba dictionary ", path, " is empty");
  log_total_ = std::log(static_cast<double>(total_));
}

void Jieba::load_hmm(const std::string& dir) {
  const std::string start_path = paths::join(dir, "prob_start.py");
  const std::string trans_path = paths::join(dir, "prob_trans.py");
  const std::string emit_path = paths::join(dir, "prob_emit.py");
  const std::string start_text = read_whole_file(start_path);
  const std::string trans_text = read_whole_file(trans_path);
  const std::string emit_text = read_whole_file(emit_path);
  const PyValue start = PyLiteralParser(start_text, start_path).parse_assignment();
  const PyValue trans = PyLiteralParser(trans_text, trans_path).parse_assignment();
  const PyValue emit = PyLiteralParser(emit_text, emit_path).parse_assignment();
  const char* names[kStates] = {"B", "E", "M", "S"};
  KV_CHECK(start.is_dict && trans.is_dict && emit.is_dict, dir, ": the HMM tables must be dicts");
  for (int s = 0; s < kStates; ++s) {
    const PyValue& v = dict_item(start, names[s], start_path);
    KV_CHECK(!v.is_dict, start_path, ": '", names[s], "' must be a number");
    start_[static_cast<std::size_t>(s)] = v.number;
    const PyValue& row = dict_item(trans, names[s], trans_path);
    KV_CHECK(row.is_dict, trans_path, ": '", names[s], "' must be a dict");
    for (auto& t : trans_[static_cast<std::size_t>(s)]) t = kMinFloat;
    for (const auto& [to, p] : row.items) {
      const int j = state_index(py::encode(to));
      KV_CHECK(j >= 0 && !p.is_dict, trans_path, ": bad transition entry under '", names[s], "'");
      trans_[static_cast<std::size_t>(s)][static_cast<std::size_t>(j)] = p.number;
      has_trans_[static_cast<std::size_t>(s * kStates + j)] = true;
    }
    const PyValue& em = dict_item(emit, names[s], emit_path);
    KV_CHECK(em.is_dict, emit_path, ": '", names[s], "' must be a dict");
    auto& table = emit_[static_cast<std::size_t>(s)];
    table.reserve(em.items.size());
    for (const auto& [ch, p] : em.items) {
      KV_CHECK(ch.size() == 1 && !p.is_dict, emit_path, ": emission keys must be single characters");
      table[ch[0]] = p.number;
    }
  }
}

double Jieba::emit(int state, char32_t c) const {
  const auto& table = emit_[static_cast<std::size_t>(state)];
  const auto it = table.find(c);
  return it == table.end() ? kMinFloat : it->second;
}

std::vector<std::u32string> Jieba::cut(std::u32string_view text) const {
  std::vector<std::u32string> out;
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    if (is_han_default(text[i])) {
      std::size_t j = i;
      while (j < n && is_han_default(text[j])) ++j;
      cut_dag(text.substr(i, j - i), out);
      i = j;
    } else if (text[i] == U'\r' && i + 1 < n && text[i + 1] == U'\n') {
      out.emplace_back(U"\r\n");
      i += 2;
    } else {
      // Other blocks: re_skip_default pieces; whitespace is yielded as is, anything else char by char.
      out.emplace_back(1, text[i]);
      ++i;
    }
  }
  return out;
}

std::vector<std::string> Jieba::cut(std::string_view utf8) const {
  std::vector<std::string> out;
  for (const auto& w : cut(py::decode(utf8))) out.push_back(py::encode(w));
  return out;
}

void Jieba::cut_dag(std::u32string_view s, std::vector<std::u32string>& out) const {
  const std::size_t n = s.size();
  // DAG: for each start k, the ends i (inclusive) of dictionary words s[k..i] with a non-zero frequency, with
  // their frequencies; [k] (frequency "or 1") when there is none.
  std::vector<std::vector<std::pair<std::size_t, std::int64_t>>> dag(n);
  for (std::size_t k = 0; k < n; ++k) {
    std::int32_t node = 0;
    for (std::size_t i = k; i < n; ++i) {
      node = child(node, s[i]);
      if (node < 0) break;
      const std::int64_t f = freq_[static_cast<std::size_t>(node)];
      if (f != 0) dag[k].emplace_back(i, f);
    }
    if (dag[k].empty()) dag[k].emplace_back(k, 0);
  }
  // calc: route[idx] = max over x of (log(FREQ.get(s[idx:x+1]) or 1) - logtotal + route[x+1].prob, x).
  std::vector<double> prob(n + 1, 0.0);
  std::vector<std::size_t> best_end(n + 1, 0);
  for (std::size_t idx = n; idx-- > 0;) {
    bool first = true;
    double best = 0;
    std::size_t best_x = 0;
    for (const auto& [x, f] : dag[idx]) {
      const double p = std::log(static_cast<double>(f != 0 ? f : 1)) - log_total_ + prob[x + 1];
      if (first || p > best || (p == best && x > best_x)) {
        best = p;
        best_x = x;
        first = false;
      }
    }
    prob[idx] = best;
    best_end[idx] = best_x;
  }
  // __cut_DAG: runs of single characters are buffered; a buffer that is not a dictionary word goes to the HMM.
  std::u32string buf;
  const auto flush = [&] {
    if (buf.empty()) return;
    if (buf.size() == 1) {
      out.push_back(buf);
    } else if (frequency(buf) <= 0) {
      cut_hmm(buf, out);
    } else {
      for (char32_t c : buf) out.emplace_back(1, c);
    }
    buf.clear();
  };
  std::size_t x = 0;
  while (x < n) {
    const std::size_t y = best_end[x] + 1;
    if (y - x == 1) {
      buf.push_back(s[x]);
    } else {
      flush();
      out.emplace_back(s.substr(x, y - x));
    }
    x = y;
  }
  flush();
}

void Jieba::cut_hmm(std::u32string_view s, std::vector<std::u32string>& out) const {
  // finalseg.cut: Han runs → Viterbi; elsewhere the pieces of re_skip.split, ([a-zA-Z0-9]+(?:\.\d+)?%?), kept
  // when non-empty.
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    if (is_han(s[i])) {
      std::size_t j = i;
      while (j < n && is_han(s[j])) ++j;
      viterbi_cut(s.substr(i, j - i), out);
      i = j;
      continue;
    }
    std::size_t j = i;
    while (j < n && !is_han(s[j])) ++j;
    // The non-Han block s[i, j): alternate non-matching text and matches.
    std::size_t piece = i;
    std::size_t p = i;
    while (p < j) {
      if (!is_ascii_alnum(s[p])) {
        ++p;
        continue;
      }
      std::size_t q = p;
      while (q < j && is_ascii_alnum(s[q])) ++q;
      if (q + 1 < j && s[q] == U'.' && py::is_re_digit(s[q + 1])) {
        q += 1;
        while (q < j && py::is_re_digit(s[q])) ++q;
      }
      if (q < j && s[q] == U'%') ++q;
      if (p > piece) out.emplace_back(s.substr(piece, p - piece));
      out.emplace_back(s.substr(p, q - p));
      piece = q;
      p = q;
    }
    if (j > piece) out.emplace_back(s.substr(piece, j - piece));
    i = j;
  }
}

void Jieba::viterbi_cut(std::u32string_view obs, std::vector<std::u32string>& out) const {
  // PrevStatus of finalseg: the states each state may follow.
  static constexpr int kPrev[kStates][2] = {
      /*B*/ {kE, kS}, /*E*/ {kB, kM}, /*M*/ {kM, kB}, /*S*/ {kS, kE}};
  const std::size_t n = obs.size();
  std::vector<std::array<double, kStates>> v(n);
  std::vector<std::array<int, kStates>> back(n);
  for (int y = 0; y < kStates; ++y) v[0][static_cast<std::size_t>(y)] = start_[static_cast<std::size_t>(y)] + emit(y, obs[0]);
  for (std::size_t t = 1; t < n; ++t) {
    for (int y = 0; y < kStates; ++y) {
      const double em = emit(y, obs[t]);
      // max((V[t-1][y0] + trans_p[y0].get(y, MIN_FLOAT) + em_p, y0) for y0 in PrevStatus[y]): ties go to the
      // larger state letter (our indices are in letter order).
      bool first = true;
      double best = 0;
      int best_state = 0;
      for (int y0 : kPrev[y]) {
        const double tr = has_trans_[static_cast<std::size_t>(y0 * kStates + y)]
                              ? trans_[static_cast<std::size_t>(y0)][static_cast<std::size_t>(y)]
                              : kMinFloat;
        const double p = v[t - 1][static_cast<std::size_t>(y0)] + tr + em;
        if (first || p > best || (p == best && y0 > best_state)) {
          best = p;
          best_state = y0;
          first = false;
        }
      }
      v[t][static_cast<std::size_t>(y)] = best;
      back[t][static_cast<std::size_t>(y)] = best_state;
    }
  }
  // max((V[-1][y], y) for y in 'ES').
  const double pe = v[n - 1][kE], ps = v[n - 1][kS];
  int state = ps >= pe ? kS : kE;
  std::vector<int> path(n);
  for (std::size_t t = n; t-- > 0;) {
    path[t] = state;
    if (t > 0) state = back[t][static_cast<std::size_t>(state)];
  }
  std::size_t begin = 0, next = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int pos = path[i];
    if (pos == kB) {
      begin = i;
    } else if (pos == kE) {
      out.emplace_back(obs.substr(begin, i + 1 - begin));
      next = i + 1;
    } else if (pos == kS) {
      out.emplace_back(1, obs[i]);
      next = i + 1;
    }
  }
  if (next < n) out.emplace_back(obs.substr(next));
}

}  // namespace kvbench::metrics
