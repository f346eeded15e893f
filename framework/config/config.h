// The experiment configuration: one typed struct per YAML section, generated from the key tables
// below. Each key is declared once, as one line of its section's table:
//     KEY(type, name, default, range, "one-line description")
// and that line is all the loader, `attnscale config show|defaults|docs`, the overrides and
// configs/README.md read. Adding a key is adding a line (then regenerate the README:
// `build/bin/attnscale config docs --update configs/README.md`).
//
// Typical use (train/eval):
//   Config cfg = load_config("configs/quickstart.yaml", overrides);   // throws ConfigError
//   validate_world_size(cfg, world_size);                             // dp * cp == ranks
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "distributed/parallel_algo.h"
#include "framework/config/enum_names.h"
#include "kernels/attention_kernel.h"
#include "framework/config/range.h"

namespace attnscale {
namespace config {

// Enumerated settings; the YAML spelling is the enumerator's name (enum_names.h).
ATTNSCALE_CONFIG_ENUM(ModelType, transformer_lm, seq2seq, han, memn2n, temporal, encoder_decoder, captioner);
ATTNSCALE_CONFIG_ENUM(RunDevice, cpu, cuda);
ATTNSCALE_CONFIG_ENUM(ModelDType, fp32, bf16);
// attention.mechanism: a name of the mechanism registry (framework/train/mechanisms/registry.h),
// which owns the names; configs/mechanisms/<name>.yaml trains each. See "attention.mechanism" below.
struct MechanismName {
  MechanismName(std::string_view mechanism) : name(mechanism) {}  // NOLINT: written as a plain name
  MechanismName(const char* mechanism) : name(mechanism) {}       // NOLINT
  std::string name;
  friend bool operator==(const MechanismName&, const MechanismName&) = default;
};
inline std::string_view to_string(const MechanismName& mechanism) { return mechanism.name; }
ATTNSCALE_CONFIG_ENUM(AttentionImpl, plain, fused);
ATTNSCALE_CONFIG_ENUM(Mask, none, causal, window, block_sparse);
ATTNSCALE_CONFIG_ENUM(Normalizer, softmax, sparsemax);
ATTNSCALE_CONFIG_ENUM(SparsePattern, strided, fixed, longformer, bigbird);
ATTNSCALE_CONFIG_ENUM(Norm, layernorm, rmsnorm);
ATTNSCALE_CONFIG_ENUM(Task, associative_recall, copy, local_copy);
ATTNSCALE_CONFIG_ENUM(Optimizer, sgd, adam, adamw);
// model.type = encoder_decoder: target order of the synthetic translation task.
ATTNSCALE_CONFIG_ENUM(TranslationOrder, same, reversed);
ATTNSCALE_CONFIG_ENUM(Schedule, constant, cosine, linear, inverse_sqrt);
// parallel.algo: the one enum and name table of distributed/parallel_algo.h.
template <>
struct EnumNames<ParallelAlgo> {
  static constexpr auto values = kParallelAlgoNames;
};
// attention.kernel: the one enum and name table of kernels/attention_kernel.h.
template <>
struct EnumNames<kernels::AttentionKernel> {
  static constexpr auto values = kernels::kAttentionKernelNames;
};
ATTNSCALE_CONFIG_ENUM(Layout, contiguous, zigzag, striped);
ATTNSCALE_CONFIG_ENUM(LogLevel, trace, debug, info, warn, error, off);
ATTNSCALE_CONFIG_ENUM(ProgressMode, auto_, on, off);
// model.type = seq2seq (the seq2seq section).
ATTNSCALE_CONFIG_ENUM(Transduction, copy, reverse, sort);
ATTNSCALE_CONFIG_ENUM(AttentionScore, dot, general, concat, additive);
ATTNSCALE_CONFIG_ENUM(LocalMode, m, p);
ATTNSCALE_CONFIG_ENUM(HardEstimator, reinforce, straight_through);
// model.type = han (the han section).
ATTNSCALE_CONFIG_ENUM(HanPooling, attention, average, max);
ATTNSCALE_CONFIG_ENUM(SentenceEncoder, gru, none, transformer);
ATTNSCALE_CONFIG_ENUM(EvalSplit, validation, test);
// model.type = memn2n (the memn2n section).
ATTNSCALE_CONFIG_ENUM(BabiTask, single_fact, two_facts, three_facts);
ATTNSCALE_CONFIG_ENUM(WeightTying, adjacent, layerwise);
// model.type = temporal (the temporal section).
ATTNSCALE_CONFIG_ENUM(TemporalOutput, label, sequence);

}  // namespace config

// ---- the key tables -------------------------------------------------------------------------------
// Integers are std::int64_t, reals double. "0 = ..." marks a value that means "derive it"; the
// derived value comes from the helpers at the end of this file, never from a second rule elsewhere.

#define ATTNSCALE_RUN_KEYS(KEY)                                                                        \
  KEY(std::string, name, "quickstart", any_value, "run name (letters, digits, . _ -); the default run.dir is runs/<name>-<timestamp>") \
  KEY(std::string, dir, "", any_value, "run directory for config.yaml, metrics.jsonl, log.txt and checkpoints; empty = runs/<name>-<timestamp>") \
  KEY(std::int64_t, seed, 1234, at_least(0), "seed of every random stream (initialisation, data, dropout)") \
  KEY(config::RunDevice, device, config::RunDevice::cpu, any_value, "where tensors live and kernels run: cpu, or cuda (each rank takes GPU local_rank % GPUs on its node; transformer_lm and han only)") \
  KEY(bool, allow_tf32, false, any_value, "cuda: let cuBLAS GEMMs use TF32 tensor cores (faster, 10-bit mantissa inputs); false = full fp32")

#define ATTNSCALE_MODEL_KEYS(KEY)                                                                      \
  KEY(config::ModelType, type, config::ModelType::transformer_lm, any_value, "model family")          \
  KEY(std::int64_t, d_model, 128, at_least(1), "model width (embedding and residual stream size)")     \
  KEY(std::int64_t, n_layers, 2, at_least(1), "number of layers (blocks)")                             \
  KEY(std::int64_t, n_heads, 4, at_least(1), "query heads per attention layer; must divide d_model")   \
  KEY(std::int64_t, n_kv_heads, 0, at_least(0), "key/value heads (GQA/MQA), must divide n_heads; 0 = n_heads") \
  KEY(std::int64_t, d_ff, 0, at_least(0), "hidden width of the MLP; 0 = 4 * d_model")                 \
  KEY(std::int64_t, max_seq_len, 512, at_least(1), "longest sequence (in tokens) the model accepts")   \
  KEY(bool, activation_checkpointing, false, any_value, "transformer_lm: recompute each block's activations in the backward instead of storing them (memory of one block's activations instead of all, one more forward per step)") \
  KEY(double, dropout, 0.0, half_open(0, 1), "dropout probability")                                    \
  KEY(config::Norm, norm, config::Norm::layernorm, any_value, "normalisation layer")                  \
  KEY(double, rope_theta, 10000.0, greater_than(0), "base of the rotary position embedding frequencies") \
  KEY(bool, tie_embeddings, true, any_value, "share the input embedding with the output projection") \
  KEY(config::ModelDType, dtype, config::ModelDType::fp32, any_value, "parameter and activation storage: fp32, or bf16 (transformer_lm on the CPU: ops compute in float32 on bfloat16 tensors, the optimizer updates float32 master weights, checkpoints hold the masters)")

#define ATTNSCALE_ATTENTION_KEYS(KEY)                                                                  \
  KEY(config::MechanismName, mechanism, "multi_head", any_value, "attention mechanism (DESIGN.md section 4)") \
  KEY(config::AttentionImpl, impl, config::AttentionImpl::fused, any_value, "fused = blockwise kernel with online softmax; plain = reference built from ops") \
  KEY(kernels::AttentionKernel, kernel, kernels::AttentionKernel::auto_, any_value, "which fused kernel runs attention: own (ours, CPU and GPU), cudnn (cuDNN's fused attention: bf16/fp16 on sm_80+, masks it can express; needs model.dtype bf16, not built yet, so an error today) or auto (cudnn where it fits, own otherwise; logged once with the reason)") \
  KEY(config::Mask, mask, config::Mask::causal, any_value, "which query/key pairs may meet, in global positions") \
  KEY(std::int64_t, window, 256, at_least(0), "sliding window in keys per query (the query and window-1 before it); must be > 0 with mask=window") \
  KEY(std::int64_t, block_size, 64, at_least(1), "block size in tokens of block-sparse patterns")      \
  KEY(config::Normalizer, normalizer, config::Normalizer::softmax, any_value, "how scores become weights (transformer_lm and encoder_decoder; the other models do not read it)") \
  KEY(config::SparsePattern, sparse_pattern, config::SparsePattern::strided, any_value, "block-sparse pattern with mask=block_sparse") \
  KEY(std::int64_t, sparse_stride, 4, at_least(1), "strided/fixed patterns: the stride in blocks")       \
  KEY(std::int64_t, sparse_window, 1, at_least(0), "longformer/bigbird patterns: neighbour blocks on each side") \
  KEY(std::int64_t, sparse_global, 1, at_least(0), "longformer/bigbird patterns: leading global blocks (fixed: summary blocks per stride)") \
  KEY(std::int64_t, sparse_random, 1, at_least(0), "bigbird pattern: random key blocks per query block (seeded by run.seed)") \
  KEY(double, scale, 0.0, at_least(0), "score scale; 0 = 1/sqrt(head dimension)")

// attention.mechanism = multi_head_latent (DeepSeek-V2 MLA): the latent and head widths.
#define ATTNSCALE_MLA_KEYS(KEY)                                                                        \
  KEY(std::int64_t, kv_lora_rank, 64, at_least(1), "key/value latent width d_c; the decoding cache holds it and the rope key per token") \
  KEY(std::int64_t, q_lora_rank, 0, at_least(0), "query latent width; 0 = queries projected directly from model.d_model") \
  KEY(std::int64_t, qk_nope_head_dim, 32, at_least(1), "per-head query/key dimensions without rotation") \
  KEY(std::int64_t, qk_rope_head_dim, 16, at_least(2), "decoupled rotary query/key dimensions per head (even); one rope key is shared by all heads") \
  KEY(std::int64_t, v_head_dim, 32, at_least(1), "per-head value dimensions")

// attention.mechanism = adaptive with model.type = transformer_lm: adaptive attention span.
#define ATTNSCALE_ADAPTIVE_SPAN_KEYS(KEY)                                                              \
  KEY(std::int64_t, max_span, 64, at_least(1), "longest span in keys (the query included); keys beyond every head's current span are skipped") \
  KEY(double, ramp, 32.0, greater_than(0), "width R of the soft span mask's ramp, in tokens")          \
  KEY(double, init, 0.0, in_range(0, 1), "initial span of every head, as a fraction of max_span")      \
  KEY(double, penalty, 2e-6, at_least(0), "span penalty: (penalty / heads) * sum of spans (in tokens) joins the loss")

// model.type = encoder_decoder: the Transformer encoder-decoder (cross-attention) and its
// synthetic translation task. Decoder blocks are model.n_layers; the vocabulary is data.vocab_size.
#define ATTNSCALE_ENCODER_DECODER_KEYS(KEY)                                                            \
  KEY(std::int64_t, encoder_layers, 0, at_least(0), "encoder blocks; 0 = model.n_layers")             \
  KEY(config::TranslationOrder, order, config::TranslationOrder::reversed, any_value, "target = the source mapped word by word through a fixed random dictionary, in the same or the reversed order") \
  KEY(std::int64_t, min_len, 4, at_least(1), "shortest source sentence (lengths vary; batches are padded)") \
  KEY(std::int64_t, max_len, 12, at_least(1), "longest source sentence; on a pair corpus (data.path), pairs with more subword tokens on either side are left out")

// model.type = captioner: the captioning decoder with the visual sentinel (attention.mechanism =
// adaptive) over synthetic feature regions. The LSTM width is model.d_model.
#define ATTNSCALE_CAPTIONER_KEYS(KEY)                                                                  \
  KEY(std::int64_t, regions, 6, at_least(2), "feature regions per synthetic image")                    \
  KEY(std::int64_t, classes, 8, at_least(2), "object classes; their names are the caption's visual words") \
  KEY(std::int64_t, objects, 3, at_least(1), "objects a caption names, most salient first; at most captioner.regions") \
  KEY(double, feature_noise, 0.5, at_least(0), "standard deviation of the noise on every region feature") \
  KEY(bool, sentinel, true, any_value, "visual sentinel gate (Lu et al. 2017); false = soft attention over the regions only") \
  KEY(bool, global_feature, true, any_value, "the global image feature joins the decoder input (the paper); false = the image reaches the words only through attention")

#define ATTNSCALE_DATA_KEYS(KEY)                                                                       \
  KEY(config::Task, task, config::Task::associative_recall, any_value, "synthetic task generated on the fly when data.path is empty") \
  KEY(std::int64_t, seq_len, 128, at_least(1), "tokens per training sequence; at most model.max_seq_len") \
  KEY(std::int64_t, batch_size, 16, at_least(1), "sequences per optimizer step over all data-parallel ranks and accumulation steps") \
  KEY(std::int64_t, vocab_size, 32, at_least(2), "vocabulary size (tokens of the synthetic task)")      \
  KEY(std::int64_t, num_pairs, 8, at_least(1), "associative_recall: key/value pairs shown before the queries") \
  KEY(std::int64_t, copy_span, 64, at_least(1), "local_copy: tokens per copied chunk; every scored prediction looks copy_span + 1 tokens back") \
  KEY(std::string, path, "", any_value, "dataset file; empty = the synthetic data.task (transformer_lm: a corpus from `attnscale prepare docs`, read as windows of tokens, or a ListOps file from `attnscale prepare listops`, classified at each example's last token; seq2seq and encoder_decoder: a pair corpus from `attnscale prepare pairs`, read a batch at a time, whose subword models set the vocabulary)") \
  KEY(bool, pack, false, any_value, "transformer_lm on a ListOps data.path: pack consecutive examples into each data.seq_len row (causal: an answer also sees earlier examples); false = one example a row, right-padded") \
  KEY(config::EvalSplit, eval_split, config::EvalSplit::validation, any_value, "transformer_lm, seq2seq and encoder_decoder on data.path: the split evaluations read (validation for selection, test once; han has its own han.eval_split)")

#define ATTNSCALE_OPTIM_KEYS(KEY)                                                                      \
  KEY(config::Optimizer, name, config::Optimizer::adamw, any_value, "optimizer")                      \
  KEY(double, lr, 3e-3, greater_than(0), "peak learning rate (reached after warm-up)")                 \
  KEY(double, weight_decay, 0.01, at_least(0), "weight decay (decoupled for adamw, L2 for sgd and adam)") \
  KEY(double, beta1, 0.9, half_open(0, 1), "Adam first-moment decay")                                  \
  KEY(double, beta2, 0.95, half_open(0, 1), "Adam second-moment decay")                                \
  KEY(double, eps, 1e-8, greater_than(0), "Adam denominator epsilon")                                  \
  KEY(double, momentum, 0.9, half_open(0, 1), "SGD momentum")                                          \
  KEY(bool, nesterov, false, any_value, "Nesterov momentum (sgd with momentum > 0 only)")              \
  KEY(double, grad_clip, 1.0, at_least(0), "clip the global gradient norm to this value; 0 = off")     \
  KEY(config::Schedule, schedule, config::Schedule::cosine, any_value, "learning-rate decay after the linear warm-up") \
  KEY(std::int64_t, warmup_steps, 50, at_least(0), "steps of linear warm-up from 0 to optim.lr")       \
  KEY(double, min_lr_ratio, 0.1, in_range(0, 1), "final learning rate of cosine and linear decay, as a fraction of optim.lr")

#define ATTNSCALE_TRAIN_KEYS(KEY)                                                                      \
  KEY(std::int64_t, steps, 500, at_least(1), "run length in optimizer steps")                          \
  KEY(std::string, resume, "none", any_value, "auto = newest valid checkpoint in checkpoint.dir, none = fresh start, otherwise a checkpoint path") \
  KEY(std::int64_t, log_every, 10, at_least(1), "steps between metrics records and progress lines")    \
  KEY(std::int64_t, eval_every, 0, at_least(0), "steps between evaluations; 0 = at the end only")       \
  KEY(std::int64_t, eval_batches, 4, at_least(1), "batches per evaluation")                            \
  KEY(std::int64_t, threads, 0, at_least(0), "compute threads per rank; 0 = cores / ranks on the node") \
  KEY(std::int64_t, accum_steps, 1, at_least(1), "micro-batches accumulated per optimizer step")         \
  KEY(std::int64_t, skip_nonfinite_steps, 0, at_least(0), "steps with a NaN/Inf loss or gradient skipped (no update, on every rank alike) before the run stops; 0 = stop at the first")

// model.type = seq2seq or encoder_decoder: how `attnscale eval` decodes the held-out set
// (train.eval_batches batches) to score BLEU (framework/train/translation_eval.h).
#define ATTNSCALE_EVAL_KEYS(KEY)                                                                       \
  KEY(std::int64_t, beam_size, 1, at_least(1), "seq2seq and encoder_decoder: beam width of the decoding `attnscale eval` scores with BLEU; 1 = greedy") \
  KEY(std::int64_t, max_len, 0, at_least(0), "tokens decoded at most per sentence, eos included; 0 = the task's longest target (its max_len + 1)") \
  KEY(double, length_penalty, 0.0, at_least(0), "alpha: the beam's finished hypotheses are ranked by log P / length^alpha (length counting eos); 0 = by log P") \
  KEY(std::string, hypotheses, "", any_value, "file `attnscale eval` writes the decoded hypotheses to, one a line in held-out order, with FILE.ref (references) and FILE.src (sources) beside it; empty = none")

#define ATTNSCALE_PARALLEL_KEYS(KEY)                                                                   \
  KEY(std::int64_t, dp, 0, at_least(0), "data-parallel degree; 0 = the job's ranks / cp (as Megatron and torchrun do); a value given must make dp * cp equal the number of ranks") \
  KEY(std::int64_t, cp, 1, at_least(1), "context-parallel degree: ranks that share one sequence")      \
  KEY(std::int64_t, ulysses, 1, at_least(1), "Ulysses (all-to-all) degree inside cp; must divide cp and model.n_heads") \
  KEY(ParallelAlgo, algo, ParallelAlgo::ring, any_value, "how attention runs over the cp ranks: ring (ulysses = 1), ulysses (ulysses = cp), hybrid, halo (attention.mask = window, contiguous layout), sparse_fetch (attention.mask = block_sparse), all_gather (every rank gathers the whole K/V; any normalizer) or auto (all_gather for sparsemax, else halo, sparse_fetch or ring from the mask and layout)") \
  KEY(config::Layout, layout, config::Layout::zigzag, any_value, "which sequence positions each cp rank holds") \
  KEY(double, timeout_s, 300.0, greater_than(0), "seconds a communication may wait before the run fails on every rank")

#define ATTNSCALE_CHECKPOINT_KEYS(KEY)                                                                 \
  KEY(std::int64_t, every, 0, at_least(0), "steps between checkpoints; 0 = off")                       \
  KEY(std::int64_t, keep, 3, at_least(1), "newest checkpoints kept; older ones are deleted")           \
  KEY(std::string, dir, "", any_value, "checkpoint directory; empty = checkpoints/ inside the run directory")

#define ATTNSCALE_LOGGING_KEYS(KEY)                                                                    \
  KEY(config::LogLevel, level, config::LogLevel::info, any_value, "lowest log level shown")           \
  KEY(config::ProgressMode, progress, config::ProgressMode::auto_, any_value, "live progress line: auto = on a terminal, plain lines otherwise; off = none") \
  KEY(bool, metrics, true, any_value, "write metrics.jsonl in the run directory")

// model.type = seq2seq: the RNN encoder-decoder, its attention (attention.mechanism = soft, hard,
// additive, global or local) and its synthetic transduction task. The hidden size is model.d_model,
// the layers model.n_layers, the vocabulary data.vocab_size.
#define ATTNSCALE_SEQ2SEQ_KEYS(KEY)                                                                    \
  KEY(config::Transduction, task, config::Transduction::reverse, any_value, "synthetic task: the target is the source copied, reversed or sorted") \
  KEY(std::int64_t, min_len, 3, at_least(1), "shortest source sequence (lengths vary per sequence; batches are padded)") \
  KEY(std::int64_t, max_len, 10, at_least(1), "longest source sequence; on a pair corpus (data.path), pairs with more subword tokens on either side are left out")                                \
  KEY(std::int64_t, embed_dim, 0, at_least(0), "token embedding size; 0 = model.d_model")               \
  KEY(bool, bidirectional, true, any_value, "bidirectional GRU encoder")                                \
  KEY(bool, input_feeding, true, any_value, "Luong input feeding: the previous attentional state joins the decoder input (soft, hard, global, local)") \
  KEY(config::AttentionScore, score, config::AttentionScore::general, any_value, "score of soft, hard, global and local attention (concat = additive; additive always uses additive)") \
  KEY(std::int64_t, attn_dim, 0, at_least(0), "hidden size of the additive/concat score and of local-p's W_p; 0 = model.d_model") \
  KEY(config::LocalMode, local_mode, config::LocalMode::p, any_value, "local attention: m = monotonic (p_t = t), p = predicted position with a Gaussian window") \
  KEY(std::int64_t, local_window, 2, at_least(1), "local attention half-width D: positions [p_t - D, p_t + D]") \
  KEY(double, local_sigma, 0.0, at_least(0), "local-p Gaussian standard deviation; 0 = local_window / 2") \
  KEY(config::HardEstimator, hard_estimator, config::HardEstimator::reinforce, any_value, "hard attention gradient: REINFORCE with baseline, or straight-through Gumbel-softmax") \
  KEY(double, entropy_bonus, 0.01, at_least(0), "hard attention: weight of the attention entropy subtracted from the loss") \
  KEY(double, baseline_decay, 0.9, half_open(0, 1), "hard attention (reinforce): decay of the moving-average reward baseline") \
  KEY(double, gumbel_temperature, 1.0, greater_than(0), "hard attention (straight_through): temperature of the relaxed weights")

// model.type = han: the Hierarchical Attention Network (Yang et al. 2016) on a document corpus
// (data.path, from `attnscale prepare docs`) or, with data.path empty, on a synthetic document task
// whose label is decided by one sentence. GRU hidden size per direction = model.d_model; the
// synthetic vocabulary = data.vocab_size; data.batch_size counts documents.
#define ATTNSCALE_HAN_KEYS(KEY)                                                                        \
  KEY(config::HanPooling, pooling, config::HanPooling::attention, any_value, "word and sentence pooling: attention (HN-ATT), average (HN-AVE) or max (HN-MAX)") \
  KEY(config::SentenceEncoder, sentence_encoder, config::SentenceEncoder::gru, any_value, "sentence encoder: bidirectional GRU (the paper), none, or transformer (pre-norm encoder layers over a document's sentences, no positions); with parallel.cp > 1 transformer or none (a GRU would serialise the ranks)") \
  KEY(std::int64_t, sentence_heads, 2, at_least(1), "transformer sentence encoder: attention heads; must divide the sentence vector size 2 * model.d_model") \
  KEY(std::int64_t, sentence_layers, 1, at_least(1), "transformer sentence encoder: encoder layers") \
  KEY(std::int64_t, embed_dim, 0, at_least(0), "word embedding size; 0 = model.d_model")               \
  KEY(std::int64_t, attn_dim, 0, at_least(0), "size of u_t and the context vectors; 0 = 2 * model.d_model") \
  KEY(std::int64_t, max_sentences, 0, at_least(0), "keep at most this many leading sentences of a document; 0 = all") \
  KEY(std::int64_t, max_words, 0, at_least(0), "keep at most this many leading words of a sentence; 0 = all") \
  KEY(std::int64_t, bucket_batches, 16, at_least(1), "batches per length bucket: documents of similar length are batched together within windows of this many batches") \
  KEY(config::EvalSplit, eval_split, config::EvalSplit::validation, any_value, "split the evaluation reads") \
  KEY(std::int64_t, num_classes, 4, at_least(2), "synthetic task: classes")                             \
  KEY(std::int64_t, train_docs, 2000, at_least(1), "synthetic task: training documents")                \
  KEY(std::int64_t, eval_docs, 256, at_least(1), "synthetic task: validation documents (and as many test documents)") \
  KEY(std::int64_t, synth_min_sentences, 3, at_least(1), "synthetic task: fewest sentences in a document")    \
  KEY(std::int64_t, synth_max_sentences, 8, at_least(1), "synthetic task: most sentences in a document") \
  KEY(std::int64_t, synth_min_words, 3, at_least(2), "synthetic task: fewest words in a sentence")           \
  KEY(std::int64_t, synth_max_words, 8, at_least(2), "synthetic task: most words in a sentence")
// model.type = memn2n: the End-To-End Memory Network (attention.mechanism = memory) on bAbI tasks
// 1-3: a prepared data set (data.path, `attnscale prepare babi`) or stories generated on the fly.
// The embedding size is model.d_model; the vocabulary is the task's own (data.vocab_size does not
// apply).
#define ATTNSCALE_MEMN2N_KEYS(KEY)                                                                     \
  KEY(config::BabiTask, task, config::BabiTask::single_fact, any_value, "bAbI task: single_fact (1, where is <actor>?), two_facts (2, where is <object>?), three_facts (3, where was <object> before <location>?); must match the task of data.path") \
  KEY(std::int64_t, hops, 3, at_least(1), "memory hops K")                                              \
  KEY(config::WeightTying, tying, config::WeightTying::adjacent, any_value, "adjacent: A(k+1) = C(k), B = A(1), W = C(K)^T; layerwise: one A, one C, and u(k+1) = H u(k) + o(k)") \
  KEY(bool, position_encoding, true, any_value, "weight word j of a sentence by its position (PE); false = bag of words") \
  KEY(bool, temporal_encoding, true, any_value, "add a learned vector per sentence age to each memory (TE)") \
  KEY(std::int64_t, linear_start_steps, 0, at_least(0), "optimizer steps trained with the softmax of every hop removed (LS); 0 = off") \
  KEY(std::int64_t, max_sentences, 10, at_least(1), "memory size: the most recent statements before a question that the memory holds (the paper: 50)") \
  KEY(double, random_noise, 0.0, half_open(0, 1), "random noise (RN): while training, add this fraction of empty memories at random places among a question's statements (the paper: 0.1); 0 = off") \
  KEY(config::EvalSplit, eval_split, config::EvalSplit::validation, any_value, "split of data.path the evaluation reads, in order (train.eval_batches batches of data.batch_size questions)") \
  KEY(std::int64_t, show_attention, 0, at_least(0), "print the story, question, answer and every hop's attention of the first this many evaluation questions at each evaluation")

// model.type = temporal: TemporalAttentionNet (attention.mechanism = temporal) mapping a generated
// feature sequence to a label or a token sequence. The decoder size is model.d_model.
#define ATTNSCALE_TEMPORAL_KEYS(KEY)                                                                   \
  KEY(config::TemporalOutput, output, config::TemporalOutput::sequence, any_value, "label: the class of the one marked frame; sequence: the classes of the marked frames in marker order, then eos") \
  KEY(std::int64_t, classes, 8, at_least(2), "frame classes (the label vocabulary)")                    \
  KEY(std::int64_t, events, 3, at_least(1), "marked frames per sequence (output = sequence); label needs 1") \
  KEY(std::int64_t, min_steps, 8, at_least(1), "shortest feature sequence (time steps)")               \
  KEY(std::int64_t, max_steps, 20, at_least(1), "longest feature sequence")                            \
  KEY(std::int64_t, feature_dim, 16, at_least(1), "features per time step; at least classes + events (the rest is noise)") \
  KEY(double, noise, 0.3, at_least(0), "standard deviation of the Gaussian noise on every feature")     \
  KEY(std::int64_t, attn_dim, 0, at_least(0), "hidden size of the temporal attention score; 0 = model.d_model")

// The sections in file order: SECTION(struct, yaml name, key table, description).
#define ATTNSCALE_CONFIG_SECTIONS(SECTION)                                                             \
  SECTION(RunConfig, run, ATTNSCALE_RUN_KEYS, "name, directory and seed of the run")                        \
  SECTION(ModelConfig, model, ATTNSCALE_MODEL_KEYS, "the network")                                     \
  SECTION(AttentionConfig, attention, ATTNSCALE_ATTENTION_KEYS, "the attention layers")                \
  SECTION(Seq2SeqConfig, seq2seq, ATTNSCALE_SEQ2SEQ_KEYS, "the RNN encoder-decoder (model.type = seq2seq)") \
  SECTION(HanConfig, han, ATTNSCALE_HAN_KEYS, "the hierarchical attention network (model.type = han)") \
  SECTION(MemN2NConfig, memn2n, ATTNSCALE_MEMN2N_KEYS, "the End-To-End Memory Network (model.type = memn2n)") \
  SECTION(TemporalConfig, temporal, ATTNSCALE_TEMPORAL_KEYS, "TemporalAttentionNet (model.type = temporal)") \
  SECTION(DataConfig, data, ATTNSCALE_DATA_KEYS, "the training data")                                  \
  SECTION(MlaConfig, mla, ATTNSCALE_MLA_KEYS, "multi-head latent attention (attention.mechanism = multi_head_latent)") \
  SECTION(AdaptiveSpanConfig, adaptive_span, ATTNSCALE_ADAPTIVE_SPAN_KEYS, "adaptive attention span (attention.mechanism = adaptive, model.type = transformer_lm)") \
  SECTION(EncoderDecoderConfig, encoder_decoder, ATTNSCALE_ENCODER_DECODER_KEYS, "the Transformer encoder-decoder (model.type = encoder_decoder)") \
  SECTION(CaptionerConfig, captioner, ATTNSCALE_CAPTIONER_KEYS, "the captioning decoder (model.type = captioner)") \
  SECTION(OptimConfig, optim, ATTNSCALE_OPTIM_KEYS, "optimizer and learning-rate schedule")            \
  SECTION(TrainConfig, train, ATTNSCALE_TRAIN_KEYS, "the training loop")                               \
  SECTION(EvalConfig, eval, ATTNSCALE_EVAL_KEYS, "decoding and BLEU in `attnscale eval` (seq2seq, encoder_decoder)") \
  SECTION(ParallelConfig, parallel, ATTNSCALE_PARALLEL_KEYS, "how the ranks are arranged")             \
  SECTION(CheckpointConfig, checkpoint, ATTNSCALE_CHECKPOINT_KEYS, "checkpoints")                      \
  SECTION(LoggingConfig, logging, ATTNSCALE_LOGGING_KEYS, "logs, progress and metrics")

#define ATTNSCALE_CONFIG_MEMBER(type, name, default_value, range, description) type name = default_value;
#define ATTNSCALE_CONFIG_SECTION_STRUCT(Struct, section, KEYS, description) \
  struct Struct {                                                           \
    KEYS(ATTNSCALE_CONFIG_MEMBER)                                           \
  };
#define ATTNSCALE_CONFIG_SECTION_MEMBER(Struct, section, KEYS, description) Struct section;

ATTNSCALE_CONFIG_SECTIONS(ATTNSCALE_CONFIG_SECTION_STRUCT)

// A default-constructed Config holds every default.
struct Config {
  ATTNSCALE_CONFIG_SECTIONS(ATTNSCALE_CONFIG_SECTION_MEMBER)

