#include "sip/branch_codec.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tls/keyed_hash.hpp"

namespace sigrelay::sip {
namespace {

// RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
bool rfc3261_token_char(char c) {
  const std::string_view marks = "-.!%*_+`'~";
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         marks.find(c) != std::string_view::npos;
}

tls::KeyedHash key_from(std::uint8_t seed) {
  std::array<std::uint8_t, 16> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(seed + 7 * i);
  return tls::KeyedHash{std::span<const std::uint8_t, 16>(key)};
}

class BranchCodec : public ::testing::Test {
 protected:
  tls::KeyedHash hash_ = key_from(1);
  BranchMac mac_{&tls::KeyedHash::call, &hash_};

  std::string encode(const BranchId& id) const {
    std::string s(kBranchLength, '?');
    EXPECT_EQ(encode_branch(id, mac_, s.data()), kBranchLength);
    return s;
  }
};

TEST_F(BranchCodec, FormatFollowsRfc3261) {
  const std::string b = encode({.worker = 0x12, .slot = 0x345678, .generation = 0x9abc});
  // §8.1.1.7: the branch MUST begin with the magic cookie.
  EXPECT_EQ(b.substr(0, 7), "z9hG4bK");
  EXPECT_LE(b.size(), 40U);
  for (char c : b) EXPECT_TRUE(rfc3261_token_char(c)) << "char '" << c << "' in " << b;
  EXPECT_TRUE(is_our_branch(b));
  // Fields are legible in traces: worker, slot, generation in hex after the marker.
  EXPECT_EQ(b.substr(kBranchPrefix.size(), 12), "123456789abc");
}

TEST_F(BranchCodec, EncodeWritesExactlyTheBranchLength) {
  std::array<char, kBranchLength + 8> buf{};
  buf.fill('#');
  ASSERT_EQ(encode_branch({.worker = 1, .slot = 2, .generation = 3}, mac_, buf.data()), kBranchLength);
  for (std::size_t i = kBranchLength; i < buf.size(); ++i) EXPECT_EQ(buf[i], '#');
}

TEST_F(BranchCodec, RoundTripsRandomIds) {
  std::mt19937 rng(20240601);
  for (int i = 0; i < 20000; ++i) {
    const BranchId id{.worker = static_cast<std::uint8_t>(rng()),
                      .slot = static_cast<std::uint32_t>(rng()) & kMaxBranchSlot,
                      .generation = static_cast<std::uint16_t>(rng())};
    const auto decoded = decode_branch(encode(id), mac_);
    ASSERT_TRUE(decoded.has_value()) << encode(id);
    EXPECT_EQ(*decoded, id);
  }
}

TEST_F(BranchCodec, RoundTripsFieldExtremes) {
  for (const BranchId id : {BranchId{0, 0, 0}, BranchId{255, kMaxBranchSlot, 0xffff},
                            BranchId{0, kMaxBranchSlot, 0}, BranchId{255, 0, 0xffff}}) {
    const auto decoded = decode_branch(encode(id), mac_);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, id);
  }
}

TEST_F(BranchCodec, SlotWiderThan24BitsIsNotEncoded) {
  std::array<char, kBranchLength> buf{};
  buf.fill('#');
  EXPECT_EQ(encode_branch({.worker = 0, .slot = kMaxBranchSlot + 1, .generation = 0}, mac_, buf.data()),
            0U);
  for (char c : buf) EXPECT_EQ(c, '#');
}

TEST_F(BranchCodec, EverySingleCharacterChangeIsRejected) {
  const std::string good = encode({.worker = 7, .slot = 0x00abcd, .generation = 42});
  ASSERT_TRUE(decode_branch(good, mac_).has_value());
  for (std::size_t pos = 0; pos < good.size(); ++pos) {
    for (int c = 0; c < 256; ++c) {
      if (static_cast<char>(c) == good[pos]) continue;
      std::string bad = good;
      bad[pos] = static_cast<char>(c);
      EXPECT_FALSE(decode_branch(bad, mac_).has_value()) << "position " << pos << " byte " << c;
    }
  }
}

TEST_F(BranchCodec, UppercaseSpellingIsRejected) {
  // Hex digits are lowercase only, so one id has exactly one spelling.
  std::string b = encode({.worker = 0xab, .slot = 0xcdef01, .generation = 0xabcd});
  for (std::size_t i = kBranchPrefix.size(); i < b.size(); ++i) {
    if (b[i] >= 'a' && b[i] <= 'f') b[i] = static_cast<char>(b[i] - 'a' + 'A');
  }
  EXPECT_FALSE(decode_branch(b, mac_).has_value());
}

TEST_F(BranchCodec, TruncatedOrExtendedIsRejected) {
  const std::string good = encode({.worker = 3, .slot = 99, .generation = 1});
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(decode_branch(std::string_view(good).substr(0, n), mac_).has_value()) << n;
    EXPECT_FALSE(decode_branch(std::string_view(good).substr(good.size() - n), mac_).has_value()) << n;
  }
  for (const char extra : std::string_view("0a;-z ")) {
    EXPECT_FALSE(decode_branch(good + extra, mac_).has_value());
    EXPECT_FALSE(decode_branch(extra + good, mac_).has_value());
  }
}

