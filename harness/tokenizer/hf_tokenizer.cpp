// HF `tokenizer.json` files, our own implementation with the behaviour of HuggingFace tokenizers 0.23
// (Tokenizer.from_file(path).encode(text, add_special_tokens).ids and .decode(ids, skip_special_tokens)).
//
// Supported (anything else is a kvbench::Error naming the construct and the file):
//   model           BPE (vocab, merges as "a b" or ["a", "b"], unk_token, fuse_unk, byte_fallback, ignore_merges;
//                   continuing_subword_prefix / end_of_word_suffix null or ""; dropout null or 0)
//   normalizer      NFC NFD NFKC NFKD Lowercase Strip Prepend Replace Sequence, null
//   pre_tokenizer   Split ByteLevel Metaspace Digits WhitespaceSplit CharDelimiterSplit Sequence, null
//   post_processor  TemplateProcessing ByteLevel BertProcessing RobertaProcessing Sequence, null
//   decoder         ByteLevel Replace ByteFallback Fuse Strip Metaspace Sequence, null
//   added_tokens    matched leftmost-longest in the raw text (normalized: false) and in each normalized
//                   segment (normalized: true), with lstrip / rstrip / single_word; ids assigned as HF does.
// See docs/tokenizers.md for the HF quirks reproduced and the performance notes.

#include "harness/tokenizer/hf_tokenizer.h"

#include <cstdint>

#include <utf8proc.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "harness/common/error.h"
#include "harness/common/interrupt.h"
#include "harness/common/json_util.h"
#include "harness/tokenizer/hf_bpe.h"
#include "harness/tokenizer/hf_components.h"
#include "harness/common/unicode.h"

namespace kvbench {
namespace {

using json = nlohmann::json;

struct AddedToken {
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
  // What id_to_token and decode give for it: the content, or for a normalized token the normalized content
  // (HF 0.23 caches that form for decoding).
  std::string display;
  bool operator==(const AddedToken& o) const {
    return content == o.content && single_word == o.single_word && lstrip == o.lstrip && rstrip == o.rstrip &&
           normalized == o.normalized && special == o.special;
  }
};

/// Byte trie of added-token patterns; find() gives aho-corasick's LeftmostLongest matches.
class TokenTrie {
 public:
  bool empty() const { return nodes_.size() <= 1; }
  void add(std::string_view pattern, TokenId id) {
    if (nodes_.empty()) nodes_.emplace_back();
    std::size_t node = 0;
    for (char ch : pattern) {
      const auto c = static_cast<unsigned char>(ch);
      std::int32_t child = -1;
      for (const auto& [byte, next] : nodes_[node].next)
        if (byte == c) child = next;
      if (child < 0) {
        child = static_cast<std::int32_t>(nodes_.size());
        nodes_[node].next.emplace_back(c, child);
        nodes_.emplace_back();
      }
      node = static_cast<std::size_t>(child);
    }
    first_[static_cast<unsigned char>(pattern[0])] = true;
    if (nodes_[node].id < 0) nodes_[node].id = id;  // the first pattern wins among equal ones
  }
  /// The leftmost match at or after `from` (the longest among those starting there).
  bool find(std::string_view s, std::size_t from, std::size_t& start, std::size_t& end, TokenId& id) const {
    if (empty()) return false;
    for (std::size_t i = from; i < s.size(); ++i) {
      if (!first_[static_cast<unsigned char>(s[i])]) continue;
      std::size_t node = 0;
      std::int64_t best_end = -1;
      TokenId best = -1;
      for (std::size_t k = i; k < s.size(); ++k) {
        const auto c = static_cast<unsigned char>(s[k]);
        std::int32_t child = -1;
        for (const auto& [byte, next] : nodes_[node].next)
          if (byte == c) {
            child = next;
            break;
          }
        if (child < 0) break;
        node = static_cast<std::size_t>(child);
        if (nodes_[node].id >= 0) {
          best_end = static_cast<std::int64_t>(k + 1);
          best = nodes_[node].id;
        }
      }
      if (best_end >= 0) {
        start = i;
        end = static_cast<std::size_t>(best_end);
        id = best;
        return true;
      }
    }
    return false;
  }

