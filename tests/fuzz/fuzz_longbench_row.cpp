// One LongBench JSONL row (datasets/loader.cpp).
#include "datasets/loader.h"
#include "harness/common/error.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)kvbench::parse_sample(kvbench::fuzz::as_string(data, size), "fuzz.jsonl", 1);
  } catch (const kvbench::Error&) {
  }
  return 0;
}
