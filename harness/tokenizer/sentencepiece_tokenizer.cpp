#include "harness/tokenizer/sentencepiece_tokenizer.h"

#include <cstdint>

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/paths.h"
#include "harness/tokenizer/spm_bridge.h"
#include "harness/common/unicode.h"

namespace kvbench {
namespace {

constexpr const char* kBridgeName = "libkvbench_spm.so";

std::string executable_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  return paths::parent(buf);
}

// The bridge's entry points, resolved once per process.
struct Bridge {
  decltype(&kvbench_spm_load) load;
  decltype(&kvbench_spm_unload) unload;
  decltype(&kvbench_spm_encode) encode;
  decltype(&kvbench_spm_decode) decode;
  decltype(&kvbench_spm_free_buffer) free_buffer;
  decltype(&kvbench_spm_piece_size) piece_size;
  decltype(&kvbench_spm_id_to_piece) id_to_piece;
  decltype(&kvbench_spm_piece_to_id) piece_to_id;
  decltype(&kvbench_spm_is_special) is_special;
  decltype(&kvbench_spm_bos_id) bos_id;
  decltype(&kvbench_spm_eos_id) eos_id;
  decltype(&kvbench_spm_unk_id) unk_id;
};

const Bridge& bridge() {
  static Bridge b;
  static std::once_flag once;
  std::call_once(once, [] {
    const std::string path = sentencepiece_bridge_path();
    KV_CHECK(!path.empty(), "cannot find ", kBridgeName, " (SentencePiece support) next to the kvbench binary; set "
             "KVBENCH_SPM_BRIDGE to its path");
#ifdef KVBENCH_SANITIZED
    // The sanitizer runtime refuses RTLD_DEEPBIND; a link namespace of its own isolates the protobuf as well
    // (the bridge's C interface passes no memory that one side allocates and the other frees).
    void* handle = ::dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
#else
    // RTLD_LOCAL | RTLD_DEEPBIND: sentencepiece resolves its own protobuf first and exports nothing to us.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#endif
    KV_CHECK(handle != nullptr, "cannot load ", path, ": ", ::dlerror());
    auto sym = [&](const char* name) {
      void* p = ::dlsym(handle, name);
      KV_CHECK(p != nullptr, path, " lacks symbol ", name);
      return p;
    };
#define KVBENCH_BIND(field, name) b.field = reinterpret_cast<decltype(b.field)>(sym(#name))
    KVBENCH_BIND(load, kvbench_spm_load);
    KVBENCH_BIND(unload, kvbench_spm_unload);
    KVBENCH_BIND(encode, kvbench_spm_encode);
    KVBENCH_BIND(decode, kvbench_spm_decode);
    KVBENCH_BIND(free_buffer, kvbench_spm_free_buffer);
    KVBENCH_BIND(piece_size, kvbench_spm_piece_size);
    KVBENCH_BIND(id_to_piece, kvbench_spm_id_to_piece);
    KVBENCH_BIND(piece_to_id, kvbench_spm_piece_to_id);
    KVBENCH_BIND(is_special, kvbench_spm_is_special);
    KVBENCH_BIND(bos_id, kvbench_spm_bos_id);
    KVBENCH_BIND(eos_id, kvbench_spm_eos_id);
    KVBENCH_BIND(unk_id, kvbench_spm_unk_id);
#undef KVBENCH_BIND
  });
  return b;
}

// The byte of a byte-fallback piece "<0xNN>", or -1.
int byte_piece_value(const std::string& piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
  auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
  const int hi = hex(piece[3]), lo = hex(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

class SentencePieceTokenizer final : public Tokenizer {
 public:
  SentencePieceTokenizer(const std::string& path, const TokenizerConfig& config) : path_(path), b_(bridge()) {
    // The library opens the path itself: first make sure it is a regular file of a sensible size (a FIFO would
    // block it, a device would feed it without end). SentencePiece models are a few MB.
    KV_CHECK(InputFile(path).size() <= (std::uint64_t{256} << 20), path, ": larger than 256 MiB, not a SentencePiece model");
    char error[512] = {0};
    model_ = b_.load(path.c_str(), error, sizeof error);
    KV_CHECK(model_ != nullptr, path, ": not a SentencePiece model (", error, ")");
    size_ = b_.piece_size(model_);
    for (TokenId id = 0; id < size_; ++id) {
      std::size_t len = 0;
      const char* p = b_.id_to_piece(model_, id, &len);
      pieces_.emplace_back(p, len);
      piece_ids_.emplace(pieces_.back(), id);
      special_.push_back(b_.is_special(model_, id) != 0);
      byte_value_.push_back(byte_piece_value(pieces_.back()));
      if (special_.back() && len > 0) specials_.push_back(id);
    }
    // Longest first, so that matching takes the longest special token at a position.
    std::sort(specials_.begin(), specials_.end(),
              [&](TokenId a, TokenId b) { return pieces_[a].size() > pieces_[b].size(); });
    auto resolve = [&](const std::optional<std::string>& token, int fallback) -> std::optional<TokenId> {
      if (token) return token_to_id(*token);
      if (fallback >= 0) return fallback;
      return std::nullopt;
    };
    bos_id_ = resolve(config.bos_token, b_.bos_id(model_));
    eos_id_ = resolve(config.eos_token, b_.eos_id(model_));
    add_bos_ = config.add_bos_token.value_or(true);
    add_eos_ = config.add_eos_token.value_or(false);
  }
  ~SentencePieceTokenizer() override { b_.unload(model_); }

  std::vector<TokenId> encode(std::string_view raw, bool add_special) const override {
    const std::string text = unicode::sanitize_utf8(raw);
    std::vector<TokenId> ids;
    if (add_special && add_bos_ && bos_id_) ids.push_back(*bos_id_);
    std::size_t start = 0, i = 0;
    while (i < text.size()) {
      const TokenId special = special_at(text, i);
      if (special < 0) {
        ++i;
        continue;
      }
      encode_plain(std::string_view(text).substr(start, i - start), ids);
      ids.push_back(special);
      i += pieces_[special].size();
      start = i;
    }
    encode_plain(std::string_view(text).substr(start), ids);
    if (add_special && add_eos_ && eos_id_) ids.push_back(*eos_id_);
    return ids;
  }

  // Decoding follows HF's LlamaTokenizer (its converted `tokenizers` pipeline: Replace "▁" -> " ",
  // ByteFallback, Fuse, Strip one leading space) rather than SentencePiece's own Decode, which differs for
  // special tokens in the middle ("<s> Hello" vs "<s>Hello") and for <unk>.
  std::string decode(const std::vector<TokenId>& ids, bool skip_special) const override {
    std::string out, bytes;
    auto flush_bytes = [&] {
      if (bytes.empty()) return;
      if (unicode::is_valid_utf8(bytes)) {
        out += bytes;
      } else {
        for (std::size_t i = 0; i < bytes.size(); ++i) out += "\xEF\xBF\xBD";  // one U+FFFD per byte, as HF does
      }
      bytes.clear();
    };
    for (TokenId id : ids) {
      KV_CHECK(id >= 0 && id < size_, "token id ", id, " is outside the vocabulary [0, ", size_, ")");
      if (special_[id] && skip_special) continue;
      const std::string& piece = pieces_[id];
      if (byte_value_[id] >= 0) {
        bytes.push_back(static_cast<char>(byte_value_[id]));
        continue;
      }
      flush_bytes();
      for (std::size_t i = 0; i < piece.size();) {  // "▁" (E2 96 81) -> " "
        if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {
          out.push_back(' ');
          i += 3;
        } else {
          out.push_back(piece[i++]);
        }
      }
    }
    flush_bytes();
    if (!out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
  }

  std::int64_t vocab_size() const override { return size_; }
  std::optional<TokenId> token_to_id(std::string_view token) const override {
    const auto it = piece_ids_.find(std::string(token));
    return it == piece_ids_.end() ? std::nullopt : std::optional<TokenId>(it->second);
  }
  std::string id_to_token(TokenId id) const override { return id >= 0 && id < size_ ? pieces_[id] : ""; }
  bool is_special(TokenId id) const override { return id >= 0 && id < size_ && special_[id]; }
  std::string describe() const override {
    return path_ + " (SentencePiece, " + std::to_string(size_) + " ids)";
  }

 private:
  TokenId special_at(const std::string& text, std::size_t i) const {
    if (text[i] != '<') return -1;  // every SentencePiece control piece we know starts with '<'
    for (TokenId id : specials_) {
      const std::string& p = pieces_[id];
      if (text.compare(i, p.size(), p) == 0) return id;
    }
    return -1;
  }

  void encode_plain(std::string_view text, std::vector<TokenId>& ids) const {
    if (text.empty()) return;
    int* out = nullptr;
    std::size_t n = 0;
    KV_CHECK(b_.encode(model_, text.data(), text.size(), &out, &n) == 0, path_, ": SentencePiece encode failed");
    ids.insert(ids.end(), out, out + n);
    b_.free_buffer(out);
  }

  std::string path_;
  const Bridge& b_;
  void* model_ = nullptr;
  TokenId size_ = 0;
  std::vector<std::string> pieces_;
  std::unordered_map<std::string, TokenId> piece_ids_;
  std::vector<bool> special_;
  std::vector<int> byte_value_;  // 0..255 for byte-fallback pieces "<0xNN>", else -1
  std::vector<TokenId> specials_;  // special pieces matched in text, longest first
  bool add_bos_ = true, add_eos_ = false;
};

}  // namespace

std::string sentencepiece_bridge_path() {
  if (const char* env = std::getenv("KVBENCH_SPM_BRIDGE"); env && *env) return env;
  const std::string exe = executable_dir();
  for (const std::string& dir : {exe, paths::parent(exe), std::string(KVBENCH_BUILD_DIR)}) {
    const std::string candidate = paths::join(dir, kBridgeName);
    if (!dir.empty() && paths::is_regular_file(candidate)) return candidate;
  }
  return "";
}

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path, const TokenizerConfig& config) {
  return std::make_unique<SentencePieceTokenizer>(path, config);
}

}  // namespace kvbench
