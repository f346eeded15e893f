#include "framework/models/han.h"

#include "distributed/comm/communicator.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::models {

HAN::HAN(const HANOptions& o, Generator& gen, DType dtype) : options_(o), dtype_(dtype) {
  ATTNSCALE_CHECK(o.vocab_size >= 2 && o.num_classes >= 2, "han", "vocab_size ({}) and num_classes ({}) must be >= 2",
                  o.vocab_size, o.num_classes);
  ATTNSCALE_CHECK(o.embed_dim > 0 && o.hidden_size > 0 && o.attn_dim > 0, "han",
                  "embed_dim ({}), hidden_size ({}) and attn_dim ({}) must be positive", o.embed_dim, o.hidden_size,
                  o.attn_dim);
  ATTNSCALE_CHECK(o.dropout >= 0 && o.dropout < 1, "han", "dropout must lie in [0, 1), got {}", o.dropout);
  const int64_t annotation = 2 * o.hidden_size;
  embed_ = register_module("embed", std::make_shared<nn::Embedding>(o.vocab_size, o.embed_dim, gen, 1.0, dtype));
  word_encoder_ = register_module(
      "word_encoder", std::make_shared<nn::GRU>(nn::GRUOptions{o.embed_dim, o.hidden_size, 1, true}, gen, dtype));
  word_pooling_ = register_module(
      "word_pooling", std::make_shared<attention::AttentionPooling>(annotation, o.attn_dim, o.pooling, gen, dtype));
  if (o.sentence_encoder == SentenceEncoderKind::gru)
    sentence_encoder_ = register_module(
        "sentence_encoder",
        std::make_shared<nn::GRU>(nn::GRUOptions{annotation, o.hidden_size, 1, true}, gen, dtype));
  if (o.sentence_encoder == SentenceEncoderKind::transformer)
    sentence_transformer_ = register_module(
        "sentence_encoder",
        std::make_shared<SentenceTransformer>(
            SentenceTransformerOptions{annotation, o.sentence_heads, o.sentence_layers}, gen, dtype));
  sentence_pooling_ = register_module(
      "sentence_pooling", std::make_shared<attention::AttentionPooling>(annotation, o.attn_dim, o.pooling, gen, dtype));
  classifier_ = register_module("classifier", std::make_shared<nn::Linear>(annotation, o.num_classes, true, gen, dtype));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(o.dropout));
}

Tensor HAN::sentence_vectors(const HANInput& batch, Generator& gen) const {
  const int64_t annotation = 2 * options_.hidden_size;
  if (batch.words.shape()[0] == 0) return Tensor::zeros({0, annotation}, dtype_, device());  // this rank holds no sentence
  const Tensor embedded = dropout_->forward(embed_->forward(batch.words), gen);       // [N, W, E]
  const Tensor words = word_encoder_->forward(embedded, batch.word_lengths).outputs;  // [N, W, 2H]
  return word_pooling_->forward(words, batch.word_mask);                              // [N, 2H]
}

Tensor HAN::sentence_annotations(const HANInput& batch, Generator& gen, Communicator* sentence_group) const {
  const int64_t annotation = 2 * options_.hidden_size;
  // Sentence vectors into [B, S, 2H]: padding slots pick the appended zero row.
  const Tensor rows = concat({sentence_vectors(batch, gen), Tensor::zeros({1, annotation}, dtype_, device())}, 0);
  const Tensor grouped =
      reshape(index_select(rows, 0, batch.sentence_index), {batch.documents, batch.max_sentences, annotation});
  if (sentence_transformer_) return sentence_transformer_->forward(grouped, batch.sentence_mask, sentence_group);
  if (sentence_encoder_) return sentence_encoder_->forward(grouped, batch.sentence_lengths).outputs;
  return grouped;
}

Tensor HAN::forward(const HANInput& batch, Generator& word_gen, Generator& document_gen,
                    Communicator* sentence_group) const {
  const bool distributed = sentence_group != nullptr && sentence_group->size() > 1;
  Tensor document;
  if (!distributed) {
    document = sentence_pooling_->forward(sentence_annotations(batch, word_gen, nullptr), batch.sentence_mask);
  } else {
    ATTNSCALE_CHECK(!sentence_encoder_, "han",
                    "sentence_encoder gru cannot run with sentences spread over {} ranks (use transformer or none)",
                    sentence_group->size());
    ATTNSCALE_CHECK(options_.pooling != attention::PoolingKind::max, "han",
                    "pooling max cannot merge across {} ranks (use attention or average)", sentence_group->size());
    const attention::PooledState local =
        sentence_pooling_->partial(sentence_annotations(batch, word_gen, sentence_group), batch.sentence_mask);
    document = attention::merge_pooled_states(local, *sentence_group);
  }
  return classifier_->forward(dropout_->forward(document, document_gen));
}

std::pair<Tensor, Tensor> HAN::attention_weights(const HANInput& batch) const {
  ATTNSCALE_CHECK(!training(), "han", "attention_weights reads an evaluation-mode model (call eval() first)");
  Generator no_dropout(0);  // evaluation mode draws nothing from it
  const Tensor words = word_encoder_->forward(embed_->forward(batch.words), batch.word_lengths).outputs;
  return {word_pooling_->weights(words, batch.word_mask),
          sentence_pooling_->weights(sentence_annotations(batch, no_dropout, nullptr), batch.sentence_mask)};
}

}  // namespace attnscale::models
