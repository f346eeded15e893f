// `attnscale op-check attention`: writes HDF5 inputs, runs the program, compares its outputs with
// the naive fp64 reference, and checks the error paths (exit code 3 and the message).
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "kernels/general_attention.h"
#include "tests/kernels/attention_case.h"

namespace attnscale::test {
namespace {

namespace fs = std::filesystem;

// Minimal HDF5 writing and reading for the test (the program under test has its own reader).
class H5File {
 public:
  H5File(const fs::path& path, bool create)
      : id_(create ? H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                   : H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)) {
    if (id_ < 0) throw std::runtime_error("cannot open " + path.string());
  }
  ~H5File() { H5Fclose(id_); }
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;

  template <typename T>
  void write(const char* name, const std::vector<int64_t>& dims, const std::vector<T>& data) {
    const hid_t type = std::is_same_v<T, float>    ? H5T_NATIVE_FLOAT
                       : std::is_same_v<T, double> ? H5T_NATIVE_DOUBLE
                                                   : H5T_NATIVE_INT32;
    const std::vector<hsize_t> shape(dims.begin(), dims.end());
    const hid_t space = H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr);
    const hid_t set = H5Dcreate2(id_, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), 0) << name;
    H5Dclose(set);
    H5Sclose(space);
  }
  void attribute(const char* name, const std::string& value) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, value.size());
    write_attribute(name, type, value.data());
    H5Tclose(type);
  }
  void attribute(const char* name, int64_t value) {
    write_attribute(name, H5T_NATIVE_INT64, &value);
  }
  void attribute(const char* name, double value) {
    write_attribute(name, H5T_NATIVE_DOUBLE, &value);
  }
  bool has(const char* name) const { return H5Lexists(id_, name, H5P_DEFAULT) > 0; }
  hid_t id() const { return id_; }
  std::vector<double> read(const char* name) const {
    const hid_t set = H5Dopen2(id_, name, H5P_DEFAULT);
    const hid_t space = H5Dget_space(set);
    std::vector<double> data(static_cast<size_t>(H5Sget_simple_extent_npoints(space)));
    EXPECT_GE(H5Dread(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), 0);
    H5Sclose(space);
    H5Dclose(set);
    return data;
  }

 private:
  void write_attribute(const char* name, hid_t type, const void* value) {
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(id_, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Awrite(attr, type, value), 0) << name;
    H5Aclose(attr);
    H5Sclose(space);
  }
  hid_t id_;
};

struct ProgramRun {
  int exit_code = -1;
  std::string stderr_text;
};

class OpCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("attnscale_op_check_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    program_ = fs::path(ATTNSCALE_BINARY_DIR) / "bin" / "attnscale";
    ASSERT_TRUE(fs::exists(program_))
        << program_ << " is missing: build it first (ninja -C build attnscale_app)";
  }
  void TearDown() override { fs::remove_all(dir_); }

  ProgramRun run(const std::string& arguments) const {
    const fs::path err = dir_ / "stderr.txt";
    const std::string command = program_.string() + " " + arguments + " > /dev/null 2> " + err.string();
    const int status = std::system(command.c_str());
    ProgramRun r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(err);
    std::stringstream text;
    text << in.rdbuf();
    r.stderr_text = text.str();
    return r;
  }
  ProgramRun op_check(const fs::path& input) const {
    return run("op-check attention --input " + input.string() + " --output " +
               (dir_ / "out.h5").string());
  }

  fs::path dir_, program_;
};

template <typename T>
void write_case(H5File& f, const AttentionCase& c, const CaseData& data, bool with_dout) {
  const auto& s = c.shape;
  f.write("q", {s.batch, s.q_heads, s.q_len, s.head_dim}, cast<T>(data.q));
  f.write("k", {s.batch, s.kv_heads, s.k_len, s.head_dim}, cast<T>(data.k));
  f.write("v", {s.batch, s.kv_heads, s.k_len, s.value_dim}, cast<T>(data.v));
  if (with_dout) f.write("dout", {s.batch, s.q_heads, s.q_len, s.value_dim}, cast<T>(data.dout));
  if (!c.mask.q_segment.empty()) {
    f.write("q_segment", {s.batch, s.q_len}, c.mask.q_segment);
    f.write("k_segment", {s.batch, s.k_len}, c.mask.k_segment);
  }
  if (!c.mask.k_valid.empty()) f.write("k_valid", {s.batch, s.k_len}, c.mask.k_valid);
  if (c.q_offset != 0) f.attribute("q_offset", c.q_offset);
}

