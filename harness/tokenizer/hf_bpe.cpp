#include "harness/tokenizer/hf_bpe.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "harness/common/error.h"
#include "harness/common/unicode.h"

namespace kvbench::hf {

// ---- MergeMap -------------------------------------------------------------------------------------------

void MergeMap::build(const std::vector<std::pair<std::uint64_t, Value>>& entries) {
  std::size_t cap = 16;
  while (cap < entries.size() * 2) cap <<= 1;
  keys_.assign(cap, ~std::uint64_t{0});
  values_.assign(cap, Value{0, 0});
  mask_ = cap - 1;
  size_ = 0;
  for (const auto& [k, v] : entries) {
    std::size_t i = mix(k) & mask_;
    while (keys_[i] != ~std::uint64_t{0} && keys_[i] != k) i = (i + 1) & mask_;
    if (keys_[i] != k) ++size_;
    keys_[i] = k;
    values_[i] = v;  // a repeated pair keeps its last rank, as HF's HashMap collect does
  }
}

const MergeMap::Value* MergeMap::find(TokenId left, TokenId right) const {
  if (keys_.empty()) return nullptr;
  const std::uint64_t k = key(left, right);
  std::size_t i = mix(k) & mask_;
  while (true) {
    const std::uint64_t have = keys_[i];
    if (have == k) return &values_[i];
    if (have == ~std::uint64_t{0}) return nullptr;
    i = (i + 1) & mask_;
  }
}

// ---- StringIdMap ----------------------------------------------------------------------------------------

std::uint64_t StringIdMap::hash(std::string_view s) {
  std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ (s.size() * 0xC2B2AE3D27D4EB4FULL);
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t v;
    std::memcpy(&v, s.data() + i, 8);
    h = (h ^ v) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  if (i < s.size()) {
    std::uint64_t v = 0;
    std::memcpy(&v, s.data() + i, s.size() - i);
    h = (h ^ v) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  h *= 0xC4CEB9FE1A85EC53ULL;
  return h ^ (h >> 29);
}

void StringIdMap::build(const std::vector<std::string>& keys, const std::vector<TokenId>& ids) {
  keys_ = &keys;
  ids_ = ids;
  std::size_t cap = 16;
  while (cap < keys.size() * 2) cap <<= 1;
  slots_.assign(cap, Slot{0, -1});
  mask_ = cap - 1;
  size_ = 0;
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const std::uint64_t h = hash(keys[k]);
    std::size_t i = h & mask_;
    while (slots_[i].index >= 0 && !(slots_[i].hash == h && keys[static_cast<std::size_t>(slots_[i].index)] == keys[k]))
      i = (i + 1) & mask_;
    if (slots_[i].index < 0) ++size_;
    slots_[i] = Slot{h, static_cast<std::int32_t>(k)};
  }
}

TokenId StringIdMap::find(std::string_view s) const {
  if (slots_.empty()) return -1;
  const std::uint64_t h = hash(s);
  for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.index < 0) return -1;
    if (slot.hash == h && (*keys_)[static_cast<std::size_t>(slot.index)] == s) return ids_[static_cast<std::size_t>(slot.index)];
  }
}

// ---- BpeModel -------------------------------------------------------------------------------------------

BpeModel::BpeModel(std::vector<std::pair<std::string, TokenId>> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
                   const std::string& where)
    : options_(std::move(options)) {
  TokenId max_id = -1;
  for (const auto& [token, id] : vocab) {
    KV_CHECK(id >= 0, where, ": model.vocab: negative id ", id, " for token '", token, "'");
    max_id = std::max(max_id, id);
  }
  // tokens_ is filled once and never resized again: vocab_ keys are views into its strings. When several
  // tokens claim one id (a malformed file), each maps to it and id_to_token gives the last one.
  tokens_.reserve(vocab.size());
  for (auto& entry : vocab) tokens_.push_back(std::move(entry.first));
  id_index_.assign(static_cast<std::size_t>(max_id + 1), -1);
  std::vector<TokenId> ids;
  ids.reserve(vocab.size());
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    const TokenId id = vocab[i].second;
    id_index_[static_cast<std::size_t>(id)] = static_cast<std::int32_t>(i);
    ids.push_back(id);
  }
  vocab_.build(tokens_, ids);

  if (options_.unk_token) {
    if (const TokenId id = vocab_.find(*options_.unk_token); id >= 0) unk_id_ = id;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    byte_ids_[b] = vocab_.find(std::string_view(name));
  }
  small_char_ids_.assign(0x800, -1);
  for (char32_t cp = 0; cp < 0x800; ++cp) {
    std::string s;
    unicode::append_utf8(s, cp);
    small_char_ids_[cp] = vocab_.find(s);
  }

  std::vector<std::pair<std::uint64_t, MergeMap::Value>> entries;
  entries.reserve(merges.size());
  std::string joined;
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const TokenId ia = vocab_.find(a);
    KV_CHECK(ia >= 0, where, ": model.merges[", rank, "]: token '", a, "' is not in the vocabulary");
    const TokenId ib = vocab_.find(b);
    KV_CHECK(ib >= 0, where, ": model.merges[", rank, "]: token '", b, "' is not in the vocabulary");
    joined.assign(a).append(b);
    const TokenId ij = vocab_.find(joined);
    KV_CHECK(ij >= 0, where, ": model.merges[", rank, "]: merged token '", joined, "' is not in the vocabulary");
    entries.emplace_back(MergeMap::key(ia, ib), MergeMap::Value{static_cast<std::int32_t>(rank), ij});
  }
  merges_.build(entries);
}

