// Shared by the optimizer tests: the reference problem of make_reference.py built with autograd
// ops, optimizers built from a reference case, and exact/approximate comparisons.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/ops.h"
#include "framework/optim/adam.h"
#include "framework/optim/sgd.h"

namespace attnscale::optim_test {

// ordered_json keeps the file's parameter order (weight, then bias), which is the optimizer's order.
inline nlohmann::ordered_json load_reference() {
  const std::string path = std::string(ATTNSCALE_SOURCE_DIR) + "/tests/optim/reference_trajectories.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::ordered_json::parse(in);
}

// One parameter of the reference problem: loss = sum(0.5 * a * (p - c)^2 + 0.1 * p^4).
struct ReferenceParam {
  std::string name;
  Tensor param, a, c;
};

inline std::vector<ReferenceParam> make_reference_params(const nlohmann::ordered_json& reference, DType dtype) {
  std::vector<ReferenceParam> out;
  for (const auto& [name, spec] : reference.at("params").items()) {
    const Shape shape = spec.at("shape").get<Shape>();
    const auto tensor = [&](const char* key) {
      return Tensor::from(spec.at(key).get<std::vector<double>>(), shape).to(dtype);
    };
    out.push_back({name, tensor("init").set_requires_grad(), tensor("a"), tensor("c")});
  }
  return out;
}

inline std::vector<NamedTensor> named(const std::vector<ReferenceParam>& params) {
  std::vector<NamedTensor> out;
  for (const auto& p : params) out.push_back({p.name, p.param});
  return out;
}

// Sets the gradients of the reference loss by backward, leaving out the parameters in `skip`.
inline void compute_gradients(const std::vector<ReferenceParam>& params, const std::vector<std::string>& skip = {}) {
  Tensor loss;
  for (const auto& p : params) {
    if (std::find(skip.begin(), skip.end(), p.name) != skip.end()) continue;
    const Tensor term = sum(mul(mul(p.a, square(sub(p.param, p.c))), 0.5)) + mul(sum(pow(p.param, 4.0)), 0.1);
    loss = loss.defined() ? add(loss, term) : term;
  }
  if (loss.defined()) loss.backward();
}

inline std::unique_ptr<Optimizer> make_optimizer(const nlohmann::ordered_json& c, std::vector<NamedTensor> params) {
  const std::string kind = c.at("optimizer");
  if (kind == "sgd") {
    return std::make_unique<Sgd>(std::move(params), SgdOptions{.lr = c.at("lr"),
                                                               .momentum = c.value("momentum", 0.0),
                                                               .dampening = c.value("dampening", 0.0),
                                                               .weight_decay = c.value("weight_decay", 0.0),
                                                               .nesterov = c.value("nesterov", false)});
  }
  AdamOptions o;
  o.lr = c.at("lr");
  o.beta1 = c.value("beta1", 0.9);
  o.beta2 = c.value("beta2", 0.999);
  o.eps = c.value("eps", 1e-8);
  if (c.contains("weight_decay") && !c.at("weight_decay").is_null()) o.weight_decay = c.at("weight_decay").get<double>();
  if (kind == "adam") return std::make_unique<Adam>(std::move(params), o);
  if (kind == "adamw") return std::make_unique<AdamW>(std::move(params), o);
  throw std::runtime_error("unknown optimizer " + kind);
}

// Parameters skipped at update t (1-based) by a reference case.
inline std::vector<std::string> skipped_at(const nlohmann::ordered_json& c, int t) {
  std::vector<std::string> out;
  if (!c.contains("skip")) return out;
  for (const auto& [name, steps] : c.at("skip").items())
    for (int s : steps)
      if (s == t) out.push_back(name);
  return out;
}

// The lr the reference uses at update t.
inline double reference_lr(const nlohmann::ordered_json& c, int t) { return c.at("lr").get<double>() * (1 - 0.1 * (t - 1)); }

// Runs `steps` updates of the reference problem starting at update `first` (1-based).
inline void run_reference_steps(Optimizer& opt, const std::vector<ReferenceParam>& params, const nlohmann::ordered_json& c,
                                int first, int steps) {
  for (int t = first; t < first + steps; ++t) {
    opt.zero_grad();
    compute_gradients(params, skipped_at(c, t));
    opt.set_lr(reference_lr(c, t));
    opt.step();
  }
}

// |actual - expected| <= tolerance * scale for every element; reports the worst element.
inline void expect_close(const std::vector<double>& actual, const std::vector<double>& expected, double tolerance,
                         bool relative, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  double worst = 0;
  size_t worst_index = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double scale = relative ? std::abs(expected[i]) : std::max(1.0, std::abs(expected[i]));
    const double err = std::abs(actual[i] - expected[i]) / scale;
    if (!(err <= worst)) {
      worst = err;
      worst_index = i;
    }
  }
  EXPECT_LE(worst, tolerance) << what << ": worst element " << worst_index << " is " << actual[worst_index]
                              << ", expected " << expected[worst_index] << " (error " << worst << ")";
}

}  // namespace attnscale::optim_test
