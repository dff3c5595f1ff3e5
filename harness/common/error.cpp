#include "harness/common/error.h"

namespace kvbench {

std::string short_error_message(const std::exception& e) {
  std::string msg = e.what();
  const auto cut = msg.find("\nException raised from");
  if (cut != std::string::npos) msg.resize(cut);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

}  // namespace kvbench