 private:
  struct Node {
    TokenId id = -1;
    std::vector<std::pair<unsigned char, std::int32_t>> next;
  };
  std::vector<Node> nodes_;
  bool first_[256] = {};
};

// Rust regex's Unicode \w (Alphabetic, marks, Nd, Pc, Join_Control), close enough for single_word checks.
bool is_word_char(char32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  if (cp == 0x200C || cp == 0x200D || (cp >= 0x24B6 && cp <= 0x24E9)) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

char32_t cp_at(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const int n = unicode::utf8_length(b);
  char32_t cp = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < n && i + static_cast<std::size_t>(k) < s.size(); ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0x3F);
  return cp;
}

// Start of the code point that ends at `end` (end > 0).
std::size_t prev_cp_start(std::string_view s, std::size_t end) {
  std::size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

struct Segment {
  std::size_t begin, end;
  TokenId added;  // -1: text to normalize and pre-tokenize
};

class HfTokenizer final : public Tokenizer {
 public:
  HfTokenizer(const std::string& path, const TokenizerConfig& config);

  std::vector<TokenId> encode(std::string_view text, bool add_special) const override;
  std::string decode(const std::vector<TokenId>& ids, bool skip_special) const override;
  std::int64_t vocab_size() const override { return static_cast<std::int64_t>(max_id_) + 1; }
  std::optional<TokenId> token_to_id(std::string_view token) const override;
  std::string id_to_token(TokenId id) const override;
  bool is_special(TokenId id) const override;
  std::string describe() const override { return description_; }

 private:
  void load_added_tokens(const json& list);
  void find_matches(std::string_view s, const TokenTrie& trie, std::vector<Segment>& out) const;
  void encode_text(std::string_view text, bool at_origin, std::vector<TokenId>& ids) const;
  void pre_tokenize_and_model(std::string text, bool at_origin, std::vector<TokenId>& ids) const;
  const AddedToken* added_token(TokenId id) const {
    auto it = added_by_id_.find(id);
    return it == added_by_id_.end() ? nullptr : &it->second;
  }

  std::string path_;
  std::unique_ptr<hf::BpeModel> model_;
  std::unique_ptr<hf::Normalizer> normalizer_;
  std::unique_ptr<hf::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<hf::PostProcessor> post_processor_;
  std::unique_ptr<hf::Decoder> decoder_;

  // HF's AddedVocabulary: content -> id, id -> token, the special contents, and the two match tries.
  std::unordered_map<std::string, TokenId> added_by_content_;
  std::unordered_map<TokenId, AddedToken> added_by_id_;
  std::vector<AddedToken> special_tokens_, plain_added_tokens_;
  std::unordered_set<std::string> special_contents_;
  TokenTrie raw_trie_, normalized_trie_;

  TokenId max_id_ = -1;
  std::string description_;
};


HfTokenizer::HfTokenizer(const std::string& path, const TokenizerConfig& config) : path_(path) {
  const json root = read_json_file(path);
  KV_CHECK(root.is_object(), path, ": a tokenizer.json must be a JSON object");
  const auto field = [&](const char* key) -> const json& {
    static const json kNull;
    auto it = root.find(key);
    return it == root.end() ? kNull : *it;
  };
  if (const json& v = field("version"); !v.is_null())
    KV_CHECK(v.is_string() && v.get<std::string>() == "1.0", path, ": tokenizer.json version ", v.dump(), " is not supported (1.0)");
  KV_CHECK(field("truncation").is_null(), path, ": 'truncation' is not supported (it must be null)");
  if (const json& padding = field("padding"); !padding.is_null()) {
    // Padding to the longest of a batch is a no-op for one sequence; a fixed length is not.
    const json& strategy = padding.is_object() && padding.contains("strategy") ? padding["strategy"] : json();
    KV_CHECK(strategy.is_string() && strategy.get<std::string>() == "BatchLongest", path,
             ": 'padding' with strategy ", strategy.dump(), " is not supported (null or BatchLongest)");
  }

  // Model.
  const json& m = field("model");
  KV_CHECK(m.is_object(), path, ": 'model' must be an object");
  std::string type = m.contains("type") && m["type"].is_string() ? m["type"].get<std::string>() : (m.contains("merges") ? "BPE" : "");
  KV_CHECK(type == "BPE", path, ": model type '", type, "' is not supported (only BPE)");
  const auto optional_string = [&](const char* key) -> std::optional<std::string> {
    auto it = m.find(key);
    if (it == m.end() || it->is_null()) return std::nullopt;
    KV_CHECK(it->is_string(), path, ": model.", key, " must be a string or null");
    return it->get<std::string>();
  };
  const auto model_bool = [&](const char* key) {
    auto it = m.find(key);
    if (it == m.end() || it->is_null()) return false;
    KV_CHECK(it->is_boolean(), path, ": model.", key, " must be a boolean");
    return it->get<bool>();
  };
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const auto v = optional_string(key);
    KV_CHECK(!v || v->empty(), path, ": model.", key, " '", *v, "' is not supported (null or \"\" only)");
  }
  if (auto it = m.find("dropout"); it != m.end() && !it->is_null())
    KV_CHECK(it->is_number() && it->get<double>() == 0.0, path, ": model.dropout ", it->dump(), " is not supported (null only)");
  hf::BpeOptions options;
  options.unk_token = optional_string("unk_token");
  options.byte_fallback = model_bool("byte_fallback");
  options.fuse_unk = model_bool("fuse_unk");
  options.ignore_merges = model_bool("ignore_merges");

  const auto vocab_it = m.find("vocab");
  KV_CHECK(vocab_it != m.end() && vocab_it->is_object(), path, ": model.vocab must be an object {token: id}");
  std::vector<std::pair<std::string, TokenId>> vocab;
  vocab.reserve(vocab_it->size());
  for (const auto& [token, id] : vocab_it->items()) {
    KV_CHECK(id.is_number_integer(), path, ": model.vocab['", token, "'] must be an integer id");
    const auto v = id.get<std::int64_t>();
    // Ids index tables of max_id + 1 entries: bounded as a checkpoint's vocab_size is, so that a small file cannot
    // ask for gigabytes.
    KV_CHECK(v >= 0 && v < (std::int64_t{1} << 24), path, ": model.vocab['", token, "'] = ", v,
             " is out of range (token ids are between 0 and ", (std::int64_t{1} << 24) - 1, ")");
    vocab.emplace_back(token, static_cast<TokenId>(v));
  }
  std::vector<std::pair<std::string, std::string>> merges;
  if (auto it = m.find("merges"); it != m.end() && !it->is_null()) {
    KV_CHECK(it->is_array(), path, ": model.merges must be an array");
    merges.reserve(it->size());
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      if (e.is_string()) {
        const std::string& line = e.get_ref<const std::string&>();
        const std::size_t space = line.find(' ');
        // HF splits the legacy form on ' ' and wants exactly two parts.
        KV_CHECK(space != std::string::npos && line.find(' ', space + 1) == std::string::npos, path, ": model.merges[", i,
                 "] '", line, "' is not of the form \"a b\"");
        merges.emplace_back(line.substr(0, space), line.substr(space + 1));
      } else {
        KV_CHECK(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string(), path, ": model.merges[", i,
                 "] must be \"a b\" or [\"a\", \"b\"]");
        merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
      }
    }
  }
  model_ = std::make_unique<hf::BpeModel>(std::move(vocab), merges, options, path);

