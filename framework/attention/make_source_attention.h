// Builds one of the encoder-decoder attention mechanisms from options: the one place that maps a
// mechanism name to its class.
#pragma once

#include <memory>
#include <string_view>

#include "framework/attention/hard.h"
#include "framework/attention/local.h"
#include "framework/attention/source_attention.h"

namespace attnscale::attention {

enum class SourceMechanism { soft, hard, additive, global, local };

std::string_view mechanism_name(SourceMechanism mechanism);

struct SourceAttentionOptions {
  SourceMechanism mechanism = SourceMechanism::global;
  ScoreKind score = ScoreKind::general;  // additive always uses the additive score
  int64_t attn_dim = 0;                  // hidden size of additive/concat scores and local-p's W_p; 0 = query size
  LocalOptions local;
  HardOptions hard;
};

// query_dim = decoder state size, key_dim = encoder state size.
std::shared_ptr<SourceAttention> make_source_attention(const SourceAttentionOptions& options, int64_t query_dim,
                                                       int64_t key_dim, Generator& gen, DType dtype = DType::f32);

}  // namespace attnscale::attention
