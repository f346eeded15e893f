// What this attnscale was built with and what it finds at run time: the program version, the
// compute backends, the CUDA architectures and the versions of the CUDA runtime, cuBLAS, cuDNN and
// NCCL (as compiled against, and as loaded). `attnscale version` prints it.
#pragma once

#include <string>
#include <vector>

namespace attnscale {

struct LibraryVersion {
  std::string name;
  std::string compiled;  // the headers' version; empty when not compiled in
  std::string loaded;    // the shared library's version now; empty when it cannot be asked
};

struct BuildInfo {
  std::string version;
  std::vector<std::string> backends;  // "cpu", and "cuda" when compiled in
  std::string cuda_architectures;     // "80 90"; empty without CUDA
  std::vector<LibraryVersion> libraries;
  std::string driver;   // the CUDA driver's version, or why there is none
  std::vector<std::string> devices;  // one line per visible GPU
};

// Gathers the facts above (asks the runtime; never throws for a missing driver or device).
BuildInfo build_info();

// The report `attnscale version` prints: one fact per line.
std::string format_build_info(const BuildInfo& info);

// 13000 -> "13.0": the CUDA runtime's and driver's encoding (major * 1000 + minor * 10).
std::string cuda_version_string(int encoded);
// 130100 -> "13.1.0": major * 10000 + minor * 100 + patch (cuBLAS, cuDNN 9, NCCL >= 2.9).
std::string library_version_string(long encoded);

}  // namespace attnscale
