// The Hierarchical Attention Network with run.device: cuda against the same run on the CPU (label
// gpu): word embeddings, the bidirectional GRU over padded sentences (step masks on the device),
// attention / average / max pooling, the GRU or Transformer sentence encoder (fused attention with
// key padding), word and document dropout, AdamW. The first batch gives the same loss and the same
// gradient of every parameter; three training steps give the same losses. Runs on a GPU, and on the
// emulated device in the emulation build; skips with the reason elsewhere.
#include <filesystem>
#include <ostream>
#include <string>

#include "framework/train/han_task.h"
#include "tests/config/test_support.h"
#include "tests/gpu/train_compare.h"

namespace attnscale::test {
namespace {

namespace fs = std::filesystem;

Config tiny_han(const fs::path& run_dir, config::RunDevice device, config::SentenceEncoder encoder,
                config::HanPooling pooling) {
  Config cfg;
  short_quiet_run(cfg, run_dir, device);
  cfg.model.type = config::ModelType::han;
  cfg.model.d_model = 8;  // GRU hidden size per direction: sentence vectors of 16
  cfg.model.n_heads = 1;
  cfg.attention.mechanism = "hierarchical";
  cfg.han.pooling = pooling;
  cfg.han.sentence_encoder = encoder;
  cfg.han.sentence_heads = 2;
  cfg.han.num_classes = 3;
  cfg.han.train_docs = 24;
  cfg.han.eval_docs = 6;
  cfg.han.synth_min_sentences = 2;  // ragged documents and sentences: padding on both levels
  cfg.han.synth_max_sentences = 5;
  cfg.han.synth_min_words = 2;
  cfg.han.synth_max_words = 6;
  cfg.data.vocab_size = 24;
  cfg.data.batch_size = 4;
  validate(cfg);
  return cfg;
}

struct HanCase {
  config::SentenceEncoder encoder;
  config::HanPooling pooling;
};

void PrintTo(const HanCase& c, std::ostream* os) {
  *os << "sentence_encoder " << config::to_string(c.encoder) << ", pooling " << config::to_string(c.pooling);
}

class HanOnDevice : public DeviceTest, public ::testing::WithParamInterface<HanCase> {
 protected:
  attnscale::testing::TempDir dir_;
};

TEST_P(HanOnDevice, SameLossesAndGradientsAsTheCpu) {
  const auto [encoder, pooling] = GetParam();
  const auto make = [encoder, pooling](const fs::path& run_dir, config::RunDevice device) {
    return tiny_han(run_dir, device, encoder, pooling);
  };
  expect_same_first_batch<train::HanTask>(make(dir_ / "unused", config::RunDevice::cpu));
  expect_same_training<train::HanTask>(dir_.path(), make);
}

INSTANTIATE_TEST_SUITE_P(
    EncodersAndPoolings, HanOnDevice,
    ::testing::Values(HanCase{config::SentenceEncoder::gru, config::HanPooling::attention},
                      HanCase{config::SentenceEncoder::transformer, config::HanPooling::max},
                      HanCase{config::SentenceEncoder::none, config::HanPooling::average}),
    [](const ::testing::TestParamInfo<HanCase>& info) {
      return std::string(config::to_string(info.param.encoder)) + "_" + std::string(config::to_string(info.param.pooling));
    });

}  // namespace
}  // namespace attnscale::test
