// Each optimizer, driven by an LR schedule, minimises a small ill-conditioned quadratic
// f(p) = 0.5 * sum(a * (p - c)^2) whose minimum is p = c.
#include "tests/optim/optim_test_util.h"
#include "framework/optim/clip_grad.h"
#include "framework/optim/lr_schedule.h"

namespace attnscale::optim_test {
namespace {

struct Problem {
  Tensor p, a, c;
  double loss() const { return sum(mul(mul(a, square(sub(p, c))), 0.5)).item(); }
};

Problem make_problem() {
  Generator gen(21);
  return {Tensor::zeros({16}).set_requires_grad(), Tensor::rand({16}, gen, DType::f32, 0.5, 4.0),
          Tensor::rand({16}, gen, DType::f32, -2.0, 2.0)};
}

// Runs `steps` updates with a warm-up + cosine schedule and clipping; returns max |p - c|.
double minimise(Problem& problem, Optimizer& opt, double base_lr, int64_t steps) {
  const LrSchedule schedule({.base_lr = base_lr, .decay = LrDecay::cosine, .warmup_steps = 10, .total_steps = steps,
                             .min_lr_ratio = 0.0});
  const std::vector<NamedTensor> params{{"p", problem.p}};
  for (int64_t t = 1; t <= steps; ++t) {
    opt.zero_grad();
    sum(mul(mul(problem.a, square(sub(problem.p, problem.c))), 0.5)).backward();
    clip_grad_norm(params, 10.0);
    opt.set_lr(schedule.lr(t));
    opt.step();
  }
  return max(abs(sub(problem.p, problem.c)), 0).item();
}

TEST(Convergence, EveryOptimizerMinimisesAQuadratic) {
  struct Case {
    std::string name;
    std::function<std::unique_ptr<Optimizer>(std::vector<NamedTensor>)> make;
    double base_lr;
    double tolerance;  // on max |p - c|
  };
  const auto sgd = [](double momentum, bool nesterov, double wd) {
    return [=](std::vector<NamedTensor> p) -> std::unique_ptr<Optimizer> {
      return std::make_unique<Sgd>(std::move(p), SgdOptions{.lr = 0, .momentum = momentum, .dampening = 0,
                                                            .weight_decay = wd, .nesterov = nesterov});
    };
  };
  const auto adam = [](bool decoupled, double wd) {
    return [=](std::vector<NamedTensor> p) -> std::unique_ptr<Optimizer> {
      AdamOptions o;
      o.weight_decay = wd;
      if (decoupled) return std::make_unique<AdamW>(std::move(p), o);
      return std::make_unique<Adam>(std::move(p), o);
    };
  };
  const std::vector<Case> cases{
      {"sgd", sgd(0, false, 0), 0.3, 1e-4},
      {"sgd_momentum", sgd(0.9, false, 0), 0.05, 1e-4},
      {"sgd_nesterov", sgd(0.9, true, 0), 0.05, 1e-4},
      {"adam", adam(false, 0), 0.1, 1e-4},
      {"adamw", adam(true, 1e-4), 0.1, 1e-3},
  };
  for (const Case& c : cases) {
    Problem problem = make_problem();
    const double initial_loss = problem.loss();
    auto opt = c.make({{"p", problem.p}});
    const double error = minimise(problem, *opt, c.base_lr, 300);
    EXPECT_LT(error, c.tolerance) << c.name << ": max |p - c| = " << error;
    EXPECT_LT(problem.loss(), 1e-6 * initial_loss) << c.name;
  }
}

}  // namespace
}  // namespace attnscale::optim_test