// out, lse, dq, dk, dv of an output file against the fp64 reference.
void expect_matches_reference(const H5File& out, const Reference& ref, double tol) {
  expect_close("out", out.read("out"), ref.out, tol, tol);
  expect_close("lse", out.read("lse"), ref.lse, tol, tol);
  expect_close("dq", out.read("dq"), ref.dq, tol, tol);
  expect_close("dk", out.read("dk"), ref.dk, tol, tol);
  expect_close("dv", out.read("dv"), ref.dv, tol, tol);
}

TEST_F(OpCheckTest, Float32CausalSegmentsPaddingRoundTrip) {
  AttentionCase c;
  c.shape = AttentionShape{2, 4, 2, 21, 30, 16, 8};
  c.q_offset = 9;
  c.mask.causal = true;
  c.mask.q_segment.assign(2 * 21, 0);
  c.mask.k_segment.assign(2 * 30, 0);
  for (int64_t i = 0; i < 21; ++i) c.mask.q_segment[21 + i] = i < 10 ? 0 : 1;
  for (int64_t j = 0; j < 30; ++j) c.mask.k_segment[30 + j] = j < 19 ? 0 : 1;
  c.mask.k_valid.assign(2 * 30, 1);
  c.mask.k_valid[3] = c.mask.k_valid[40] = 0;
  c.scale = 0.3;
  const CaseData data = make_data(c);
  {
    H5File f(dir_ / "in.h5", true);
    write_case<float>(f, c, data, true);
    f.attribute("mask", std::string("causal"));
    f.attribute("scale", 0.3);
  }
  const ProgramRun r = op_check(dir_ / "in.h5");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const H5File out(dir_ / "out.h5", false);
  expect_matches_reference(out, data.ref, 2e-4);
}

TEST_F(OpCheckTest, Float64WindowAndBlockSparseRoundTrip) {
  for (const bool block_sparse : {false, true}) {
    AttentionCase c;
    c.shape = AttentionShape{1, 2, 1, 24, 20, 8, 8};
    c.q_offset = -3;
    if (block_sparse) {
      c.mask.block_size = 8;
      c.mask.block_rows = 3;
      c.mask.block_cols = 3;
      c.mask.block_q_origin = c.q_offset;  // op-check: rows count from query 0
      c.mask.blocks = {1, 0, 1, 0, 1, 0, 1, 1, 1};
    } else {
      c.mask.window = std::make_pair(int64_t{4}, int64_t{2});
    }
    const CaseData data = make_data(c);
    {
      H5File f(dir_ / "in.h5", true);
      write_case<double>(f, c, data, true);
      if (block_sparse) {
        f.attribute("mask", std::string("block_sparse"));
        f.attribute("block_size", int64_t{8});
        f.write("block_layout", {3, 3},
                std::vector<int32_t>(c.mask.blocks.begin(), c.mask.blocks.end()));
      } else {
        f.attribute("mask", std::string("window"));
        f.attribute("window_left", int64_t{4});
        f.attribute("window_right", int64_t{2});
      }
    }
    const ProgramRun r = op_check(dir_ / "in.h5");
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
    const H5File out(dir_ / "out.h5", false);
    expect_matches_reference(out, data.ref, 1e-12);
  }
}

