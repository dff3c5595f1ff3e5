// tokenizer.json (harness/tokenizer/hf_*.cpp): loading, then encoding and decoding a fixed text with what loaded.
#include "harness/common/error.h"
#include "harness/tokenizer/hf_tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = kvbench::fuzz::input_file(data, size, "tokenizer.json");
  try {
    const auto tokenizer = kvbench::load_hf_tokenizer(path, kvbench::TokenizerConfig{});
    const auto ids = tokenizer->encode("Hello wörld 123 <s> \xe4\xb8\xad\xe6\x96\x87!\n  x", true);
    (void)tokenizer->decode(ids, false);
  } catch (const kvbench::Error&) {
  }
  return 0;
}
