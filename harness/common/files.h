#pragma once
// Reading and writing files safely (docs/robustness.md). Inputs: a path is opened without blocking and checked to
// be a regular file before a byte is read (a FIFO or a device is refused, not waited on), whole reads check the
// size first, lines are read with a length limit. Outputs: written to a temporary file beside the target and
// renamed, only over a regular file or a missing path, never over one of the command's own inputs; a failed write
// is a WriteError naming the path; the temporaries of writers that were killed are removed by the next writer.

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace kvbench {

/// The longest line kvbench reads from a JSON Lines or text file (LongBench's longest rows are about 1 MB; a longer
/// one would be read, parsed and tokenized whole before the prompt is truncated).
inline constexpr std::size_t kMaxLineBytes = std::size_t{4} << 20;

/// One command's inputs, for as long as the object lives (kvbench's main holds one): every input file opened
/// meanwhile is remembered (device, inode, change time), and no output may be written over one of them. Outside
/// such a scope (library code in tests, fuzzers) nothing is remembered.
class CommandInputs {
 public:
  CommandInputs();
  ~CommandInputs();
  CommandInputs(const CommandInputs&) = delete;
  CommandInputs& operator=(const CommandInputs&) = delete;
};

/// "a FIFO", "a folder", "a character device", ... for the file type bits of `mode`.
std::string file_kind(mode_t mode);

/// An input file, open for reading. Throws kvbench::Error naming the path when it is missing, unreadable (the
/// system's reason: "Permission denied") or not a regular file.
class InputFile {
 public:
  /// kInput: one of the command's inputs, which no output of the command may replace. kOwnState: a file of
  /// kvbench's own that the command goes on to rewrite (a run's manifest, its prediction rows on --resume).
  enum Role { kInput, kOwnState };
  explicit InputFile(const std::string& path, Role role = kInput);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  /// The whole file; refused before reading when it is larger than `max_bytes`.
  std::string read_all(std::uint64_t max_bytes);

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

/// The lines of a file, one at a time, each at most `max_line` bytes (a longer one is refused with its line number
/// and the limit). A last line without its newline is reported as such (a writer killed mid-row leaves one).
class LineReader {
 public:
  explicit LineReader(const std::string& path, InputFile::Role role = InputFile::kInput,
                      std::size_t max_line = kMaxLineBytes);
  /// The next line without its '\n'; false at the end of the file.
  bool next(std::string& line);
  std::size_t line_number() const { return line_; }   ///< 1-based number of the line last returned
  std::uint64_t line_offset() const { return start_; }  ///< byte offset where the line last returned starts
  bool last_line_complete() const { return complete_; }  ///< whether the line last returned ended with '\n'
  const std::string& path() const { return file_.path(); }
  std::uint64_t size() const { return file_.size(); }

 private:
  bool fill();
  InputFile file_;
  std::size_t max_line_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::uint64_t consumed_ = 0;  // bytes of the file before buffer_[0]
  std::uint64_t start_ = 0;
  std::size_t line_ = 0;
  bool eof_ = false, complete_ = true;
};

/// Throws kvbench::Error unless `path` is an existing folder (naming what it is otherwise, or the system's reason).
void check_directory(const std::string& path, const std::string& what);

/// Throws kvbench::Error unless `path` may be written: missing, or a regular file that is none of this command's
/// inputs. Returns the path to write (a symbolic link is followed, so the file it names is written, not the link).
std::string check_output_file(const std::string& path);

/// A file written to a temporary beside its target and renamed over it by commit(); destroyed uncommitted, the
/// temporary is removed and the target left as it was. Creates the parent folder if needed. Every failure is a
/// WriteError naming the target.
class AtomicWriter {
 public:
  explicit AtomicWriter(const std::string& path);
  ~AtomicWriter();
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;
  void write(const void* data, std::size_t size);
  void write(const std::string& text) { write(text.data(), text.size()); }
  /// Flushes, fsyncs and renames the temporary over the target.
  void commit();

 private:
  [[noreturn]] void failed(const std::string& why);
  std::string path_, tmp_;
  int fd_ = -1;
};

/// Writes `content` to `path` atomically (AtomicWriter). Throws kvbench::WriteError on failure.
void write_file_atomic(const std::string& path, const std::string& content);

/// Removes the temporaries that writers on this host left in `dir` when they were killed (their process is gone),
/// in `dir` and, with `depth` > 0, that many folder levels below it.
void remove_stale_temporaries(const std::string& dir, int depth = 0);

}  // namespace kvbench