  normalizer_ = hf::make_normalizer(field("normalizer"), path, "normalizer");
  pre_tokenizer_ = hf::make_pre_tokenizer(field("pre_tokenizer"), path, "pre_tokenizer");
  post_processor_ = hf::make_post_processor(field("post_processor"), path, "post_processor");
  decoder_ = hf::make_decoder(field("decoder"), path, "decoder");

  if (const json& added = field("added_tokens"); !added.is_null()) {
    KV_CHECK(added.is_array(), path, ": 'added_tokens' must be an array");
    load_added_tokens(added);
  }

  max_id_ = model_->max_id();
  for (const auto& [id, token] : added_by_id_) max_id_ = std::max(max_id_, id);

  if (config.bos_token) bos_id_ = token_to_id(*config.bos_token);
  if (config.eos_token) eos_id_ = token_to_id(*config.eos_token);

  std::ostringstream d;
  d << "tokenizer.json (BPE";
  if ((pre_tokenizer_ && pre_tokenizer_->byte_level()) || (decoder_ && decoder_->byte_level())) d << ", byte-level";
  if (options.byte_fallback) d << ", byte-fallback";
  d << ", " << vocab_size() << " ids)";
  description_ = d.str();
}

void HfTokenizer::load_added_tokens(const json& list) {
  // As HF's deserializer: tokens are added one by one; a token keeps the id its content already has (added
  // or in the model vocabulary), else it gets the next free id after the model's. The "id" in the file is
  // only checked by HF (a warning); we use HF's assignment so that ids agree with it either way.
  const auto model_size = static_cast<TokenId>(model_->vocab_entries());
  TokenId max_added = -1;  // the largest id in added_by_content_
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    const std::string where = path_ + ": added_tokens[" + std::to_string(i) + "]";
    KV_CHECK(e.is_object() && e.contains("content") && e["content"].is_string(), where, " has no string 'content'");
    AddedToken t;
    t.content = e["content"].get<std::string>();
    const auto flag = [&](const char* key, bool fallback) {
      auto it = e.find(key);
      if (it == e.end() || it->is_null()) return fallback;
      KV_CHECK(it->is_boolean(), where, ".", key, " must be a boolean");
      return it->get<bool>();
    };
    t.special = flag("special", false);
    t.single_word = flag("single_word", false);
    t.lstrip = flag("lstrip", false);
    t.rstrip = flag("rstrip", false);
    t.normalized = flag("normalized", !t.special);

    if (t.special && !t.content.empty() && special_contents_.insert(t.content).second) special_tokens_.push_back(t);
    if (t.content.empty()) continue;
    // HF skips a token identical (all flags) to one already added; such a token would sit at its content's id.
    const auto known = added_by_content_.find(t.content);
    if (known != added_by_content_.end()) {
      const AddedToken* have = added_token(known->second);
      if (have != nullptr && *have == t) continue;
    }
    TokenId new_id;
    if (known != added_by_content_.end()) {
      new_id = known->second;
    } else if (auto in_model = model_->token_to_id(t.content)) {
      new_id = *in_model;
    } else if (added_by_content_.empty()) {
      new_id = model_size;
    } else {
      new_id = (max_added >= model_size || model_size == 0) ? max_added + 1 : model_size;
    }
    max_added = std::max(max_added, new_id);
    added_by_content_[t.content] = new_id;
    added_by_id_[new_id] = t;
    if (special_contents_.count(t.content) == 0) plain_added_tokens_.push_back(t);
  }
  // The tries: special tokens first, then the others (HF's order), split by `normalized`.
  const auto add_to_trie = [&](const AddedToken& t) {
    const TokenId id = *token_to_id(t.content);
    if (!t.normalized) {
      raw_trie_.add(t.content, id);
      return;
    }
    std::string pattern = t.content;
    if (normalizer_) normalizer_->normalize(pattern);
    if (!pattern.empty()) normalized_trie_.add(pattern, id);
  };
  for (const auto& t : special_tokens_) add_to_trie(t);
  for (const auto& t : plain_added_tokens_) add_to_trie(t);
  for (auto& [id, t] : added_by_id_) {
    t.display = t.content;
    if (t.normalized && normalizer_) normalizer_->normalize(t.display);
  }
}

