// multi_query, the worked example of docs/ARCHITECTURE.md section 6: configs/mechanisms/multi_query.yaml
// builds a TransformerLM whose blocks have one key/value head; it is multi_head with
// model.n_kv_heads = 1, parameter for parameter and gradient for gradient; more key/value heads are a
// config error naming the key and where it was set.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/logging.h"
#include "framework/config/config.h"
#include "framework/train/lm_task.h"
#include "mechanism_test_util.h"

namespace attnscale {
namespace {

Config multi_query_config(std::vector<std::string> overrides = {}) {
  set_log_level("warn");
  return load_config(std::filesystem::path(ATTNSCALE_SOURCE_DIR) / "configs" / "mechanisms" / "multi_query.yaml",
                     overrides);
}

TEST(MultiQuery, ItsConfigBuildsBlocksWithOneKeyValueHead) {
  const Config cfg = multi_query_config();
  train::LMTask task(cfg);
  const int64_t head_dim = cfg.model.d_model / cfg.model.n_heads;
  int projections = 0;
  for (const NamedTensor& p : task.model().named_parameters()) {
    const bool kv = p.name.ends_with("attn.k_proj.weight") || p.name.ends_with("attn.v_proj.weight");
    if (!kv) continue;
    ++projections;
    EXPECT_EQ(p.tensor.shape(), Shape({head_dim, cfg.model.d_model})) << p.name;
  }
  EXPECT_EQ(projections, 2 * cfg.model.n_layers);
}

TEST(MultiQuery, IsMultiHeadWithOneKeyValueHead) {
  train::LMTask multi_query(multi_query_config());
  train::LMTask multi_head(multi_query_config({"attention.mechanism=multi_head", "model.n_kv_heads=1"}));
  const Tensor loss = multi_query.train_batch(0).loss, reference = multi_head.train_batch(0).loss;
  EXPECT_EQ(loss.item(), reference.item());
  loss.backward();
  reference.backward();
  const NamedTensors a = multi_query.model().named_parameters(), b = multi_head.model().named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(test::max_abs_diff(a[i].tensor, b[i].tensor), 0.0) << a[i].name;
    EXPECT_EQ(test::max_abs_diff(a[i].tensor.grad(), b[i].tensor.grad()), 0.0) << a[i].name;
  }
}

TEST(MultiQuery, MoreKeyValueHeadsAreAConfigErrorNamingTheKey) {
  EXPECT_NO_THROW(multi_query_config({"model.n_kv_heads=1"}));
  try {
    multi_query_config({"model.n_kv_heads=2"});
    FAIL() << "accepted model.n_kv_heads = 2";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("[config] model.n_kv_heads: 2 key/value heads"), std::string::npos) << message;
    EXPECT_NE(message.find("model.n_kv_heads: command line 'model.n_kv_heads=2'"), std::string::npos) << message;
    EXPECT_NE(message.find("attention.mechanism: "), std::string::npos) << message;
    EXPECT_NE(message.find("multi_query.yaml:"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace attnscale
