// Optimizer state: names, save/restore giving bit-identical continued trajectories, and the
// errors of load_state and of the parameter list.
#include "tests/optim/optim_test_util.h"

namespace attnscale::optim_test {
namespace {

std::vector<NamedTensor> snapshot(const std::vector<NamedTensor>& tensors) {
  std::vector<NamedTensor> out;
  for (const auto& t : tensors) out.push_back({t.name, t.tensor.clone()});
  return out;
}

std::vector<std::string> names_of(const std::vector<NamedTensor>& tensors) {
  std::vector<std::string> out;
  for (const auto& t : tensors) out.push_back(t.name);
  return out;
}

template <typename T>
std::vector<T> values_of(const std::vector<NamedTensor>& tensors) {
  std::vector<T> out;
  for (const auto& t : tensors) {
    const auto v = t.tensor.to_vector<T>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Save after 3 updates, run 3 more; restore the saved parameters and state into a new optimizer
// and run the same 3: parameters and state must be bit-identical (float32 compared as float32).
TEST(OptimizerState, RestoreGivesBitIdenticalContinuation) {
  const auto reference = load_reference();
  for (const DType dtype : {DType::f32, DType::f64}) {
    for (const auto& expected : reference.at("cases")) {
      const auto& c = expected.at("case");
      const std::string label = c.at("name").get<std::string>() + " " + std::string(dtype_name(dtype));
      const auto params = make_reference_params(reference, dtype);
      auto opt = make_optimizer(c, named(params));
      run_reference_steps(*opt, params, c, 1, 3);
      const auto saved_params = snapshot(named(params));
      const auto saved_state = snapshot(opt->state());
      run_reference_steps(*opt, params, c, 4, 3);

      auto resumed_params = make_reference_params(reference, dtype);
      for (size_t i = 0; i < resumed_params.size(); ++i) resumed_params[i].param.copy_(saved_params[i].tensor);
      auto resumed = make_optimizer(c, named(resumed_params));
      resumed->load_state(saved_state);
      EXPECT_EQ(values_of<double>(resumed->state()), values_of<double>(saved_state)) << label;
      run_reference_steps(*resumed, resumed_params, c, 4, 3);

      if (dtype == DType::f32) {
        EXPECT_EQ(values_of<float>(named(resumed_params)), values_of<float>(named(params))) << label;
        EXPECT_EQ(values_of<float>(resumed->state()), values_of<float>(opt->state())) << label;
      } else {
        EXPECT_EQ(values_of<double>(named(resumed_params)), values_of<double>(named(params))) << label;
        EXPECT_EQ(values_of<double>(resumed->state()), values_of<double>(opt->state())) << label;
      }
      // The continuation must have moved the parameters, or the comparison above proves nothing.
      EXPECT_NE(values_of<double>(named(params)), values_of<double>(saved_params)) << label;
    }
  }
}

TEST(OptimizerState, NamesPerFamily) {
  const auto reference = load_reference();
  const auto params = make_reference_params(reference, DType::f32);
  EXPECT_EQ(names_of(Adam(named(params), {}).state()),
            (std::vector<std::string>{"adam.step/layer.weight", "adam.m/layer.weight", "adam.v/layer.weight",
                                      "adam.step/layer.bias", "adam.m/layer.bias", "adam.v/layer.bias"}));
  EXPECT_EQ(names_of(AdamW(named(params), {}).state()), names_of(Adam(named(params), {}).state()));
  EXPECT_EQ(names_of(Sgd(named(params), {.lr = 0.1, .momentum = 0.9, .dampening = 0, .weight_decay = 0,
                                         .nesterov = false})
                         .state()),
            (std::vector<std::string>{"sgd.step/layer.weight", "sgd.momentum/layer.weight", "sgd.step/layer.bias",
                                      "sgd.momentum/layer.bias"}));
  EXPECT_EQ(names_of(Sgd(named(params), SgdOptions{}).state()),
            (std::vector<std::string>{"sgd.step/layer.weight", "sgd.step/layer.bias"}));
  // Allocated up front with the parameter's shape and dtype.
  const auto state = Adam(named(params), {}).state();
  EXPECT_EQ(state[1].tensor.shape(), (Shape{2, 3}));
  EXPECT_EQ(state[1].tensor.dtype(), DType::f32);
  EXPECT_EQ(state[0].tensor.dtype(), DType::i64);
  EXPECT_EQ(state[0].tensor.item(), 0.0);
}

TEST(OptimizerState, StepCountsSkipParametersWithoutGradient) {
  const auto reference = load_reference();
  const auto params = make_reference_params(reference, DType::f64);
  Adam opt(named(params), {});
  compute_gradients(params);
  opt.step();
  opt.zero_grad();
  EXPECT_FALSE(params[0].param.grad().defined());
  compute_gradients(params, {"layer.bias"});
  const auto bias_before = params[1].param.to_vector<double>();
  opt.step();
  EXPECT_EQ(opt.state()[0].tensor.item(), 2.0);  // adam.step/layer.weight
  EXPECT_EQ(opt.state()[3].tensor.item(), 1.0);  // adam.step/layer.bias
  EXPECT_EQ(params[1].param.to_vector<double>(), bias_before);
  // The update itself recorded nothing.
  EXPECT_FALSE(params[0].param.grad_fn());
  EXPECT_TRUE(params[0].param.requires_grad());
}

TEST(OptimizerState, LoadStateErrorsNameTheMismatchAndChangeNothing) {
  const auto reference = load_reference();
  const auto params = make_reference_params(reference, DType::f64);
  Adam opt(named(params), {});
  compute_gradients(params);
  opt.step();
  const auto before = values_of<double>(opt.state());

  auto missing = snapshot(opt.state());
  missing.erase(missing.begin() + 4);  // adam.m/layer.bias
  std::string msg = error_of([&] { opt.load_state(missing); });
  EXPECT_NE(msg.find("'adam.m/layer.bias' is missing"), std::string::npos) << msg;

  auto wrong_shape = snapshot(opt.state());
  wrong_shape[2].tensor = Tensor::zeros({3, 2}, DType::f64);  // adam.v/layer.weight
  // Earlier entries are valid: a failure must not leave them half-loaded.
  wrong_shape[1].tensor.fill_(42.0);
  msg = error_of([&] { opt.load_state(wrong_shape); });
  EXPECT_NE(msg.find("'adam.v/layer.weight' is float64 [3, 2], expected float64 [2, 3]"), std::string::npos) << msg;

  auto wrong_dtype = snapshot(opt.state());
  wrong_dtype[1].tensor = wrong_dtype[1].tensor.to(DType::f32);
  msg = error_of([&] { opt.load_state(wrong_dtype); });
  EXPECT_NE(msg.find("'adam.m/layer.weight' is float32"), std::string::npos) << msg;

  auto extra = snapshot(opt.state());
  extra.push_back({"adam.m/layer.gone", Tensor::zeros({1}, DType::f64)});
  msg = error_of([&] { opt.load_state(extra); });
  EXPECT_NE(msg.find("'adam.m/layer.gone' is not state of this adam optimizer"), std::string::npos) << msg;

  auto negative = snapshot(opt.state());
  negative[0].tensor.fill_(-1);
  msg = error_of([&] { opt.load_state(negative); });
  EXPECT_NE(msg.find("negative step count"), std::string::npos) << msg;

  // SGD state into Adam: every name differs.
  Sgd sgd(named(make_reference_params(reference, DType::f64)), SgdOptions{});
  msg = error_of([&] { opt.load_state(sgd.state()); });
  EXPECT_NE(msg.find("'adam.step/layer.weight' is missing"), std::string::npos) << msg;

  EXPECT_EQ(values_of<double>(opt.state()), before);
  EXPECT_THROW(opt.load_state(missing), CheckpointError);
}

TEST(OptimizerState, LoadStateIntoItselfIsANoOp) {
  const auto reference = load_reference();
  const auto params = make_reference_params(reference, DType::f32);
  AdamW opt(named(params), {});
  compute_gradients(params);
  opt.step();
  const auto before = values_of<float>(opt.state());
  opt.load_state(opt.state());
  EXPECT_EQ(values_of<float>(opt.state()), before);
}

TEST(ParamList, RejectsWhatCannotBeUpdated) {
  const Tensor w = Tensor::zeros({2, 3}).set_requires_grad();
  const Tensor b = Tensor::zeros({3}).set_requires_grad();
  const auto build = [](std::vector<NamedTensor> p) { return error_of([&] { Adam(std::move(p), {}); }); };
  std::string msg = build({{"w", w}, {"w", b}});
  EXPECT_NE(msg.find("[adam] parameter name 'w' appears twice"), std::string::npos) << msg;
  msg = build({{"w", w}, {"w_again", w}});
  EXPECT_NE(msg.find("parameters 'w' and 'w_again' share memory"), std::string::npos) << msg;
  const Tensor storage = Tensor::zeros({10});
  msg = build({{"first", narrow(storage, 0, 0, 6)}, {"second", narrow(storage, 0, 5, 5)}});
  EXPECT_NE(msg.find("parameters 'first' and 'second' share memory"), std::string::npos) << msg;
  EXPECT_EQ(build({{"first", narrow(storage, 0, 0, 5)}, {"second", narrow(storage, 0, 5, 5)}}), "(no error)");
  msg = build({{"wt", transpose(w, 0, 1)}});
  EXPECT_NE(msg.find("parameter 'wt' (shape [3, 2]) is not contiguous"), std::string::npos) << msg;
  msg = build({{"ids", Tensor::zeros({3}, DType::i64)}});
  EXPECT_NE(msg.find("parameter 'ids' is int64"), std::string::npos) << msg;
  msg = build({{"", w}});
  EXPECT_NE(msg.find("parameter 0 has an empty name"), std::string::npos) << msg;
  msg = build({{"undefined", Tensor()}});
  EXPECT_NE(msg.find("parameter 'undefined' is an undefined tensor"), std::string::npos) << msg;
}

TEST(Hyperparameters, OutOfRangeValuesAreUsageErrors) {
  const std::vector<NamedTensor> p{{"w", Tensor::zeros({2}).set_requires_grad()}};
  AdamOptions bad_beta;
  bad_beta.beta1 = 1.0;
  std::string msg = error_of([&] { Adam(p, bad_beta); });
  EXPECT_NE(msg.find("[adam] beta1 = 1 must be in [0, 1)"), std::string::npos) << msg;
  AdamOptions bad_wd;
  bad_wd.weight_decay = -0.1;
  msg = error_of([&] { AdamW(p, bad_wd); });
  EXPECT_NE(msg.find("[adamw] weight_decay = -0.1 must be finite and >= 0"), std::string::npos) << msg;
  msg = error_of([&] { Sgd(p, {.lr = 0.1, .momentum = 0, .dampening = 0, .weight_decay = 0, .nesterov = true}); });
  EXPECT_NE(msg.find("[sgd] nesterov momentum needs momentum > 0"), std::string::npos) << msg;
  msg = error_of([&] { Sgd(p, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0, .nesterov = true}); });
  EXPECT_NE(msg.find("dampening = 0"), std::string::npos) << msg;
  Sgd sgd(p, SgdOptions{});
  EXPECT_THROW(sgd.set_lr(-1e-3), UsageError);
  EXPECT_THROW(sgd.set_lr(std::nan("")), UsageError);
  EXPECT_EQ(sgd.lr(), 1e-3);
  sgd.set_lr(0.25);
  EXPECT_EQ(sgd.lr(), 0.25);
  // PyTorch's weight-decay defaults when unset.
  EXPECT_EQ(Adam(p, {}).weight_decay(), 0.0);
  EXPECT_EQ(AdamW(p, {}).weight_decay(), 1e-2);
}

TEST(OptimizerStep, BadGradientIsReportedBeforeAnyParameterChanges) {
  const Tensor first = Tensor::zeros({2}, DType::f32).set_requires_grad();
  const Tensor w = Tensor::zeros({2, 3}, DType::f32).set_requires_grad();
  Sgd sgd({{"first", first}, {"w", w}}, SgdOptions{});
  first.set_grad(Tensor::ones({2}, DType::f32));
  w.set_grad(Tensor::zeros({2, 3}, DType::f64));
  const std::string msg = error_of([&] { sgd.step(); });
  EXPECT_NE(msg.find("[sgd] gradient of 'w' is float64 [2, 3] but the parameter is float32 [2, 3]"),
            std::string::npos)
      << msg;
  EXPECT_EQ(first.to_vector<float>(), (std::vector<float>{0, 0}));
  EXPECT_EQ(sgd.state()[0].tensor.item(), 0.0);  // sgd.step/first
}

TEST(ParamList, FingerprintCoversNamesShapesDtypesAndOrder) {
  const auto list = [](const std::string& name, Shape shape, DType dtype, double value) {
    return std::vector<NamedTensor>{{"embed", Tensor::full({8, 4}, value)}, {name, Tensor::full(shape, value, dtype)}};
  };
  const uint64_t base = param_list_fingerprint(list("head.weight", {4, 2}, DType::f32, 0.0));
  EXPECT_EQ(base, param_list_fingerprint(list("head.weight", {4, 2}, DType::f32, 1.0)));  // values do not count
  EXPECT_NE(base, param_list_fingerprint(list("head.bias", {4, 2}, DType::f32, 0.0)));
  EXPECT_NE(base, param_list_fingerprint(list("head.weight", {2, 4}, DType::f32, 0.0)));
  EXPECT_NE(base, param_list_fingerprint(list("head.weight", {8}, DType::f32, 0.0)));
  EXPECT_NE(base, param_list_fingerprint(list("head.weight", {4, 2}, DType::f64, 0.0)));
  auto swapped = list("head.weight", {4, 2}, DType::f32, 0.0);
  std::swap(swapped[0], swapped[1]);
  EXPECT_NE(base, param_list_fingerprint(swapped));
  EXPECT_EQ(total_numel(swapped), 40);
}

TEST(OptimizerStep, StridedGradientGivesTheSameUpdate) {
  Generator gen(3);
  const Tensor g = Tensor::randn({3, 2}, gen, DType::f64);
  const Tensor a = Tensor::ones({2, 3}, DType::f64).set_requires_grad();
  const Tensor b = Tensor::ones({2, 3}, DType::f64).set_requires_grad();
  Adam opt_a({{"p", a}}, {}), opt_b({{"p", b}}, {});
  a.set_grad(transpose(g, 0, 1));               // a strided view
  b.set_grad(transpose(g, 0, 1).contiguous());  // the same values, contiguous
  opt_a.step();
  opt_b.step();
  EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>());
  EXPECT_NE(a.to_vector<double>(), Tensor::ones({2, 3}, DType::f64).to_vector<double>());
}

}  // namespace
}  // namespace attnscale::optim_test
