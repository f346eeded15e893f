// Deterministic integer draws for synthetic data: draw c of stream s is a pure function of
// (seed, s, c) through the counter-based generator, so sample s of a batch is the same whatever
// was drawn before it (batch i is a pure function of i).
#pragma once

#include <cstdint>

#include "framework/core/tensor/random.h"

namespace attnscale::data {

class CounterDraws {
 public:
  CounterDraws(uint64_t seed, uint64_t stream) : seed_(seed ^ (stream * 0xD1B54A32D192ED03ull)) {}
  // Uniform integer in [0, n), n >= 1.
  int64_t below(int64_t n) { return static_cast<int64_t>(Generator::uniform(seed_, counter_++) * n) % n; }
  // Standard normal.
  double normal() { return Generator::normal(seed_, counter_++); }

 private:
  uint64_t seed_;
  uint64_t counter_ = 0;
};

}  // namespace attnscale::data
