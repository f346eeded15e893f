// cuDNN SDPA graphs (kernels/cuda/cudnn_attention.h): the only file that includes the cuDNN
// frontend. One function builds a graph from its key; validation, the cache and the execute path
// all go through it.
#include "kernels/cuda/cudnn_attention.h"

#include <unordered_map>
#include <utility>
#include <vector>

#include <cudnn.h>
#include <cudnn_frontend.h>
#include <fmt/format.h>

#include "base/error.h"
#include "kernels/cuda/check.h"

namespace attnscale::cuda {
namespace {

namespace fe = cudnn_frontend;
using TensorPtr = std::shared_ptr<fe::graph::Tensor_attributes>;

// The tensors' uids: a variant pack maps them to device pointers.
enum Uid : int64_t { q_uid = 1, k_uid, v_uid, out_uid, lse_uid, dout_uid, dq_uid, dk_uid, dv_uid, q_len_uid, k_len_uid };

fe::DataType_t io_type(kernels::AttentionDType dtype) {
  switch (dtype) {
    case kernels::AttentionDType::bf16: return fe::DataType_t::BFLOAT16;
    case kernels::AttentionDType::f16: return fe::DataType_t::HALF;
    default:
      throw UsageError(fmt::format("[cudnn_attention] cuDNN's fused attention takes bfloat16 or float16, not {}",
                                   kernels::attention_dtype_name(dtype)));
  }
}

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> strides(dims.size(), 1);
  for (size_t i = dims.size() - 1; i > 0; --i) strides[i - 1] = strides[i] * dims[i];
  return strides;
}

// Marks a graph tensor (input, or an output the node created) with its uid, shape and our
// row-major layout.
TensorPtr describe(TensorPtr tensor, Uid uid, const char* name, std::vector<int64_t> dims) {
  tensor->set_name(name).set_uid(uid).set_stride(row_major_strides(dims)).set_dim(std::move(dims));
  return tensor;
}

TensorPtr input(fe::graph::Graph& graph, Uid uid, const char* name, std::vector<int64_t> dims) {
  return describe(graph.tensor(fe::graph::Tensor_attributes()), uid, name, std::move(dims));
}

// The mask of the key on either attribute type (forward and backward have the same setters).
template <typename Attributes>
void set_mask(Attributes& attributes, fe::graph::Graph& graph, const SdpaGraphKey& key) {
  attributes.set_attn_scale(key.scale);
  attributes.set_diagonal_alignment(fe::DiagonalAlignment_t::TOP_LEFT);
  if (key.mask.right_bound) attributes.set_diagonal_band_right_bound(static_cast<int>(*key.mask.right_bound));
  if (key.mask.left_bound) attributes.set_diagonal_band_left_bound(static_cast<int>(*key.mask.left_bound));
  if (key.mask.padding) {
    // Queries are never padded: seq_len_q holds q_len for every batch row.
    auto lengths = [&](Uid uid, const char* name) {
      auto t = input(graph, uid, name, {key.batch, 1, 1, 1});
      t->set_data_type(fe::DataType_t::INT32);
      return t;
    };
    attributes.set_padding_mask(true)
        .set_seq_len_q(lengths(q_len_uid, "seq_len_q"))
        .set_seq_len_kv(lengths(k_len_uid, "seq_len_kv"));
  }
}

std::shared_ptr<fe::graph::Graph> make_graph(const SdpaGraphKey& key) {
  // The frontend's validate() checks the architecture for the forward only; the backward would
  // first fail when its plan is built on the GPU.
  if (key.sm < 80)
    throw UsageError(fmt::format("[cudnn_attention] {}: cuDNN's fused attention needs sm_80 or newer",
                                 sdpa_graph_name(key)));
  auto graph = std::make_shared<fe::graph::Graph>();
  graph->set_name(sdpa_graph_name(key))
      .set_io_data_type(io_type(key.dtype))
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  graph->set_sm_version(key.sm);
  const int64_t b = key.batch, hq = key.q_heads, hkv = key.kv_heads, n = key.q_len, m = key.k_len;
  auto q = input(*graph, q_uid, "q", {b, hq, n, key.head_dim});
  auto k = input(*graph, k_uid, "k", {b, hkv, m, key.head_dim});
  auto v = input(*graph, v_uid, "v", {b, hkv, m, key.value_dim});
  if (key.direction == SdpaDirection::forward) {
    fe::graph::SDPA_attributes attributes;
    attributes.set_name("sdpa_forward").set_generate_stats(true);
    set_mask(attributes, *graph, key);
    auto [out, lse] = graph->sdpa(q, k, v, attributes);
    describe(out, out_uid, "out", {b, hq, n, key.value_dim})->set_output(true);
    describe(lse, lse_uid, "lse", {b, hq, n, 1})->set_output(true).set_data_type(fe::DataType_t::FLOAT);
  } else {
    auto out = input(*graph, out_uid, "out", {b, hq, n, key.value_dim});
    auto dout = input(*graph, dout_uid, "dout", {b, hq, n, key.value_dim});
    auto lse = input(*graph, lse_uid, "lse", {b, hq, n, 1});
    lse->set_data_type(fe::DataType_t::FLOAT);
    fe::graph::SDPA_backward_attributes attributes;
    attributes.set_name("sdpa_backward");
    set_mask(attributes, *graph, key);
    auto [dq, dk, dv] = graph->sdpa_backward(q, k, v, out, dout, lse, attributes);
    describe(dq, dq_uid, "dq", {b, hq, n, key.head_dim})->set_output(true);
    describe(dk, dk_uid, "dk", {b, hkv, m, key.head_dim})->set_output(true);
    describe(dv, dv_uid, "dv", {b, hkv, m, key.value_dim})->set_output(true);
  }
  return graph;
}

// Throws the frontend's message when `status` is an error.
void check(fe::error_t status, const SdpaGraphKey& key, const char* step) {
  if (status.is_bad())
    throw UsageError(fmt::format("[cudnn_attention] {}: {} failed: {}", sdpa_graph_name(key), step,
                                 status.get_message()));
}

void check_cudnn(cudnnStatus_t status, const char* call) {
  if (status != CUDNN_STATUS_SUCCESS)
    throw RuntimeFailure(fmt::format("[cudnn_attention] {} failed: {}", call, cudnnGetErrorString(status)));
}

std::string bound_text(const char* name, const std::optional<int64_t>& bound) {
  return bound ? fmt::format(" {}={}", name, *bound) : "";
}

}  // namespace

