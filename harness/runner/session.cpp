#include "harness/runner/session.h"

#include <algorithm>

#include "harness/common/error.h"
#include "harness/common/log.h"
#include "harness/common/paths.h"
#include "harness/device/ops.h"
#include "harness/model/tensor_util.h"
#include "harness/tokenizer/tokenizer_config.h"

namespace kvbench {

at::ScalarType resolve_compute_dtype(const std::string& name, at::Device device, const std::string& checkpoint_dtype,
                                     bool device_has_bf16) {
  if (name != "auto") {
    const at::ScalarType t = parse_compute_dtype(name);
    KV_CHECK(t != at::kBFloat16 || device_has_bf16, "dtype bf16 needs a GPU of compute capability 8.0 or newer; ",
             device.str(), " is older: use dtype f16 or f32");
    return t;
  }
  if (device.is_cpu()) return at::kFloat;
  if (checkpoint_dtype == "float16" || !device_has_bf16) return at::kHalf;
  return at::kBFloat16;
}

namespace {
// Present at all: a tokenizer.json that is not a regular file is then refused by the loader, saying what it is.
bool has_own_tokenizer(const std::string& dir) {
  return !dir.empty() && (paths::exists(paths::join(dir, "tokenizer.json")) ||
                          paths::exists(paths::join(dir, "tokenizer.model")));
}
}  // namespace

Session::Session(const SessionSpec& spec) : spec_(spec) {
  if (has_model()) config_ = std::make_unique<ModelConfig>(load_model_config(spec.model_path));
  device_ = parse_device(spec.device);
  dtype_ = resolve_compute_dtype(spec.dtype, device_, config_ ? config_->checkpoint_dtype : "", ops::supports_bf16(device_));
  tokenizer_path_ = !spec.tokenizer.empty() ? spec.tokenizer : has_own_tokenizer(spec.model_path) ? spec.model_path : "";
  if (!tokenizer_path_.empty()) tokenizer_ = load_tokenizer(tokenizer_path_);
  if (spec.chat == "none" || !tokenizer_) return;
  if (spec.chat != "auto") {
    chat_ = &chat_format(spec.chat);
    chat_name_ = spec.chat;
    return;
  }
  const std::string dir = paths::is_directory(tokenizer_path_) ? tokenizer_path_ : paths::parent(tokenizer_path_);
  const auto detected = detect_chat_format(read_tokenizer_config(dir), config_ ? config_->architecture : "");
  if (!detected) {
    log::warn("no chat template recognised for ", tokenizer_path_, ": prompts are used without one (name a chat format "
              "to use one)");
    return;
  }
  chat_ = &chat_format(*detected);
  chat_name_ = *detected;
}

const ModelConfig& Session::config() const {
  KV_CHECK(config_ != nullptr, "internal error: a tokenizer-only session has no model config");
  return *config_;
}

std::vector<std::int64_t> Session::stop_ids(bool chat_applied) const {
  std::vector<std::int64_t> ids = config_ ? config_->eos_token_ids : std::vector<std::int64_t>{};
  if (tokenizer_)
    for (TokenId id : chat_stop_ids(*tokenizer_, chat_applied ? chat_ : nullptr))
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  return ids;
}

const Transformer& Session::model() {
  if (!model_) {
    KV_CHECK(has_model(), "internal error: a tokenizer-only session has no model");
    model_ = Transformer::load(spec_.model_path, device_, dtype_);
  }
  return *model_;
}

const Engine& Session::engine() {
  if (!engine_) engine_ = std::make_unique<Engine>(model());
  return *engine_;
}

nlohmann::json Session::describe() const {
  return {{"device", device_.str()},
          {"dtype", short_dtype_name(dtype_)},
          {"tokenizer", tokenizer_path_},
          {"chat_format", chat_name_},
          {"stop_ids", stop_ids(false)},
          {"stop_ids_with_chat", stop_ids(chat_ != nullptr)}};
}

}  // namespace kvbench
