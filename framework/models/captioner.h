// The captioning decoder of Lu et al. 2017 (arXiv:1612.01887, section 2) over feature regions:
//   v_i = ReLU(W_a a_i), v_g = ReLU(W_b mean_i a_i)            (region and global image features)
//   x_t = [w_t; v_g], (h_t, m_t) = LSTM(x_t, h_{t-1}, m_{t-1})
//   s_t = visual sentinel of (x_t, h_{t-1}, m_t)
//   c_hat_t = adaptive attention over v_1..v_k and s_t (attention/sentinel.h)
//   p_t = softmax(W_p (c_hat_t + h_t))
// With sentinel = false the attention is plain soft attention over the regions (their "spatial
// attention" baseline), so the two can be compared on the same data.
#pragma once

#include <memory>

#include "framework/attention/sentinel.h"
#include "framework/models/lstm_cell.h"
#include "framework/nn/layers.h"

namespace attnscale::models {

struct CaptionerOptions {
  int64_t vocab_size = 16;
  int64_t feature_size = 16;  // width of a region feature a_i
  int64_t hidden = 64;        // d: word embedding, LSTM, region and attention width
  bool sentinel = true;
  bool global_feature = true;  // false: x_t = [w_t; 0], the image reaches the words only through attention
};

struct CaptionerOutput {
  Tensor logits;  // [B, T, vocab]
  Tensor alpha;   // [B, T, k]: attention over the regions
  Tensor beta;    // [B, T]: sentinel gate (zeros without a sentinel)
};

class Captioner : public nn::Module {
 public:
  Captioner(const CaptionerOptions& options, Generator& gen, DType dtype = DType::f32);

  // features [B, k, feature_size], inputs int64 [B, T] (teacher forcing).
  CaptionerOutput forward(const Tensor& features, const Tensor& inputs) const;
  // Greedy captions of `steps` words from bos (no gradient): int64 [B, steps], and their gates.
  CaptionerOutput generate(const Tensor& features, int64_t bos, int64_t steps) const;

  const CaptionerOptions& options() const { return options_; }

 private:
  struct Image {
    Tensor regions, projected, global;  // [B, k, d], [B, k, d], [B, d]
  };
  struct Step {
    LstmState state;
    Tensor logits, alpha, beta;  // [B, vocab], [B, k], [B]
  };
  Image encode(const Tensor& features) const;
  Step step(const Image& image, const Tensor& words, const LstmState& state) const;
  static CaptionerOutput stack_steps(const std::vector<Step>& steps);

  CaptionerOptions options_;
  std::shared_ptr<nn::Embedding> embed_;
  std::shared_ptr<nn::Linear> region_proj_, global_proj_, out_proj_;
  std::shared_ptr<LstmCell> lstm_;
  std::shared_ptr<attention::VisualSentinel> sentinel_;
  std::shared_ptr<attention::SentinelAttention> attention_;
};

}  // namespace attnscale::models
