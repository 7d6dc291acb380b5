// TLS 1.3 record protection cost, OpenSSL EVP against Intel IPsec-MB, both
// used the way a record layer would: the key schedule is done once per
// connection, every record gets a fresh nonce (static IV XOR sequence
// number, RFC 8446 section 5.3) and the 5-byte record header as AAD
// (section 5.2). Issue 7 asks for these figures; docs/benchmarks.md records
// them and the command that produced them.
//
// Each benchmark first seals one record with both engines and skips with an
// error unless ciphertext and tag agree byte for byte, so no figure can come
// from a wrong computation.
#include <benchmark/benchmark.h>

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kNonceLen = 12;
constexpr std::size_t kAadLen = 5;
constexpr std::size_t kTagLen = 16;
// Records kept sealed ahead for the open benchmarks (each needs its own
// nonce); the seal benchmarks write into as many slots so both directions
// touch the same amount of memory.
constexpr std::size_t kRingSlots = 8;

enum class KeyBits : int { aes128 = 128, aes256 = 256 };

struct Record {
  std::vector<std::uint8_t> body;  // ciphertext
  std::array<std::uint8_t, kTagLen> tag{};
  std::uint64_t seq = 0;
};

// Fixed, arbitrary connection secrets: the cost does not depend on them.
std::array<std::uint8_t, 32> connection_key() {
  std::array<std::uint8_t, 32> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0x3c + 7 * i);
  return k;
}
constexpr std::array<std::uint8_t, kNonceLen> kStaticIv{0x5a, 0x1e, 0x22, 0x90, 0x0b, 0xc4,
                                                        0x71, 0x3d, 0xe8, 0x06, 0x9f, 0x48};

void make_nonce(std::uint64_t seq, std::uint8_t* nonce) {
  std::memcpy(nonce, kStaticIv.data(), kNonceLen);
  for (std::size_t i = 0; i < 8; ++i) {
    nonce[kNonceLen - 1 - i] ^= static_cast<std::uint8_t>(seq >> (8 * i));
  }
}

// opaque_type application_data, legacy_record_version 0x0303, length of the
// protected record (payload plus tag).
std::array<std::uint8_t, kAadLen> record_header(std::size_t payload_len) {
  const std::size_t n = payload_len + kTagLen;
  return {0x17, 0x03, 0x03, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n & 0xff)};
}

std::vector<std::uint8_t> sample_payload(std::size_t len) {
  std::vector<std::uint8_t> p(len);
  for (std::size_t i = 0; i < len; ++i) p[i] = static_cast<std::uint8_t>(i * 31 + 11);
  return p;
}

// ---- OpenSSL EVP -----------------------------------------------------------

const EVP_CIPHER* evp_cipher(KeyBits bits) { return bits == KeyBits::aes128 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(); }

struct EvpCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EvpCtx() = default;
  EvpCtx(const EvpCtx&) = delete;
  EvpCtx& operator=(const EvpCtx&) = delete;
  ~EvpCtx() { EVP_CIPHER_CTX_free(ctx); }
};

bool evp_seal(EVP_CIPHER_CTX* ctx, const std::uint8_t* nonce, const std::uint8_t* aad, const std::uint8_t* in,
              std::size_t len, std::uint8_t* out, std::uint8_t* tag) {
  int n = 0;
  int fin = 0;
  return EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) == 1 &&
         EVP_EncryptUpdate(ctx, nullptr, &n, aad, static_cast<int>(kAadLen)) == 1 &&
         EVP_EncryptUpdate(ctx, out, &n, in, static_cast<int>(len)) == 1 &&
         EVP_EncryptFinal_ex(ctx, out + n, &fin) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagLen), tag) == 1;
}

