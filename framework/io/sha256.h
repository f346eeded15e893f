// SHA-256 of bytes and files, for checkpoint manifests (OpenSSL's libcrypto, which uses the CPU's
// SHA instructions when it has them).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace attnscale {

using Sha256Digest = std::array<std::uint8_t, 32>;

// Incremental hashing: update() any number of times, then finish() once.
class Sha256 {
 public:
  Sha256();
  Sha256(Sha256&&) noexcept = default;
  Sha256& operator=(Sha256&&) noexcept = default;
  ~Sha256() = default;

  void update(std::span<const std::byte> bytes);
  Sha256Digest finish();

 private:
  struct FreeContext {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, FreeContext> context_;
};

Sha256Digest sha256(std::span<const std::byte> bytes);

struct FileDigest {
  Sha256Digest sha256{};
  std::uint64_t bytes = 0;
};
// Hashes a whole file; RuntimeFailure naming it when it cannot be read.
FileDigest sha256_file(const std::filesystem::path& file);

// Lower-case hex, two characters a byte.
std::string to_hex(std::span<const std::uint8_t> bytes);
// The digest of 64 hex characters (either case), or nothing when the text is not one.
std::optional<Sha256Digest> sha256_from_hex(std::string_view hex);

}  // namespace attnscale
