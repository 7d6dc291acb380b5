// A keyed 64-bit MAC (SipHash-2-4, 64-bit output) on top of OpenSSL 3's
// EVP_MAC "SIPHASH". Used where input from the network must not be able to
// predict or forge our values: the Via branch MAC (sip/branch_codec.hpp) and
// keyed hashing of Call-IDs.
//
// Threading: one instance belongs to one thread. operator() is const but
// re-initialises the OpenSSL context it holds, so two threads calling the
// same instance race. Give every worker its own copy (copying duplicates the
// prepared context; do it at start-up, not on the data path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

// Forward declaration of OpenSSL's opaque context, so users of this header
// do not pull in <openssl/evp.h>.
struct evp_mac_ctx_st;

namespace sigrelay::tls {

class KeyedHash {
 public:
  static constexpr std::size_t kKeySize = 16;

  // A key from OpenSSL's CSPRNG (RAND_bytes): the per-process secret.
  static KeyedHash random();

  explicit KeyedHash(std::span<const std::uint8_t, kKeySize> key);

  KeyedHash(const KeyedHash& other);
  KeyedHash& operator=(const KeyedHash& other);
  KeyedHash(KeyedHash&& other) noexcept;
  KeyedHash& operator=(KeyedHash&& other) noexcept;
  ~KeyedHash();

  // SipHash-2-4 of data. The 8 output bytes are read little-endian, the
  // convention of the SipHash paper (its example output a129ca6149be45e5).
  // No allocation. Must not be called on a moved-from instance.
  std::uint64_t operator()(std::span<const std::uint8_t> data) const;

  // Plain-function form for code that may not depend on tls/ (sip/ takes
  // the MAC as a function pointer plus context): ctx is a const KeyedHash*.
  static std::uint64_t call(const void* ctx, std::span<const std::uint8_t> data);

 private:
  explicit KeyedHash(evp_mac_ctx_st* ctx) : ctx_(ctx) {}

  // Keyed and sized once; every call only re-initialises it (see .cpp).
  evp_mac_ctx_st* ctx_ = nullptr;
};

}  // namespace sigrelay::tls
