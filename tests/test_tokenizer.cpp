// SentencePiece tokenizers (through the privately loaded bridge), the tokenizer loader and
// `kvbench tokenize`. Expected ids come from llama.cpp's test vectors (produced with HF tokenizers) or are
// derived by hand from the vocabulary, as each test says.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/tokenizer/tokenizer.h"
#include "harness/common/unicode.h"
#include "tests/test_support.h"
#include "tests/tokenizer_cases.h"

namespace kvbench {
namespace {

using test::error_of;
using test::shared_path;



TEST(SentencePiece, LlamaSpmTestVectors) {
  KVBENCH_REQUIRE_SHARED();
  const auto tok = load_tokenizer(shared_path("data/tokenizers/llama2_spm"));
  const auto cases = test::read_tokenizer_cases(shared_path("data/tokenizer-tests/ggml-vocab-llama-spm.gguf"));
  ASSERT_EQ(cases.size(), 46u);
  for (const auto& c : cases) EXPECT_EQ(tok->encode(c.text, false), c.ids) << "text: '" << c.text << "'";
}

TEST(SentencePiece, SpecialTokensBosAndDecode) {
  KVBENCH_REQUIRE_SHARED();
  const auto tok = load_tokenizer(shared_path("data/tokenizers/llama2_spm/tokenizer.model"));
  EXPECT_EQ(tok->vocab_size(), 32000);
  ASSERT_TRUE(tok->bos_id() && tok->eos_id());
  EXPECT_EQ(*tok->bos_id(), 1);  // "<s>" and "</s>" are Llama-2's control pieces 1 and 2
  EXPECT_EQ(*tok->eos_id(), 2);
  // "Hello world" is [15043 ("▁Hello"), 3186 ("▁world")] in the test vectors; add_special puts BOS first.
  EXPECT_EQ(tok->encode("Hello world", true), (std::vector<TokenId>{1, 15043, 3186}));
  EXPECT_EQ(tok->id_to_token(15043), "\xE2\x96\x81Hello");
  EXPECT_EQ(tok->token_to_id("\xE2\x96\x81world"), 3186);
  // Special-token text in a prompt becomes the token; the text after it is encoded on its own (dummy prefix).
  EXPECT_EQ(tok->encode("Hello world</s>Hello world", false), (std::vector<TokenId>{15043, 3186, 2, 15043, 3186}));
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_FALSE(tok->is_special(15043));
  // Decoding drops the dummy prefix; skip_special drops control tokens. Without skipping, HF's Llama
  // decoder keeps the space that "▁Hello" carries after "<s>" (only the very first space is stripped).
  EXPECT_EQ(tok->decode({1, 15043, 3186, 2}, true), "Hello world");
  EXPECT_EQ(tok->decode({1, 15043, 3186, 2}, false), "<s> Hello world</s>");
  EXPECT_EQ(tok->decode({15043, 2, 15043}, false), "Hello</s> Hello");
  // Byte-fallback pieces: "<0xF0><0x9F><0xA6><0x99>" is 🦙 (ids 243 162 169 156 in the test vectors);
  // a lone continuation byte is invalid and becomes U+FFFD.
  EXPECT_EQ(tok->decode({243, 162, 169, 156}, true), "\xF0\x9F\xA6\x99");
  EXPECT_EQ(tok->decode({162}, true), "\xEF\xBF\xBD");
  for (const std::string text : {"A longer sentence, with punctuation!", "multi\nline\n\ttext", "数字 123 and ünïcödé 🦙"})
    EXPECT_EQ(tok->decode(tok->encode(text, true), true), text);
  // Invalid UTF-8 is encoded as Python's errors="replace" would decode it: one U+FFFD per maximal subpart.
  EXPECT_EQ(tok->encode("a\xE2\x82" "b", false), tok->encode("a\xEF\xBF\xBD" "b", false));
}

TEST(TokenizerLoader, PicksTheRightKindAndFailsClearly) {
  KVBENCH_REQUIRE_SHARED();
  test::TempDir dir;
  // A directory with only tokenizer.model loads SentencePiece.
  test::write_file(dir.file("tokenizer.model"), test::read_file(shared_path("data/tokenizers/llama2_spm/tokenizer.model")));
  EXPECT_NE(load_tokenizer(dir.path())->describe().find("SentencePiece"), std::string::npos);
  // Garbage in a .model file is an error naming the file.
  test::write_file(dir.file("bad.model"), "not a model");
  try {
    load_tokenizer(dir.file("bad.model"));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.model"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_tokenizer(dir.file("missing.json")), Error);
  test::TempDir empty;
  EXPECT_THROW(load_tokenizer(empty.path()), Error);
}

TEST(Unicode, SanitizeLikePython) {
  // Expected values from Python: bytes.decode("utf-8", "replace").
  EXPECT_EQ(unicode::sanitize_utf8("ok"), "ok");
  EXPECT_EQ(unicode::sanitize_utf8("\xE2\x82"), "\xEF\xBF\xBD");              // truncated 3-byte sequence: one
  EXPECT_EQ(unicode::sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong: two
  EXPECT_EQ(unicode::sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate: three
  EXPECT_EQ(unicode::sanitize_utf8("\xF0\x9F\xA6"), "\xEF\xBF\xBD");          // truncated emoji: one
  EXPECT_EQ(unicode::python_strip(" \t\xE3\x80\x80x y\xC2\xA0\n"), "x y");   // U+3000 and U+00A0 are spaces
  EXPECT_EQ(unicode::nfc("e\xCC\x81"), "\xC3\xA9");                            // e + combining acute -> é
}

TEST(CliTokenize, EncodeDecodeFileAndChat) {
  KVBENCH_REQUIRE_SHARED();
  const std::string spm = shared_path("data/tokenizers/llama2_spm");
  auto r = test::run_kvbench("tokenize --tokenizer " + spm + " --text 'Hello world' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"], nlohmann::json({1, 15043, 3186}));
  r = test::run_kvbench("tokenize --tokenizer " + spm + " --text 'Hello world' --no-bos --json");
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"], nlohmann::json({15043, 3186}));
  // --file encodes the exact bytes: the trailing newline stays ("\n" is the byte piece <0x0A> = 13).
  test::TempDir dir;
  test::write_file(dir.file("p.txt"), "Hello world\n");
  r = test::run_kvbench("tokenize --tokenizer " + spm + " --file " + dir.file("p.txt") + " --no-bos --json");
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"], nlohmann::json({15043, 3186, 13}));
  r = test::run_kvbench("tokenize --tokenizer " + spm + " --decode 1,15043,3186");
  EXPECT_EQ(r.out, "<s> Hello world\n");
  r = test::run_kvbench("tokenize --tokenizer " + spm + " --decode 1,15043,3186 --skip-special --json");
  EXPECT_EQ(nlohmann::json::parse(r.out)["text"], "Hello world");
  // LongBench's Llama-2 chat wrapping: BOS from the tokenizer, then "[INST]Hello world[/INST]".
  r = test::run_kvbench("tokenize --tokenizer " + spm + " --text 'Hello world' --chat llama2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto chat_ids = nlohmann::json::parse(r.out)["ids"].get<std::vector<int>>();
  ASSERT_GT(chat_ids.size(), 3u);
  EXPECT_EQ(chat_ids[0], 1);
  r = test::run_kvbench("tokenize --tokenizer " + spm + " --decode 0 --json");
  EXPECT_EQ(r.exit_code, 0);
  r = test::run_kvbench("tokenize --tokenizer " + spm + " --decode 32000");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("outside the vocabulary"), std::string::npos);
  r = test::run_kvbench("tokenize --tokenizer " + spm + " --text hi --chat vicuna");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown chat format 'vicuna'"), std::string::npos);
  r = test::run_kvbench("tokenize --tokenizer " + spm + " --text a --file b");
  EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
}  // namespace kvbench