SdpaGraphKey sdpa_graph_key(SdpaDirection direction, const kernels::AttentionParams& params,
                            kernels::AttentionDType dtype, kernels::SmVersion sm, const kernels::CudnnMaskForm& mask) {
  const kernels::AttentionShape& s = params.shape;
  return {.direction = direction,
          .dtype = dtype,
          .sm = sm,
          .batch = s.batch,
          .q_heads = s.q_heads,
          .kv_heads = s.kv_heads,
          .q_len = s.q_len,
          .k_len = s.k_len,
          .head_dim = s.head_dim,
          .value_dim = s.value_dim,
          .scale = static_cast<float>(kernels::score_scale(params.scale, s.head_dim)),
          .mask = mask};
}

std::string sdpa_graph_name(const SdpaGraphKey& key) {
  return fmt::format("sdpa {} {} sm_{} B{} H{}/{} N{} M{} D{}/{} scale {}{}{}{}",
                     key.direction == SdpaDirection::forward ? "forward" : "backward",
                     kernels::attention_dtype_name(key.dtype), key.sm, key.batch, key.q_heads, key.kv_heads, key.q_len,
                     key.k_len, key.head_dim, key.value_dim, key.scale, bound_text("R", key.mask.right_bound),
                     bound_text("L", key.mask.left_bound), key.mask.padding ? " padding" : "");
}

void validate_sdpa_graph(const SdpaGraphKey& key) { check(make_graph(key)->validate(), key, "validate"); }

std::string cudnn_frontend_version() {
  return fmt::format("{}.{}.{}", CUDNN_FRONTEND_MAJOR_VERSION, CUDNN_FRONTEND_MINOR_VERSION,
                     CUDNN_FRONTEND_PATCH_VERSION);
}

// ---- the cache and the execute path (needs a GPU: never executed yet) -----------------------------

struct CudnnAttention::Handle {
  cudnnHandle_t handle = nullptr;
  ~Handle() {
    if (handle) cudnnDestroy(handle);
  }
};

struct CudnnAttention::Graph {
  std::shared_ptr<fe::graph::Graph> graph;
  size_t workspace_bytes = 0;
  int32_t* lengths = nullptr;  // device [2 * batch]: seq_len_q then seq_len_kv (padding only)
  std::vector<int32_t> uploaded;  // what `lengths` holds now
  ~Graph() {
    if (lengths) cudaFree(lengths);  // no throw from a destructor
  }
};

CudnnAttention::CudnnAttention() : handle_(std::make_unique<Handle>()) {
  check_cudnn(cudnnCreate(&handle_->handle), "cudnnCreate (no GPU or driver?)");
}
CudnnAttention::~CudnnAttention() {
  graphs_.clear();  // the plans before the handle
}
CudnnAttention::CudnnAttention(CudnnAttention&&) noexcept = default;
CudnnAttention& CudnnAttention::operator=(CudnnAttention&&) noexcept = default;