  // Where each key that is not at its default was set ("configs/x.yaml:4:12", "command line
  // 'optim.lr=3e-4'"), by dotted key; error messages quote it. Not part of the settings.
  std::map<std::string, std::string, std::less<>> origins;
};

// ---- loading --------------------------------------------------------------------------------------
// Reads a YAML file, its `base:` chain and `section.key=value` overrides, with the precedence
// defaults < base (recursively) < file < overrides (in the order given), then checks every key's
// type and range and the rank-independent consistency rules. Throws ConfigError naming the dotted
// key and file:line:column. Relative `base:` paths are relative to the including file.
Config load_config(const std::filesystem::path& file, std::span<const std::string> overrides = {});

// Applies one "section.key=value" override to cfg (type and range checked, consistency not).
void apply_override(Config& cfg, std::string_view assignment);

// The rank-independent consistency rules (load_config calls it); for configs built in code.
void validate(const Config& cfg);

// The rules that need the world size: cp divides it, a parallel.dp given makes dp * cp equal it, and
// data.batch_size splits over data_parallel_size(...) ranks. Every rank reaches the same verdict, so
// a failing config ends every rank with the same exit code before any collective.
void validate_world_size(const Config& cfg, int world_size);

// ---- attention.mechanism ---------------------------------------------------------------------------
// The names and each mechanism's rules over the other keys belong to the mechanism registry
// (framework/train/mechanisms/registry.h), which sits above the config because it builds modules.
// The config declares here the little it reads of it, and the registry defines these functions
// (one static library, so they resolve at link time; no static initialiser is involved).
namespace config {
// Every attention.mechanism name, each once, in the registry's order.
std::span<const std::string_view> mechanism_names();
// What validate() needs to know of the configured mechanism.
struct MechanismRules {
  // Its rules over the other keys; throws fail_rule's ConfigError. Null = none.
  void (*check)(const Config& cfg) = nullptr;
  // It brings its own causal window (adaptive span): parallel.algo = halo fits it whatever
  // attention.mask says, and each rank fetches the keys within it.
  bool causal_window = false;
};
// The rules of attention.mechanism's registration for model.type; null when the name does not fit
// the model (the task reports that, naming the names that do).
const MechanismRules* mechanism_rules(const Config& cfg);

// "[config] <first key>: <problem> (<key>: <where set>; ...)": the error of a rule over several keys.
[[noreturn]] void fail_rule(const Config& cfg, std::initializer_list<std::string_view> keys, std::string_view problem);
}  // namespace config

// ---- writing --------------------------------------------------------------------------------------
enum class YamlStyle { plain, commented };
// Every key of every section in table order; loading the text gives back the same settings, and
// showing that gives the same text. `commented` appends each key's description and range.
std::string to_yaml(const Config& cfg, YamlStyle style = YamlStyle::plain);

// ---- derived values (the one place each "0 = ..." rule lives) ------------------------------------
std::int64_t kv_heads(const ModelConfig& model);             // n_kv_heads, or n_heads when 0
std::int64_t head_dim(const ModelConfig& model);             // d_model / n_heads
std::int64_t ff_width(const ModelConfig& model);             // d_ff, or 4 * d_model when 0
// attention.scale = 0 (1/sqrt(head_dim)) is kernels::score_scale, the rule every module applies.
std::int64_t data_parallel_size(const ParallelConfig& parallel, int world_size);  // dp, or world / cp when 0
// batch_size / (dp_size * accum_steps), dp_size being the process grid's (1 on a single process);
// a parallel.dp given must equal it.
std::int64_t micro_batch_size(const Config& cfg, std::int64_t dp_size);

}  // namespace attnscale