void HfTokenizer::find_matches(std::string_view s, const TokenTrie& trie, std::vector<Segment>& out) const {
  // HF AddedVocabulary::find_matches.
  std::size_t start_offset = 0;
  std::size_t search = 0, start = 0, stop = 0;
  TokenId id = -1;
  while (trie.find(s, search, start, stop, id)) {
    search = stop;  // the matcher goes on after this match, whether it is used or not
    const AddedToken* t = added_token(id);
    if (t != nullptr && t->single_word) {
      const bool start_space = start == 0 || !is_word_char(cp_at(s, prev_cp_start(s, start)));
      const bool stop_space = stop == s.size() || !is_word_char(cp_at(s, stop));
      if (!start_space || !stop_space) continue;
    }
    if (t != nullptr && t->lstrip) {
      std::size_t new_start = start;
      while (new_start > 0) {
        const std::size_t p = prev_cp_start(s, new_start);
        if (!is_white_space(cp_at(s, p))) break;
        new_start = p;
      }
      start = std::max(new_start, start_offset);
    }
    if (t != nullptr && t->rstrip) {
      while (stop < s.size() && is_white_space(cp_at(s, stop))) stop += static_cast<std::size_t>(unicode::utf8_length(static_cast<unsigned char>(s[stop])));
    }
    if (start_offset < start) out.push_back(Segment{start_offset, start, -1});
    out.push_back(Segment{start, stop, id});
    start_offset = stop;
  }
  if (start_offset < s.size()) out.push_back(Segment{start_offset, s.size(), -1});
}

