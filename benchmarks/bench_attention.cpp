// bench_attention: GFLOP/s of the fused CPU attention against OpenBLAS sgemm measured in the same
// run, at the same thread count.
//
// Build and run:  ninja -C build bench_attention && build/bin/bench_attention [--threads 1]
//                 [--json results.json] [--quick] [--no-rss] [--n 4096 --d 128 --mask causal]
// It reports:
//   1. OpenBLAS sgemm GFLOP/s, the reference: 2048^3 once, and 1024^3 interleaved with every
//      attention measurement (best of the repeats of each), which is what the ratios divide by,
//      so that a busy shared machine slows both sides alike. OpenBLAS picks its kernel from
//      OPENBLAS_CORETYPE (this project's machines set Haswell = AVX2); the core name in use is
//      printed. Run with the variable unset to compare against its AVX-512 kernel.
//   2. The tile multiply the attention kernels use (kernels/cpu/tile_gemm.h) against OpenBLAS
//      sgemm on the same tile shapes: why the kernels use their own micro-kernels.
//   3. Forward and forward+backward GFLOP/s for N = 1k, 4k, 16k (--quick: 1k, 4k), D = 64 and 128,
//      masks none, causal and window 512 (causal sliding window: each query sees itself and the
//      511 keys before it). Only allowed (query, key) pairs count: forward 4*pairs*D, backward
//      10*pairs*D (five tile products), so forward+backward is 14*pairs*D.
//   4. Peak resident memory while running forward+backward at N = 64k, D = 128 (window mask),
//      beside the bytes of its inputs and outputs and of the N x N score matrix it never builds.
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "base/threads.h"
#include "kernels/attention.h"
#include "kernels/cpu/tile_gemm.h"
#include "benchmarks/json_report.h"

extern "C" char* openblas_get_corename(void);

namespace {

using attnscale::kernels::AttentionParams;
using attnscale::kernels::AttentionShape;

double seconds_of(const std::function<void()>& fn, int repeats) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}

std::vector<float> random_floats(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(count);
  for (auto& e : x) e = dist(rng);
  return x;
}

double sgemm_gflops(int64_t m, int64_t n, int64_t k, int repeats) {
  const auto a = random_floats(static_cast<size_t>(m * k), 1);
  const auto b = random_floats(static_cast<size_t>(k * n), 2);
  std::vector<float> c(static_cast<size_t>(m * n));
  const double t = seconds_of(
      [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m),
                    static_cast<int>(n), static_cast<int>(k), 1.0f, a.data(), static_cast<int>(k),
                    b.data(), static_cast<int>(n), 0.0f, c.data(), static_cast<int>(n));
        benchmark::DoNotOptimize(c.data());
      },
      repeats);
  return 2.0 * static_cast<double>(m * n * k) / t * 1e-9;
}

// The tile shapes of the forward (S^T = K Q^T with 128 keys x 64 queries x D=128, then P V) on
// OpenBLAS and on tile_gemm, many calls in a row as the kernel makes them.
nlohmann::json tile_comparison() {
  nlohmann::json rows = nlohmann::json::array();
  struct TileShape {
    const char* name;
    int64_t m, n, k;
  };
  for (const TileShape& s : {TileShape{"S^T = K Q^T (128x64x128)", 128, 64, 128},
                             TileShape{"O += P V (64x128x128)", 64, 128, 128}}) {
    const auto a = random_floats(static_cast<size_t>(s.m * s.k), 3);
    const auto b = random_floats(static_cast<size_t>(s.k * s.n), 4);
    std::vector<float> c(static_cast<size_t>(s.m * s.n));
    const int calls = 2000;
    const double flops = 2.0 * static_cast<double>(s.m * s.n * s.k) * calls;
    const double t_blas = seconds_of(
        [&] {
          for (int i = 0; i < calls; ++i)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(s.m),
                        static_cast<int>(s.n), static_cast<int>(s.k), 1.0f, a.data(),
                        static_cast<int>(s.k), b.data(), static_cast<int>(s.n), 1.0f, c.data(),
                        static_cast<int>(s.n));
          benchmark::DoNotOptimize(c.data());
        },
        3);
    const double t_tile = seconds_of(
        [&] {
          for (int i = 0; i < calls; ++i)
            attnscale::kernels::cpu::tile_gemm<float>(s.m, s.n, s.k, a.data(), s.k, 1, b.data(),
                                                      s.n, c.data(), s.n, true);
          benchmark::DoNotOptimize(c.data());
        },
        3);
    const double blas = flops / t_blas * 1e-9, tile = flops / t_tile * 1e-9;
    std::printf("  tile %-26s openblas %7.1f GFLOP/s   tile_gemm %7.1f GFLOP/s   (x%.2f)\n",
                s.name, blas, tile, tile / blas);
    rows.push_back({{"tile", s.name}, {"openblas_gflops", blas}, {"tile_gemm_gflops", tile}});
  }
  return rows;
}

