#pragma once
// The BPE model of HF tokenizer.json files: vocabulary, merges, unk / byte fallback, and the merge loop with
// HF's exact tie-breaking (lowest merge rank first, then leftmost position; an entry of the priority queue
// is taken as valid when the pair now at its position would produce the same new id, as HF checks).
// O(n log n) per word; words up to kMaxCachedWordBytes are cached.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "harness/tokenizer/tokenizer.h"

namespace kvbench::hf {

/// Open-addressing map (left id, right id) -> (rank, new id), built once and read-only afterwards.
class MergeMap {
 public:
  struct Value {
    std::int32_t rank;
    TokenId new_id;
  };
  void build(const std::vector<std::pair<std::uint64_t, Value>>& entries);  // later entries win
  const Value* find(TokenId left, TokenId right) const;
  std::size_t size() const { return size_; }
  static std::uint64_t key(TokenId left, TokenId right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
  }

 private:
  static std::size_t mix(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<std::size_t>(k);
  }
  std::vector<std::uint64_t> keys_;
  std::vector<Value> values_;
  std::size_t mask_ = 0, size_ = 0;
};

/// Open-addressing map string -> id over strings owned elsewhere (faster than std::unordered_map for the
/// per-piece vocabulary lookups). Read-only after build().
class StringIdMap {
 public:
  /// `keys` must outlive the map and not change; `ids[i]` is the id of `keys[i]`; a repeated key keeps the last.
  void build(const std::vector<std::string>& keys, const std::vector<TokenId>& ids);
  /// The id of `s`, or -1.
  TokenId find(std::string_view s) const;
  std::size_t size() const { return size_; }
  static std::uint64_t hash(std::string_view s);

 private:
  struct Slot {
    std::uint64_t hash;
    std::int32_t index;  // into keys (-1: empty)
  };
  std::vector<Slot> slots_;
  const std::vector<std::string>* keys_ = nullptr;
  std::vector<TokenId> ids_;
  std::size_t mask_ = 0, size_ = 0;
};

struct BpeOptions {
  std::optional<std::string> unk_token;
  bool byte_fallback = false;
  bool fuse_unk = false;
  bool ignore_merges = false;
};

class BpeModel {
 public:
  static constexpr std::size_t kMaxCachedWordBytes = 256;
  static constexpr std::size_t kCacheCapacity = 1 << 17;

  /// `vocab`: token -> id; `merges`: pairs of token strings in rank order. `where` names the file for errors.
  BpeModel(std::vector<std::pair<std::string, TokenId>> vocab, const std::vector<std::pair<std::string, std::string>>& merges,
           BpeOptions options, const std::string& where);

  /// Appends the ids of one pre-token (HF BPE::tokenize: ignore_merges, cache, merge_word).
  void tokenize(std::string_view word, std::vector<TokenId>& out) const;

  std::optional<TokenId> token_to_id(std::string_view token) const;
  /// The token of `id`, or nullptr when the vocabulary has no such id.
  const std::string* id_to_token(TokenId id) const;
  TokenId max_id() const { return static_cast<TokenId>(id_index_.size()) - 1; }
  std::size_t vocab_entries() const { return vocab_.size(); }
  std::size_t merge_count() const { return merges_.size(); }
  const BpeOptions& options() const { return options_; }

 private:
  void merge_word(std::string_view word, std::vector<TokenId>& out) const;
  TokenId char_id(std::string_view ch) const;

  std::vector<std::string> tokens_;       // filled once; vocab_ keys point into it
  std::vector<std::int32_t> id_index_;    // id -> index in tokens_ (-1: no such id)
  StringIdMap vocab_;
  MergeMap merges_;
  BpeOptions options_;
  std::optional<TokenId> unk_id_;
  TokenId byte_ids_[256];
  std::vector<TokenId> small_char_ids_;  // ids of the code points below 0x800 (-1: not in the vocabulary)

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<TokenId>> cache_;
};

}  // namespace kvbench::hf
