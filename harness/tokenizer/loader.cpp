// load_tokenizer: picks the implementation from a path or a checkpoint directory.
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/paths.h"
#include "harness/tokenizer/hf_tokenizer.h"
#include "harness/tokenizer/sentencepiece_tokenizer.h"
#include "harness/tokenizer/tokenizer.h"

namespace kvbench {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::string file = path;
  KV_CHECK(!path.empty(), "an empty tokenizer path");
  if (paths::is_directory(path)) {
    check_directory(path, "the tokenizer folder");
    const std::string json = paths::join(path, "tokenizer.json"), model = paths::join(path, "tokenizer.model");
    if (paths::exists(json)) {
      file = json;
    } else if (paths::exists(model)) {
      file = model;
    } else {
      fail("'", path, "' has neither tokenizer.json nor tokenizer.model");
    }
  }
  KV_CHECK(paths::exists(file), "tokenizer '", file, "' does not exist");
  { const InputFile probe(file); }  // a readable regular file: a device or a FIFO is refused here, saying what it is
  const TokenizerConfig config = read_tokenizer_config(paths::parent(file).empty() ? "." : paths::parent(file));
  const bool is_json = file.size() >= 5 && file.compare(file.size() - 5, 5, ".json") == 0;
  std::unique_ptr<Tokenizer> tok = is_json ? load_hf_tokenizer(file, config) : load_sentencepiece_tokenizer(file, config);
  KV_CHECK(tok->vocab_size() > 0, "tokenizer '", file, "' has an empty vocabulary");
  return tok;
}

}  // namespace kvbench