struct MaskChoice {
  const char* name;
  bool causal;
  int64_t window_left;  // < 0: none
};

// Allowed (query, key) pairs for N queries and N keys.
double allowed_pairs(int64_t n, const MaskChoice& mask) {
  double pairs = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t lo = 0, hi = n - 1;
    if (mask.causal) hi = i;
    if (mask.window_left >= 0) lo = std::max<int64_t>(0, i - mask.window_left);
    pairs += static_cast<double>(hi - lo + 1);
  }
  return pairs;
}

AttentionParams make_params(int64_t n, int64_t d, const MaskChoice& mask) {
  AttentionShape shape{1, 1, 1, n, n, d, d};
  AttentionParams p = attnscale::kernels::default_attention_params(shape);
  p.mask.causal = mask.causal;
  if (mask.window_left >= 0) p.mask.window = attnscale::kernels::Window{mask.window_left, 0};
  return p;
}

struct Buffers {
  std::vector<float> q, k, v, out, lse, dout, delta, dq, dk, dv;
  explicit Buffers(const AttentionShape& s)
      : q(random_floats(s.q_size(), 5)), k(random_floats(s.k_size(), 6)),
        v(random_floats(s.v_size(), 7)), out(s.out_size()), lse(s.rows()),
        dout(random_floats(s.out_size(), 8)), delta(s.rows()), dq(s.q_size()), dk(s.k_size()),
        dv(s.v_size()) {}
  size_t bytes() const {
    size_t n = 0;
    for (const auto* x : {&q, &k, &v, &out, &lse, &dout, &delta, &dq, &dk, &dv}) n += x->size();
    return n * sizeof(float);
  }
};

void forward(const AttentionParams& p, Buffers& b) {
  attnscale::kernels::attention_forward<float>(p, {b.q, b.k, b.v, b.out, b.lse});
}

