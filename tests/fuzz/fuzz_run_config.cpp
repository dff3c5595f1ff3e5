// Experiment configs (harness/runner/run_config.cpp), read from a file as `kvbench run --config` does.
#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/runner/run_config.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = kvbench::fuzz::input_file(data, size, "config.json");
  try {
    const nlohmann::json config = kvbench::read_json_file(path, /*allow_comments=*/true);
    (void)kvbench::parse_run_config(config, path);
  } catch (const kvbench::Error&) {
  }
  return 0;
}
