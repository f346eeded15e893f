// The update kernels treat every element alike: the result for an element does not depend on the
// thread count, on the tensor's length or on where the element sits (full SIMD lane group, padded
// remainder, block boundary).
#include "tests/optim/optim_test_util.h"
#include "base/threads.h"

namespace attnscale::optim_test {
namespace {

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<NamedTensor>)>;

// Runs three updates with gradients drawn from `seed`; `window` selects the elements kept.
template <typename T>
std::vector<T> run(const MakeOptimizer& make, int64_t n, int64_t first, int64_t count, int threads) {
  const int threads_before = thread_count();
  set_thread_count(threads);
  Generator init(1);
  const Tensor full_p = Tensor::rand({n}, init, dtype_of<T>(), -1.0, 1.0);
  const Tensor p = narrow(full_p, 0, first, count).contiguous().clone().set_requires_grad();
  auto opt = make({{"p", p}});
  for (int step = 0; step < 3; ++step) {
    Generator gen(100 + step);
    p.set_grad(narrow(Tensor::rand({n}, gen, dtype_of<T>(), -1.0, 1.0), 0, first, count).contiguous());
    opt->step();
  }
  set_thread_count(threads_before);
  return p.to_vector<T>();
}

template <typename T>
void expect_layout_independent(const MakeOptimizer& make, const std::string& label) {
  const int64_t n = 3 * (int64_t{1} << 14) + 37;  // several blocks, the threaded path and a remainder
  const std::vector<T> one_thread = run<T>(make, n, 0, n, 1);
  EXPECT_EQ(one_thread, run<T>(make, n, 0, n, 2)) << label << ": thread count changed the result";
  for (const auto& [first, count] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {5, 7}, {16381, 40}, {n - 37, 37}}) {
    const std::vector<T> part = run<T>(make, n, first, count, 1);
    EXPECT_EQ(part, std::vector<T>(one_thread.begin() + first, one_thread.begin() + first + count))
        << label << ": elements [" << first << ", " << first + count << ") differ when updated alone";
  }
}

TEST(KernelLayout, UpdatesAreIndependentOfThreadsLengthAndPosition) {
  const std::vector<std::pair<std::string, MakeOptimizer>> makers{
      {"sgd_nesterov_wd",
       [](std::vector<NamedTensor> p) -> std::unique_ptr<Optimizer> {
         return std::make_unique<Sgd>(std::move(p), SgdOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0,
                                                               .weight_decay = 0.01, .nesterov = true});
       }},
      {"adam_wd",
       [](std::vector<NamedTensor> p) -> std::unique_ptr<Optimizer> {
         AdamOptions o;
         o.weight_decay = 0.1;
         return std::make_unique<Adam>(std::move(p), o);
       }},
      {"adamw",
       [](std::vector<NamedTensor> p) -> std::unique_ptr<Optimizer> {
         return std::make_unique<AdamW>(std::move(p), AdamOptions{});
       }},
  };
  for (const auto& [name, make] : makers) {
    expect_layout_independent<float>(make, name + " float32");
    expect_layout_independent<double>(make, name + " float64");
  }
}

}  // namespace
}  // namespace attnscale::optim_test