std::optional<TokenId> BpeModel::token_to_id(std::string_view token) const {
  const TokenId id = vocab_.find(token);
  if (id < 0) return std::nullopt;
  return id;
}

const std::string* BpeModel::id_to_token(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= id_index_.size()) return nullptr;
  const std::int32_t index = id_index_[static_cast<std::size_t>(id)];
  return index < 0 ? nullptr : &tokens_[static_cast<std::size_t>(index)];
}

TokenId BpeModel::char_id(std::string_view ch) const {
  const auto b0 = static_cast<unsigned char>(ch[0]);
  if (ch.size() == 1) return small_char_ids_[b0];
  if (ch.size() == 2) {
    const char32_t cp = (static_cast<char32_t>(b0 & 0x1F) << 6) | (static_cast<unsigned char>(ch[1]) & 0x3F);
    return small_char_ids_[cp];
  }
  return vocab_.find(ch);
}

void BpeModel::tokenize(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const TokenId id = vocab_.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  const bool cacheable = word.size() < kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(std::string(word));
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const std::size_t first = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(word), std::vector<TokenId>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
  }
}

namespace {

struct Symbol {
  TokenId id;
  std::int32_t prev;
  std::int32_t next;
  bool alive;
};

struct QueueEntry {
  std::int32_t rank;
  std::int32_t pos;
  TokenId new_id;
};

// Heap order: the smallest (rank, pos) on top.
struct QueueLater {
  bool operator()(const QueueEntry& a, const QueueEntry& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};

}  // namespace

void BpeModel::merge_word(std::string_view word, std::vector<TokenId>& out) const {
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<QueueEntry> queue;
  symbols.clear();
  queue.clear();
  const auto add = [&](TokenId id) {
    const auto n = static_cast<std::int32_t>(symbols.size());
    symbols.push_back(Symbol{id, n - 1, n + 1, true});
  };

  // HF BPE::merge_word: one symbol per character; unknown characters go to byte fallback, else to the unk
  // token (fused with a preceding unk when fuse_unk), else they are dropped.
  TokenId pending_unk = -1;  // an unk not yet added (it may fuse with the next unknown character)
  for (std::size_t i = 0; i < word.size();) {
    std::size_t len = static_cast<std::size_t>(unicode::utf8_length(static_cast<unsigned char>(word[i])));
    if (i + len > word.size()) len = word.size() - i;
    const std::string_view ch = word.substr(i, len);
    i += len;
    const TokenId id = char_id(ch);
    if (id >= 0) {
      if (pending_unk >= 0) {
        add(pending_unk);
        pending_unk = -1;
      }
      add(id);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (char c : ch) all = all && byte_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all) {
        // As HF: the byte tokens go in before a pending (fused) unk.
        for (char c : ch) add(byte_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (options_.unk_token) {
      KV_CHECK(unk_id_.has_value(), "tokenizer.json: unk_token '", *options_.unk_token, "' is not in the vocabulary");
      if (pending_unk >= 0 && !options_.fuse_unk) add(pending_unk);
      pending_unk = *unk_id_;
    }
  }
  if (pending_unk >= 0) add(pending_unk);
  if (symbols.empty()) return;
  symbols.back().next = -1;

  for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (const auto* m = merges_.find(symbols[i].id, symbols[i + 1].id))
      queue.push_back(QueueEntry{m->rank, static_cast<std::int32_t>(i), m->new_id});
  }
  std::make_heap(queue.begin(), queue.end(), QueueLater{});
  const auto push = [&](const QueueEntry& e) {
    queue.push_back(e);
    std::push_heap(queue.begin(), queue.end(), QueueLater{});
  };
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), QueueLater{});
    const QueueEntry top = queue.back();
    queue.pop_back();
    Symbol& cur = symbols[static_cast<std::size_t>(top.pos)];
    if (!cur.alive || cur.next < 0) continue;
    const std::int32_t next_pos = cur.next;
    const Symbol right = symbols[static_cast<std::size_t>(next_pos)];
    const auto* now = merges_.find(cur.id, right.id);
    if (now == nullptr || now->new_id != top.new_id) continue;  // a stale entry
    cur.id = top.new_id;
    cur.next = right.next;
    symbols[static_cast<std::size_t>(next_pos)].alive = false;
    if (right.next >= 0) symbols[static_cast<std::size_t>(right.next)].prev = top.pos;
    if (cur.prev >= 0) {
      if (const auto* m = merges_.find(symbols[static_cast<std::size_t>(cur.prev)].id, cur.id))
        push(QueueEntry{m->rank, cur.prev, m->new_id});
    }
    if (cur.next >= 0) {
      if (const auto* m = merges_.find(cur.id, symbols[static_cast<std::size_t>(cur.next)].id))
        push(QueueEntry{m->rank, top.pos, m->new_id});
    }
  }
  for (std::int32_t i = 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) out.push_back(symbols[static_cast<std::size_t>(i)].id);
}

}  // namespace kvbench::hf
