// SHAKEN PASSporTs (RFC 8225, RFC 8588) signed with ES256 (RFC 7518 §3.4)
// and carried in the SIP Identity header (RFC 8224 §4.1), plus the
// verification the in-line mode tests use. OpenSSL does the cryptography.
//
// Header and payload are serialized with keys in lexicographic order and no
// whitespace (RFC 8225 §9), so the same claims always give the same bytes.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sigrelay::sim {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct PassportClaims {
  char attest = 'A';     // 'A', 'B' or 'C' (RFC 8588 §4)
  std::string dest_tn;   // called number, normalized (RFC 8224 §8.3)
  std::string orig_tn;   // calling number, normalized
  std::int64_t iat = 0;  // seconds since the epoch
  std::string origid;    // UUID (RFC 8588 §5)
};

// A random (version 4) UUID in its 36-character text form (RFC 4122 §3).
std::string new_origid();

// A PEM EC private key on the P-256 curve; nullptr (and `error`) otherwise.
PkeyPtr load_p256_private_key(const std::string& path, std::string& error);

// Whether `key` is an EC key on P-256 (prime256v1), the only curve ES256 uses.
bool is_p256(EVP_PKEY* key);

// A public key from PEM text holding either a public key or an X.509
// certificate; nullptr when neither parses.
PkeyPtr load_public_key_pem(std::string_view pem);

// ES256 over a JWS signing input (RFC 7518 §3.4): SHA-256, ECDSA on P-256,
// signature as the 64-byte R || S. es256_sign returns empty on failure.
std::string es256_sign(std::string_view signing_input, EVP_PKEY* private_key);
bool es256_verify(std::string_view signing_input, std::string_view raw_signature, EVP_PKEY* public_key);

// The exact JSON texts that get base64url-encoded (RFC 8225 §9 form).
std::string passport_header_json(const std::string& x5u);
std::string passport_payload_json(const PassportClaims& claims);

class PassportSigner {
 public:
  PassportSigner(PkeyPtr key, std::string x5u) : key_(std::move(key)), x5u_(std::move(x5u)) {}

  // The compact JWS (RFC 7515 §7.1); empty if OpenSSL fails.
  std::string sign(const PassportClaims& claims) const;
  // "JWS;info=<x5u>;alg=ES256;ppt=shaken"; empty if signing fails.
  std::string identity_header(const PassportClaims& claims) const;
  const std::string& x5u() const { return x5u_; }

 private:
  PkeyPtr key_;
  std::string x5u_;
};

// Stable verification outcomes: counted and logged by name.
enum class Verdict : std::uint8_t {
  valid = 0,
  malformed,       // not three base64url parts of JSON objects
  unsupported,     // alg is not ES256, ppt not "shaken", or typ not "passport"
  missing_claim,   // x5u, attest, dest.tn, orig.tn, iat or origid absent or of the wrong type
  bad_signature,   // the signature does not verify with the given key
  stale,           // iat further than max_age_s from now (RFC 8224 §6.2.2 freshness)
};

std::string_view to_string(Verdict v);

struct Verification {
  Verdict verdict = Verdict::malformed;
  PassportClaims claims;  // filled when the verdict is valid or stale
  std::string x5u;
};

// Verifies a compact JWS against `public_key` (P-256). The signature is
// checked before the claims are trusted; freshness last.
Verification verify_passport(std::string_view jws, EVP_PKEY* public_key, std::int64_t now,
                             std::int64_t max_age_s = 60);

// The parts of an Identity header value (RFC 8224 §4.1).
struct IdentityHeader {
  std::string_view jws;
  std::string_view info;  // inside <...>
  std::string_view alg;
  std::string_view ppt;
};
std::optional<IdentityHeader> parse_identity_header(std::string_view value);

}  // namespace sigrelay::sim
