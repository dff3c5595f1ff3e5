// kvbench tokenize: text -> ids (or ids -> text) with a tokenizer file or checkpoint directory.
#include <chrono>
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/cli/options.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/tokenizer/chat_template.h"
#include "harness/tokenizer/tokenizer.h"

namespace kvbench::cli {
namespace {

struct TokenizeState {
  std::string tokenizer, text, file, decode, chat, batch;
  bool text_given = false, no_bos = false, skip_special = false, json = false, with_decode = false, timing = false;
};

// The most text `--file` reads (a LongBench prompt is under 1 MB).
constexpr std::uint64_t kMaxTextBytes = std::uint64_t{256} << 20;

std::string read_bytes(const std::string& path) { return InputFile(path).read_all(kMaxTextBytes); }

// A string field of a --batch row, named with the file and line when it is missing or not a string.
std::string text_field(const nlohmann::json& object, const char* key, const std::string& where) {
  KV_CHECK(object.is_object() && object.contains(key) && object[key].is_string(), where, ": '", key,
           "' must be a string");
  return object[key].get<std::string>();
}

std::string base64_decode(const std::string& in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const auto pos = chars.find(c);
    KV_CHECK(pos != std::string::npos, "invalid base64 character '", c, "'");
    buffer = (buffer << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

// --batch: one JSON object per input line -> one per output line, in order. Input lines hold "text" (a
// string), "b64" (raw bytes, e.g. invalid UTF-8) or "messages" (a conversation rendered with --chat).
void run_batch(const TokenizeState& st, const Tokenizer& tok) {
  LineReader in(st.batch);
  double encode_seconds = 0;
  std::size_t bytes = 0, tokens = 0;
  for (std::string line; in.next(line);) {
    if (line.empty()) continue;
    const std::string where = st.batch + ":" + std::to_string(in.line_number());
    const nlohmann::json row = parse_json(line, where);
    KV_CHECK(row.is_object(), where, ": not a JSON object");
    nlohmann::json out = nlohmann::json::object();
    std::vector<TokenId> ids;
    const auto t0 = std::chrono::steady_clock::now();
    if (row.contains("messages")) {
      KV_CHECK(!st.chat.empty(), where, ": 'messages' needs --chat");
      KV_CHECK(row["messages"].is_array(), where, ": 'messages' must be a list of {\"role\", \"content\"} objects");
      std::vector<ChatMessage> messages;
      for (const auto& m : row["messages"]) messages.push_back({text_field(m, "role", where), text_field(m, "content", where)});
      const ChatFormat& format = chat_format(st.chat);
      const bool generation = JsonFields(row, where).get_bool("add_generation_prompt", true);
      const std::string rendered = format.render(messages, generation, chat_special_tokens(tok));
      ids = encode_rendered(tok, rendered, format, !st.no_bos);
      out["rendered"] = rendered;
    } else {
      const std::string text = row.contains("b64") ? base64_decode(text_field(row, "b64", where)) : text_field(row, "text", where);
      ids = encode_prompt(tok, text, st.chat.empty() ? nullptr : &chat_format(st.chat), !st.no_bos);
      bytes += text.size();
    }
    encode_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    tokens += ids.size();
    out["ids"] = ids;
    if (st.with_decode) {
      out["decoded"] = tok.decode(ids, false);
      out["decoded_skip_special"] = tok.decode(ids, true);
    }
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  std::cout.flush();
  if (st.timing) {
    std::cerr << nlohmann::json{{"encode_seconds", encode_seconds}, {"bytes", bytes}, {"tokens", tokens}}.dump()
              << std::endl;
  }
}

void run_tokenize(const TokenizeState& st) {
  const int modes = (st.text_given ? 1 : 0) + (st.file.empty() ? 0 : 1) + (st.decode.empty() ? 0 : 1) +
                    (st.batch.empty() ? 0 : 1);
  KV_CHECK(modes == 1, "give exactly one of --text, --file, --decode and --batch");
  const auto tok = load_tokenizer(st.tokenizer);
  if (!st.batch.empty()) {
    run_batch(st, *tok);
    return;
  }

  if (!st.decode.empty()) {
    std::vector<TokenId> ids;
    for (std::int64_t id : parse_id_list(st.decode, "--decode")) {
      KV_CHECK(id >= 0 && id < tok->vocab_size(), "--decode: id ", id, " is outside the vocabulary [0, ",
               tok->vocab_size(), ")");
      ids.push_back(static_cast<TokenId>(id));
    }
    const std::string text = tok->decode(ids, st.skip_special);
    if (st.json) {
      // Decoded text is valid UTF-8 (invalid byte runs become U+FFFD), so it always serializes.
      print_json({{"text", text}});
    } else {
      std::cout << text << std::endl;
    }
    return;
  }

  const std::vector<TokenId> ids = encode_prompt(*tok, st.text_given ? st.text : read_bytes(st.file),
                                                st.chat.empty() ? nullptr : &chat_format(st.chat), !st.no_bos);
  if (st.json) {
    print_json({{"ids", ids}});
  } else {
    for (std::size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << std::endl;
  }
}

}  // namespace

Command add_tokenize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "encode text to token ids, or decode ids to text");
  auto st = std::make_shared<TokenizeState>();
  cmd->add_option("--tokenizer", st->tokenizer, "tokenizer.json, a SentencePiece .model, or a checkpoint directory")
      ->required();
  cmd->add_option("--text", st->text, "text to encode")->each([st](const std::string&) { st->text_given = true; });
  cmd->add_option("--file", st->file, "encode this file's exact bytes");
  cmd->add_option("--decode", st->decode, "ids to decode, e.g. 1,2,3");
  cmd->add_flag("--no-bos", st->no_bos, "add no special tokens at all");
  std::string formats;
  for (const auto& name : chat_format_names()) formats += (formats.empty() ? "" : ", ") + name;
  cmd->add_option("--chat", st->chat, "wrap the text as one user turn of this chat format (" + formats + ")");
  cmd->add_flag("--skip-special", st->skip_special, "decode: drop special tokens");
  cmd->add_flag("--json", st->json, "print {\"ids\": [...]} (or {\"text\": ...})");
  cmd->add_option("--batch", st->batch, "JSONL in, JSONL out: lines with \"text\", \"b64\" (raw bytes) or "
                  "\"messages\" (with --chat); prints {\"ids\": [...]} per line");
  cmd->add_flag("--with-decode", st->with_decode, "--batch: also print the decoded text (with and without specials)");
  cmd->add_flag("--time", st->timing, "--batch: print encode-only time, bytes and tokens to stderr as JSON");
  return {cmd, [st] { run_tokenize(*st); }};
}

}  // namespace kvbench::cli
