// The key tables: defaults, names, descriptions, enum spellings, ranges and suggestions.
#include <algorithm>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "base/error.h"
#include "framework/config/config.h"
#include "framework/config/schema.h"
#include "framework/config/suggest.h"

namespace attnscale {
namespace {

TEST(Schema, DefaultsAreTheDocumentedOnes) {
  const Config cfg;
  EXPECT_EQ(cfg.run.name, "quickstart");
  EXPECT_EQ(cfg.run.dir, "");
  EXPECT_EQ(cfg.run.seed, 1234);
  EXPECT_EQ(cfg.model.type, config::ModelType::transformer_lm);
  EXPECT_EQ(cfg.model.d_model, 128);
  EXPECT_EQ(cfg.model.n_kv_heads, 0);
  EXPECT_EQ(cfg.attention.mechanism, "multi_head");
  EXPECT_EQ(cfg.attention.impl, config::AttentionImpl::fused);
  EXPECT_EQ(cfg.attention.mask, config::Mask::causal);
  EXPECT_EQ(cfg.data.task, config::Task::associative_recall);
  EXPECT_EQ(cfg.optim.name, config::Optimizer::adamw);
  EXPECT_DOUBLE_EQ(cfg.optim.lr, 3e-3);
  EXPECT_EQ(cfg.optim.schedule, config::Schedule::cosine);
  EXPECT_EQ(cfg.train.steps, 500);
  EXPECT_EQ(cfg.train.resume, "none");
  EXPECT_EQ(cfg.parallel.layout, config::Layout::zigzag);
  EXPECT_DOUBLE_EQ(cfg.parallel.timeout_s, 300.0);
  EXPECT_EQ(cfg.logging.progress, config::ProgressMode::auto_);
  EXPECT_NO_THROW(validate(cfg)) << "the defaults must be a valid config";
}

TEST(Schema, EveryKeyIsNamedOnceAndDescribedOnOneLine) {
  std::set<std::string> seen;
  for (const auto& key : config::config_keys()) {
    EXPECT_TRUE(seen.insert(key.dotted).second) << key.dotted;
    EXPECT_FALSE(key.description.empty()) << key.dotted;
    EXPECT_EQ(key.description.find('\n'), std::string_view::npos) << key.dotted;
    EXPECT_EQ(key.dotted, std::string(key.section) + "." + std::string(key.name));
    EXPECT_EQ(config::find_key(key.dotted), &key);
    EXPECT_EQ(key.kind == config::ValueKind::choice, !key.choices.empty()) << key.dotted;
  }
#define ATTNSCALE_COUNT_SECTION(Struct, section, KEYS, description) +1
  constexpr std::size_t declared_sections = 0 ATTNSCALE_CONFIG_SECTIONS(ATTNSCALE_COUNT_SECTION);
#undef ATTNSCALE_COUNT_SECTION
  EXPECT_EQ(config::config_sections().size(), declared_sections);
  std::size_t keys_in_sections = 0;
  for (const auto& section : config::config_sections()) {
    EXPECT_FALSE(section.keys.empty()) << section.name;
    for (const auto& key : section.keys) EXPECT_EQ(key.section, section.name);
    keys_in_sections += section.keys.size();
  }
  EXPECT_EQ(keys_in_sections, config::config_keys().size());
}

TEST(Schema, DefaultsSatisfyTheirOwnRanges) {
  const Config defaults;
  for (const auto& key : config::config_keys()) {
    if (key.kind != config::ValueKind::integer && key.kind != config::ValueKind::real) continue;
    EXPECT_TRUE(key.range.contains(std::stod(key.text_of(defaults)))) << key.dotted;
  }
}

TEST(EnumNames, SpellingsRoundTripAndDropTrailingUnderscore) {
  EXPECT_EQ(config::to_string(config::ProgressMode::auto_), "auto");
  EXPECT_EQ(config::enum_from_string<config::ProgressMode>("auto"), config::ProgressMode::auto_);
  EXPECT_EQ(config::enum_from_string<config::ProgressMode>("auto_"), std::nullopt);
  for (const auto name : config::enum_names<config::Mask>()) {
    const auto value = config::enum_from_string<config::Mask>(name);
    ASSERT_TRUE(value.has_value()) << name;
    EXPECT_EQ(config::to_string(*value), name);
  }
  EXPECT_EQ(config::to_string(config::Mask::block_sparse), "block_sparse");
}

// attention.mechanism takes the registry's names (each once), and each reads back as written.
TEST(Schema, MechanismKeyTakesTheRegistrysNames) {
  const config::KeyInfo* key = config::find_key("attention.mechanism");
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(key->kind, config::ValueKind::choice);
  const auto names = config::mechanism_names();
  ASSERT_EQ(key->choices.size(), names.size());
  EXPECT_EQ(names.size(), 16u);
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(key->choices[i], names[i]);
    EXPECT_EQ(std::count(names.begin(), names.end(), names[i]), 1) << names[i];
    Config cfg;
    apply_override(cfg, "attention.mechanism=" + std::string(names[i]));
    EXPECT_EQ(key->text_of(cfg), names[i]);
  }
  Config cfg;
  EXPECT_THROW(apply_override(cfg, "attention.mechanism=multihead"), ConfigError);
}

TEST(Ranges, DescribeAndContain) {
  EXPECT_EQ(config::describe(config::at_least(1), true), ">= 1");
  EXPECT_EQ(config::describe(config::greater_than(0), false), "> 0");
  EXPECT_EQ(config::describe(config::half_open(0, 1), false), "[0, 1)");
  EXPECT_EQ(config::describe(config::in_range(0, 1), false), "[0, 1]");
  EXPECT_EQ(config::describe(config::any_value, false), "");
  EXPECT_FALSE(config::half_open(0, 1).contains(1.0));
  EXPECT_TRUE(config::half_open(0, 1).contains(0.0));
  EXPECT_FALSE(config::greater_than(0).contains(0.0));
}

TEST(Suggest, FindsLikelyTyposOnly) {
  const std::string_view masks[] = {"none", "causal", "window", "block_sparse"};
  EXPECT_EQ(config::closest_match("casual", masks), "causal");    // swapped letters
  EXPECT_EQ(config::closest_match("Causal", masks), "causal");    // case
  EXPECT_EQ(config::closest_match("windo", masks), "window");     // one missing
  EXPECT_EQ(config::closest_match("sparse", masks), "block_sparse");  // part of a name
  EXPECT_EQ(config::closest_match("zigzag", masks), "");
  EXPECT_EQ(config::edit_distance("", "abc"), 3u);
  EXPECT_EQ(config::edit_distance("abc", "acb"), 1u);
  EXPECT_EQ(config::edit_distance("kitten", "sitting"), 3u);
}

}  // namespace
}  // namespace attnscale
