#include "harness/common/error.h"

#include <cstdio>
#include <new>

namespace kvbench {
namespace {

constexpr std::size_t kMaxLine = 400;
constexpr std::size_t kMaxLines = 12;

// Length of the valid UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_length(const std::string& s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  if (b >= 0xC2 && b <= 0xDF) n = 2;
  else if (b >= 0xE0 && b <= 0xEF) n = 3;
  else if (b >= 0xF0 && b <= 0xF4) n = 4;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

std::string printable_line(const std::string& line) {
  std::string out;
  for (std::size_t i = 0; i < line.size() && out.size() < kMaxLine;) {
    const auto b = static_cast<unsigned char>(line[i]);
    if (b >= 0x20 && b < 0x7f) {
      out += line[i++];
    } else if (b == '\t') {
      out += ' ';
      ++i;
    } else if (const std::size_t n = utf8_length(line, i); n > 0) {
      out.append(line, i, n);
      i += n;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", b);
      out += hex;
      ++i;
    }
  }
  if (out.size() >= kMaxLine) out += " [...]";
  return out;
}

// libtorch messages end with where the check sits and a backtrace; none of it helps a user.
bool is_internal_line(const std::string& line) {
  return line.rfind("Exception raised from", 0) == 0 || line.rfind("frame #", 0) == 0 ||
         line.find("(most recent call first)") != std::string::npos;
}

}  // namespace

std::string short_error_message(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr)
    return "out of host memory (an allocation failed; lower the lengths or budgets, or free memory)";
  std::string msg = e.what();
  // A JSON library error that escaped every typed check: ours to word (the library's text is no message).
  if (msg.rfind("[json.exception.", 0) == 0) msg = "a JSON value of an unexpected type or shape";
  std::string out;
  std::size_t lines = 0;
  for (std::size_t start = 0; start <= msg.size() && lines < kMaxLines;) {
    std::size_t end = msg.find('\n', start);
    if (end == std::string::npos) end = msg.size();
    const std::string line = msg.substr(start, end - start);
    start = end + 1;
    if (is_internal_line(line)) break;
    if (line.find_first_not_of(' ') == std::string::npos) continue;
    if (!out.empty()) out += '\n';
    out += printable_line(line);
    ++lines;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? "unknown error" : out;
}

std::string json_error_text(const std::exception& e) {
  std::string msg = e.what();
  if (msg.rfind("[json.exception.", 0) == 0) {  // "[json.exception.parse_error.101] parse error at ..."
    const auto close = msg.find("] ");
    if (close != std::string::npos) msg.erase(0, close + 2);
  }
  const auto read = msg.find("; last read: '");
  if (read != std::string::npos) {
    const auto expected = msg.rfind("'; expected ");
    msg = msg.substr(0, read) + (expected != std::string::npos && expected > read ? msg.substr(expected + 1) : "");
  }
  return msg;
}

}  // namespace kvbench
