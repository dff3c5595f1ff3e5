// The safetensors reader must accept what the writer (and HF) produce and turn every corruption into a
// kvbench::Error that names the file (and the tensor where there is one), never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "harness/common/error.h"
#include "harness/model/safetensors.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using test::TempDir;

// Writes an 8-byte length, `header` verbatim and `data_bytes` bytes of data.
void write_raw(const std::string& path, const std::string& header, std::size_t data_bytes, std::uint64_t declared_len) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((declared_len >> (8 * i)) & 0xff);
  bytes += header;
  bytes += std::string(data_bytes, '\x01');
  test::write_file(path, bytes);
}
void write_raw(const std::string& path, const std::string& header, std::size_t data_bytes) {
  write_raw(path, header, data_bytes, header.size());
}

// Expects opening `path` to fail with a message containing every one of `needles`.
void expect_error(const std::string& path, std::initializer_list<const char*> needles) {
  try {
    SafetensorsFile f(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const char* n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "missing '" << n << "' in: " << msg;
  }
}

TEST(Safetensors, WriterRoundTrip) {
  TempDir dir;
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  const std::vector<std::uint16_t> b = {0x3f80, 0xc000};  // bf16 1.0, -2.0
  const std::string path = dir.file("x.safetensors");
  write_safetensors(path,
                    {{"b.weight", DType::BF16, {2}, b.data(), 4}, {"a", DType::F32, {2, 3}, a.data(), 24},
                     {"empty", DType::F16, {0, 4}, nullptr, 0}},
                    {{"format", "pt"}});
  SafetensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensors()[0].name, "a");  // sorted by name
  const TensorInfo& ta = f.at("a");
  EXPECT_EQ(ta.dtype, DType::F32);
  EXPECT_EQ(ta.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(f.data(ta), a.data(), 24), 0);
  EXPECT_EQ(std::memcmp(f.data(f.at("b.weight")), b.data(), 4), 0);
  EXPECT_EQ(f.at("empty").numel(), 0u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.find("nope"), nullptr);
  EXPECT_THROW(f.at("nope"), Error);
  // The header is padded to a multiple of 8 so that data starts aligned.
  const std::string raw = test::read_file(path);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(raw[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + n + 28);
}

TEST(Safetensors, TruncatedFile) {
  TempDir dir;
  const std::vector<float> a(16, 1.0f);
  const std::string good = dir.file("good.safetensors");
  write_safetensors(good, {{"w", DType::F32, {16}, a.data(), 64}});
  const std::string raw = test::read_file(good);
  // Cut inside the data: the tensor's range now points past the end.
  test::write_file(dir.file("cut_data.safetensors"), raw.substr(0, raw.size() - 10));
  expect_error(dir.file("cut_data.safetensors"), {"'w'", "past the end"});
  // Cut inside the header.
  test::write_file(dir.file("cut_header.safetensors"), raw.substr(0, 20));
  expect_error(dir.file("cut_header.safetensors"), {"truncated"});
  // Cut inside the length field.
  test::write_file(dir.file("cut_len.safetensors"), raw.substr(0, 5));
  expect_error(dir.file("cut_len.safetensors"), {"truncated"});
  test::write_file(dir.file("empty.safetensors"), "");
  expect_error(dir.file("empty.safetensors"), {"truncated"});
}

TEST(Safetensors, OffsetsPastTheEnd) {
  TempDir dir;
  const std::string p = dir.file("x.safetensors");
  write_raw(p, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"v":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}})", 20);
  expect_error(p, {"'v'", "past the end"});
}

TEST(Safetensors, WrongDtypeSize) {
  TempDir dir;
  const std::string p = dir.file("x.safetensors");
  // 4 F32 elements need 16 bytes, the range holds 8 (as if the dtype were F16).
  write_raw(p, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}})", 8);
  expect_error(p, {"'w'", "holds 8 bytes", "needs 16"});
}

TEST(Safetensors, OverlappingTensors) {
  TempDir dir;
  const std::string p = dir.file("x.safetensors");
  write_raw(p, R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", 24);
  expect_error(p, {"'a'", "'b'", "overlap"});
}

TEST(Safetensors, HeaderProblems) {
  TempDir dir;
  const std::string p = dir.file("x.safetensors");
  write_raw(p, "{not json", 0);
  expect_error(p, {"header: invalid JSON"});
  write_raw(p, "[1,2]", 0);
  expect_error(p, {"JSON object"});
  write_raw(p, R"({"w":{"dtype":"Q4","shape":[4],"data_offsets":[0,4]}})", 4);
  expect_error(p, {"'w'", "unknown dtype 'Q4'"});
  write_raw(p, R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", 16);
  expect_error(p, {"'w'", "non-negative"});
  write_raw(p, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}})", 16);
  expect_error(p, {"'w'", "reversed"});
  write_raw(p, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", 16);
  expect_error(p, {"'w'", "data_offsets"});
  write_raw(p, R"({"w":{"dtype":"F32","data_offsets":[0,16]}})", 16);
  expect_error(p, {"'w'", "shape"});
  write_raw(p, R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})", 16);
  expect_error(p, {"'w'"});
  write_raw(p, R"({"__metadata__":{"format":1}})", 0);
  expect_error(p, {"__metadata__"});
  // A declared header length beyond the file, and one beyond the 100 MB bound.
  write_raw(p, "{}", 0, 4096);
  expect_error(p, {"truncated"});
  write_raw(p, "{}", 0, 200'000'000);
  expect_error(p, {"exceeds the limit"});
  expect_error(dir.file("missing.safetensors"), {"does not exist"});
}

TEST(Safetensors, RandomCorruptionNeverCrashes) {
  // Flip bytes of a valid file's header and data thousands of times: each open either succeeds with
  // consistent ranges or throws kvbench::Error. (A crash or another exception type fails the test.)
  TempDir dir;
  const std::vector<float> a(8, 2.0f), b(4, 3.0f);
  const std::string good = dir.file("good.safetensors");
  write_safetensors(good, {{"a", DType::F32, {2, 4}, a.data(), 32}, {"b", DType::F32, {4}, b.data(), 16}});
  const std::string raw = test::read_file(good);
  std::mt19937 rng(1234);
  int opened = 0, rejected = 0;
  const std::string p = dir.file("fuzz.safetensors");
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = raw;
    const int flips = 1 + iter % 4;
    for (int k = 0; k < flips; ++k) {
      const std::size_t pos = std::uniform_int_distribution<std::size_t>(0, bytes.size() - 1)(rng);
      bytes[pos] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    }
    if (iter % 7 == 0) bytes.resize(std::uniform_int_distribution<std::size_t>(0, bytes.size())(rng));
    test::write_file(p, bytes);
    try {
      SafetensorsFile f(p);
      for (const auto& t : f.tensors()) {
        EXPECT_LE(t.end, bytes.size());
        EXPECT_EQ(t.numel() * dtype_size(t.dtype), t.nbytes());
      }
      ++opened;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
  EXPECT_GT(opened, 100);  // flips inside the data region leave the file valid
}

}  // namespace
}  // namespace kvbench
