// The decoders and post-processors of an HF tokenizer.json (hf_components.h), as HF tokenizers 0.23 runs them.
#include "harness/tokenizer/hf_components.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "harness/common/error.h"
#include "harness/common/unicode.h"
#include "harness/tokenizer/hf_component_parts.h"

namespace kvbench::hf {
using namespace detail;

namespace {

// ---- decoders ---------------------------------------------------------------------------------------------

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->decode_chain(tokens);
  }
  bool byte_level() const override {
    for (const auto& p : parts_)
      if (p->byte_level()) return true;
    return false;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    const auto& from = byte_tables().from_cp;
    std::string bytes;
    std::string token_bytes;
    for (const std::string& token : tokens) {
      // A token with a character outside the alphabet (e.g. an added token with a space) goes in as is.
      token_bytes.clear();
      bool all = true;
      for (std::size_t i = 0; i < token.size();) {
        const char32_t cp = next_cp(token, i);
        if (cp >= from.size() || from[cp] < 0) {
          all = false;
          break;
        }
        token_bytes += static_cast<char>(from[cp]);
      }
      bytes += all ? token_bytes : token;
    }
    tokens.assign(1, unicode::sanitize_utf8(bytes));
  }
  bool byte_level() const override { return true; }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) replace_all(t, pattern_, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "<0xNN>" -> the byte, as HF parses it (u8::from_str_radix of the two characters, so "+F" counts too).
int byte_token_value(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  if (t[3] == '+') return hex_value(t[4]);
  const int hi = hex_value(t[3]), lo = hex_value(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    const auto flush = [&] {
      if (pending.empty()) return;
      if (unicode::is_valid_utf8(pending)) {
        out.push_back(pending);
      } else {
        for (std::size_t i = 0; i < pending.size(); ++i) out.emplace_back("\xEF\xBF\xBD");  // one U+FFFD per byte
      }
      pending.clear();
    };
    for (std::string& t : tokens) {
      const int b = byte_token_value(t);
      if (b >= 0) {
        pending += static_cast<char>(b);
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens.swap(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, std::size_t start, std::size_t stop) : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      std::vector<char32_t> cps = unicode::decode_utf8(t);
      std::size_t begin = 0;
      while (begin < start_ && begin < cps.size() && cps[begin] == content_) ++begin;
      std::size_t end = cps.size();
      for (std::size_t k = 0; k < stop_ && end > begin && cps[end - 1] == content_; ++k) --end;
      t = unicode::encode_utf8(std::vector<char32_t>(cps.begin() + static_cast<std::ptrdiff_t>(begin),
                                                     cps.begin() + static_cast<std::ptrdiff_t>(end)));
    }
  }

 private:
  char32_t content_;
  std::size_t start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, PrependScheme scheme) : replacement_(replacement), scheme_(scheme) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const std::string& t = tokens[i];
      std::string out;
      out.reserve(t.size());
      for (std::size_t k = 0; k < t.size();) {
        const std::size_t at = k;
        const char32_t cp = next_cp(t, k);
        if (cp == replacement_) {
          // HF drops every replacement character of the first token when a prefix is prepended.
          if (i != 0 || scheme_ == PrependScheme::Never) out += ' ';
        } else {
          out.append(t, at, k - at);
        }
      }
      tokens[i].swap(out);
    }
  }

 private:
  char32_t replacement_;
  PrependScheme scheme_;
};

// ---- post-processors ------------------------------------------------------------------------------------

class TemplatePostProcessor : public PostProcessor {
 public:
  // `items`: for each template item, the ids of a special token, or an empty optional for the sequence.
  explicit TemplatePostProcessor(std::vector<std::optional<std::vector<TokenId>>> items) : items_(std::move(items)) {}
  void process(std::vector<TokenId>& ids) const override {
    std::vector<TokenId> out;
    out.reserve(ids.size() + 4);
    for (const auto& item : items_) {
      if (item) {
        out.insert(out.end(), item->begin(), item->end());
      } else {
        out.insert(out.end(), ids.begin(), ids.end());
      }
    }
    ids.swap(out);
  }

 private:
  std::vector<std::optional<std::vector<TokenId>>> items_;
};

