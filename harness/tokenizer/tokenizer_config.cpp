#include "harness/tokenizer/tokenizer_config.h"

#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/common/files.h"
#include "harness/common/paths.h"

namespace kvbench {
namespace {
// Real chat templates are a few KB; the largest known is under 100 KB.
constexpr std::uint64_t kMaxTemplateBytes = std::uint64_t{4} << 20;

// Special tokens appear as plain strings or as {"content": "...", ...} objects (AddedToken).
std::optional<std::string> token_string(const nlohmann::json& v, const std::string& source, const char* key) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  fail(source, ": '", key, "' must be a string or an object with 'content'");
}

// A "chat_template" value: a string, or a list of named templates (take "default").
std::string template_of(const nlohmann::json& chat) {
  if (chat.is_string()) return chat.get<std::string>();
  if (chat.is_array())
    for (const auto& t : chat)
      if (t.is_object() && t.contains("name") && t["name"] == "default" && t.contains("template") && t["template"].is_string())
        return t["template"].get<std::string>();
  return "";
}
}  // namespace

TokenizerConfig read_tokenizer_config(const std::string& dir) {
  TokenizerConfig out;
  const std::string path = paths::join(dir, "tokenizer_config.json");
  if (paths::exists(path)) {
    const nlohmann::json json = read_json_file(path);
    const JsonFields f(json, path);
    out.bos_token = token_string(f.raw("bos_token"), path, "bos_token");
    out.eos_token = token_string(f.raw("eos_token"), path, "eos_token");
    if (f.has("add_bos_token")) out.add_bos_token = f.get_bool("add_bos_token", false);
    if (f.has("add_eos_token")) out.add_eos_token = f.get_bool("add_eos_token", false);
    out.chat_template = template_of(f.raw("chat_template"));
    out.tokenizer_class = f.get_string("tokenizer_class", "");
  }
  // Checkpoints saved by recent transformers keep the template in its own file, which then wins (as it does
  // when transformers loads them); processor-based ones (Gemma 3) may have only chat_template.json.
  if (const std::string jinja = paths::join(dir, "chat_template.jinja"); paths::exists(jinja)) {
    out.chat_template = InputFile(jinja).read_all(kMaxTemplateBytes);
  } else if (const std::string processor = paths::join(dir, "chat_template.json");
             out.chat_template.empty() && paths::exists(processor)) {
    out.chat_template = template_of(JsonFields(read_json_file(processor), processor).raw("chat_template"));
  }
  return out;
}

}  // namespace kvbench
