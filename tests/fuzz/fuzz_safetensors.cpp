// The safetensors header and layout checks (harness/model/safetensors.cpp) on arbitrary bytes.
#include "harness/common/error.h"
#include "harness/model/safetensors.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = kvbench::fuzz::input_file(data, size, "model.safetensors");
  try {
    kvbench::SafetensorsFile file(path);
    std::uint64_t sum = 0;
    for (const auto& t : file.tensors()) {  // every accepted tensor's bytes must lie inside the mapping
      if (t.nbytes() > 0) sum += file.data(t)[0] + file.data(t)[t.nbytes() - 1];
      sum += t.numel();
    }
    if (sum == 0xdeadbeef) std::puts("");
  } catch (const kvbench::Error&) {
  }
  return 0;
}
