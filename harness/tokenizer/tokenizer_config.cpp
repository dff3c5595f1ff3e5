#include "harness/tokenizer/tokenizer_config.h"

#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"

namespace kvbench {
namespace {
// Special tokens appear as plain strings or as {"content": "...", ...} objects (AddedToken).
std::optional<std::string> token_string(const nlohmann::json& v, const std::string& source, const char* key) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  fail(source, ": '", key, "' must be a string or an object with 'content'");
}
}  // namespace

TokenizerConfig read_tokenizer_config(const std::string& dir) {
  TokenizerConfig out;
  const std::string path = paths::join(dir, "tokenizer_config.json");
  if (!paths::exists(path)) return out;
  const nlohmann::json json = read_json_file(path);
  const JsonFields f(json, path);
  out.bos_token = token_string(f.raw("bos_token"), path, "bos_token");
  out.eos_token = token_string(f.raw("eos_token"), path, "eos_token");
  if (f.has("add_bos_token")) out.add_bos_token = f.get_bool("add_bos_token", false);
  if (f.has("add_eos_token")) out.add_eos_token = f.get_bool("add_eos_token", false);
  const auto& chat = f.raw("chat_template");
  if (chat.is_string()) {
    out.chat_template = chat.get<std::string>();
  } else if (chat.is_array()) {  // a list of named templates: take "default"
    for (const auto& t : chat)
      if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
        out.chat_template = t["template"].get<std::string>();
  }
  out.tokenizer_class = f.get_string("tokenizer_class", "");
  return out;
}

}  // namespace kvbench
