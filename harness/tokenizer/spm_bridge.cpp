// libkvbench_spm.so: the only code that touches libsentencepiece (see spm_bridge.h for why it is separate).
#include "harness/tokenizer/spm_bridge.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {
sentencepiece::SentencePieceProcessor* cast(void* model) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(model);
}
}  // namespace

extern "C" {

// No exception may leave these extern "C" functions: the caller lives in another link-map namespace (or at least
// across a C boundary), so one would end in std::terminate. libsentencepiece throws from darts-clone on some
// malformed models (found by tests/fuzz/fuzz_sentencepiece).
void* kvbench_spm_load(const char* path, char* error, std::size_t cap) {
  auto* sp = new sentencepiece::SentencePieceProcessor();
  try {
    const auto status = sp->Load(path);
    if (status.ok()) return sp;
    std::snprintf(error, cap, "%s", status.ToString().c_str());
  } catch (const std::exception& e) {
    // darts-clone's text starts with its own source location ("./third_party/darts_clone/darts.h:1143: ...").
    const std::string what = e.what();
    const auto at = what.find("exception: ");
    std::snprintf(error, cap, "not a valid SentencePiece model (%s)",
                  (at == std::string::npos ? what : what.substr(at + 11)).c_str());
  } catch (...) {
    std::snprintf(error, cap, "not a valid SentencePiece model");
  }
  delete sp;
  return nullptr;
}

void kvbench_spm_unload(void* model) { delete cast(model); }

int kvbench_spm_encode(void* model, const char* text, std::size_t len, int** ids, std::size_t* count) try {
  std::vector<int> out;
  if (!cast(model)->Encode(std::string(text, len), &out).ok()) return 1;
  *count = out.size();
  *ids = static_cast<int*>(std::malloc(std::max<std::size_t>(1, out.size()) * sizeof(int)));
  if (*ids == nullptr) return 1;
  std::memcpy(*ids, out.data(), out.size() * sizeof(int));
  return 0;
} catch (...) {
  return 1;
}

int kvbench_spm_decode(void* model, const int* ids, std::size_t count, char** text, std::size_t* len) try {
  std::string out;
  if (!cast(model)->Decode(std::vector<int>(ids, ids + count), &out).ok()) return 1;
  *len = out.size();
  *text = static_cast<char*>(std::malloc(out.size() + 1));
  if (*text == nullptr) return 1;
  std::memcpy(*text, out.data(), out.size() + 1);
  return 0;
} catch (...) {
  return 1;
}

void kvbench_spm_free_buffer(void* buffer) { std::free(buffer); }

int kvbench_spm_piece_size(void* model) { return cast(model)->GetPieceSize(); }

const char* kvbench_spm_id_to_piece(void* model, int id, std::size_t* len) {
  if (id < 0 || id >= cast(model)->GetPieceSize()) return nullptr;
  const std::string& piece = cast(model)->IdToPiece(id);
  *len = piece.size();
  return piece.data();
}

int kvbench_spm_piece_to_id(void* model, const char* piece, std::size_t len) {
  return cast(model)->PieceToId(std::string(piece, len));
}

int kvbench_spm_is_special(void* model, int id) {
  auto* sp = cast(model);
  return sp->IsControl(id) || sp->IsUnknown(id) || sp->IsUnused(id) ? 1 : 0;
}

int kvbench_spm_bos_id(void* model) { return cast(model)->bos_id(); }
int kvbench_spm_eos_id(void* model) { return cast(model)->eos_id(); }
int kvbench_spm_unk_id(void* model) { return cast(model)->unk_id(); }
}
