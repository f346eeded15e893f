// What the sequence-parallel autograd ops share between their front end and their raw-buffer
// computation: spans over contiguous tensors, and the fetched rows kept for the backward in the
// op's precision. Internal to distributed/sequence_parallel.
#pragma once

#include <span>
#include <type_traits>

#include "distributed/sequence_parallel/fetch_exchange.h"
#include "framework/core/tensor/tensor.h"

namespace attnscale::sp {

// The elements of a contiguous tensor; empty for an undefined one.
template <typename T>
std::span<const T> cspan(const Tensor& t) {
  return t.defined() ? std::span<const T>{t.data<T>(), static_cast<size_t>(t.numel())} : std::span<const T>{};
}
template <typename T>
std::span<T> mspan(Tensor& t) {
  return t.defined() ? std::span<T>{t.data<T>(), static_cast<size_t>(t.numel())} : std::span<T>{};
}

// Fetched rows of an f32 or f64 op, kept from the forward for the backward.
struct SavedFetch {
  FetchedBlocks<float> f32;
  FetchedBlocks<double> f64;

  template <typename T>
  FetchedBlocks<T>& get() {
    if constexpr (std::is_same_v<T, float>)
      return f32;
    else
      return f64;
  }
};

}  // namespace attnscale::sp