// On the CPU and with --device cuda (kernels/cuda/sparsemax_attention.h; without a usable GPU it
// exits 2 saying so), against the general path called in-process.
TEST_F(OpCheckTest, SparsemaxWritesOutAndGradientsButNoLse) {
  AttentionCase c;
  c.shape = AttentionShape{1, 1, 1, 9, 11, 4, 3};
  c.mask.causal = true;
  c.q_offset = 2;
  const CaseData data = make_data(c);
  {
    H5File f(dir_ / "in.h5", true);
    write_case<double>(f, c, data, true);
    f.attribute("mask", std::string("causal"));
    f.attribute("normalizer", std::string("sparsemax"));
  }
  // Expected values from the library's general path, called in-process.
  const auto params = c.params();
  const kernels::DotScore<double> score(c.shape.head_dim, c.used_scale());
  std::vector<double> want(c.shape.out_size()), dq(c.shape.q_size()), dk(c.shape.k_size()),
      dv(c.shape.v_size());
  kernels::general_attention_forward<double>(params, score, kernels::Normalizer::sparsemax,
                                             {data.q, data.k, data.v, want, {}});
  kernels::general_attention_backward<double>(params, score, kernels::Normalizer::sparsemax,
                                              {data.q, data.k, data.v, data.dout, {}, {}, dq, dk, dv});
  for (const std::string device : {"cpu", "cuda"}) {
    SCOPED_TRACE(device);
    fs::remove(dir_ / "out.h5");
    const ProgramRun r = run("op-check attention --device " + device + " --input " + (dir_ / "in.h5").string() +
                             " --output " + (dir_ / "out.h5").string());
    if (device == "cuda" && r.exit_code == 2) {
      EXPECT_NE(r.stderr_text.find("[op-check] --device cuda: no CUDA device"), std::string::npos) << r.stderr_text;
      continue;
    }
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
    const double tol = device == "cpu" ? 1e-14 : 1e-12;  // the GPU sums in another order
    const H5File out(dir_ / "out.h5", false);
    EXPECT_FALSE(out.has("lse"));
    expect_close("out", out.read("out"), want, tol, tol);
    expect_close("dq", out.read("dq"), dq, tol, tol);
    expect_close("dk", out.read("dk"), dk, tol, tol);
    expect_close("dv", out.read("dv"), dv, tol, tol);
  }
}

// Writes a valid float32 causal case, then lets `spoil` break it.
template <typename Spoil>
fs::path broken_input(const fs::path& dir, Spoil spoil) {
  AttentionCase c;
  c.shape = AttentionShape{1, 2, 1, 6, 6, 4, 4};
  const CaseData data = make_data(c);
  const fs::path path = dir / "bad.h5";
  H5File f(path, true);
  spoil(f, c, data);
  return path;
}

void expect_data_error(const ProgramRun& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 3) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find(fragment), std::string::npos)
      << "stderr was: " << r.stderr_text << "expected to contain: " << fragment;
}

