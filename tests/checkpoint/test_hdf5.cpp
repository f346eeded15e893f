#include <gtest/gtest.h>

#include <sys/file.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include "framework/io/durable_fs.h"
#include "framework/io/hdf5.h"
#include "tests/checkpoint/checkpoint_test_util.h"
#include "tests/config/test_support.h"

namespace attnscale {
namespace {

using test_checkpoint::filled;

bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  return test_checkpoint::digest({{"t", a}}) == test_checkpoint::digest({{"t", b}});
}

TEST(Hdf5, TensorsRoundTripBitExactInEveryDtypeAndRank) {
  testing::TempDir dir;
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"a/f32", filled({6, 5}, DType::f32, 0.25)},       {"a/b/f64", filled({3, 2, 4}, DType::f64, -1e300)},
      {"i64", filled({7}, DType::i64, -3)},                {"scalar", filled({}, DType::f32, 1.5)},
      {"empty", filled({0, 3}, DType::f32, 0)},            {"big", filled({1024, 600}, DType::f32, 0.5)}};
  {
    h5::File out = h5::File::create(dir / "t.h5");
    for (const auto& [name, t] : tensors) out.write_tensor(name, t);
    out.close();
  }
  const h5::File in = h5::File::open_read(dir / "t.h5");
  for (const auto& [name, t] : tensors) EXPECT_TRUE(same_bytes(in.read_tensor(name), t)) << name;

  const h5::DatasetInfo big = in.dataset_info("big");
  EXPECT_TRUE(big.chunked && big.fletcher32);
  EXPECT_EQ(big.shape, (Shape{1024, 600}));
  EXPECT_TRUE(in.dataset_info("a/f32").fletcher32);
  EXPECT_FALSE(in.dataset_info("scalar").chunked);  // HDF5 cannot chunk a scalar
  EXPECT_EQ(in.datasets("/"), (std::vector<std::string>{"a/b/f64", "a/f32", "big", "empty", "i64", "scalar"}));
  EXPECT_EQ(in.datasets("a"), (std::vector<std::string>{"b/f64", "f32"}));
  EXPECT_EQ(in.groups("/"), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(in.exists("a/b/f64"));
  EXPECT_FALSE(in.exists("a/c/f64"));
}

TEST(Hdf5, UnsignedWordsAndAttributes) {
  testing::TempDir dir;
  const std::vector<std::uint64_t> words{0, 1, ~std::uint64_t{0}};
  {
    h5::File out = h5::File::create(dir / "t.h5");
    out.write_u64("g/state", words);
    out.set_attribute("/", "name", "ünïcode text");
    out.set_attribute("g", "step", std::int64_t{-42});
    out.close();
  }
  const h5::File in = h5::File::open_read(dir / "t.h5");
  EXPECT_EQ(in.read_u64("g/state"), words);
  EXPECT_EQ(in.string_attribute("/", "name"), "ünïcode text");
  EXPECT_EQ(in.int_attribute("g", "step"), -42);
  EXPECT_THROW(in.int_attribute("/", "name"), h5::Error);
}

// Fletcher32 catches a damaged chunk even when nothing else (no manifest) checks the file.
TEST(Hdf5, Fletcher32RefusesACorruptedChunk) {
  testing::TempDir dir;
  const Tensor values = filled({256, 64}, DType::f32, 0.0);
  {
    h5::File out = h5::File::create(dir / "t.h5");
    out.write_tensor("x", values);
    out.close();
  }
  std::string bytes = testing::read_file(dir / "t.h5");
  const float needle[] = {5000.0f, 5001.0f, 5002.0f};
  const std::size_t at = bytes.find(std::string(reinterpret_cast<const char*>(needle), sizeof needle));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 5] ^= 0x10;
  testing::write_file(dir / "t.h5", bytes);
  const h5::File in = h5::File::open_read(dir / "t.h5");
  try {
    in.read_tensor("x");
    FAIL() << "a corrupted chunk was read without error";
  } catch (const h5::Error& e) {
    EXPECT_NE(std::string(e.what()).find("H5Dread"), std::string::npos) << e.what();
  }
}

// Object headers carry no timestamps, so file hashes compare content.
TEST(Hdf5, SameContentGivesSameBytes) {
  testing::TempDir dir;
  const auto write = [&](const std::string& name) {
    h5::File out = h5::File::create(dir / name);
    out.write_tensor("g/x", filled({40, 30}, DType::f32, 1.0));
    out.write_tensor("y", filled({}, DType::i64, 3));
    out.set_attribute("/", "step", std::int64_t{3});
    out.close();
  };
  write("a.h5");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // HDF5 times have 1 s resolution
  write("b.h5");
  EXPECT_EQ(testing::read_file(dir / "a.h5"), testing::read_file(dir / "b.h5"));
}

