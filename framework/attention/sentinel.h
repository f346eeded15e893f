// Adaptive attention with a visual sentinel (Lu, Xiong, Parikh & Socher 2017, "Knowing When to
// Look", arXiv:1612.01887, section 2.3): a captioning decoder decides at every word how much to
// look at the image regions and how much to rely on what its language model already knows.
//   sentinel   g_t = sigmoid(W_x x_t + W_h h_{t-1}),  s_t = g_t * tanh(m_t)        (eq. 9-10)
//   regions    z_t = w_h^T tanh(W_v V + (W_g h_t) 1^T)                            (eq. 6)
//   gate       alpha_hat_t = softmax([z_t; w_h^T tanh(W_s s_t + W_g h_t)]),
//              beta_t = alpha_hat_t[k + 1]                                        (eq. 12)
//   context    c_hat_t = beta_t s_t + (1 - beta_t) c_t,  c_t = sum_i softmax(z_t)_i v_i  (eq. 11)
// beta_t near 1 means "do not look" (non-visual words); near 0, attend to the regions.
#pragma once

#include <memory>

#include "framework/nn/layers.h"

namespace attnscale::attention {

// s_t from the decoder's input x_t, previous hidden state h_{t-1} and memory cell m_t.
class VisualSentinel : public nn::Module {
 public:
  VisualSentinel(int64_t input_size, int64_t hidden_size, Generator& gen, DType dtype = DType::f32);
  // x [B, input_size], h_prev [B, hidden], cell [B, hidden] -> s [B, hidden].
  Tensor forward(const Tensor& x, const Tensor& h_prev, const Tensor& cell) const;

 private:
  std::shared_ptr<nn::Linear> w_x_, w_h_;
};

class SentinelAttention : public nn::Module {
 public:
  // Regions and states of width `hidden`; scores through an `attention_dim`-wide tanh layer.
  SentinelAttention(int64_t hidden, int64_t attention_dim, Generator& gen, DType dtype = DType::f32);

  struct Output {
    Tensor context;  // c_hat_t [B, hidden]
    Tensor alpha;    // softmax(z_t) over the regions [B, k]
    Tensor beta;     // sentinel gate [B]; zeros without a sentinel
  };
  // W_v V of the regions [B, k, hidden]: computed once per image, reused at every word.
  Tensor project_regions(const Tensor& regions) const;
  // regions [B, k, hidden] and their projection, h [B, hidden], sentinel [B, hidden] or undefined
  // (plain soft attention over the regions: c_hat_t = c_t).
  Output forward(const Tensor& regions, const Tensor& projected_regions, const Tensor& h, const Tensor& sentinel) const;

 private:
  int64_t hidden_;
  std::shared_ptr<nn::Linear> w_v_, w_g_, w_s_, w_h_;
};

}  // namespace attnscale::attention
