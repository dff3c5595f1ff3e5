// kvbench against HF transformers' own outputs on tiny checkpoints that transformers wrote, one per family with
// every feature of the family switched on (tests/gpu/make_family_fixtures.py, run on a machine with
// transformers 5; the folders are committed under tests/data/families/<name>/). Per recorded prompt: the f32
// logits of every prompt position within 1e-4 of HF's, and HF's 16 greedy tokens (generate, do_sample=False)
// identical, on every decode path the model supports. The prompts are longer than the families' sliding
// windows. While tests/data/families does not exist the tests skip, saying so; once it exists, a family
// missing from it is a failure.
#include <gtest/gtest.h>

#include <iostream>

#include "harness/common/paths.h"
#include "harness/engine/engine.h"
#include "harness/engine/ragged_decoder.h"
#include "harness/model/safetensors.h"
#include "harness/model/tensor_util.h"
#include "harness/model/transformer.h"
#include "policies/registry.h"
#include "tests/test_tensors.h"

namespace kvbench {
namespace {

// The families make_family_fixtures.py writes.
const std::vector<std::string> kFixtures = {"llama_dynamic", "mistral", "qwen2",  "qwen3",  "qwen3_moe",
                                            "mixtral",       "phi3",    "gemma2", "gemma3", "gemma3_mm"};
constexpr double kLogitsTolerance = 1e-4;

std::string fixtures_dir() { return paths::join(KVBENCH_SOURCE_DIR, "tests/data/families"); }

at::Tensor read_tensor(const SafetensorsFile& file, const std::string& name) {
  const TensorInfo& t = file.at(name);
  return at::from_blob(const_cast<std::uint8_t*>(file.data(t)), t.shape,
                       at::TensorOptions().dtype(to_scalar_type(t.dtype)))
      .clone();
}

std::vector<std::int64_t> ids_of(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

class FamilyParity : public ::testing::TestWithParam<std::string> {};

TEST_P(FamilyParity, LogitsAndGreedyTokensMatchHf) {
  if (!paths::is_directory(fixtures_dir()))
    GTEST_SKIP() << "tests/data/families does not exist yet: it is written by tests/gpu/make_family_fixtures.py "
                    "--out tests/data/families on a machine with transformers 5 (docs/parity.md)";
  const std::string dir = paths::join(fixtures_dir(), GetParam());
  ASSERT_TRUE(paths::is_directory(dir)) << dir << " is missing: tests/data/families exists but lacks this family";
  const auto model = Transformer::load(dir, at::kCPU, at::kFloat);
  const SafetensorsFile expected(paths::join(dir, "hf_expected.safetensors"));
  const Engine engine(*model);
  int prompts = 0;
  for (int i = 0; expected.find("prompt." + std::to_string(i)) != nullptr; ++i, ++prompts) {
    const std::string n = std::to_string(i);
    const std::vector<std::int64_t> prompt = ids_of(read_tensor(expected, "prompt." + n));
    const std::vector<std::int64_t> greedy = ids_of(read_tensor(expected, "greedy." + n));
    const at::Tensor hf_steps = read_tensor(expected, "step_logits." + n);
    SCOPED_TRACE(GetParam() + " prompt " + n + " (" + std::to_string(prompt.size()) + " tokens)");
    auto full = make_policy({"full"});
    PrefillOptions pre;
    pre.all_logits = true;
    pre.chunk_size = 32;  // several prefill chunks
    PrefillResult r = engine.prefill(prompt, {full.get()}, pre);
    const double logits_diff = test::max_abs_diff(r.logits, read_tensor(expected, "logits." + n));
    EXPECT_LE(logits_diff, kLogitsTolerance);
    std::cout << GetParam() << " prompt " << n << " (" << prompt.size() << " tokens): prefill logits max |kvbench - HF| "
              << logits_diff << std::endl;

    std::vector<std::string> paths = {"reference"};
    if (RaggedDecoder::supports(*model)) paths.push_back("ragged");
    for (const std::string& path : paths) {
      SCOPED_TRACE("decode path " + path);
      GenerateOptions gen;
      gen.max_new_tokens = static_cast<std::int64_t>(greedy.size());
      gen.keep_step_logits = true;
      gen.decode_path = path;
      KvCache cache = r.caches[0];
      const GenerationResult out = engine.decode(cache, r.last_logits, gen);
      EXPECT_EQ(out.output_ids, greedy);
      // Where the tokens agree, so do the logits they were chosen from.
      for (std::size_t s = 0; s < greedy.size() && s < out.output_ids.size(); ++s) {
        EXPECT_LE(test::max_abs_diff(out.step_logits[s], hf_steps[static_cast<std::int64_t>(s)]), kLogitsTolerance)
            << "step " << s;
        if (out.output_ids[s] != greedy[s]) break;
      }
    }
  }
  EXPECT_GT(prompts, 0) << "hf_expected.safetensors holds no prompt";
}

INSTANTIATE_TEST_SUITE_P(Hf, FamilyParity, ::testing::ValuesIn(kFixtures),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace kvbench