class SequencePostProcessor : public PostProcessor {
 public:
  explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  void process(std::vector<TokenId>& ids) const override {
    for (const auto& p : parts_) p->process(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

class NoopPostProcessor : public PostProcessor {
 public:
  void process(std::vector<TokenId>&) const override {}
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& file, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, file, where);
  const std::string ctx = file + ": " + where;
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> parts;
    const json& list = get_array(j, "decoders", file, where);
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto p = make_decoder(list[i], file, where + ".decoders[" + std::to_string(i) + "]");
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") {
    auto it = j.find("pattern");
    KV_CHECK(it != j.end(), ctx, " (Replace) has no 'pattern'");
    return std::make_unique<ReplaceDecoder>(Pattern(*it, ctx + ".pattern"), get_string(j, "content", file, where));
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    const auto start = get_int(j, "start", 0, file, where), stop = get_int(j, "stop", 0, file, where);
    KV_CHECK(start >= 0 && stop >= 0, ctx, " (Strip): start and stop must be >= 0");
    return std::make_unique<StripDecoder>(get_char(j, "content", file, where), static_cast<std::size_t>(start),
                                          static_cast<std::size_t>(stop));
  }
  if (type == "Metaspace")
    return std::make_unique<MetaspaceDecoder>(get_char(j, "replacement", file, where), parse_prepend_scheme(j, file, where));
  fail(file, ": decoder type '", type, "' (at ", where,
       ") is not supported; supported: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence");
}

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& file, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, file, where);
  const std::string ctx = file + ": " + where;
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> parts;
    const json& list = get_array(j, "processors", file, where);
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto p = make_post_processor(list[i], file, where + ".processors[" + std::to_string(i) + "]");
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequencePostProcessor>(std::move(parts));
  }
  if (type == "ByteLevel") return std::make_unique<NoopPostProcessor>();  // offsets only
  if (type == "TemplateProcessing") {
    const json& single = get_array(j, "single", file, where);
    auto sp = j.find("special_tokens");
    std::vector<std::optional<std::vector<TokenId>>> items;
    for (std::size_t i = 0; i < single.size(); ++i) {
      const json& item = single[i];
      const std::string at = ctx + ".single[" + std::to_string(i) + "]";
      KV_CHECK(item.is_object() && item.size() == 1, at, " must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
      const std::string kind = item.begin().key();
      const auto entry = item.begin();
      const json& body = entry.value();
      KV_CHECK(body.is_object() && body.contains("id") && body["id"].is_string(), at, ".", kind, " has no string 'id'");
      const std::string id = body["id"].get<std::string>();
      if (kind == "Sequence") {
        KV_CHECK(id == "A", at, ": a single-sequence template may only use sequence A, not '", id, "'");
        items.emplace_back(std::nullopt);
      } else if (kind == "SpecialToken") {
        KV_CHECK(sp != j.end() && sp->is_object() && sp->contains(id), at, ": special token '", id,
                 "' is not in special_tokens");
        const json& entry = (*sp)[id];
        KV_CHECK(entry.contains("ids") && entry["ids"].is_array(), ctx, ".special_tokens['", id, "'] has no 'ids'");
        std::vector<TokenId> ids;
        for (const auto& v : entry["ids"]) {
          KV_CHECK(v.is_number_integer(), ctx, ".special_tokens['", id, "'].ids must be integers");
          ids.push_back(v.get<TokenId>());
        }
        items.emplace_back(std::move(ids));
      } else {
        fail(at, ": template item '", kind, "' is not supported");
      }
    }
    return std::make_unique<TemplatePostProcessor>(std::move(items));
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    // Single sequence: [cls] A [sep]; "cls"/"sep" are [token, id] pairs.
    const auto id_of = [&](const char* key) {
      auto it = j.find(key);
      KV_CHECK(it != j.end() && it->is_array() && it->size() == 2 && (*it)[1].is_number_integer(), ctx, ".", key,
               " must be [token, id]");
      return (*it)[1].get<TokenId>();
    };
    std::vector<std::optional<std::vector<TokenId>>> items;
    items.emplace_back(std::vector<TokenId>{id_of("cls")});
    items.emplace_back(std::nullopt);
    items.emplace_back(std::vector<TokenId>{id_of("sep")});
    return std::make_unique<TemplatePostProcessor>(std::move(items));
  }
  fail(file, ": post_processor type '", type, "' (at ", where,
       ") is not supported; supported: TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence");
}

}  // namespace kvbench::hf
