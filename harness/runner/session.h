#pragma once
// One model session: what a command resolves about the model it talks to, resolved here once and the same way
// for every command (run, generate, coverage, prompts, bench), so that they agree by construction:
//   device          "cpu", "cuda" or "cuda:N", checked to be usable;
//   compute dtype   "auto": f32 on the CPU; on CUDA f16 for checkpoints stored in f16, else bf16;
//   tokenizer       the one named, else the checkpoint's own tokenizer.json / tokenizer.model, else none;
//   chat format     a name, "none", or "auto": from the tokenizer's tokenizer_config.json or the architecture
//                   (nothing recognised: a warning, and prompts go without a template);
//   stop ids        the config's EOS ids, then the tokenizer's EOS and the chat format's end-of-turn token.
// The weights load only when model() or engine() is first called, after everything else has been checked.

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/engine/engine.h"
#include "harness/model/model_config.h"
#include "harness/model/transformer.h"
#include "harness/tokenizer/chat_template.h"
#include "harness/tokenizer/tokenizer.h"

namespace kvbench {

/// What a command asks for.
struct SessionSpec {
  std::string model_path;     ///< checkpoint directory; "" for a tokenizer-only session (kvbench prompts)
  std::string tokenizer;      ///< tokenizer file or directory; "" = the checkpoint's own, when it has one
  std::string device = "cpu";
  std::string dtype = "auto";
  std::string chat = "none";  ///< a chat format name, "auto" or "none"
};

class Session {
 public:
  /// Resolves everything but the weights; unknown names and unreadable files fail here.
  explicit Session(const SessionSpec& spec);

  bool has_model() const { return !spec_.model_path.empty(); }
  const ModelConfig& config() const;
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }
  /// nullptr when the session has no tokenizer.
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  /// Where the tokenizer came from ("" without one).
  const std::string& tokenizer_path() const { return tokenizer_path_; }
  /// nullptr for "none" (or "auto" that recognised nothing).
  const ChatFormat* chat() const { return chat_; }
  const std::string& chat_name() const { return chat_name_; }
  /// Generation stops after any of these; `chat_applied`: the prompt went through the chat template.
  std::vector<std::int64_t> stop_ids(bool chat_applied) const;

  /// The model and its engine, loading the weights on first use.
  const Transformer& model();
  const Engine& engine();

  /// The resolved choices as JSON (device, dtype, tokenizer, chat format, stop ids), for manifests and --json.
  nlohmann::json describe() const;

 private:
  SessionSpec spec_;
  std::unique_ptr<ModelConfig> config_;
  at::Device device_ = at::kCPU;
  at::ScalarType dtype_ = at::kFloat;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::string tokenizer_path_;
  const ChatFormat* chat_ = nullptr;
  std::string chat_name_ = "none";
  std::unique_ptr<Transformer> model_;
  std::unique_ptr<Engine> engine_;
};

/// Compute dtype for `name` ("auto", "f32", "bf16", "f16") on `device` for a checkpoint stored as `checkpoint_dtype`:
/// auto is f32 on the CPU; on CUDA f16 for f16 checkpoints and on GPUs without bf16 (`device_has_bf16`, compute
/// capability below 8.0), else bf16. bf16 named where the device has none is an error.
at::ScalarType resolve_compute_dtype(const std::string& name, at::Device device, const std::string& checkpoint_dtype,
                                     bool device_has_bf16);

}  // namespace kvbench
