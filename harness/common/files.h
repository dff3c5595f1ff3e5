#pragma once
// File helpers that never leave a half-written file behind.

#include <string>

namespace kvbench {

/// Writes `content` to `path` atomically: a temporary file beside it, flushed and fsync'ed, then renamed.
/// Creates the parent directory if needed. Throws kvbench::Error on failure.
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace kvbench