bool evp_open(EVP_CIPHER_CTX* ctx, const std::uint8_t* nonce, const std::uint8_t* aad, const std::uint8_t* in,
              std::size_t len, const std::uint8_t* tag, std::uint8_t* out) {
  int n = 0;
  int fin = 0;
  // SET_TAG takes a non-const pointer but only reads it.
  return EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) == 1 &&
         EVP_DecryptUpdate(ctx, nullptr, &n, aad, static_cast<int>(kAadLen)) == 1 &&
         EVP_DecryptUpdate(ctx, out, &n, in, static_cast<int>(len)) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagLen), const_cast<std::uint8_t*>(tag)) ==
             1 &&
         EVP_DecryptFinal_ex(ctx, out + n, &fin) == 1;
}

// ---- Intel IPsec-MB --------------------------------------------------------

const char* arch_name(std::uint32_t arch) {
  switch (arch) {
    case IMB_ARCH_NOAESNI: return "no-aesni";
    case IMB_ARCH_SSE: return "sse";
    case IMB_ARCH_AVX: return "avx";
    case IMB_ARCH_AVX2: return "avx2";
    case IMB_ARCH_AVX512: return "avx512";
    default: return "unknown";
  }
}

// One manager for the process, as one worker thread would own one.
struct IpsecMb {
  IMB_MGR* mgr = nullptr;
  std::string label;

  IpsecMb() {
    mgr = alloc_mb_mgr(0);
    if (mgr == nullptr) return;
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(mgr, &arch);
    if (imb_get_errno(mgr) != 0) {
      free_mb_mgr(mgr);
      mgr = nullptr;
      return;
    }
    label = std::string("ipsec-mb arch=") + arch_name(mgr->used_arch);
    std::fprintf(stderr, "record_bench: IPsec-MB %s arch=%s (CPU has%s%s%s), %s\n", imb_get_version_str(),
                 arch_name(mgr->used_arch), (mgr->features & IMB_FEATURE_AVX512F) != 0 ? " avx512f" : "",
                 (mgr->features & IMB_FEATURE_VAES) != 0 ? " vaes" : "",
                 (mgr->features & IMB_FEATURE_VPCLMULQDQ) != 0 ? " vpclmulqdq" : "", OpenSSL_version(OPENSSL_VERSION));
  }
  IpsecMb(const IpsecMb&) = delete;
  IpsecMb& operator=(const IpsecMb&) = delete;
  ~IpsecMb() {
    if (mgr != nullptr) free_mb_mgr(mgr);
  }
};

IpsecMb& ipsec_mb() {
  static IpsecMb instance;
  return instance;
}

struct MbKey {
  alignas(64) gcm_key_data data;
  KeyBits bits;
};

void mb_expand(IMB_MGR* mgr, KeyBits bits, const std::uint8_t* key, MbKey& out) {
  out.bits = bits;
  if (bits == KeyBits::aes128) {
    IMB_AES128_GCM_PRE(mgr, key, &out.data);
  } else {
    IMB_AES256_GCM_PRE(mgr, key, &out.data);
  }
}

void mb_seal(IMB_MGR* mgr, const MbKey& key, const std::uint8_t* nonce, const std::uint8_t* aad,
             const std::uint8_t* in, std::size_t len, std::uint8_t* out, std::uint8_t* tag) {
  gcm_context_data ctx;
  if (key.bits == KeyBits::aes128) {
    IMB_AES128_GCM_ENC(mgr, &key.data, &ctx, out, in, len, nonce, aad, kAadLen, tag, kTagLen);
  } else {
    IMB_AES256_GCM_ENC(mgr, &key.data, &ctx, out, in, len, nonce, aad, kAadLen, tag, kTagLen);
  }
}

