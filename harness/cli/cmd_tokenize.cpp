// kvbench tokenize: text -> ids (or ids -> text) with a tokenizer file or checkpoint directory.
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "harness/cli/commands.h"
#include "harness/cli/options.h"
#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/tokenizer/chat_template.h"
#include "harness/tokenizer/tokenizer.h"

namespace kvbench::cli {
namespace {

struct TokenizeState {
  std::string tokenizer, text, file, decode, chat, batch;
  bool text_given = false, no_bos = false, skip_special = false, json = false, with_decode = false, timing = false;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  KV_CHECK(in.good(), "cannot open '", path, "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
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
  std::ifstream in(st.batch, std::ios::binary);
  KV_CHECK(in.good(), "cannot open '", st.batch, "'");
  double encode_seconds = 0;
  std::size_t bytes = 0, tokens = 0, line_no = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    KV_CHECK(row.is_object(), st.batch, ":", line_no, ": not a JSON object");
    nlohmann::json out = nlohmann::json::object();
    std::vector<TokenId> ids;
    const auto t0 = std::chrono::steady_clock::now();
    if (row.contains("messages")) {
      KV_CHECK(!st.chat.empty(), st.batch, ":", line_no, ": 'messages' needs --chat");
      std::vector<ChatMessage> messages;
      for (const auto& m : row["messages"]) messages.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
      const ChatFormat& format = chat_format(st.chat);
      const std::string rendered =
          format.render(messages, row.value("add_generation_prompt", true), chat_special_tokens(tok));
      ids = encode_rendered(tok, rendered, format, !st.no_bos);
      out["rendered"] = rendered;
    } else {
      const std::string text = row.contains("b64") ? base64_decode(row.at("b64").get<std::string>())
                                                   : row.at("text").get<std::string>();
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
