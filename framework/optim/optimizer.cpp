#include "framework/optim/optimizer.h"

#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "framework/core/autograd/node.h"

namespace attnscale {

void check_hyperparameter(std::string_view where, std::string_view name, double value, double low, double high,
                          bool high_inclusive) {
  const bool ok = low <= value && (high_inclusive ? value <= high : value < high);  // false for NaN
  if (high == std::numeric_limits<double>::max())
    ATTNSCALE_CHECK(ok, where, "{} = {} must be finite and >= {}", name, value, low);
  ATTNSCALE_CHECK(ok, where, "{} = {} must be in [{}, {}{}", name, value, low, high, high_inclusive ? "]" : ")");
}

Optimizer::Optimizer(std::vector<NamedTensor> params, double lr, std::string name, std::string family,
                     std::vector<std::string> slots)
    : params_(std::move(params)), slots_(std::move(slots)), name_(std::move(name)), family_(std::move(family)) {
  check_param_list(params_, name_);
  set_lr(lr);
  states_.reserve(params_.size());
  for (const NamedTensor& p : params_) {
    ParamState state{Tensor::zeros({}, DType::i64), {}};
    for (size_t k = 0; k < slots_.size(); ++k)
      state.buffers.push_back(Tensor::zeros(p.tensor.shape(), p.tensor.dtype(), p.tensor.device()));
    states_.push_back(std::move(state));
  }
}

void Optimizer::set_lr(double lr) {
  check_hyperparameter(name_, "lr", lr, 0, std::numeric_limits<double>::max());
  lr_ = lr;
}

void Optimizer::step() {
  autograd::NoGradGuard no_grad;
  // Check every gradient before touching any parameter, so a bad one cannot leave a half-applied step.
  std::vector<Tensor> grads(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const NamedTensor& p = params_[i];
    const Tensor grad = p.tensor.grad();
    if (!grad.defined()) continue;
    ATTNSCALE_CHECK(grad.dtype() == p.tensor.dtype() && grad.shape() == p.tensor.shape(), name_,
                    "gradient of '{}' is {} {} but the parameter is {} {}", p.name, dtype_name(grad.dtype()),
                    shape_str(grad.shape()), dtype_name(p.tensor.dtype()), shape_str(p.tensor.shape()));
    ATTNSCALE_CHECK(grad.device() == p.tensor.device(), name_, "gradient of '{}' is on {} but the parameter is on {}",
                    p.name, grad.device().str(), p.tensor.device().str());
    grads[i] = grad.contiguous();
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!grads[i].defined()) continue;
    ParamState& state = states_[i];
    int64_t& count = *state.step.data<int64_t>();
    ++count;
    update(i, grads[i], count, state.buffers);
  }
}

void Optimizer::zero_grad() {
  for (const NamedTensor& p : params_) p.tensor.zero_grad();
}

std::vector<NamedTensor> Optimizer::state() const {
  std::vector<NamedTensor> out;
  out.reserve(params_.size() * (1 + slots_.size()));
  for (size_t i = 0; i < params_.size(); ++i) {
    out.push_back({family_ + ".step/" + params_[i].name, states_[i].step});
    for (size_t k = 0; k < slots_.size(); ++k)
      out.push_back({family_ + "." + slots_[k] + "/" + params_[i].name, states_[i].buffers[k]});
  }
  return out;
}

void Optimizer::load_state(std::span<const NamedTensor> saved) {
  const auto fail = [&](const std::string& message) {
    throw CheckpointError(fmt::format("[{}] cannot load optimizer state: {}", name_, message));
  };
  std::unordered_map<std::string_view, const Tensor*> saved_by_name;
  for (const NamedTensor& s : saved)
    if (!saved_by_name.emplace(s.name, &s.tensor).second) fail(fmt::format("'{}' appears twice", s.name));

  // Validate everything first, so a failed load leaves the state untouched.
  const std::vector<NamedTensor> live = state();
  std::unordered_set<std::string_view> expected;
  std::vector<const Tensor*> sources;
  sources.reserve(live.size());
  for (const NamedTensor& target : live) {
    expected.insert(target.name);
    const auto it = saved_by_name.find(target.name);
    if (it == saved_by_name.end()) fail(fmt::format("'{}' is missing", target.name));
    const Tensor& source = *it->second;
    if (!source.defined()) fail(fmt::format("'{}' is an undefined tensor", target.name));
    if (source.dtype() != target.tensor.dtype() || source.shape() != target.tensor.shape())
      fail(fmt::format("'{}' is {} {}, expected {} {}", target.name, dtype_name(source.dtype()),
                       shape_str(source.shape()), dtype_name(target.tensor.dtype()),
                       shape_str(target.tensor.shape())));
    if (source.dtype() == DType::i64 && source.item() < 0)
      fail(fmt::format("'{}' is a negative step count ({})", target.name, source.item()));
    sources.push_back(&source);
  }
  for (const NamedTensor& s : saved)
    if (!expected.contains(s.name))
      fail(fmt::format("'{}' is not state of this {} optimizer (parameters or optimizer differ)", s.name, name_));

  autograd::NoGradGuard no_grad;
  for (size_t k = 0; k < live.size(); ++k) {
    Tensor target = live[k].tensor;
    target.copy_(*sources[k]);
  }
}

}  // namespace attnscale
