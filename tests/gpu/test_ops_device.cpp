// The indexing, joining, view, sparsemax, normalisation, RoPE and conversion ops on cuda:0 against
// the same ops on the CPU (label gpu; tests/gpu/device_compare.h): outputs and every input
// gradient, fp32 and fp64, plus fp64 gradient checks through the GPU path of the fused kernels. Runs
// on a GPU and on the emulated device of the emulation build; skips with the reason elsewhere.
#include <cmath>
#include <functional>
#include <string>
#include <limits>
#include <vector>

#include "framework/core/ops/indexing.h"
#include "framework/core/ops/norm.h"
#include "framework/core/ops/ops.h"
#include "framework/core/ops/sparsemax.h"
#include "framework/nn/layers.h"
#include "framework/nn/rope.h"
#include "tests/gpu/device_compare.h"

namespace attnscale::test {
namespace {

template <typename T>
class GpuOps : public DeviceOpTest<T> {};
TYPED_TEST_SUITE(GpuOps, FloatTypes);

Tensor ids(const std::vector<int64_t>& values, const Shape& shape) { return Tensor::from(values, shape); }

// The message of the UsageError that f throws (a test failure when it throws none).
std::string usage_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UsageError";
  return "";
}

// One output: the comparison of device_compare.h for an op returning one tensor.
void expect_gpu_matches_cpu(Device, const std::function<Tensor(const std::vector<Tensor>&)>& f,
                            const std::vector<Tensor>& inputs, Tolerance tol) {
  expect_same_on_cpu_and_gpu([&](const std::vector<Tensor>& x) { return std::vector<Tensor>{f(x)}; }, inputs, tol);
}

TYPED_TEST(GpuOps, EmbeddingAndIndexSelectWithRepeatedIndices) {
  Generator gen(1);
  const Tensor table = Tensor::randn({11, 6}, gen, this->dtype);
  const Tensor tokens = ids({3, 0, 10, 3, 3, 7, 0, 9}, {2, 4});  // repeats: the backward adds them up
  expect_gpu_matches_cpu(kGpu, [](const auto& in) { return embedding(in[0], in[1]); }, {table, tokens},
                         this->tol);
  const Tensor x = Tensor::randn({3, 5, 4}, gen, this->dtype);
  const Tensor picks = ids({4, 1, 1, 0, 4, 2}, {6});
  for (const int axis : {0, 1, -1}) {
    SCOPED_TRACE(axis);
    const Tensor index = axis == 0 ? ids({2, 0, 2}, {3}) : picks;
    expect_gpu_matches_cpu(kGpu, [axis](const auto& in) { return index_select(in[0], axis, in[1]); },
                           {x, axis == -1 ? ids({3, 0, 3}, {3}) : index}, this->tol);
  }
}

TYPED_TEST(GpuOps, GatherAndScatterAdd) {
  Generator gen(2);
  const Tensor x = Tensor::randn({3, 5, 4}, gen, this->dtype);
  std::vector<int64_t> values(3 * 6 * 4);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int64_t>((i * 7 + 3) % 5);
  const Tensor index = ids(values, {3, 6, 4});
  expect_gpu_matches_cpu(kGpu, [](const auto& in) { return gather(in[0], 1, in[1]); }, {x, index}, this->tol);
  const Tensor src = Tensor::randn({3, 6, 4}, gen, this->dtype);
  expect_gpu_matches_cpu(kGpu, [](const auto& in) { return scatter_add(in[0], 1, in[1], in[2]); },
                         {x, index, src}, this->tol);
}

TYPED_TEST(GpuOps, WhereAndMaskedFillBroadcast) {
  Generator gen(3);
  const Tensor a = Tensor::randn({4, 5}, gen, this->dtype), b = Tensor::randn({5}, gen, this->dtype);
  const Tensor float_cond = greater(Tensor::randn({4, 1}, gen, this->dtype), Tensor::zeros({1}, this->dtype));
  const Tensor int_cond = ids({1, 0, 0, 3, 0}, {5});
  for (const Tensor& cond : {float_cond, int_cond}) {
    expect_gpu_matches_cpu(kGpu, [](const auto& in) { return where(in[2], in[0], in[1]); }, {a, b, cond},
                           this->tol);
    expect_gpu_matches_cpu(
        kGpu, [](const auto& in) { return masked_fill(in[0], in[1], -std::numeric_limits<double>::infinity()); },
        {a, cond}, this->tol);
  }
  // Integer data too (masks of ids): no gradient, the same values.
  const Tensor id_values = ids({1, 2, 3, 4, 5}, {5});
  expect_gpu_matches_cpu(kGpu, [](const auto& in) { return where(in[1], in[0], mul(in[0], in[0])); },
                         {id_values, int_cond}, Tolerance{0, 0});
}

TYPED_TEST(GpuOps, ConcatStackSplitAndStridedViews) {
  Generator gen(4);
  const Tensor a = Tensor::randn({2, 3, 4}, gen, this->dtype), b = Tensor::randn({2, 5, 4}, gen, this->dtype);
  expect_gpu_matches_cpu(kGpu, [](const auto& in) { return concat({in[0], in[1]}, 1); }, {a, b},
                         this->tol);
  // Non-contiguous parts: transposed views are laid out on the device before they are joined.
  expect_gpu_matches_cpu(
      kGpu, [](const auto& in) { return stack({transpose(in[0], 1, 2), transpose(narrow(in[1], 1, 1, 3), 1, 2)}, 0); },
      {a, b}, this->tol);
  // split and narrow: the backward adds each piece's gradient into its slice of zeros.
  expect_gpu_matches_cpu(
      kGpu,
      [](const auto& in) {
        const std::vector<Tensor> pieces = split(in[0], std::vector<int64_t>{2, 0, 3}, 1);
        return add(mul(pieces[0], 3.0), sum(pieces[2], {1}, true));
      },
      {b}, this->tol);
  // contiguous() of permuted and expanded views, and a reshape that has to copy.
  expect_gpu_matches_cpu(
      kGpu,
      [](const auto& in) {
        const Tensor permuted = permute(in[0], {2, 0, 1}).contiguous();
        const Tensor broadcast = expand(narrow(in[0], 1, 0, 1), {2, 3, 4}).contiguous();
        return add(reshape(transpose(permuted, 0, 2), {-1, 4}), reshape(broadcast, {6, 4}));
      },
      {a}, this->tol);
}

TYPED_TEST(GpuOps, SparsemaxWithMaskedEntriesOnAnyAxis) {
  Generator gen(5);
  Tensor z = mul(Tensor::randn({3, 4, 37}, gen, this->dtype), 2.0);
  const Tensor mask = greater(Tensor::randn({3, 4, 37}, gen, this->dtype), Tensor::full({1}, 1.2, this->dtype));
  z = masked_fill(z, mask, -std::numeric_limits<double>::infinity());
  for (const int axis : {-1, 1}) {
    SCOPED_TRACE(axis);
    expect_gpu_matches_cpu(kGpu, [axis](const auto& in) { return sparsemax(in[0], axis); }, {z}, this->tol);
  }
  // A fully masked row gives zeros (and a zero gradient) on both devices.
  const Tensor masked_row = Tensor::full({2, 5}, -std::numeric_limits<double>::infinity(), this->dtype);
  expect_gpu_matches_cpu(kGpu, [](const auto& in) { return sparsemax(in[0], -1); }, {masked_row}, Tolerance{0, 0});
}

TYPED_TEST(GpuOps, LayerNormAndRmsNormForwardAndBackward) {
  Generator gen(6);
  const Tolerance tol = this->tol;
  for (const int64_t dim : {24, 300}) {
    SCOPED_TRACE(dim);
    const Tensor x = add(mul(Tensor::randn({2, 3, dim}, gen, this->dtype), 2.0), 0.5);
    const Tensor gamma = Tensor::rand({dim}, gen, this->dtype, 0.5, 1.5), beta = Tensor::randn({dim}, gen, this->dtype);
    expect_gpu_matches_cpu(kGpu, [](const auto& in) { return layer_norm(in[0], in[1], in[2], 1e-5); },
                           {x, gamma, beta}, tol);
    expect_gpu_matches_cpu(kGpu, [](const auto& in) { return rms_norm(in[0], in[1], 1e-6); }, {x, gamma}, tol);
    // A strided input (the fused kernel reads a contiguous copy).
    expect_gpu_matches_cpu(kGpu, [](const auto& in) { return layer_norm(transpose(in[0], 0, 1), in[1], in[2], 1e-5); },
                           {x, gamma, beta}, tol);
  }
}

TYPED_TEST(GpuOps, NormModulesMoveWithTheirParameters) {
  Generator gen(7);
  const Tensor x = Tensor::randn({4, 16}, gen, this->dtype);
  for (const char* kind : {"layernorm", "rmsnorm"}) {
    SCOPED_TRACE(kind);
    const auto cpu_norm = nn::make_norm(kind, 16, this->dtype), gpu_norm = nn::make_norm(kind, 16, this->dtype);
    gpu_norm->to(kGpu);
    const Tensor on_cpu = cpu_norm->forward(x), on_gpu = gpu_norm->forward(x.to(kGpu));
    EXPECT_EQ(on_gpu.device(), kGpu);
    EXPECT_TRUE(same_values(on_gpu.to(kCpu), on_cpu, this->tol));
  }
}

TYPED_TEST(GpuOps, RopeOnGlobalPositions) {
  Generator gen(8);
  const Tensor x = Tensor::randn({2, 3, 5, 8}, gen, this->dtype);
  const Tensor positions = ids({1000, 1001, 1002, 4, 70000}, {5});  // a shard's global positions
  // The positions may stay on the host: they describe rows, like a mask.
  expect_gpu_matches_cpu(kGpu, [&](const auto& in) { return nn::apply_rope(in[0], positions, 10000.0); }, {x},
                         this->tol);
  expect_gpu_matches_cpu(kGpu, [](const auto& in) { return nn::apply_rope(transpose(in[0], 0, 1), in[1], 500.0); },
                         {x, positions}, this->tol);
}

TYPED_TEST(GpuOps, CastsAndFillsOnTheDevice) {
  Generator gen(9);
  const Tensor x = mul(Tensor::randn({3, 7}, gen, this->dtype), 50.0);
  for (const DType target : {DType::f32, DType::f64, DType::i64}) {
    SCOPED_TRACE(dtype_name(target));
    const Tensor on_gpu = x.to(kGpu).to(target);
    EXPECT_EQ(on_gpu.device(), kGpu);
    EXPECT_EQ(on_gpu.to(kCpu).to_vector<double>(), x.to(target).to_vector<double>());
    // Back from the target, through a transposed view (cast of a strided tensor).
    const DType back = this->dtype;
    EXPECT_EQ(transpose(on_gpu, 0, 1).to(back).to(kCpu).to_vector<double>(),
              transpose(x.to(target), 0, 1).to(back).to_vector<double>());
  }
  // The cast is differentiable between float types: the gradient returns in the source dtype.
  const DType other = this->dtype == DType::f32 ? DType::f64 : DType::f32;
  expect_gpu_matches_cpu(kGpu, [other](const auto& in) { return mul(in[0].to(other), in[0].to(other)); }, {x},
                         this->tol);
  const DType dtype = this->dtype;
  for (const double value : {2.5, -0.0, 0.0, -1e30}) {
    Tensor filled = Tensor::empty({5, 3}, dtype, kGpu);
    filled.fill_(value);
    const std::vector<double> got = filled.to(kCpu).to_vector<double>();
    for (const double v : got) EXPECT_EQ(std::signbit(v), std::signbit(value)) << value;  // -0.0 stays -0.0
    EXPECT_EQ(got, Tensor::full({5, 3}, value, dtype).to_vector<double>());
  }
  Tensor counts = Tensor::full({4}, 7.0, DType::i64, kGpu);
  EXPECT_EQ(counts.to_vector<int64_t>(), std::vector<int64_t>(4, 7));
}

// fp64 finite differences through the fused kernels' backward (the CPU paths are checked in
// tests/nn and tests/ops).
TEST_F(DeviceTest, NormRopeAndSparsemaxGradcheckThroughTheGpu) {
  Generator gen(10);
  const auto leaf = [&](const Shape& shape, double low, double high) {
    return Tensor::rand(shape, gen, DType::f64, low, high).set_requires_grad();
  };
  expect_gradcheck_on_gpu([](const auto& in) { return layer_norm(in[0], in[1], in[2], 1e-5); },
                          {leaf({3, 6}, -2, 2), leaf({6}, 0.5, 1.5), leaf({6}, -1, 1)});
  expect_gradcheck_on_gpu([](const auto& in) { return rms_norm(in[0], in[1], 1e-6); },
                          {leaf({3, 6}, -2, 2), leaf({6}, 0.5, 1.5)});
  const Tensor positions = ids({5, 6, 7, 100}, {4});
  expect_gradcheck_on_gpu([&](const auto& in) { return nn::apply_rope(in[0], positions); }, {leaf({2, 4, 6}, -1, 1)});
  expect_gradcheck_on_gpu([](const auto& in) { return sparsemax(mul(in[0], 3.0), -1); }, {leaf({3, 7}, -1, 1)});
}

class GpuIndexErrors : public DeviceTest {
 protected:
  const Device gpu = kGpu;
};

TEST_F(GpuIndexErrors, AnIndexOutOfRangeOnTheDeviceGivesTheCpuMessage) {
  const Tensor table = Tensor::zeros({4, 2});
  const Tensor bad_ids = ids({0, 3, 4, -1}, {2, 2});
  const std::string on_cpu = usage_error_of([&] { embedding(table, bad_ids); });
  EXPECT_NE(on_cpu.find("[embedding] id 4 at position 2 is out of range"), std::string::npos) << on_cpu;
  EXPECT_EQ(usage_error_of([&] { embedding(table.to(gpu), bad_ids.to(gpu)); }), on_cpu);
  const Tensor x = Tensor::zeros({3, 2});
  const Tensor index = ids({0, 1, 2, 3, 0, 1}, {3, 2});
  EXPECT_EQ(usage_error_of([&] { gather(x.to(gpu), 0, index.to(gpu)); }), usage_error_of([&] { gather(x, 0, index); }));
  EXPECT_EQ(ops_detail::find_index_out_of_range(index.to(gpu), 3), 3);
  EXPECT_EQ(ops_detail::find_index_out_of_range(transpose(index, 0, 1).to(gpu), 3), 4);
}

TEST_F(GpuIndexErrors, MixedDevicesAreRefusedNamingBoth) {
  const Tensor table = Tensor::zeros({4, 2}).to(gpu);
  const std::string message = usage_error_of([&] { embedding(table, ids({0}, {1})); });
  EXPECT_NE(message.find("[embedding] inputs are on different devices: cuda:0 and cpu"), std::string::npos) << message;
}

}  // namespace
}  // namespace attnscale::test
