#include "framework/attention/make_source_attention.h"

#include "framework/attention/additive.h"
#include "framework/attention/global.h"
#include "framework/attention/soft.h"

namespace attnscale::attention {

std::string_view mechanism_name(SourceMechanism mechanism) {
  switch (mechanism) {
    case SourceMechanism::soft: return "soft";
    case SourceMechanism::hard: return "hard";
    case SourceMechanism::additive: return "additive";
    case SourceMechanism::global: return "global";
    case SourceMechanism::local: return "local";
  }
  return "?";
}

std::shared_ptr<SourceAttention> make_source_attention(const SourceAttentionOptions& options, int64_t query_dim,
                                                       int64_t key_dim, Generator& gen, DType dtype) {
  const int64_t attn_dim = options.attn_dim > 0 ? options.attn_dim : query_dim;
  const std::string_view name = mechanism_name(options.mechanism);
  switch (options.mechanism) {
    case SourceMechanism::soft:
      return std::make_shared<SoftAttention>(make_score(options.score, query_dim, key_dim, attn_dim, gen, dtype, name));
    case SourceMechanism::hard:
      return std::make_shared<HardAttention>(make_score(options.score, query_dim, key_dim, attn_dim, gen, dtype, name),
                                             options.hard, dtype);
    case SourceMechanism::additive:
      return std::make_shared<AdditiveAttention>(query_dim, key_dim, attn_dim, gen, dtype);
    case SourceMechanism::global:
      return std::make_shared<GlobalAttention>(options.score, query_dim, key_dim, attn_dim, gen, dtype);
    case SourceMechanism::local:
      return std::make_shared<LocalAttention>(options.score, query_dim, key_dim, attn_dim, options.local, gen, dtype);
  }
  throw UsageError("[attention] unknown encoder-decoder mechanism");
}

}  // namespace attnscale::attention