void forward_backward(const AttentionParams& p, Buffers& b) {
  forward(p, b);
  attnscale::kernels::attention_delta<float>(b.dout, b.out, p.shape.value_dim, b.delta);
  attnscale::kernels::attention_backward<float>(
      p, {b.q, b.k, b.v, b.dout, b.lse, b.delta, b.dq, b.dk, b.dv});
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  std::string json_path;
  bool quick = false, rss = true;
  int64_t only_n = 0, only_d = 0;  // 0: all
  std::string only_mask;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (arg == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (arg == "--quick") quick = true;
    else if (arg == "--no-rss") rss = false;
    else if (arg == "--n" && i + 1 < argc) only_n = std::atoll(argv[++i]);
    else if (arg == "--d" && i + 1 < argc) only_d = std::atoll(argv[++i]);
    else if (arg == "--mask" && i + 1 < argc) only_mask = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: bench_attention [--threads N] [--json FILE] [--quick] [--no-rss] "
                   "[--n N] [--d D] [--mask none|causal|window512]\n");
      return 2;
    }
  }
  attnscale::set_thread_count(threads);
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  nlohmann::json report;
  report["threads"] = threads;
  report["openblas_coretype_env"] = coretype ? coretype : "(unset)";
  report["openblas_core"] = openblas_get_corename();

  // Memory first, so that the process-wide peak belongs to this run.
  if (rss) {
    const int64_t n = 65536, d = 128;
    const long before = peak_rss_kib();
    const MaskChoice window{"window512", true, 511};
    const AttentionParams p = make_params(n, d, window);
    Buffers b(p.shape);
    const double t = seconds_of([&] { forward_backward(p, b); }, 1);
    const long after = peak_rss_kib();
    const double mib = 1.0 / (1024.0 * 1024.0);
    std::printf("N=65536 D=128 window512 fwd+bwd in %.2f s: peak RSS %.1f MiB (%.1f MiB before); "
                "inputs+outputs %.1f MiB; an N x N fp32 score matrix would be %.0f MiB\n",
                t, after / 1024.0, before / 1024.0, b.bytes() * mib,
                static_cast<double>(n) * n * 4 * mib);
    report["memory"] = {{"n", n},
                        {"d", d},
                        {"peak_rss_mib", after / 1024.0},
                        {"rss_before_mib", before / 1024.0},
                        {"buffers_mib", b.bytes() * mib},
                        {"score_matrix_mib", static_cast<double>(n) * n * 4 * mib}};
  }

  const double sgemm = sgemm_gflops(2048, 2048, 2048, 3);
  std::printf("OpenBLAS core %s (OPENBLAS_CORETYPE=%s), %d thread(s): sgemm 2048^3 %.1f GFLOP/s\n",
              openblas_get_corename(), coretype ? coretype : "(unset)", threads, sgemm);
  report["sgemm_gflops"] = sgemm;
  report["tiles"] = tile_comparison();

  std::printf("%6s %4s %-10s %10s %8s %12s %8s %10s\n", "N", "D", "mask", "fwd GF/s", "/sgemm",
              "fwd+bwd GF/s", "/sgemm", "sgemm GF/s");
  nlohmann::json rows = nlohmann::json::array();
  std::vector<int64_t> sizes = {1024, 4096};
  if (!quick || only_n == 16384) sizes.push_back(16384);
  for (const int64_t n : sizes)
    for (const int64_t d : {64, 128})
      for (const MaskChoice& mask : {MaskChoice{"none", false, -1}, MaskChoice{"causal", true, -1},
                                     MaskChoice{"window512", true, 511}}) {
        if ((only_n && n != only_n) || (only_d && d != only_d) ||
            (!only_mask.empty() && only_mask != mask.name))
          continue;
        const AttentionParams p = make_params(n, d, mask);
        Buffers b(p.shape);
        const double pairs = allowed_pairs(n, mask);
        // The machine is shared: repeats interleave a 1024^3 sgemm with the attention runs and
        // keep the best of each, so that every ratio compares runs taken side by side.
        const int repeats = n >= 16384 ? 2 : 3;
        forward(p, b);  // warm up
        double t_fwd = 1e30, t_all = 1e30, near_sgemm = 0;
        for (int r = 0; r < repeats; ++r) {
          near_sgemm = std::max(near_sgemm, sgemm_gflops(1024, 1024, 1024, 1));
          t_fwd = std::min(t_fwd, seconds_of([&] { forward(p, b); }, 1));
          t_all = std::min(t_all, seconds_of([&] { forward_backward(p, b); }, 1));
        }
        const double fwd = 4.0 * pairs * d / t_fwd * 1e-9;
        const double all = 14.0 * pairs * d / t_all * 1e-9;
        std::printf("%6lld %4lld %-10s %10.1f %8.2f %12.1f %8.2f %10.1f\n",
                    static_cast<long long>(n), static_cast<long long>(d), mask.name, fwd,
                    fwd / near_sgemm, all, all / near_sgemm, near_sgemm);
        std::fflush(stdout);
        rows.push_back({{"n", n},
                        {"d", d},
                        {"mask", mask.name},
                        {"forward_s", t_fwd},
                        {"forward_backward_s", t_all},
                        {"forward_gflops", fwd},
                        {"forward_backward_gflops", all},
                        {"sgemm_side_by_side_gflops", near_sgemm},
                        {"forward_ratio", fwd / near_sgemm},
                        {"forward_backward_ratio", all / near_sgemm}});
      }
  report["attention"] = rows;
  if (!json_path.empty()) {
    if (!attnscale::bench::write_json_report(report, json_path, "bench_attention")) return 1;
  }
  return 0;
}