// The direct API only computes the tag; the comparison is the caller's, and
// must be constant time like OpenSSL's.
bool mb_open(IMB_MGR* mgr, const MbKey& key, const std::uint8_t* nonce, const std::uint8_t* aad,
             const std::uint8_t* in, std::size_t len, const std::uint8_t* tag, std::uint8_t* out) {
  gcm_context_data ctx;
  std::uint8_t computed[kTagLen];
  if (key.bits == KeyBits::aes128) {
    IMB_AES128_GCM_DEC(mgr, &key.data, &ctx, out, in, len, nonce, aad, kAadLen, computed, kTagLen);
  } else {
    IMB_AES256_GCM_DEC(mgr, &key.data, &ctx, out, in, len, nonce, aad, kAadLen, computed, kTagLen);
  }
  return CRYPTO_memcmp(computed, tag, kTagLen) == 0;
}

// ---- shared set-up ---------------------------------------------------------

enum class Engine { evp, ipsec_mb };

struct Fixture {
  KeyBits bits;
  std::size_t len;
  std::vector<std::uint8_t> plain;
  std::array<std::uint8_t, kAadLen> aad;
  EvpCtx evp_enc;
  EvpCtx evp_dec;
  MbKey mb_key{};
  std::array<Record, kRingSlots> ring;
  std::vector<std::uint8_t> opened;

  Fixture(KeyBits b, std::size_t n) : bits(b), len(n), plain(sample_payload(n)), aad(record_header(n)), opened(n) {
    for (auto& r : ring) r.body.resize(n);
  }
};

// Keys both engines, then checks they agree on a sealed record and that each
// opens the other's. Returns an error text, or nullptr when all is well.
const char* prepare(Fixture& f) {
  IMB_MGR* mgr = ipsec_mb().mgr;
  if (mgr == nullptr) return "IPsec-MB manager could not be set up";
  const auto key = connection_key();
  const EVP_CIPHER* cipher = evp_cipher(f.bits);
  if (EVP_EncryptInit_ex(f.evp_enc.ctx, cipher, nullptr, key.data(), nullptr) != 1 ||
      EVP_DecryptInit_ex(f.evp_dec.ctx, cipher, nullptr, key.data(), nullptr) != 1) {
    return "EVP key set-up failed";
  }
  mb_expand(mgr, f.bits, key.data(), f.mb_key);

  std::uint8_t nonce[kNonceLen];
  make_nonce(0x0102030405060708ULL, nonce);
  std::vector<std::uint8_t> evp_ct(f.len);
  std::vector<std::uint8_t> mb_ct(f.len);
  std::uint8_t evp_tag[kTagLen];
  std::uint8_t mb_tag[kTagLen];
  if (!evp_seal(f.evp_enc.ctx, nonce, f.aad.data(), f.plain.data(), f.len, evp_ct.data(), evp_tag)) {
    return "EVP seal failed";
  }
  mb_seal(mgr, f.mb_key, nonce, f.aad.data(), f.plain.data(), f.len, mb_ct.data(), mb_tag);
  if (imb_get_errno(mgr) != 0) return "IPsec-MB seal reported an error";
  if (evp_ct != mb_ct || std::memcmp(evp_tag, mb_tag, kTagLen) != 0) {
    return "EVP and IPsec-MB disagree on ciphertext or tag";
  }
  if (std::memcmp(evp_ct.data(), f.plain.data(), f.len) == 0) return "ciphertext equals plaintext";
  if (!evp_open(f.evp_dec.ctx, nonce, f.aad.data(), mb_ct.data(), f.len, mb_tag, f.opened.data()) ||
      f.opened != f.plain) {
    return "EVP does not open the IPsec-MB record";
  }
  std::fill(f.opened.begin(), f.opened.end(), std::uint8_t{0});
  if (!mb_open(mgr, f.mb_key, nonce, f.aad.data(), evp_ct.data(), f.len, evp_tag, f.opened.data()) ||
      f.opened != f.plain) {
    return "IPsec-MB does not open the EVP record";
  }
  // A flipped tag bit must be refused by both.
  evp_tag[3] ^= 0x10;
  if (evp_open(f.evp_dec.ctx, nonce, f.aad.data(), evp_ct.data(), f.len, evp_tag, f.opened.data()) ||
      mb_open(mgr, f.mb_key, nonce, f.aad.data(), evp_ct.data(), f.len, evp_tag, f.opened.data())) {
    return "a forged tag was accepted";
  }

  // Records for the open benchmarks, sequence numbers 0..kRingSlots-1.
  for (std::size_t i = 0; i < kRingSlots; ++i) {
    auto& r = f.ring[i];
    r.seq = i;
    make_nonce(r.seq, nonce);
    if (!evp_seal(f.evp_enc.ctx, nonce, f.aad.data(), f.plain.data(), f.len, r.body.data(), r.tag.data())) {
      return "EVP seal failed";
    }
  }
  return nullptr;
}