void HfTokenizer::pre_tokenize_and_model(std::string text, bool at_origin, std::vector<TokenId>& ids) const {
  if (text.empty()) return;
  if (!pre_tokenizer_) {
    model_->tokenize(text, ids);
    return;
  }
  std::vector<hf::Piece> pieces, scratch;
  pieces.push_back(hf::Piece{std::move(text), at_origin});
  pre_tokenizer_->apply(pieces, scratch);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    if (i % 4096 == 0) check_interrupt();  // megabytes of text take seconds: a signal must not wait for them
    model_->tokenize(pieces[i].text, ids);
  }
}

void HfTokenizer::encode_text(std::string_view text, bool at_origin, std::vector<TokenId>& ids) const {
  std::string normalized(text);
  if (normalizer_) normalizer_->normalize(normalized);
  if (normalized_trie_.empty()) {
    pre_tokenize_and_model(std::move(normalized), at_origin, ids);
    return;
  }
  std::vector<Segment> segments;
  find_matches(normalized, normalized_trie_, segments);
  for (const auto& seg : segments) {
    if (seg.added >= 0) {
      ids.push_back(seg.added);
    } else {
      pre_tokenize_and_model(normalized.substr(seg.begin, seg.end - seg.begin), at_origin && seg.begin == 0, ids);
    }
  }
}

std::vector<TokenId> HfTokenizer::encode(std::string_view text, bool add_special) const {
  std::string sanitized;
  std::string_view s = text;
  if (!unicode::is_valid_utf8(text)) {
    sanitized = unicode::sanitize_utf8(text);
    s = sanitized;
  }
  std::vector<TokenId> ids;
  ids.reserve(s.size() / 3 + 4);
  if (raw_trie_.empty()) {
    if (!s.empty()) encode_text(s, true, ids);
  } else {
    std::vector<Segment> segments;
    find_matches(s, raw_trie_, segments);
    for (const auto& seg : segments) {
      if (seg.added >= 0) {
        ids.push_back(seg.added);
      } else {
        encode_text(s.substr(seg.begin, seg.end - seg.begin), seg.begin == 0, ids);
      }
    }
  }
  if (add_special && post_processor_) post_processor_->process(ids);
  return ids;
}

std::string HfTokenizer::decode(const std::vector<TokenId>& ids, bool skip_special) const {
  // HF Tokenizer::decode: ids -> token strings (added tokens by their content; unknown ids dropped), special
  // ones dropped on request, then the decoder chain over all of them (or a join with spaces without one).
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const TokenId id : ids) {
    const std::string* token = nullptr;
    if (const AddedToken* t = added_token(id)) {
      token = &t->display;
    } else {
      token = model_->id_to_token(id);
    }
    if (token == nullptr) continue;
    if (skip_special && special_contents_.count(*token) != 0) continue;
    tokens.push_back(*token);
  }
  std::string out;
  if (decoder_) {
    decoder_->decode_chain(tokens);
    for (const auto& t : tokens) out += t;
  } else {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out += ' ';
      out += tokens[i];
    }
  }
  return unicode::sanitize_utf8(out);
}

std::optional<TokenId> HfTokenizer::token_to_id(std::string_view token) const {
  if (auto it = added_by_content_.find(std::string(token)); it != added_by_content_.end()) return it->second;
  return model_->token_to_id(token);
}

std::string HfTokenizer::id_to_token(TokenId id) const {
  if (const AddedToken* t = added_token(id)) return t->display;
  const std::string* token = model_->id_to_token(id);
  return token == nullptr ? std::string() : *token;
}

bool HfTokenizer::is_special(TokenId id) const {
  // As decode(skip_special) decides: by the token's string (so a normalized special token whose normalized
  // form differs from its content is not special to HF's decode).
  if (const AddedToken* t = added_token(id)) return special_contents_.count(t->display) != 0;
  const std::string* token = model_->id_to_token(id);
  return token != nullptr && special_contents_.count(*token) != 0;
}

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& json_path, const TokenizerConfig& config) {
  return std::make_unique<HfTokenizer>(json_path, config);
}

}  // namespace kvbench
