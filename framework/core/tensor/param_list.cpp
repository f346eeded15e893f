#include "framework/core/tensor/param_list.h"

#include <unordered_map>

namespace attnscale {

namespace {
struct ElementRange {
  int64_t begin, end;  // [begin, end) in elements of the storage
  std::string_view name;
};
}  // namespace

void check_param_list(std::span<const NamedTensor> params, std::string_view where) {
  std::unordered_map<std::string_view, size_t> index_of_name;
  // Two parameters sharing memory (the same tensor twice, or overlapping views) would be updated
  // twice per step.
  std::unordered_map<const Storage*, std::vector<ElementRange>> ranges_in_storage;
  for (size_t i = 0; i < params.size(); ++i) {
    const NamedTensor& p = params[i];
    ATTNSCALE_CHECK(!p.name.empty(), where, "parameter {} has an empty name", i);
    ATTNSCALE_CHECK(p.tensor.defined(), where, "parameter '{}' is an undefined tensor", p.name);
    const auto [name_it, name_new] = index_of_name.emplace(p.name, i);
    ATTNSCALE_CHECK(name_new, where, "parameter name '{}' appears twice (positions {} and {})", p.name,
                    name_it->second, i);
    ATTNSCALE_CHECK(p.tensor.dtype() == DType::f32 || p.tensor.dtype() == DType::f64, where,
                    "parameter '{}' is {}; optimizers update float32 or float64 tensors", p.name,
                    dtype_name(p.tensor.dtype()));
    ATTNSCALE_CHECK(p.tensor.is_contiguous(), where,
                    "parameter '{}' (shape {}) is not contiguous; optimizers update parameters in place as flat arrays",
                    p.name, shape_str(p.tensor.shape()));
    if (p.tensor.numel() == 0) continue;
    const ElementRange mine{p.tensor.offset(), p.tensor.offset() + p.tensor.numel(), p.name};
    auto& ranges = ranges_in_storage[p.tensor.storage().get()];
    for (const ElementRange& other : ranges)
      ATTNSCALE_CHECK(mine.end <= other.begin || other.end <= mine.begin, where,
                      "parameters '{}' and '{}' share memory", other.name, p.name);
    ranges.push_back(mine);
  }
}

int64_t total_numel(std::span<const NamedTensor> params) {
  int64_t n = 0;
  for (const NamedTensor& p : params) n += p.tensor.numel();
  return n;
}

uint64_t param_list_fingerprint(std::span<const NamedTensor> params) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a: stable across builds and machines, unlike std::hash
  const auto mix = [&](const void* data, size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 0x100000001b3ull;
  };
  const auto mix_int = [&](int64_t v) {
    unsigned char le[8];  // little-endian, whatever the host
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(static_cast<uint64_t>(v) >> (8 * i));
    mix(le, sizeof le);
  };
  mix_int(static_cast<int64_t>(params.size()));
  for (const NamedTensor& p : params) {
    mix_int(static_cast<int64_t>(p.name.size()));
    mix(p.name.data(), p.name.size());
    mix_int(static_cast<int64_t>(p.tensor.dtype()));
    mix_int(p.tensor.dim());
    for (int64_t s : p.tensor.shape()) mix_int(s);
  }
  return hash;
}

}  // namespace attnscale
