#include "tls/keyed_hash.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace sigrelay::tls {
namespace {

constexpr std::size_t kOutputSize = 8;

// The failures below mean OpenSSL cannot give us SipHash at all (provider
// missing, out of memory, no entropy). There is no safe degraded mode: a
// constant or zero MAC would make every forged branch verify. Stop at once;
// all of these happen at start-up except the per-call checks, which cannot
// fail once the context has been prepared.
[[noreturn]] void fatal(const char* what) {
  std::fprintf(stderr, "sigrelay: keyed hash: %s failed\n", what);
  std::abort();
}

EVP_MAC_CTX* make_context(const std::uint8_t* key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  if (mac == nullptr) fatal("EVP_MAC_fetch(SIPHASH)");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);  // the context keeps its own reference
  if (ctx == nullptr) fatal("EVP_MAC_CTX_new");
  // OpenSSL's SipHash defaults to the 128-bit output; ask for 64 bits.
  // Rounds stay at the defaults, c = 2 and d = 4.
  std::size_t size = kOutputSize;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(ctx, key, KeyedHash::kKeySize, params) != 1) fatal("EVP_MAC_init");
  return ctx;
}

}  // namespace

KeyedHash KeyedHash::random() {
  std::array<std::uint8_t, kKeySize> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) fatal("RAND_bytes");
  KeyedHash h{std::span<const std::uint8_t, kKeySize>(key)};
  OPENSSL_cleanse(key.data(), key.size());
  return h;
}

KeyedHash::KeyedHash(std::span<const std::uint8_t, kKeySize> key)
    : ctx_(make_context(key.data())) {}

KeyedHash::KeyedHash(const KeyedHash& other) {
  if (other.ctx_ == nullptr) return;
  ctx_ = EVP_MAC_CTX_dup(other.ctx_);
  if (ctx_ == nullptr) fatal("EVP_MAC_CTX_dup");
}

KeyedHash& KeyedHash::operator=(const KeyedHash& other) {
  if (this != &other) {
    KeyedHash copy(other);
    std::swap(ctx_, copy.ctx_);
  }
  return *this;
}

KeyedHash::KeyedHash(KeyedHash&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

KeyedHash& KeyedHash::operator=(KeyedHash&& other) noexcept {
  std::swap(ctx_, other.ctx_);
  return *this;
}

KeyedHash::~KeyedHash() { EVP_MAC_CTX_free(ctx_); }

// Cost per call: a fresh EVP_MAC_CTX per call would mean a provider fetch,
// an allocation and a key schedule each time. Instead the context was keyed
// and sized once in make_context(); EVP_MAC_init with a NULL key and no
// params restores that keyed initial state (OpenSSL's SipHash keeps a copy of
// it for exactly this purpose), so a call is init + update + final on
// memory we already own, with no allocation. EVP_MAC_CTX_dup of a template
// would also work but allocates per call.
std::uint64_t KeyedHash::operator()(std::span<const std::uint8_t> data) const {
  assert(ctx_ != nullptr && "KeyedHash used after move");
  std::array<std::uint8_t, kOutputSize> out{};
  std::size_t out_len = 0;
  if (EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx_, data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx_, out.data(), &out_len, out.size()) != 1 || out_len != kOutputSize) {
    fatal("SipHash computation");
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < kOutputSize; ++i) {
    v |= static_cast<std::uint64_t>(out[i]) << (8 * i);
  }
  return v;
}

std::uint64_t KeyedHash::call(const void* ctx, std::span<const std::uint8_t> data) {
  return (*static_cast<const KeyedHash*>(ctx))(data);
}

}  // namespace sigrelay::tls
