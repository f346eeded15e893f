#include "framework/core/tensor/build_info.h"

#include <fmt/format.h>

#include "framework/core/tensor/cuda_runtime.h"

#if ATTNSCALE_HAVE_CUDA && !defined(ATTNSCALE_CUDA_HOST_EMULATION)
#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include "kernels/cuda/blas.h"
#endif
#if ATTNSCALE_HAVE_CUDNN
#include <cudnn_graph.h>
#include <cudnn_version.h>
#endif
#if ATTNSCALE_HAVE_NCCL
#include <nccl.h>
#endif
#if ATTNSCALE_HAVE_CUDNN_FRONTEND
#include "kernels/cuda/cudnn_attention.h"
#endif

namespace attnscale {

std::string cuda_version_string(int encoded) { return fmt::format("{}.{}", encoded / 1000, encoded % 1000 / 10); }

std::string library_version_string(long encoded) {
  return fmt::format("{}.{}.{}", encoded / 10000, encoded % 10000 / 100, encoded % 100);
}

BuildInfo build_info() {
  BuildInfo info;
  info.version = ATTNSCALE_VERSION;
  info.backends.push_back("cpu");
#if ATTNSCALE_HAVE_CUDA && defined(ATTNSCALE_CUDA_HOST_EMULATION)
  // The emulation build: the CUDA backend's code with its kernels on the CPU, and no CUDA library.
  info.backends.push_back("cuda (host emulation: the CUDA kernels and ops run on the CPU)");
  info.cuda_architectures = "none (host emulation)";
#endif
#if ATTNSCALE_HAVE_CUDA && !defined(ATTNSCALE_CUDA_HOST_EMULATION)
  info.backends.push_back("cuda");
  info.cuda_architectures = ATTNSCALE_CUDA_ARCHITECTURES;
  int runtime = 0;
  const bool have_runtime = cudaRuntimeGetVersion(&runtime) == cudaSuccess;
  info.libraries.push_back({"CUDA runtime", cuda_version_string(CUDART_VERSION),
                            have_runtime ? cuda_version_string(runtime) : ""});
  info.libraries.push_back(
      {"cuBLAS", library_version_string(CUBLAS_VERSION), library_version_string(cuda::Blas::version())});
#else
  info.libraries.push_back({"CUDA runtime", "", ""});
  info.libraries.push_back({"cuBLAS", "", ""});
#endif
#if ATTNSCALE_HAVE_CUDNN
  info.libraries.push_back(
      {"cuDNN", library_version_string(CUDNN_VERSION), library_version_string(static_cast<long>(cudnnGetVersion()))});
#else
  info.libraries.push_back({"cuDNN", "", ""});
#endif
#if ATTNSCALE_HAVE_CUDNN_FRONTEND
  // Header-only: the version compiled in is the one that runs (cuDNN attention).
  info.libraries.push_back({"cuDNN frontend", cuda::cudnn_frontend_version(), cuda::cudnn_frontend_version()});
#else
  info.libraries.push_back({"cuDNN frontend", "", ""});
#endif
#if ATTNSCALE_HAVE_NCCL
  int nccl = 0;
  info.libraries.push_back({"NCCL", library_version_string(NCCL_VERSION_CODE),
                            ncclGetVersion(&nccl) == ncclSuccess ? library_version_string(nccl) : ""});
#else
  info.libraries.push_back({"NCCL", "", ""});
#endif

  const cuda::Availability available = cuda::probe();
#if ATTNSCALE_HAVE_CUDA && !defined(ATTNSCALE_CUDA_HOST_EMULATION)
  int driver = 0;
  info.driver = cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0
                    ? cuda_version_string(driver)
                    : fmt::format("none ({})", available.reason);
#elif defined(ATTNSCALE_CUDA_HOST_EMULATION)
  info.driver = "none (host emulation)";
#else
  info.driver = fmt::format("none ({})", available.reason);
#endif
  for (int i = 0; i < available.device_count; ++i)
    info.devices.push_back(fmt::format("cuda:{}: {}", i, cuda::describe(cuda::properties(cuda_device(i)))));
  return info;
}

std::string format_build_info(const BuildInfo& info) {
  std::string out = fmt::format("attnscale {}\n", info.version);
  std::string backends;
  for (const std::string& b : info.backends) backends += (backends.empty() ? "" : ", ") + b;
  out += fmt::format("backends: {}\n", backends);
  out += fmt::format("CUDA architectures: {}\n",
                     info.cuda_architectures.empty() ? "none (built without CUDA)" : info.cuda_architectures);
  for (const LibraryVersion& lib : info.libraries) {
    if (lib.compiled.empty()) {
      out += fmt::format("{}: not compiled in\n", lib.name);
      continue;
    }
    out += fmt::format("{}: compiled {}, loaded {}\n", lib.name, lib.compiled,
                       lib.loaded.empty() ? "unknown" : lib.loaded);
  }
  out += fmt::format("CUDA driver: {}\n", info.driver);
  if (info.devices.empty()) out += "GPUs: none\n";
  for (const std::string& d : info.devices) out += fmt::format("GPU {}\n", d);
  return out;
}

}  // namespace attnscale
