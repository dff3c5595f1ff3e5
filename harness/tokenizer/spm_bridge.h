#pragma once
// The C interface of libkvbench_spm.so, the small shared library that wraps libsentencepiece. kvbench loads
// it with dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND) so that sentencepiece's bundled protobuf stays
// private: linked into the same process as libtorch's protobuf it crashes before main on Debian 12.
// Plain C types only; buffers returned by the bridge are freed with kvbench_spm_free_buffer.

#include <cstddef>

extern "C" {

/// Loads a SentencePiece model; on failure returns null and writes a message into `error` (size `cap`).
void* kvbench_spm_load(const char* path, char* error, std::size_t cap);
void kvbench_spm_unload(void* model);
/// Encodes `len` bytes of UTF-8 into ids (malloc'ed into *ids, count in *count); returns 0 on success.
int kvbench_spm_encode(void* model, const char* text, std::size_t len, int** ids, std::size_t* count);
/// Decodes ids into UTF-8 (malloc'ed into *text, length in *len); returns 0 on success.
int kvbench_spm_decode(void* model, const int* ids, std::size_t count, char** text, std::size_t* len);
void kvbench_spm_free_buffer(void* buffer);
int kvbench_spm_piece_size(void* model);
/// The piece of `id` (valid while the model lives), or null when out of range.
const char* kvbench_spm_id_to_piece(void* model, int id, std::size_t* len);
/// The id of a piece, or the unknown id when absent.
int kvbench_spm_piece_to_id(void* model, const char* piece, std::size_t len);
/// 1 when `id` is a control symbol (<s>, </s>), an unknown symbol (<unk>) or unused; else 0.
int kvbench_spm_is_special(void* model, int id);
int kvbench_spm_bos_id(void* model);
int kvbench_spm_eos_id(void* model);
int kvbench_spm_unk_id(void* model);
}