size_t CudnnAttention::cached_graphs() const { return graphs_.size(); }

CudnnAttention::Graph& CudnnAttention::graph_for(const SdpaGraphKey& key) {
  if (const auto it = graphs_.find(key); it != graphs_.end()) return *it->second;
  auto entry = std::make_unique<Graph>();
  entry->graph = make_graph(key);
  fe::graph::Graph& g = *entry->graph;
  check(g.validate(), key, "validate");
  check(g.build_operation_graph(handle_->handle), key, "build_operation_graph");
  check(g.create_execution_plans({fe::HeurMode_t::A}), key, "create_execution_plans");
  check(g.check_support(), key, "check_support");
  check(g.build_plans(), key, "build_plans");
  int64_t workspace = 0;
  check(g.get_workspace_size(workspace), key, "get_workspace_size");
  entry->workspace_bytes = static_cast<size_t>(workspace);
  if (key.mask.padding)
    ATTNSCALE_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&entry->lengths), 2 * key.batch * sizeof(int32_t)));
  return *graphs_.emplace(key, std::move(entry)).first->second;
}

size_t CudnnAttention::workspace_bytes(const SdpaGraphKey& key) { return graph_for(key).workspace_bytes; }

void CudnnAttention::execute(Graph& graph, const SdpaGraphKey& key, std::span<const int32_t> k_lengths,
                             std::map<int64_t, void*> pointers, std::span<std::byte> workspace, Stream stream) {
  if (workspace.size() < graph.workspace_bytes)
    throw UsageError(fmt::format("[cudnn_attention] {}: workspace of {} bytes, needs {}", sdpa_graph_name(key),
                                 workspace.size(), graph.workspace_bytes));
  if (key.mask.padding) {
    if (static_cast<int64_t>(k_lengths.size()) != key.batch)
      throw UsageError(fmt::format("[cudnn_attention] {}: {} key lengths for batch {}", sdpa_graph_name(key),
                                   k_lengths.size(), key.batch));
    std::vector<int32_t> lengths(key.batch, static_cast<int32_t>(key.q_len));
    lengths.insert(lengths.end(), k_lengths.begin(), k_lengths.end());
    if (lengths != graph.uploaded) {  // pageable source: the copy has read it when the call returns
      ATTNSCALE_CUDA_CHECK(cudaMemcpyAsync(graph.lengths, lengths.data(), lengths.size() * sizeof(int32_t),
                                           cudaMemcpyHostToDevice, stream));
      graph.uploaded = std::move(lengths);
    }
    pointers[q_len_uid] = graph.lengths;
    pointers[k_len_uid] = graph.lengths + key.batch;
  }
  check_cudnn(cudnnSetStream(handle_->handle, stream), "cudnnSetStream");
  std::unordered_map<int64_t, void*> variant_pack(pointers.begin(), pointers.end());
  check(graph.graph->execute(handle_->handle, variant_pack, workspace.data()), key, "execute");
}

void CudnnAttention::forward(const SdpaGraphKey& key, const SdpaForwardArgs& args, std::span<std::byte> workspace,
                             Stream stream) {
  if (key.direction != SdpaDirection::forward)
    throw UsageError("[cudnn_attention] forward called with a backward graph key");
  execute(graph_for(key), key, args.k_lengths,
          {{q_uid, const_cast<void*>(args.q)},
           {k_uid, const_cast<void*>(args.k)},
           {v_uid, const_cast<void*>(args.v)},
           {out_uid, args.out},
           {lse_uid, args.lse}},
          workspace, stream);
}

void CudnnAttention::backward(const SdpaGraphKey& key, const SdpaBackwardArgs& args, std::span<std::byte> workspace,
                              Stream stream) {
  if (key.direction != SdpaDirection::backward)
    throw UsageError("[cudnn_attention] backward called with a forward graph key");
  execute(graph_for(key), key, args.k_lengths,
          {{q_uid, const_cast<void*>(args.q)},
           {k_uid, const_cast<void*>(args.k)},
           {v_uid, const_cast<void*>(args.v)},
           {out_uid, const_cast<void*>(args.out)},
           {dout_uid, const_cast<void*>(args.dout)},
           {lse_uid, const_cast<float*>(args.lse)},
           {dq_uid, args.dq},
           {dk_uid, args.dk},
           {dv_uid, args.dv}},
          workspace, stream);
}

}  // namespace attnscale::cuda