TEST_F(OpCheckTest, BadFilesExitWithCode3AndSayWhy) {
  expect_data_error(op_check(dir_ / "absent.h5"), "no such file");
  std::ofstream(dir_ / "text.h5") << "not hdf5\n";
  expect_data_error(op_check(dir_ / "text.h5"), "not an HDF5 file");

  expect_data_error(op_check(broken_input(dir_, [](H5File& f, const AttentionCase& c, const CaseData& d) {
                      f.write("q", {1, 2, 6, 4}, cast<float>(d.q));
                      f.write("k", {1, 1, 6, 4}, cast<float>(d.k));
                    })),
                    "missing dataset 'v'");
  expect_data_error(op_check(broken_input(dir_, [](H5File& f, const AttentionCase& c, const CaseData& d) {
                      write_case<float>(f, c, d, false);
                      f.write("dout", {1, 2, 6, 5}, std::vector<float>(60));
                    })),
                    "dataset 'dout' has shape [1, 2, 6, 5], expected [B, Hq, N, Dv] = [1, 2, 6, 4]");
  expect_data_error(op_check(broken_input(dir_, [](H5File& f, const AttentionCase&, const CaseData& d) {
                      f.write("q", {1, 2, 6, 4}, cast<float>(d.q));
                      f.write("k", {1, 1, 4, 6}, cast<float>(d.k));
                      f.write("v", {1, 1, 6, 4}, cast<float>(d.v));
                    })),
                    "dataset 'k' has shape");
  expect_data_error(op_check(broken_input(dir_, [](H5File& f, const AttentionCase& c, const CaseData& d) {
                      write_case<float>(f, c, d, false);
                      f.attribute("mask", std::string("diagonal"));
                    })),
                    "unknown mask 'diagonal'");
  expect_data_error(op_check(broken_input(dir_, [](H5File& f, const AttentionCase& c, const CaseData& d) {
                      write_case<float>(f, c, d, false);
                      f.attribute("mask", std::string("window"));
                    })),
                    "missing attribute 'window_left'");
  expect_data_error(op_check(broken_input(dir_, [](H5File& f, const AttentionCase& c, const CaseData& d) {
                      write_case<float>(f, c, d, false);
                      f.attribute("mask", std::string("window"));
                      f.attribute("window_left", int64_t{1} << 62);
                      f.attribute("window_right", int64_t{0});
                    })),
                    "[mask] window (4611686018427387904, 0) must lie in [0, 2^60]");
  expect_data_error(op_check(broken_input(dir_, [](H5File& f, const AttentionCase& c, const CaseData& d) {
                      write_case<float>(f, c, d, false);
                      f.write("q_segment", {1, 6}, std::vector<int32_t>(6));
                    })),
                    "give both 'q_segment' and 'k_segment'");
  expect_data_error(op_check(broken_input(dir_, [](H5File& f, const AttentionCase& c, const CaseData& d) {
                      f.write("q", {1, 2, 6, 4}, std::vector<int32_t>(48));
                    })),
                    "must hold float32 or float64");
}

// --device cuda: the CUDA kernels on the same file. Without a usable GPU (this project's CI) the
// program exits 2 saying so; with one, the results match the fp64 reference like the CPU run.
TEST_F(OpCheckTest, DeviceCudaRunsTheGpuKernelsOrSaysThereIsNoDevice) {
  AttentionCase c;
  c.shape = AttentionShape{2, 4, 2, 70, 90, 16, 8};
  c.q_offset = -10;  // the first ten queries see no key
  c.mask.causal = true;
  c.mask.k_valid.assign(2 * 90, 1);
  c.mask.k_valid[5] = c.mask.k_valid[130] = 0;
  const CaseData data = make_data(c);
  {
    H5File f(dir_ / "in.h5", true);
    write_case<float>(f, c, data, true);
    f.attribute("mask", std::string("causal"));
  }
  const ProgramRun r = run("op-check attention --device cuda --input " + (dir_ / "in.h5").string() +
                           " --output " + (dir_ / "out.h5").string());
  if (r.exit_code == 2) {
    EXPECT_NE(r.stderr_text.find("[op-check] --device cuda: no CUDA device"), std::string::npos)
        << r.stderr_text;
    EXPECT_FALSE(fs::exists(dir_ / "out.h5"));
    return;
  }
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const H5File out(dir_ / "out.h5", false);
  expect_matches_reference(out, data.ref, 2e-4);
}

TEST_F(OpCheckTest, DeviceCudaAndCpAreExclusive) {
  EXPECT_EQ(run("op-check attention --device cuda --cp 2 --input x.h5 --output y.h5").exit_code, 2);
  EXPECT_EQ(run("op-check attention --device tpu --input x.h5 --output y.h5").exit_code, 2);
}

