// Chat formats: rendering, recognition from real templates and architectures, stop tokens, encoding.
// Expected strings are derived by hand from each family's HF Jinja template (tests/data/chat-templates,
// ../shared/data/chat-templates); the byte-for-byte comparison with HF's own Jinja engine over many
// conversations is tests/hf_oracle/chat_compare.py (CTest HfChatTemplateParity).
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/tokenizer/chat_template.h"
#include "harness/tokenizer/tokenizer.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using test::shared_path;

const ChatSpecialTokens kSpm{"<s>", "</s>"};
const std::vector<ChatMessage> kUser = {{"user", "  Hi there \n"}};
const std::vector<ChatMessage> kConvo = {{"system", " Be brief. "}, {"user", "Q1"}, {"assistant", "A1"}, {"user", "Q2"}};
const std::vector<ChatMessage> kNoSystem = {{"user", "Q1"}, {"assistant", "A1"}, {"user", "Q2"}};

std::string render(const char* format, const std::vector<ChatMessage>& m, bool gen, const ChatSpecialTokens& s) {
  return chat_format(format).render(m, gen, s);
}

TEST(ChatFormats, RenderLikeTheJinjaTemplates) {
  const ChatSpecialTokens llama3{"<|begin_of_text|>", "<|end_of_text|>"};
  const ChatSpecialTokens spm{"<s>", "</s>"};
  const std::vector<ChatMessage> user = {{"user", "  Hi there \n"}};
  const std::vector<ChatMessage> convo = {
      {"system", " Be brief. "}, {"user", "Q1"}, {"assistant", "A1"}, {"user", "Q2"}};

  // Llama-3.1: bos, the system block with the default date, contents trimmed, then the assistant header.
  EXPECT_EQ(chat_format("llama3.1").render(user, true, llama3),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(chat_format("llama3.1").render(convo, false, llama3),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|><|start_header_id|>user<|end_header_id|>"
            "\n\nQ2<|eot_id|>");
  // Llama-3: no system block unless given.
  EXPECT_EQ(chat_format("llama3").render(user, true, llama3),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  // Qwen2.5: the default system message when none is given; contents untouched.
  EXPECT_EQ(chat_format("qwen2.5").render(user, true, {}),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\n  Hi there \n<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(chat_format("qwen2.5").render(convo, true, {}),
            "<|im_start|>system\n Be brief. <|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1"
            "<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n");
  // Mistral-Nemo: bos, no spaces inside [INST], the system message joins the last user turn.
  EXPECT_EQ(chat_format("mistral-nemo").render(convo, true, spm), "<s>[INST]Q1[/INST]A1</s>[INST] Be brief. \n\nQ2[/INST]");
  // Mistral v0.2: spaces inside [INST] ... [/INST].
  EXPECT_EQ(chat_format("mistral").render({{"user", "Q"}}, true, spm), "<s>[INST] Q [/INST]");
  // LongBench's Llama-2 format; BOS comes from the tokenizer.
  EXPECT_EQ(chat_format("llama2").render({{"user", "Q"}}, true, spm), "[INST]Q[/INST]");
  EXPECT_EQ(chat_format("none").render({{"user", "Q"}}, true, spm), "Q");

  EXPECT_THROW(chat_format("mistral").render({{"system", "s"}, {"user", "Q"}}, true, spm), Error);
  EXPECT_THROW(chat_format("mistral-nemo").render({{"user", "a"}, {"user", "b"}}, true, spm), Error);
  EXPECT_THROW(chat_format("vicuna"), Error);
}

TEST(ChatFormats, DetectedFromConfigOrArchitecture) {
  KVBENCH_REQUIRE_SHARED();
  TokenizerConfig c;
  c.chat_template = test::read_file(shared_path("data/chat-templates/meta-llama-Llama-3.1-8B-Instruct.jinja"));
  EXPECT_EQ(detect_chat_format(c, ""), "llama3.1");
  c.chat_template = test::read_file(shared_path("data/chat-templates/Qwen-Qwen2.5-7B-Instruct.jinja"));
  EXPECT_EQ(detect_chat_format(c, ""), "qwen2.5");
  c.chat_template = test::read_file(shared_path("data/chat-templates/mistralai-Mistral-Nemo-Instruct-2407.jinja"));
  EXPECT_EQ(detect_chat_format(c, ""), "mistral-nemo");
  EXPECT_EQ(detect_chat_format(read_tokenizer_config(shared_path("data/tokenizers/llama3_hf")), ""), "llama3");
  c.chat_template = "";
  EXPECT_EQ(detect_chat_format(c, "MistralForCausalLM"), "mistral");
  EXPECT_EQ(detect_chat_format(c, "LlamaForCausalLM"), std::nullopt);
}

TEST(ChatFormats, MistralVersionsDifferInSpacesAndSystemPlacement) {
  // v3 (Mistral-7B-Instruct-v0.3): "[INST] x[/INST]", " " + trimmed answer + eos, system on the last user turn.
  EXPECT_EQ(render("mistral-v3", {{"user", "Q"}}, true, kSpm), "<s>[INST] Q[/INST]");
  EXPECT_EQ(render("mistral-v3", kConvo, true, kSpm), "<s>[INST] Q1[/INST] A1</s>[INST]  Be brief. \n\nQ2[/INST]");
  EXPECT_EQ(render("mistral-v3", {{"user", "Q"}, {"assistant", " A \n"}}, false, kSpm), "<s>[INST] Q[/INST] A</s>");
  // Ending on an assistant turn, the system message is dropped (it only joins a last user turn).
  EXPECT_EQ(render("mistral-v3", {{"system", "S"}, {"user", "Q"}, {"assistant", "A"}}, false, kSpm),
            "<s>[INST] Q[/INST] A</s>");
  // v1 (the 2024 template of v0.1/v0.2): " [INST] x [/INST]", system on the first user turn.
  EXPECT_EQ(render("mistral-v1", kConvo, true, kSpm), "<s> [INST]  Be brief. \n\nQ1 [/INST] A1</s> [INST] Q2 [/INST]");
  EXPECT_THROW(render("mistral-v3", {{"user", "a"}, {"user", "b"}}, true, kSpm), Error);
  EXPECT_THROW(render("mistral-v3", {{"user", "a"}, {"system", "b"}}, true, kSpm), Error);
}

TEST(ChatFormats, Qwen3ThinkingOff) {
  // No default system message; the generation prompt carries the empty think block of enable_thinking=False.
  EXPECT_EQ(render("qwen3", kUser, true, {}),
            "<|im_start|>user\n  Hi there \n<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(render("qwen3", kConvo, true, {}),
            "<|im_start|>system\n Be brief. <|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1"
            "<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  // Before the last query an answer loses its think block; after it, the last answer keeps (or gets) one.
  EXPECT_EQ(render("qwen3", {{"user", "Q1"}, {"assistant", "<think>\nr1\n</think>\n\nA1"}, {"user", "Q2"},
                             {"assistant", "<think>\n\nr2</think>A2"}}, false, {}),
            "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n"
            "<|im_start|>assistant\n<think>\nr2\n</think>\n\nA2<|im_end|>\n");
  EXPECT_EQ(render("qwen3", {{"user", "Q"}, {"assistant", "\nA"}}, false, {}),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n");
  // A wrapped tool response is not a query: the answer after it is "after the last query".
  EXPECT_EQ(render("qwen3", {{"user", "Q"}, {"assistant", "A"}, {"user", "<tool_response>x</tool_response>"},
                             {"assistant", "B"}}, false, {}),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n<|im_start|>user\n<tool_response>x"
            "</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nB<|im_end|>\n");
}

TEST(ChatFormats, GemmaTurnsAndSystemHandling) {
  const ChatSpecialTokens gemma{"<bos>", "<eos>"};
  EXPECT_EQ(render("gemma", kUser, true, gemma),
            "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(render("gemma", kNoSystem, false, gemma),
            "<bos><start_of_turn>user\nQ1<end_of_turn>\n<start_of_turn>model\nA1<end_of_turn>\n<start_of_turn>user\n"
            "Q2<end_of_turn>\n");
  EXPECT_THROW(render("gemma", kConvo, true, gemma), Error);  // Gemma 2: "System role not supported"
  // Gemma 3: the system message, untrimmed, plus a blank line opens the first user turn (whose text is trimmed).
  EXPECT_EQ(render("gemma3", {{"system", " Be brief. "}, {"user", " Q1 "}}, true, gemma),
            "<bos><start_of_turn>user\n Be brief. \n\nQ1<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(render("gemma3", kUser, true, gemma), render("gemma", kUser, true, gemma));
  EXPECT_THROW(render("gemma3", {{"system", "s"}, {"assistant", "a"}}, true, gemma), Error);
}

TEST(ChatFormats, PhiTags) {
  const ChatSpecialTokens phi{"<s>", "<|endoftext|>"};
  EXPECT_EQ(render("phi3", kUser, true, phi), "<|user|>\n  Hi there \n<|end|>\n<|assistant|>\n");
  EXPECT_EQ(render("phi3.5", kUser, true, phi), render("phi3", kUser, true, phi));
  EXPECT_EQ(render("phi3", kConvo, false, phi),
            "<|system|>\n Be brief. <|end|>\n<|user|>\nQ1<|end|>\n<|assistant|>\nA1<|end|>\n<|user|>\nQ2<|end|>\n"
            "<|endoftext|>");
  // An empty system message: printed by Phi-3's template, left out by Phi-3.5's.
  EXPECT_EQ(render("phi3", {{"system", ""}, {"user", "Q"}}, true, phi), "<|system|>\n<|end|>\n<|user|>\nQ<|end|>\n<|assistant|>\n");
  EXPECT_EQ(render("phi3.5", {{"system", ""}, {"user", "Q"}}, true, phi), "<|user|>\nQ<|end|>\n<|assistant|>\n");
  EXPECT_EQ(render("phi4-mini", {{"system", "S"}, {"user", "Q"}}, true, phi), "<|system|>S<|end|><|user|>Q<|end|><|assistant|>");
}

// Every real template of the manifest is recognised as its format (those under ../shared when it is there);
// v0.3's template in particular is not taken for v0.2's.
TEST(ChatFormats, DetectedFromEveryRealTemplate) {
  const std::string dir = std::string(KVBENCH_SOURCE_DIR) + "/tests/data/chat-templates";
  const auto manifest = nlohmann::json::parse(test::read_file(dir + "/templates.json"));
  int checked = 0;
  for (const auto& entry : manifest["templates"]) {
    std::string where = entry["template"];
    TokenizerConfig config;
    if (where.rfind("shared:", 0) == 0) {
      if (!test::shared_dir()) continue;
      where = shared_path("data/" + where.substr(7));
    } else {
      where = dir + "/" + where;
    }
    if (where.size() > 5 && where.compare(where.size() - 5, 5, ".json") == 0) {
      config = read_tokenizer_config(paths::parent(where));
    } else {
      config.chat_template = test::read_file(where);
    }
    ASSERT_FALSE(config.chat_template.empty()) << where;
    EXPECT_EQ(detect_chat_format(config, ""), entry["format"].get<std::string>()) << where;
    ++checked;
  }
  EXPECT_GE(checked, 9);
}

TEST(ChatFormats, UnknownTemplatesAreNotGuessed) {
  TokenizerConfig c;
  for (const char* t : {
           // Llama 3.2's system block prints today's date (strftime_now), not 3.1's fixed one.
           "{{- \"Cutting Knowledge Date: December 2023\\n\" }}{%- set date_string = strftime_now(\"%d %b %Y\") %}"
           "<|start_header_id|>",
           "{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}",  // Phi-4 (14B)
           "{{ '[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}{{ '[INST] ' + x + '[/INST]' }}",
           "{{ '<|im_start|>assistant\\n<think>\\n' }}<|im_start|>",  // a reasoning model's ChatML
           "{% for m in messages %}{{ m.content }}{% endfor %}",
           // Look-alikes: Llama-3 headers with other roles (OpenChat 3.6), Gemma turns without BOS, ChatML with
           // BOS or a default system message, a Llama-2 template with a default system prompt.
           "{% set content = '<|start_header_id|>GPT4 Correct ' + message['role'].title() + '<|end_header_id|>\n\n' + "
           "message['content'] | trim + '<|eot_id|>' %}",
           "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}System role not supported",
           "{{ bos_token }}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
           "{{ '<|im_start|>assistant\n' }}",
           "{% set system_message = 'You are Vigogne' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
           "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"}) {
    c.chat_template = t;
    EXPECT_EQ(detect_chat_format(c, "MistralForCausalLM"), std::nullopt) << t;
  }
}

// Recent checkpoints keep the template beside tokenizer_config.json: chat_template.jinja (which wins) or a
// processor's chat_template.json.
TEST(ChatFormats, TemplateFilesBesideTheConfig) {
  const std::string dir = std::string(KVBENCH_SOURCE_DIR) + "/tests/data/chat-templates/";
  test::TempDir d;
  test::write_file(d.file("tokenizer_config.json"), R"({"eos_token": "<eos>"})");
  test::write_file(d.file("chat_template.json"),
                   nlohmann::json{{"chat_template", test::read_file(dir + "google-gemma-3-1b-it.jinja")}}.dump());
  EXPECT_EQ(detect_chat_format(read_tokenizer_config(d.path()), ""), "gemma3");
  test::write_file(d.file("chat_template.jinja"), test::read_file(dir + "microsoft-Phi-4-mini-instruct.jinja"));
  const TokenizerConfig c = read_tokenizer_config(d.path());
  EXPECT_EQ(detect_chat_format(c, ""), "phi4-mini");
  EXPECT_EQ(c.eos_token, "<eos>");
}

TEST(ChatFormats, DetectedFromTheArchitectureWithoutATemplate) {
  const TokenizerConfig none;
  EXPECT_EQ(detect_chat_format(none, "MistralForCausalLM"), "mistral");
  EXPECT_EQ(detect_chat_format(none, "Qwen2ForCausalLM"), "qwen2.5");
  EXPECT_EQ(detect_chat_format(none, "Qwen3ForCausalLM"), "qwen3");
  EXPECT_EQ(detect_chat_format(none, "Gemma2ForCausalLM"), "gemma");
  EXPECT_EQ(detect_chat_format(none, "Gemma3ForConditionalGeneration"), "gemma3");
  EXPECT_EQ(detect_chat_format(none, "Phi3ForCausalLM"), std::nullopt);  // Phi-3 and Phi-4-mini differ
  EXPECT_EQ(detect_chat_format(none, "LlamaForCausalLM"), std::nullopt);
}

// The paper configs name their chat format; each must exist (a typo would only fail when a run starts).
TEST(ChatFormats, ShippedLongBenchConfigsNameKnownFormats) {
  const std::string dir = std::string(KVBENCH_SOURCE_DIR) + "/configs/";
  for (const auto& [config, format] : std::vector<std::pair<const char*, const char*>>{
           {"qwen3-8b-longbench.json", "qwen3"},
           {"gemma-3-12b-it-longbench.json", "gemma3"},
           {"phi-3.5-mini-instruct-longbench.json", "phi3.5"},
           {"mistral-7b-instruct-v0.2-longbench.json", "mistral"},
           {"llama-3.1-8b-instruct-longbench.json", "llama3.1"}}) {
    const auto json = read_json_file(dir + config, /*allow_comments=*/true);
    EXPECT_EQ(json["model"]["chat"], format) << config;
    EXPECT_NO_THROW(chat_format(format));
  }
}

// Gemma 3's LongBench prompt: one BOS (the template's, none added), generation stops at <end_of_turn>. Ids
// are Gemma's published special-token ids (<bos> 2, <start_of_turn> 105, <end_of_turn> 106).
TEST(ChatFormats, Gemma3PromptIdsAndStopToken) {
  KVBENCH_REQUIRE_SHARED();
  const auto tok = load_tokenizer(shared_path("data/tokenizers/gemma3_hf"));
  const ChatFormat& gemma3 = chat_format("gemma3");
  const auto ids = encode_prompt(*tok, "Summarize.", &gemma3, true);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(std::vector<std::int32_t>(ids.begin(), ids.begin() + 2), (std::vector<std::int32_t>{2, 105}));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2), 1);
  EXPECT_EQ(encode_prompt(*tok, "Summarize.", &gemma3, false), std::vector<std::int32_t>(ids.begin() + 1, ids.end()));
  EXPECT_EQ(chat_stop_ids(*tok, &gemma3), std::vector<std::int32_t>{106});
  // Qwen3 (../shared's qwen2_hf holds Qwen3's tokenizer): <|im_end|> is 151645; no BOS exists.
  const auto qwen = load_tokenizer(shared_path("data/tokenizers/qwen2_hf"));
  EXPECT_EQ(chat_stop_ids(*qwen, &chat_format("qwen3")), std::vector<std::int32_t>{151645});
  EXPECT_EQ(detect_chat_format(read_tokenizer_config(shared_path("data/tokenizers/qwen2_hf")), ""), "qwen3");
}

// Phi's end-of-turn token is a stop id besides EOS (a hand-made tokenizer with Phi-3.5's two tokens).
TEST(ChatFormats, PhiStopsAtEndOfTurn) {
  test::TempDir dir;
  test::write_file(dir.file("tokenizer.json"), R"({"added_tokens": [
      {"id": 1, "content": "<|endoftext|>", "special": true}, {"id": 2, "content": "<|end|>", "special": true}],
      "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  test::write_file(dir.file("tokenizer_config.json"), R"({"eos_token": "<|endoftext|>"})");
  const auto tok = load_tokenizer(dir.path());
  EXPECT_EQ(chat_stop_ids(*tok, &chat_format("phi3.5")), (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(chat_stop_ids(*tok, nullptr), std::vector<std::int32_t>{1});
}

}  // namespace
}  // namespace kvbench
