// bench_gpu_attention: GFLOP/s of the fused CUDA attention (kernels/cuda/attention.cu) against a
// cuBLAS fp32 SGEMM measured in the same run on the same GPU.
//
//   build/bin/bench_gpu_attention [--json FILE] [--quick] [--heads 16] [--repeats 5]
//
// It reports:
//   1. cuBLAS SGEMM GFLOP/s, 4096^3, fp32 compute without TF32 (CUBLAS_DEFAULT_MATH; the ratios
//      divide by it).
//   2. Fused attention forward and forward+backward (delta, dk/dv, dq) GFLOP/s at N = 4k and 16k
//      (--quick: 4k), D = 128, causal, `heads` query heads of batch 1. Only allowed pairs count:
//      N(N+1)/2 per head; forward 4*pairs*D, backward 10*pairs*D (five products).
// Times are the best of `repeats` runs after one warm-up, by CUDA events on one stream.
// Exit codes: 0 measured, 1 failed, 77 no usable GPU (or a build without the CUDA backend), so
// that scripts/gpu-smoke.sh can tell a skipped run from a failed one. The target of issue 12 is
// forward >= 0.5 of SGEMM at N = 16k.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "benchmarks/json_report.h"

// GPU timings need the CUDA runtime: the emulation build (ATTNSCALE_CUDA_EMULATION) has none.
#if defined(ATTNSCALE_HAVE_CUDA) && !defined(ATTNSCALE_CUDA_HOST_EMULATION)
#define ATTNSCALE_BENCH_ON_GPU 1
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <functional>

#include "kernels/cuda/attention.h"

namespace {

using attnscale::kernels::AttentionShape;

#define BENCH_CUDA(call)                                                                   \
  do {                                                                                     \
    const cudaError_t status_ = (call);                                                    \
    if (status_ != cudaSuccess) {                                                          \
      std::fprintf(stderr, "bench_gpu_attention: %s failed: %s\n", #call,                  \
                   cudaGetErrorString(status_));                                           \
      std::exit(1);                                                                        \
    }                                                                                      \
  } while (0)

// A device array of float, filled with uniform values in [-1, 1).
class DeviceArray {
 public:
  DeviceArray(size_t count, uint32_t seed) : count_(count) {
    BENCH_CUDA(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(float)));
    std::vector<float> host(count);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& x : host) x = dist(rng);
    BENCH_CUDA(cudaMemcpy(data_, host.data(), count * sizeof(float), cudaMemcpyHostToDevice));
  }
  ~DeviceArray() { cudaFree(data_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  float* data() const { return data_; }
  std::span<float> span() const { return {data_, count_}; }

 private:
  float* data_ = nullptr;
  size_t count_;
};

class EventPair {
 public:
  EventPair() {
    BENCH_CUDA(cudaEventCreate(&start_));
    BENCH_CUDA(cudaEventCreate(&stop_));
  }
  ~EventPair() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  // Best seconds of `repeats` runs of fn on `stream`, after one warm-up.
  double best_seconds(cudaStream_t stream, int repeats, const std::function<void()>& fn) {
    fn();
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
      BENCH_CUDA(cudaEventRecord(start_, stream));
      fn();
      BENCH_CUDA(cudaEventRecord(stop_, stream));
      BENCH_CUDA(cudaEventSynchronize(stop_));
      float ms = 0;
      BENCH_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
      best = std::min(best, ms * 1e-3);
    }
    return best;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

double sgemm_gflops(cudaStream_t stream, int repeats) {
  constexpr int n = 4096;
  DeviceArray a(size_t{n} * n, 1), b(size_t{n} * n, 2), c(size_t{n} * n, 3);
  cublasHandle_t handle = nullptr;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "bench_gpu_attention: cublasCreate failed\n");
    std::exit(1);
  }
  cublasSetStream(handle, stream);
  cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH);  // fp32 compute, no TF32
  const float one = 1.0f, zero = 0.0f;
  EventPair events;
  const double seconds = events.best_seconds(stream, repeats, [&] {
    cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a.data(), n, b.data(), n, &zero,
                c.data(), n);
  });
  cublasDestroy(handle);
  return 2.0 * n * n * double{n} / seconds * 1e-9;
}