void report(benchmark::State& state, std::size_t len) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * len));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetLabel(ipsec_mb().label);
}

void seal_loop(benchmark::State& state, Engine engine) {
  Fixture f(static_cast<KeyBits>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  if (const char* err = prepare(f)) {
    state.SkipWithError(err);
    return;
  }
  IMB_MGR* mgr = ipsec_mb().mgr;
  std::uint64_t seq = 0;
  bool failed = false;
  std::uint8_t nonce[kNonceLen];
  for (auto _ : state) {
    Record& r = f.ring[seq % kRingSlots];
    make_nonce(seq, nonce);
    if (engine == Engine::evp) {
      failed |= !evp_seal(f.evp_enc.ctx, nonce, f.aad.data(), f.plain.data(), f.len, r.body.data(), r.tag.data());
    } else {
      mb_seal(mgr, f.mb_key, nonce, f.aad.data(), f.plain.data(), f.len, r.body.data(), r.tag.data());
    }
    benchmark::DoNotOptimize(r.body.data());
    benchmark::DoNotOptimize(r.tag);
    ++seq;
  }
  if (failed) state.SkipWithError("a seal failed inside the timed loop");
  report(state, f.len);
}

void open_loop(benchmark::State& state, Engine engine) {
  Fixture f(static_cast<KeyBits>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  if (const char* err = prepare(f)) {
    state.SkipWithError(err);
    return;
  }
  IMB_MGR* mgr = ipsec_mb().mgr;
  std::size_t slot = 0;
  std::size_t refused = 0;
  std::uint8_t nonce[kNonceLen];
  for (auto _ : state) {
    const Record& r = f.ring[slot];
    make_nonce(r.seq, nonce);
    const bool ok =
        engine == Engine::evp
            ? evp_open(f.evp_dec.ctx, nonce, f.aad.data(), r.body.data(), f.len, r.tag.data(), f.opened.data())
            : mb_open(mgr, f.mb_key, nonce, f.aad.data(), r.body.data(), f.len, r.tag.data(), f.opened.data());
    refused += ok ? 0 : 1;
    benchmark::DoNotOptimize(f.opened.data());
    slot = (slot + 1) % kRingSlots;
  }
  if (refused != 0 || f.opened != f.plain) state.SkipWithError("a record failed to open inside the timed loop");
  report(state, f.len);
}

void BM_SealEvp(benchmark::State& state) { seal_loop(state, Engine::evp); }
void BM_SealIpsecMb(benchmark::State& state) { seal_loop(state, Engine::ipsec_mb); }
void BM_OpenEvp(benchmark::State& state) { open_loop(state, Engine::evp); }
void BM_OpenIpsecMb(benchmark::State& state) { open_loop(state, Engine::ipsec_mb); }

void record_sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"key", "bytes"});
  for (int bits : {128, 256}) {
    for (int len : {256, 1024, 16384}) b->Args({bits, len});
  }
}

BENCHMARK(BM_SealEvp)->Apply(record_sizes);
BENCHMARK(BM_SealIpsecMb)->Apply(record_sizes);
BENCHMARK(BM_OpenEvp)->Apply(record_sizes);
BENCHMARK(BM_OpenIpsecMb)->Apply(record_sizes);

}  // namespace
