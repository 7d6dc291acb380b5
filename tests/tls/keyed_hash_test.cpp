#include "tls/keyed_hash.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace sigrelay::tls {
namespace {

// SipHash-2-4 with 64-bit output, key 00 01 .. 0f, message i = bytes
// 00 01 .. (i-1): the published test vectors of the SipHash reference
// implementation, each written as its 8 output bytes in order.
constexpr std::array<std::string_view, 64> kVectors = {
    "310e0edd47db6f72", "fd67dc93c539f874", "5a4fa9d909806c0d", "2d7efbd796666785",
    "b7877127e09427cf", "8da699cd64557618", "cee3fe586e46c9cb", "37d1018bf50002ab",
    "6224939a79f5f593", "b0e4a90bdf82009e", "f3b9dd94c5bb5d7a", "a7ad6b22462fb3f4",
    "fbe50e86bc8f1e75", "903d84c02756ea14", "eef27a8e90ca23f7", "e545be4961ca29a1",
    "db9bc2577fcc2a3f", "9447be2cf5e99a69", "9cd38d96f0b3c14b", "bd6179a71dc96dbb",
    "98eea21af25cd6be", "c7673b2eb0cbf2d0", "883ea3e395675393", "c8ce5ccd8c030ca8",
    "94af49f6c650adb8", "eab8858ade92e1bc", "f315bb5bb835d817", "adcf6b0763612e2f",
    "a5c91da7acaa4dde", "716595876650a2a6", "28ef495c53a387ad", "42c341d8fa92d832",
    "ce7cf2722f512771", "e37859f94623f3a7", "381205bb1ab0e012", "ae97a10fd434e015",
    "b4a31508beff4d31", "81396229f0907902", "4d0cf49ee5d4dcca", "5c73336a76d8bf9a",
    "d0a704536ba93e0e", "925958fcd6420cad", "a915c29bc8067318", "952b79f3bc0aa6d4",
    "f21df2e41d4535f9", "87577519048f53a9", "10a56cf5dfcd9adb", "eb75095ccd986cd0",
    "51a9cb9ecba312e6", "96afadfc2ce666c7", "72fe52975a4364ee", "5a1645b276d592a1",
    "b274cb8ebf87870a", "6f9bb4203de7b381", "eaecb2a30b22a87f", "9924a43cc1315724",
    "bd838d3aafbf8db7", "0b1a2a3265d51aea", "135079a3231ce660", "932b2846e4d70666",
    "e1915f5cb1eca46c", "f325965ca16d629f", "575ff28e60381be5", "724506eb4c328a95",
};

int nibble(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

// The output bytes read little-endian, as KeyedHash documents.
std::uint64_t expected(std::size_t i) {
  std::uint64_t v = 0;
  for (std::size_t b = 0; b < 8; ++b) {
    const auto byte = static_cast<std::uint64_t>(nibble(kVectors[i][2 * b]) * 16 +
                                                 nibble(kVectors[i][2 * b + 1]));
    v |= byte << (8 * b);
  }
  return v;
}

std::array<std::uint8_t, 16> reference_key() {
  std::array<std::uint8_t, 16> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  return key;
}

std::vector<std::uint8_t> message(std::size_t n) {
  std::vector<std::uint8_t> m(n);
  for (std::size_t i = 0; i < n; ++i) m[i] = static_cast<std::uint8_t>(i);
  return m;
}

TEST(KeyedHash, PaperExampleIsReadLittleEndian) {
  // The SipHash paper states the 15-byte example's output as a129ca6149be45e5.
  const auto key = reference_key();
  const KeyedHash h{std::span<const std::uint8_t, 16>(key)};
  EXPECT_EQ(h(message(15)), 0xa129ca6149be45e5ULL);
}

TEST(KeyedHash, MatchesAllReferenceVectors) {
  const auto key = reference_key();
  const KeyedHash h{std::span<const std::uint8_t, 16>(key)};
  for (std::size_t n = 0; n < kVectors.size(); ++n) {
    EXPECT_EQ(h(message(n)), expected(n)) << "message length " << n;
  }
}

TEST(KeyedHash, ReusedContextGivesSameAnswerInAnyOrder) {
  // Every call re-initialises one prepared context: state from a previous
  // call must not leak into the next, whatever the order.
  const auto key = reference_key();
  const KeyedHash h{std::span<const std::uint8_t, 16>(key)};
  for (std::size_t n = kVectors.size(); n-- > 0;) {
    EXPECT_EQ(h(message(n)), expected(n)) << "message length " << n;
    EXPECT_EQ(h(message(63 - n)), expected(63 - n)) << "message length " << 63 - n;
  }
}

TEST(KeyedHash, CopiesAndMovesKeepTheKey) {
  const auto key = reference_key();
  KeyedHash original{std::span<const std::uint8_t, 16>(key)};
  const KeyedHash copy = original;
  EXPECT_EQ(copy(message(7)), expected(7));
  EXPECT_EQ(original(message(7)), expected(7));

  KeyedHash moved = std::move(original);
  EXPECT_EQ(moved(message(9)), expected(9));

  KeyedHash assigned = KeyedHash::random();
  assigned = copy;
  EXPECT_EQ(assigned(message(3)), expected(3));
}

TEST(KeyedHash, CallAdapterForwardsToTheInstance) {
  const auto key = reference_key();
  const KeyedHash h{std::span<const std::uint8_t, 16>(key)};
  const auto m = message(33);
  EXPECT_EQ(KeyedHash::call(&h, m), expected(33));
}

TEST(KeyedHash, DifferentKeysDisagree) {
  auto key = reference_key();
  const KeyedHash a{std::span<const std::uint8_t, 16>(key)};
  key[15] ^= 0x01;
  const KeyedHash b{std::span<const std::uint8_t, 16>(key)};
  const auto m = message(8);
  EXPECT_NE(a(m), b(m));
}

TEST(KeyedHash, RandomKeysDiffer) {
  // Two 128-bit random keys give the same 64-bit output with probability 2^-64.
  const KeyedHash a = KeyedHash::random();
  const KeyedHash b = KeyedHash::random();
  const auto m = message(16);
  EXPECT_NE(a(m), b(m));
}

}  // namespace
}  // namespace sigrelay::tls