nlohmann::json attention_row(int64_t n, int64_t heads, int repeats, double sgemm,
                             cudaStream_t stream) {
  constexpr int64_t d = 128;
  const AttentionShape shape{1, heads, heads, n, n, d, d};
  auto params = attnscale::kernels::default_attention_params(shape);
  params.mask.causal = true;
  const auto q_size = static_cast<size_t>(shape.q_size()), rows = static_cast<size_t>(shape.rows());
  DeviceArray q(q_size, 11), k(q_size, 12), v(q_size, 13), dout(q_size, 14), out(q_size, 15),
      lse(rows, 16), delta(rows, 17), dq(q_size, 18), dk(q_size, 19), dv(q_size, 20);
  namespace cuda = attnscale::cuda;
  auto forward = [&] {
    cuda::attention_forward<float>(params, {q.span(), k.span(), v.span(), out.span(), lse.span()},
                                   stream);
  };
  auto backward = [&] {
    cuda::attention_delta<float>(dout.span(), out.span(), d, delta.span(), stream);
    cuda::attention_backward<float>(params,
                                    {q.span(), k.span(), v.span(), dout.span(), lse.span(),
                                     delta.span(), dq.span(), dk.span(), dv.span()},
                                    stream);
  };
  EventPair events;
  const double forward_s = events.best_seconds(stream, repeats, forward);
  const double backward_s = events.best_seconds(stream, repeats, backward);
  const double pairs = static_cast<double>(heads) * n * (n + 1) / 2;
  const double forward_gflops = 4 * pairs * d / forward_s * 1e-9;
  const double total_gflops = 14 * pairs * d / (forward_s + backward_s) * 1e-9;
  std::printf("N %6lld D %lld causal, %lld heads: forward %8.1f GFLOP/s (%.2f of SGEMM), "
              "forward+backward %8.1f GFLOP/s (%.2f)\n",
              static_cast<long long>(n), static_cast<long long>(d), static_cast<long long>(heads),
              forward_gflops, forward_gflops / sgemm, total_gflops, total_gflops / sgemm);
  return {{"n", n},
          {"d", d},
          {"heads", heads},
          {"mask", "causal"},
          {"forward_seconds", forward_s},
          {"backward_seconds", backward_s},
          {"forward_gflops", forward_gflops},
          {"forward_backward_gflops", total_gflops},
          {"forward_ratio_to_sgemm", forward_gflops / sgemm},
          {"forward_backward_ratio_to_sgemm", total_gflops / sgemm}};
}

}  // namespace
#endif  // ATTNSCALE_BENCH_ON_GPU

int main(int argc, char** argv) {
  std::string json_path;
  bool quick = false;
  int64_t heads = 16;
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (arg == "--quick") quick = true;
    else if (arg == "--heads" && i + 1 < argc) heads = std::atoll(argv[++i]);
    else if (arg == "--repeats" && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: bench_gpu_attention [--json FILE] [--quick] [--heads N] [--repeats R]\n");
      return 1;
    }
  }
  if (heads < 1 || repeats < 1) {
    std::fprintf(stderr, "bench_gpu_attention: --heads and --repeats must be >= 1\n");
    return 1;
  }
#if !defined(ATTNSCALE_BENCH_ON_GPU)
  (void)quick;
  std::printf("bench_gpu_attention: skipped: this build has no CUDA runtime (no CUDA backend, or its host emulation)\n");
  return 77;
#else
  int devices = 0;
  const cudaError_t probe = cudaGetDeviceCount(&devices);
  if (probe != cudaSuccess || devices == 0) {
    std::printf("bench_gpu_attention: skipped: no CUDA device (%s)\n",
                probe != cudaSuccess ? cudaGetErrorString(probe) : "none found");
    return 77;
  }
  cudaDeviceProp prop{};
  BENCH_CUDA(cudaGetDeviceProperties(&prop, 0));
  cudaStream_t stream = nullptr;
  BENCH_CUDA(cudaStreamCreate(&stream));
  nlohmann::json report;
  report["device"] = prop.name;
  const double sgemm = sgemm_gflops(stream, repeats);
  std::printf("%s: cuBLAS SGEMM 4096^3 fp32 (no TF32): %.1f GFLOP/s\n", prop.name, sgemm);
  report["sgemm"] = {{"m", 4096}, {"n", 4096}, {"k", 4096}, {"gflops", sgemm}};
  report["attention"] = nlohmann::json::array();
  std::vector<int64_t> lengths{4096};
  if (!quick) lengths.push_back(16384);
  for (const int64_t n : lengths)
    report["attention"].push_back(attention_row(n, heads, repeats, sgemm, stream));
  BENCH_CUDA(cudaStreamDestroy(stream));
  if (!json_path.empty() &&
      !attnscale::bench::write_json_report(report, json_path, "bench_gpu_attention"))
    return 1;
  return 0;
#endif
}
