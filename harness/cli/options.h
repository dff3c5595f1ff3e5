#pragma once
// Options shared by the subcommands that load a model, and small parsers for flag values.

#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/model/model_config.h"
#include "harness/runner/session.h"
#include "policies/registry.h"

namespace kvbench::cli {

/// --model, --device, --dtype.
struct ModelOptions {
  std::string model_dir;
  std::string device = "cpu";
  std::string dtype = "auto";

  void add_to(CLI::App* cmd, bool need_device = true);
  /// The session these flags ask for (harness/runner/session.h resolves it).
  SessionSpec session(const std::string& tokenizer = "", const std::string& chat = "none") const;
};

/// --policy, --reference, --budget (or --evict, --compression-ratio, --kv-bytes), --policy-param key=value
/// (repeatable; values parsed as JSON when they parse).
struct PolicyOptions {
  std::string name = "full";
  std::string reference = "kvbench";
  std::int64_t budget = 0;  // 0: not given
  double evict = -1;        // < 0: not given
  double compression_ratio = -1;  // < 0: not given
  std::string kv_bytes;
  std::vector<std::string> params;

  void add_to(CLI::App* cmd);
  PolicySpec spec() const;
};

/// Parses "1,2,3" (spaces allowed) into ids; throws kvbench::Error naming `what` on anything else.
std::vector<std::int64_t> parse_id_list(const std::string& text, const std::string& what);

/// Prints `value` as one line of JSON on stdout.
void print_json(const nlohmann::json& value);

}  // namespace kvbench::cli
