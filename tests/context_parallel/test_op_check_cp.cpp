// `mpirun -np P attnscale op-check attention --cp P --layout L --algo A` (A: ring, ulysses, hybrid,
// halo, sparse-fetch, auto): the gathered result that
// rank 0 writes equals the single-rank op-check of the same file, dataset by dataset; options that
// do not fit the job fail with exit code 2 before any rank talks to another.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/test_util/compare.h"

namespace attnscale {
namespace {

namespace fs = std::filesystem;

// An HDF5 id closed by its own close function when it goes out of scope.
using H5Id = std::unique_ptr<void, void (*)(void*)>;
template <herr_t (*Close)(hid_t)>
H5Id own(hid_t id) {
  EXPECT_GE(id, 0);
  return H5Id(reinterpret_cast<void*>(static_cast<intptr_t>(id)),
              [](void* p) { Close(static_cast<hid_t>(reinterpret_cast<intptr_t>(p))); });
}
hid_t id_of(const H5Id& h) { return static_cast<hid_t>(reinterpret_cast<intptr_t>(h.get())); }

template <typename T>
void write_dataset(hid_t file, const char* name, const std::vector<hsize_t>& dims, const std::vector<T>& data) {
  const hid_t type = std::is_same_v<T, float> ? H5T_NATIVE_FLOAT : std::is_same_v<T, double> ? H5T_NATIVE_DOUBLE
                                                                                              : H5T_NATIVE_INT32;
  const H5Id space = own<H5Sclose>(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  const H5Id set = own<H5Dclose>(H5Dcreate2(file, name, type, id_of(space), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  EXPECT_GE(H5Dwrite(id_of(set), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), 0) << name;
}

void write_attribute(hid_t file, const char* name, const std::string& text) {
  const H5Id type = own<H5Tclose>(H5Tcopy(H5T_C_S1));
  H5Tset_size(id_of(type), text.size());
  const H5Id space = own<H5Sclose>(H5Screate(H5S_SCALAR));
  const H5Id attr = own<H5Aclose>(H5Acreate2(file, name, id_of(type), id_of(space), H5P_DEFAULT, H5P_DEFAULT));
  EXPECT_GE(H5Awrite(id_of(attr), id_of(type), text.data()), 0);
}

void write_attribute(hid_t file, const char* name, int64_t value) {
  const H5Id space = own<H5Sclose>(H5Screate(H5S_SCALAR));
  const H5Id attr = own<H5Aclose>(H5Acreate2(file, name, H5T_NATIVE_INT64, id_of(space), H5P_DEFAULT, H5P_DEFAULT));
  EXPECT_GE(H5Awrite(id_of(attr), H5T_NATIVE_INT64, &value), 0);
}

std::vector<double> read_dataset(const fs::path& path, const char* name) {
  const H5Id file = own<H5Fclose>(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (H5Lexists(id_of(file), name, H5P_DEFAULT) <= 0) return {};
  const H5Id set = own<H5Dclose>(H5Dopen2(id_of(file), name, H5P_DEFAULT));
  const H5Id space = own<H5Sclose>(H5Dget_space(id_of(set)));
  std::vector<double> data(static_cast<size_t>(H5Sget_simple_extent_npoints(id_of(space))));
  EXPECT_GE(H5Dread(id_of(set), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), 0);
  return data;
}

struct FileCase {
  bool f32 = false;
  std::string mask = "causal";
  int64_t window_left = 0, window_right = 0;
  int64_t block_size = 0;  // block_sparse: a strided-like layout of ceil(n / block_size) blocks
  bool segments = false, padding = false;
  std::string normalizer = "softmax";
};

template <typename T>
std::vector<T> normals(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist;
  std::vector<T> x(count);
  for (auto& e : x) e = static_cast<T>(dist(rng));
  return x;
}

template <typename T>
void write_input(const fs::path& path, const FileCase& c) {
  const hsize_t b = 2, h = 4, kv = 2, n = 29, d = 8, dv = 6;
  const H5Id file = own<H5Fclose>(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  const hid_t f = id_of(file);
  write_dataset(f, "q", {b, h, n, d}, normals<T>(b * h * n * d, 1));
  write_dataset(f, "k", {b, kv, n, d}, normals<T>(b * kv * n * d, 2));
  write_dataset(f, "v", {b, kv, n, dv}, normals<T>(b * kv * n * dv, 3));
  write_dataset(f, "dout", {b, h, n, dv}, normals<T>(b * h * n * dv, 4));
  if (c.segments) {
    std::vector<int32_t> ids(b * n);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i % n) / 7);
    write_dataset(f, "q_segment", {b, n}, ids);
    write_dataset(f, "k_segment", {b, n}, ids);
  }
  if (c.padding) {
    std::vector<int32_t> valid(b * n, 1);
    for (size_t i = 0; i < valid.size(); i += 5) valid[i] = 0;
    write_dataset(f, "k_valid", {b, n}, valid);
  }
  write_attribute(f, "mask", c.mask);
  write_attribute(f, "normalizer", c.normalizer);
  if (c.mask == "window") {
    write_attribute(f, "window_left", c.window_left);
    write_attribute(f, "window_right", c.window_right);
  }
  if (c.mask == "block_sparse") {
    const hsize_t blocks = (n + c.block_size - 1) / c.block_size;
    std::vector<int32_t> layout(blocks * blocks);
    for (hsize_t i = 0; i < blocks; ++i)
      for (hsize_t j = 0; j <= i; ++j) layout[i * blocks + j] = (i == j || j == 0 || (i - j) % 3 == 0) ? 1 : 0;
    write_dataset(f, "block_layout", {blocks, blocks}, layout);
    write_attribute(f, "block_size", c.block_size);
  }
}

class OpCheckCp : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("attnscale_op_check_cp_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    program_ = fs::path(ATTNSCALE_BINARY_DIR) / "bin" / "attnscale";
    ASSERT_TRUE(fs::exists(program_)) << program_ << " is missing: build it first (ninja -C build attnscale_app)";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Exit code of `[mpiexec -n ranks] attnscale op-check attention ARGS` (ranks 0: no mpiexec).
  int op_check(int ranks, const std::string& output, const std::string& options) const {
    std::string command = "OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ";
    if (ranks > 0) command += "mpiexec -n " + std::to_string(ranks) + " --oversubscribe ";
    command += program_.string() + " op-check attention --input " + (dir_ / "in.h5").string() + " --output " +
               (dir_ / output).string() + " " + options + " > " + (dir_ / "log.txt").string() + " 2>&1";
    const int status = std::system(command.c_str());
    log_ = read_text(dir_ / "log.txt");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void expect_same_as_single_rank(int ranks, const std::string& options, double tol) const {
    SCOPED_TRACE(options);
    ASSERT_EQ(op_check(0, "ref.h5", ""), 0);
    ASSERT_EQ(op_check(ranks, "cp.h5", options), 0);
    for (const char* name : {"out", "lse", "dq", "dk", "dv"}) {
      const std::vector<double> ref = read_dataset(dir_ / "ref.h5", name), got = read_dataset(dir_ / "cp.h5", name);
      if (std::string(name) == "lse" && ref.empty() && got.empty()) continue;  // sparsemax has none
      ASSERT_FALSE(ref.empty()) << name;
      EXPECT_LE(test::max_abs_diff(got, ref), tol) << name;
    }
  }

  static std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  fs::path dir_, program_;
  mutable std::string log_;  // what the last op_check printed
};

TEST_F(OpCheckCp, RingZigzagWindowAndSegments) {
  write_input<double>(dir_ / "in.h5", {.mask = "window", .window_left = 9, .segments = true});
  expect_same_as_single_rank(2, "--cp 2 --layout zigzag --algo ring", 1e-12);
}

TEST_F(OpCheckCp, UlyssesStripedCausalFloat32) {
  write_input<float>(dir_ / "in.h5", {.f32 = true, .mask = "causal"});
  expect_same_as_single_rank(2, "--cp 2 --layout striped --algo ulysses", 1e-5);
}

TEST_F(OpCheckCp, HybridOverFourRanksWithKeyPadding) {
  write_input<double>(dir_ / "in.h5", {.mask = "causal", .padding = true});
  expect_same_as_single_rank(4, "--cp 4 --layout contiguous --algo hybrid --ulysses 2", 1e-12);
}

TEST_F(OpCheckCp, HaloWindowWiderThanAShardOverThreeRanks) {
  // 29 tokens over 3 ranks (10, 10, 9); a non-causal window of 12 left, 3 right reaches two ranks back.
  write_input<double>(dir_ / "in.h5", {.mask = "window", .window_left = 12, .window_right = 3, .padding = true});
  expect_same_as_single_rank(3, "--cp 3 --layout contiguous --algo halo", 1e-12);
}

TEST_F(OpCheckCp, SparseFetchBlockPatternFloat32) {
  write_input<float>(dir_ / "in.h5", {.f32 = true, .mask = "block_sparse", .block_size = 4, .segments = true});
  expect_same_as_single_rank(2, "--cp 2 --layout striped --algo sparse-fetch", 1e-5);
}

TEST_F(OpCheckCp, AllGatherRunsSparsemaxAndSoftmax) {
  write_input<double>(dir_ / "in.h5", {.mask = "causal", .padding = true, .normalizer = "sparsemax"});
  expect_same_as_single_rank(3, "--cp 3 --layout zigzag --algo all-gather", 1e-12);
  expect_same_as_single_rank(2, "--cp 2 --layout contiguous --algo auto", 1e-12);
  EXPECT_NE(log_.find("--algo auto: all-gather (sparsemax"), std::string::npos) << log_;
  EXPECT_EQ(op_check(2, "x.h5", "--cp 2 --algo ring"), 2) << "ring cannot run sparsemax";
  EXPECT_NE(log_.find("normalizer 'sparsemax' needs --algo all-gather"), std::string::npos) << log_;

  write_input<float>(dir_ / "in.h5", {.f32 = true, .mask = "window", .window_left = 4, .segments = true});
  expect_same_as_single_rank(2, "--cp 2 --layout striped --algo all-gather", 1e-5);
}

TEST_F(OpCheckCp, AutoSaysWhatItChose) {
  write_input<double>(dir_ / "in.h5", {.mask = "window", .window_left = 5});
  expect_same_as_single_rank(2, "--cp 2 --layout contiguous --algo auto", 1e-12);
  EXPECT_NE(log_.find("--algo auto: halo (window (5 left, 0 right) narrower than the smallest shard (14)"),
            std::string::npos)
      << log_;
  expect_same_as_single_rank(2, "--cp 2 --layout zigzag --algo auto", 1e-12);
  EXPECT_NE(log_.find("--algo auto: ring (a window on a zigzag layout"), std::string::npos) << log_;

  write_input<double>(dir_ / "in.h5", {.mask = "block_sparse", .block_size = 5});
  expect_same_as_single_rank(2, "--cp 2 --layout contiguous --algo auto", 1e-12);
  EXPECT_NE(log_.find("--algo auto: sparse-fetch"), std::string::npos) << log_;
}

TEST_F(OpCheckCp, OptionsThatDoNotFitTheJobAreUsageErrors) {
  write_input<double>(dir_ / "in.h5", {});
  EXPECT_EQ(op_check(0, "x.h5", "--cp 2"), 2) << "two ranks asked for, one running";
  EXPECT_EQ(op_check(2, "x.h5", "--cp 2 --algo hybrid"), 2) << "hybrid without --ulysses";
  EXPECT_EQ(op_check(0, "x.h5", "--layout zigzag"), 2) << "--layout without --cp";
  EXPECT_EQ(op_check(2, "x.h5", "--cp 2 --algo halo"), 2) << "halo on a causal (not window) mask";
  EXPECT_NE(log_.find("--algo halo needs the file's mask 'window'"), std::string::npos) << log_;
  EXPECT_EQ(op_check(2, "x.h5", "--cp 2 --algo sparse-fetch"), 2) << "sparse-fetch without a block pattern";
  write_input<double>(dir_ / "in.h5", {.mask = "window", .window_left = 3});
  EXPECT_EQ(op_check(2, "x.h5", "--cp 2 --layout zigzag --algo halo"), 2) << "halo on a zigzag layout";
  EXPECT_FALSE(fs::exists(dir_ / "x.h5"));
}

}  // namespace
}  // namespace attnscale
