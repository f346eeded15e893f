// The program: `config show` round trips for every file in configs/, `config defaults`, the
// generated README section, `version`, and the exit codes of command-line mistakes.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "framework/config/config.h"
#include "framework/config/docs.h"
#include "framework/core/tensor/cuda_runtime.h"
#include "tests/config/test_support.h"

#if ATTNSCALE_HAVE_CUDA && !defined(ATTNSCALE_CUDA_HOST_EMULATION)
#include <cublas_api.h>
#endif
#if ATTNSCALE_HAVE_CUDNN_FRONTEND
#include "kernels/cuda/cudnn_attention.h"
#endif

namespace attnscale::testing {
namespace {

using Program = ProgramTest;

TEST_F(Program, ShowRoundTripsEveryShippedConfig) {
  const auto files = shipped_configs();
  ASSERT_FALSE(files.empty());
  TempDir dir;
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const ProgramResult shown = run_attnscale({"config", "show", file.string()});
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_EQ(shown.out, to_yaml(load_config(file)));  // the program prints what the library resolves
    write_file(dir / "shown.yaml", shown.out);
    const ProgramResult again = run_attnscale({"config", "show", (dir / "shown.yaml").string()});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(again.out, shown.out);
  }
}

TEST_F(Program, ShowAppliesOverridesAndComments) {
  const auto quickstart = (source_dir / "configs" / "quickstart.yaml").string();
  const ProgramResult shown = run_attnscale({"config", "show", quickstart, "optim.lr=0.5", "train.steps=7"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("  lr: 0.5\n"), std::string::npos);
  EXPECT_NE(shown.out.find("  steps: 7\n"), std::string::npos);
  const ProgramResult commented = run_attnscale({"config", "show", "--comments", quickstart});
  ASSERT_EQ(commented.exit_code, 0) << commented.err;
  EXPECT_NE(commented.out.find("# run length in optimizer steps | >= 1"), std::string::npos);
}

TEST_F(Program, DefaultsListEveryKeyAndLoadBackAsTheDefaults) {
  const ProgramResult defaults = run_attnscale({"config", "defaults"});
  ASSERT_EQ(defaults.exit_code, 0) << defaults.err;
  EXPECT_EQ(defaults.out, to_yaml(Config{}, YamlStyle::commented));
  TempDir dir;
  write_file(dir / "defaults.yaml", defaults.out);
  EXPECT_EQ(to_yaml(load_config(dir / "defaults.yaml")), to_yaml(Config{}));
}

TEST(Docs, ReadmeKeyReferenceMatchesTheSchema) {
  const std::string readme = read_file(source_dir / "configs" / "README.md");
  EXPECT_EQ(config::generated_section(readme), config::reference_markdown())
      << "configs/README.md is stale; run: build/bin/attnscale config docs --update configs/README.md";
}

TEST_F(Program, DocsUpdateRewritesOnlyTheGeneratedPart) {
  TempDir dir;
  const std::string stale = fmt::format("# intro\n{}\nold table\n{}\n# outro\n", config::docs_begin_marker,
                                        config::docs_end_marker);
  write_file(dir / "README.md", stale);
  const ProgramResult updated = run_attnscale({"config", "docs", "--update", (dir / "README.md").string()});
  ASSERT_EQ(updated.exit_code, 0) << updated.err;
  EXPECT_EQ(read_file(dir / "README.md"),
            fmt::format("# intro\n{}{}{}\n# outro\n", config::docs_begin_marker, config::reference_markdown(),
                        config::docs_end_marker));
  write_file(dir / "no_markers.md", "# nothing to update\n");
  EXPECT_EQ(run_attnscale({"config", "docs", "--update", (dir / "no_markers.md").string()}).exit_code, 2);
}

TEST_F(Program, VersionAndHelpExitZero) {
  const ProgramResult version = run_attnscale({"version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind(fmt::format("attnscale {}\n", ATTNSCALE_VERSION), 0), 0u) << version.out;
  for (const char* line : {"\nbackends: cpu", "\nCUDA architectures: ", "\nCUDA runtime: ", "\ncuBLAS: ", "\ncuDNN: ",
                           "\ncuDNN frontend: ", "\nNCCL: ", "\nCUDA driver: "})
    EXPECT_NE(version.out.find(line), std::string::npos) << line << " missing from:\n" << version.out;
#if ATTNSCALE_HAVE_CUDA && defined(ATTNSCALE_CUDA_HOST_EMULATION)
  EXPECT_NE(version.out.find("backends: cpu, cuda (host emulation"), std::string::npos) << version.out;
  EXPECT_NE(version.out.find("cuBLAS: not compiled in\n"), std::string::npos) << version.out;
  EXPECT_NE(version.out.find("GPU cuda:0: host emulation of CUDA"), std::string::npos) << version.out;
#elif ATTNSCALE_HAVE_CUDA
  EXPECT_NE(version.out.find("backends: cpu, cuda\n"), std::string::npos) << version.out;
  EXPECT_NE(version.out.find(fmt::format("cuBLAS: compiled {}.{}.", CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR)),
            std::string::npos)
      << version.out;
#endif
#if ATTNSCALE_HAVE_CUDNN_FRONTEND
  const std::string frontend = cuda::cudnn_frontend_version();
  EXPECT_NE(version.out.find(fmt::format("cuDNN frontend: compiled {}, loaded {}\n", frontend, frontend)),
            std::string::npos)
      << version.out;
#endif
  EXPECT_EQ(run_attnscale({"--help"}).exit_code, 0);
  EXPECT_EQ(run_attnscale({"config", "show", "--help"}).exit_code, 0);
}

TEST_F(Program, CommandLineMistakesExitTwo) {
  EXPECT_EQ(run_attnscale({}).exit_code, 2);                      // no subcommand
  EXPECT_EQ(run_attnscale({"trian"}).exit_code, 2);               // unknown subcommand
  EXPECT_EQ(run_attnscale({"config"}).exit_code, 2);              // config needs show|defaults|docs
  EXPECT_EQ(run_attnscale({"config", "show"}).exit_code, 2);      // show needs a file
  EXPECT_EQ(run_attnscale({"version", "--bogus"}).exit_code, 2);  // unknown option
  const ProgramResult missing = run_attnscale({"config", "show", "no_such.yaml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("config file 'no_such.yaml' not found"), std::string::npos) << missing.err;
}

// run.device = cuda where the runtime sees no GPU: exit 2 with the reason, before any training.
TEST_F(Program, CudaWithoutAGpuExitsTwo) {
  if (cuda::probe().device_count > 0) GTEST_SKIP() << "this machine has a GPU";
  TempDir dir;
  const ProgramResult r = run_attnscale({"train", (source_dir / "configs" / "quickstart.yaml").string(), "run.device=cuda",
                                         "run.dir=" + (dir / "run").string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("[device] run.device = cuda, but "), std::string::npos)
      << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "run" / "metrics.jsonl"));
}

// The models without a GPU path refuse run.device = cuda at load time, naming the model type.
TEST_F(Program, CpuOnlyModelsRefuseCuda) {
  const ProgramResult r = run_attnscale({"train", (source_dir / "configs" / "quickstart.yaml").string(),
                                         "model.type=memn2n", "run.device=cuda"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE((r.out + r.err).find("run.device: model.type = memn2n runs on the CPU only"), std::string::npos)
      << r.out << r.err;
}

// attention.kernel: the log says once which kernel the layers run and why; cudnn needs bf16/fp16
// activations, which this build's models do not have: exit 2 naming the key and where it was set.
TEST_F(Program, AttentionKernelIsLoggedAndCudnnNeedsBf16) {
  TempDir dir;
  const std::string quickstart = (source_dir / "configs" / "quickstart.yaml").string();
  const ProgramResult r = run_attnscale({"train", quickstart, "train.steps=1", "model.d_model=32", "data.seq_len=33",
                                         "train.threads=1", "logging.progress=off", "run.dir=" + (dir / "run").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err)
                .find("attention.kernel = auto, layers 0-1: own: cuDNN cannot run it: cuDNN's fused attention takes "
                      "bfloat16 or float16, not float32"),
            std::string::npos)
      << r.out << r.err;

  write_file(dir / "cudnn.yaml", "attention:\n  kernel: cudnn\n");
  const ProgramResult cudnn = run_attnscale({"train", (dir / "cudnn.yaml").string()});
  EXPECT_EQ(cudnn.exit_code, 2) << cudnn.out << cudnn.err;
  EXPECT_NE(cudnn.err.find("[config] attention.kernel: cudnn needs bfloat16 or float16 activations"), std::string::npos)
      << cudnn.err;
  EXPECT_NE(cudnn.err.find("(attention.kernel: " + (dir / "cudnn.yaml").string() + ":2:11)"), std::string::npos)
      << cudnn.err;
  EXPECT_EQ(run_attnscale({"train", quickstart, "attention.kernel=fast"}).exit_code, 2);
}

}  // namespace
}  // namespace attnscale::testing
