#include "sim/base64url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sigrelay::sim {
namespace {

// RFC 4648 §10 test vectors, without the '=' padding JWS drops (RFC 7515 §2).
TEST(Base64Url, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg"},         {"fo", "Zm8"},      {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64url_encode(plain), encoded) << plain;
    const auto back = base64url_decode(encoded);
    ASSERT_TRUE(back.has_value()) << encoded;
    EXPECT_EQ(*back, plain);
  }
}

// RFC 7515 Appendix C: octets 3, 236, 255, 224, 193 encode as "A-z_4ME",
// the URL-safe alphabet's '-' and '_' where base64 has '+' and '/'.
TEST(Base64Url, Rfc7515AppendixC) {
  const std::string octets{'\x03', '\xec', '\xff', '\xe0', '\xc1'};
  EXPECT_EQ(base64url_encode(octets), "A-z_4ME");
  EXPECT_EQ(base64url_decode("A-z_4ME"), octets);
}

TEST(Base64Url, EveryByteValueRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t len = 0; len <= all.size(); len += 37) {
    const std::string part = all.substr(0, len);
    const std::string enc = base64url_encode(part);
    EXPECT_EQ(enc.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(base64url_decode(enc), part);
  }
}

TEST(Base64Url, RejectsNonCanonicalText) {
  EXPECT_FALSE(base64url_decode("Zg==").has_value());  // padding
  EXPECT_FALSE(base64url_decode("Zm9v+g").has_value());  // base64, not base64url
  EXPECT_FALSE(base64url_decode("Zm9v/g").has_value());
  EXPECT_FALSE(base64url_decode("Zm 9v").has_value());  // whitespace
  EXPECT_FALSE(base64url_decode("Z").has_value());      // 6 bits cannot be a byte
  EXPECT_FALSE(base64url_decode("Zh").has_value());     // "f" is "Zg": the low bits must be zero
  EXPECT_FALSE(base64url_decode("Zm9").has_value());    // "fo" is "Zm8"
}

}  // namespace
}  // namespace sigrelay::sim
