#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "base/error.h"
#include "framework/io/sha256.h"
#include "tests/config/test_support.h"

namespace attnscale {
namespace {

std::string hex_of(std::string_view text) { return to_hex(sha256(std::as_bytes(std::span(text.data(), text.size())))); }

// FIPS 180-2 examples.
TEST(Sha256, KnownVectors) {
  EXPECT_EQ(hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex_of(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalEqualsOneShotAndFile) {
  std::string text;
  for (int i = 0; i < 100000; ++i) text += static_cast<char>(i * 31 % 251);
  Sha256 pieces;
  for (std::size_t at = 0, step = 1; at < text.size(); at += step, step = step * 3 % 1000 + 1)
    pieces.update(std::as_bytes(std::span(text.data() + at, std::min(step, text.size() - at))));
  const std::string expected = hex_of(text);
  EXPECT_EQ(to_hex(pieces.finish()), expected);

  testing::TempDir dir;
  testing::write_file(dir / "blob", text);
  const FileDigest file = sha256_file(dir / "blob");
  EXPECT_EQ(to_hex(file.sha256), expected);
  EXPECT_EQ(file.bytes, text.size());
  EXPECT_THROW(sha256_file(dir / "missing"), RuntimeFailure);
}

TEST(Sha256, HexRoundTrip) {
  const Sha256Digest digest = sha256(std::as_bytes(std::span("x", 1)));
  const std::string hex = to_hex(digest);
  EXPECT_EQ(sha256_from_hex(hex), digest);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(sha256_from_hex(upper), digest);
  EXPECT_FALSE(sha256_from_hex(hex.substr(1)));
  EXPECT_FALSE(sha256_from_hex(std::string(63, '0') + "g"));
}

}  // namespace
}  // namespace attnscale