// A NaN or Inf input would come out as a fully masked row (out 0, lse -inf) or spread silently:
// refused, naming the dataset and the first bad index.
TEST_F(OpCheckTest, NonFiniteInputsAreRefusedWithTheirFirstIndex) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  struct Spoiled {
    const char* dataset;
    size_t flat_index;  // into [1, 2, 6, 4]
    double value;
    const char* expected;
  };
  for (const Spoiled& c : {Spoiled{"q", 29, nan, "q[0, 1, 1, 1] = nan"}, Spoiled{"k", 5, inf, "k[0, 0, 1, 1] = inf"},
                           Spoiled{"v", 22, -inf, "v[0, 0, 5, 2] = -inf"},
                           Spoiled{"dout", 0, nan, "dout[0, 0, 0, 0] = nan"}}) {
    SCOPED_TRACE(c.dataset);
    for (const bool float64 : {false, true}) {
      const fs::path input = broken_input(dir_, [&](H5File& f, const AttentionCase& ac, const CaseData& d) {
        CaseData spoiled = d;
        std::vector<double>& values = std::string(c.dataset) == "q"   ? spoiled.q
                                      : std::string(c.dataset) == "k" ? spoiled.k
                                      : std::string(c.dataset) == "v" ? spoiled.v
                                                                      : spoiled.dout;
        values.at(c.flat_index) = c.value;
        values.at(c.flat_index + 1) = nan;  // only the first is named
        if (float64) write_case<double>(f, ac, spoiled, true);
        else write_case<float>(f, ac, spoiled, true);
      });
      const ProgramRun r = op_check(input);
      expect_data_error(r, std::string("dataset '") + c.dataset + "' holds a non-finite value: " + c.expected);
      EXPECT_FALSE(fs::exists(dir_ / "out.h5")) << "nothing is written for a refused input";
    }
  }
}

// A tiny file that declares a huge dataset: refused before any allocation (it was std::bad_alloc,
// exit 1), whether the declared bytes exceed what the file stores or the memory available.
TEST_F(OpCheckTest, DeclaredSizesBeyondTheFileOrMemoryAreRefused) {
  const auto declare = [&](const fs::path& path, hsize_t length, bool compressed) {
    AttentionCase c;
    c.shape = AttentionShape{1, 2, 1, 6, 6, 4, 4};
    const CaseData data = make_data(c);
    H5File f(path, true);
    f.write("k", {1, 1, 6, 4}, cast<float>(data.k));
    f.write("v", {1, 1, 6, 4}, cast<float>(data.v));
    // q of shape [1, 2, length, 8] is declared and never written.
    const hsize_t dims[4] = {1, 2, length, 8}, chunk[4] = {1, 1, 1024, 8};
    const hid_t space = H5Screate_simple(4, dims, nullptr);
    const hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
    if (compressed) {
      H5Pset_chunk(properties, 4, chunk);
      H5Pset_deflate(properties, 6);
    }
    const hid_t set = H5Dcreate2(f.id(), "q", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, properties, H5P_DEFAULT);
    EXPECT_GE(set, 0);
    H5Dclose(set);
    H5Pclose(properties);
    H5Sclose(space);
  };
  declare(dir_ / "lying.h5", hsize_t{1} << 31, false);
  EXPECT_LT(fs::file_size(dir_ / "lying.h5"), 8192u);
  ProgramRun r = op_check(dir_ / "lying.h5");
  expect_data_error(r, "dataset 'q' declares shape [1, 2, 2147483648, 8] of 4-byte values, 137438953472 bytes "
                       "(128.0 GiB), but the file stores only 0 bytes for it");
  EXPECT_EQ(r.stderr_text.find("bad_alloc"), std::string::npos) << r.stderr_text;

  // Compressed data may be smaller than declared, so memory is what refuses it (2^44 floats = 64 TiB).
  if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) GTEST_SKIP() << "this HDF5 has no deflate filter";
  declare(dir_ / "huge.h5", hsize_t{1} << 40, true);
  r = op_check(dir_ / "huge.h5");
  expect_data_error(r, "dataset 'q' declares shape [1, 2, 1099511627776, 8]: reading it needs 70368744177664 bytes");
  EXPECT_NE(r.stderr_text.find("of memory is available"), std::string::npos) << r.stderr_text;
}

TEST_F(OpCheckTest, MissingOptionIsAUsageError) {
  EXPECT_EQ(run("op-check attention --input x.h5").exit_code, 2);
}

}  // namespace
}  // namespace attnscale::test
