#pragma once
// LongBench archives for the tests (test_longbench_archive.cpp): THUDM/LongBench's data.zip as far as
// ../shared lets us build it.

#include <map>
#include <string>
#include <vector>

namespace kvbench::test {

using Files = std::map<std::string, std::string>;  ///< entry name -> bytes

/// Writes a ZIP archive of `files` (deflated) to `path`; a failure fails the calling test.
void write_zip(const std::string& path, const Files& files);

/// The lines of `text` (every one ended by '\n').
std::vector<std::string> lines_of(const std::string& text);

/// data/<file>.jsonl for both LongBench sets at the published row counts: the real multi_news, multifieldqa_zh
/// and passage_retrieval_zh of ../shared byte for byte, every other file made of real multi_news rows relabelled
/// (`dataset` and `_id`) with their context cut to 200 bytes; and a data/README.txt that is no subset. Call only
/// when ../shared is there.
const Files& official_like();

}  // namespace kvbench::test
