// config.json of a checkpoint (harness/model/model_config.cpp), read from a file as the loader does.
#include <sys/stat.h>
#include <unistd.h>

#include "harness/common/error.h"
#include "harness/model/model_config.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = [] {
    std::string d = "/tmp/kvbench-fuzz-config-" + std::to_string(getpid());
    mkdir(d.c_str(), 0755);
    return d;
  }();
  const std::string text = kvbench::fuzz::as_string(data, size);
  FILE* f = std::fopen((dir + "/config.json").c_str(), "wb");
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  try {
    (void)kvbench::load_model_config(dir);
  } catch (const kvbench::Error&) {
  }
  return 0;
}
