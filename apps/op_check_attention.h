// The op-check attention contract (kernels/README.md "op-check"): reading the input file into
// kernel arguments and writing the results, shared by the single-rank run and the distributed one
// (--cp, apps/op_check_cp.cpp). Bad input files are DataErrors (exit code 3) naming the file.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "framework/io/hdf5.h"
#include "kernels/attention.h"

namespace attnscale::app {

// The op-check input file, read through h5::File: every failure is a DataError naming the file
// and the dataset or attribute; an absent attribute is std::nullopt.
class OpCheckFile {
 public:
  explicit OpCheckFile(const std::string& path);
  const std::string& path() const { return path_; }
  bool has_dataset(const std::string& name) const { return file_.has_dataset(name); }
  h5::StoredType stored_type(const std::string& name) const;
  // A whole dataset converted to T: float or double (floating-point datasets), int32_t (integer).
  template <typename T>
  h5::Array<T> read(const std::string& name) const;
  std::optional<std::string> string_attribute(const std::string& name) const;
  std::optional<double> number_attribute(const std::string& name) const;

 private:
  std::string path_;
  h5::File file_;
};

[[noreturn]] void bad_file(const OpCheckFile& in, const std::string& message);

template <typename T>
struct AttentionInput {
  h5::Array<T> q, k, v;
  std::optional<h5::Array<T>> dout;
  kernels::AttentionParams params;  // shape, scale, mask (its spans point into the vectors below)
  std::vector<int32_t> q_segment, k_segment, k_valid;
  std::string mask, normalizer;
  int64_t q_offset = 0;

  AttentionInput() = default;
  AttentionInput(const AttentionInput&) = delete;  // params.mask points into this object
  AttentionInput& operator=(const AttentionInput&) = delete;
  const kernels::AttentionShape& shape() const { return params.shape; }
  bool softmax() const { return normalizer == "softmax"; }
};

// Reads and checks every dataset and attribute (DataError on any problem).
template <typename T>
std::unique_ptr<AttentionInput<T>> read_attention_input(const OpCheckFile& in);

// What a run produced; lse empty for sparsemax, gradients empty without dout.
template <typename T>
struct AttentionOutput {
  std::vector<T> out, lse, dq, dk, dv;
};

// Writes out, lse [, dq, dk, dv] and prints the one-line summary; `how` describes the run.
template <typename T>
void write_attention_output(const AttentionInput<T>& input, const AttentionOutput<T>& result,
                            const std::string& output, const std::string& how);

// --device cuda (apps/op_check_cuda.cpp): selects GPU 0, or throws UsageError "[op-check]
// --device cuda: no CUDA device (...)" when there is none or the build has no CUDA backend.
void require_cuda_device();

// The run on the CUDA kernels (kernels/cuda/attention.h, or sparsemax_attention.h for the
// sparsemax normalizer): inputs to GPU 0, results back.
template <typename T>
AttentionOutput<T> run_attention_cuda(const AttentionInput<T>& input);

// Which float type the file's q holds: 4 or 8 bytes (DataError otherwise).
size_t attention_precision(const OpCheckFile& in);

// --cp and friends: run the op-check distributed over cp ranks (apps/op_check_cp.cpp).
struct CpOptions {
  int cp = 0;  // 0: not distributed
  std::string layout = "contiguous";
  std::string algo = "ring";
  int ulysses = 0;  // hybrid: Ulysses group size
};

// Runs under mpirun with cp ranks; rank 0 writes the gathered result. Returns the exit code.
int op_check_attention_cp(const std::string& input, const std::string& output, const CpOptions& options);

}  // namespace attnscale::app