TEST_F(BranchCodec, ReadsNothingOutsideTheView) {
  // A view of one character less than a valid branch that sits in a larger
  // buffer: the bytes after the view would complete it, but must not count.
  const std::string good = encode({.worker = 9, .slot = 1234, .generation = 5});
  EXPECT_FALSE(decode_branch(std::string_view(good.data(), good.size() - 1), mac_).has_value());
  // A branch at the very end of an exactly sized heap block.
  std::vector<char> exact(good.begin(), good.end());
  EXPECT_TRUE(decode_branch(std::string_view(exact.data(), exact.size()), mac_).has_value());
}

TEST_F(BranchCodec, AnotherSecretRejects) {
  const tls::KeyedHash other_hash = key_from(2);
  const BranchMac other{&tls::KeyedHash::call, &other_hash};
  std::mt19937 rng(7);
  for (int i = 0; i < 1000; ++i) {
    const BranchId id{.worker = static_cast<std::uint8_t>(rng()),
                      .slot = static_cast<std::uint32_t>(rng()) & kMaxBranchSlot,
                      .generation = static_cast<std::uint16_t>(rng())};
    EXPECT_FALSE(decode_branch(encode(id), other).has_value());
  }
}

TEST_F(BranchCodec, StaleGenerationIsADifferentBranch) {
  const BranchId old_id{.worker = 4, .slot = 500, .generation = 17};
  BranchId new_id = old_id;
  ++new_id.generation;
  const std::string old_branch = encode(old_id);
  const std::string new_branch = encode(new_id);
  EXPECT_NE(old_branch, new_branch);
  // A late response still decodes to the old generation, which the slot's
  // owner compares with the slot's current one...
  EXPECT_EQ(decode_branch(old_branch, mac_), old_id);
  // ...and an attacker who rewrites the generation field cannot make it current.
  std::string forged = old_branch;
  forged.replace(kBranchPrefix.size() + 8, 4, new_branch.substr(kBranchPrefix.size() + 8, 4));
  ASSERT_NE(forged, old_branch);
  EXPECT_FALSE(decode_branch(forged, mac_).has_value());
}

TEST(BranchPrefix, RecognisesOnlyOurMarker) {
  EXPECT_TRUE(is_our_branch("z9hG4bK-sr1-"));
  EXPECT_TRUE(is_our_branch("z9hG4bK-sr1-anything"));
  EXPECT_FALSE(is_our_branch("z9hG4bK776asdhds"));  // RFC 3261 example branch of another element
  EXPECT_FALSE(is_our_branch("z9hG4bK-sr1"));
  EXPECT_FALSE(is_our_branch("Z9HG4BK-SR1-"));
  EXPECT_FALSE(is_our_branch(""));
  EXPECT_FALSE(is_our_branch("1234"));  // RFC 2543 style
}

}  // namespace
}  // namespace sigrelay::sip