TEST(Hdf5, FailuresNameTheCallOrTheFile) {
  testing::TempDir dir;
  testing::write_file(dir / "text.h5", "not hdf5 at all");
  try {
    h5::File::open_read(dir / "text.h5");
    FAIL();
  } catch (const h5::Error& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "text.h5").string()), std::string::npos) << e.what();
  }
  h5::File out = h5::File::create(dir / "t.h5");
  try {
    ATTNSCALE_HDF5_CHECK(H5Dopen2(out.id(), "missing", H5P_DEFAULT));
    FAIL();
  } catch (const h5::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("H5Dopen2(out.id(), \"missing\", H5P_DEFAULT) failed"), std::string::npos) << message;
    EXPECT_NE(message.find("test_hdf5.cpp"), std::string::npos) << message;
  }
  EXPECT_THROW(out.read_tensor("missing"), h5::Error);
}

// A dataset declared and never written (or a header that lies) cannot make a reader allocate: the
// declared bytes are checked against what the file stores, and against memory, first.
TEST(Hdf5, DeclaredSizesBeyondTheFileAreRefusedBeforeAllocating) {
  testing::TempDir dir;
  {
    h5::File out = h5::File::create(dir / "t.h5");
    out.write_tensor("small", filled({3, 2}, DType::f32, 1.0));
    const auto declare = [&](const char* name, std::vector<hsize_t> dims, hid_t type, bool chunked = false) {
      const h5::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
      const h5::Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
      const std::vector<hsize_t> chunk(dims.size(), 1);
      if (chunked) H5Pset_chunk(properties.get(), static_cast<int>(chunk.size()), chunk.data());
      const h5::Handle set(H5Dcreate2(out.id(), name, type, space.get(), H5P_DEFAULT, properties.get(), H5P_DEFAULT),
                           H5Dclose);
      ASSERT_GE(set.get(), 0) << name;
    };
    declare("huge", {hsize_t{1} << 31, 8}, H5T_IEEE_F32LE);
    declare("words", {hsize_t{1} << 40}, H5T_STD_U64LE);
    // 2^63 elements of 8 bytes: HDF5 allows it for a chunked dataset, but no size_t holds the bytes.
    declare("beyond_64_bits", {hsize_t{1} << 61, 4}, H5T_IEEE_F64LE, true);
    out.close();
  }
  EXPECT_LT(std::filesystem::file_size(dir / "t.h5"), 16384u);
  const h5::File in = h5::File::open_read(dir / "t.h5");
  const auto message = [&](const std::function<void()>& read) -> std::string {
    try {
      read();
    } catch (const h5::Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(message([&] { in.read_tensor("huge"); })
                .find("[hdf5] dataset 'huge' declares shape [2147483648, 8] of 4-byte values, 68719476736 bytes "
                      "(64.0 GiB), but the file stores only 0 bytes for it"),
            std::string::npos);
  EXPECT_NE(message([&] { in.read_u64("words"); }).find("dataset 'words' declares shape [1099511627776]"),
            std::string::npos);
  EXPECT_NE(message([&] { in.read_tensor("beyond_64_bits"); }).find("more bytes than a 64-bit size can count"),
            std::string::npos);
  EXPECT_TRUE(same_bytes(in.read_tensor("small"), filled({3, 2}, DType::f32, 1.0)));
}

// A file another process holds locked: the error says what to do about HDF5's file locking.
TEST(Hdf5, LockFailureExplainsHdf5UseFileLocking) {
  if (const char* locking = std::getenv("HDF5_USE_FILE_LOCKING"); locking && std::string(locking) == "FALSE")
    GTEST_SKIP() << "HDF5_USE_FILE_LOCKING=FALSE: HDF5 takes no lock here";
  testing::TempDir dir;
  h5::File::create(dir / "t.h5").close();
  const UniqueFd holder = open_for_reading(dir / "t.h5");
  ASSERT_EQ(flock(holder.get(), LOCK_EX | LOCK_NB), 0);  // flock locks conflict across open files
  try {
    h5::File::open_read(dir / "t.h5");
    FAIL() << "opened a file locked by another holder";
  } catch (const h5::LockError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("HDF5_USE_FILE_LOCKING=FALSE"), std::string::npos) << message;
    EXPECT_NE(message.find((dir / "t.h5").string()), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace attnscale
