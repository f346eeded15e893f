// The mechanism registry (framework/train/mechanisms/): every shipped config names a mechanism
// registered for its model, every registration is trained by a shipped config, and a name that does
// not fit the model is a config error naming the key, the names that fit and where it was set.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "framework/config/config.h"
#include "framework/train/mechanisms/registry.h"
#include "tests/config/test_support.h"

namespace attnscale {
namespace {

using testing::shipped_configs;

std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

TEST(MechanismRegistry, EveryShippedConfigFitsAndEveryRegistrationIsShipped) {
  std::set<std::pair<std::string, config::ModelType>> shipped;
  for (const auto& file : shipped_configs()) {
    SCOPED_TRACE(file.string());
    const Config cfg = load_config(file);
    const train::Mechanism& m = train::mechanism_of(cfg);
    EXPECT_EQ(m.name, cfg.attention.mechanism.name);
    shipped.insert({std::string(m.name), m.model});
  }
  for (const train::Mechanism& m : train::mechanisms())
    EXPECT_TRUE(shipped.count({std::string(m.name), m.model}))
        << m.name << " (" << config::to_string(m.model) << ") has no config under configs/";
}

TEST(MechanismRegistry, NamesAreTheConfigsChoicesInRegistrationOrder) {
  std::vector<std::string_view> first_seen;
  for (const train::Mechanism& m : train::mechanisms())
    if (std::find(first_seen.begin(), first_seen.end(), m.name) == first_seen.end()) first_seen.push_back(m.name);
  const auto names = config::mechanism_names();
  EXPECT_TRUE(std::equal(names.begin(), names.end(), first_seen.begin(), first_seen.end()));
  // One name, two models: the TransformerLM's adaptive span and the captioner's visual sentinel.
  EXPECT_NE(train::find_mechanism("adaptive", config::ModelType::transformer_lm), nullptr);
  EXPECT_NE(train::find_mechanism("adaptive", config::ModelType::captioner), nullptr);
  EXPECT_EQ(train::find_mechanism("adaptive", config::ModelType::seq2seq), nullptr);
}

TEST(MechanismRegistry, AMechanismOfAnotherModelNamesTheKeyTheFittingNamesAndTheFile) {
  const testing::TempDir dir;
  std::ofstream(dir / "x.yaml") << "model:\n  type: transformer_lm\nattention:\n  mechanism: soft\n";
  const Config cfg = load_config(dir / "x.yaml");
  const std::string message = config_error([&] { train::mechanism_of(cfg); });
  EXPECT_NE(message.find("[config] attention.mechanism: 'soft' does not fit model.type = transformer_lm, which takes "
                         "attention.mechanism = scaled_dot_product, self, multi_head,"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("x.yaml:4:"), std::string::npos) << message;
}

TEST(MechanismRegistry, AnUnknownNameIsAConfigErrorInFilesOverridesAndCode) {
  Config cfg;
  const std::string override_error = config_error([&] { apply_override(cfg, "attention.mechanism=multi_heads"); });
  EXPECT_NE(override_error.find("[config] attention.mechanism: 'multi_heads' is not one of: scaled_dot_product"),
            std::string::npos)
      << override_error;
  EXPECT_NE(override_error.find("did you mean 'multi_head'?"), std::string::npos) << override_error;
  cfg.attention.mechanism = "multi_heads";
  const std::string code_error = config_error([&] { validate(cfg); });
  EXPECT_NE(code_error.find("[config] attention.mechanism: 'multi_heads' is not one of: scaled_dot_product"),
            std::string::npos)
      << code_error;
}

}  // namespace
}  // namespace attnscale
