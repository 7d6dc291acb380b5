// STIR/SHAKEN verification as the terminating side of the service does it:
// the Identity header of an INVITE (RFC 8224) checked against trusted keys
// and against the call's numbers, reduced to an ATIS-1000074 verstat, and the
// headers that carry the result back in a 302 (docs/sim.md). Pure functions
// apart from reading PEM files; OpenSSL does the cryptography (sim/passport).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/passport.hpp"
#include "sip/message.hpp"

namespace sigrelay::sim {

// Public keys whose PASSporTs the simulator accepts (shaken.trust).
using TrustedKeys = std::vector<PkeyPtr>;

// Appends the key of every CERTIFICATE and PUBLIC KEY block in the PEM file
// at `path` to `out`. Fails (and says why in `error`) when the file cannot be
// read, holds no such block, holds another kind of block, or a key is not
// EC P-256 (ES256 needs one); `out` is then left as it was.
bool load_trusted_keys(const std::string& path, TrustedKeys& out, std::string& error);

// The verstat values of ATIS-1000074 (also 3GPP TS 24.229 §7.2A.20).
enum class VerStat : std::uint8_t {
  tn_validation_passed = 0,
  tn_validation_failed,
  no_tn_validation,  // the INVITE carried no Identity header
};

// "TN-Validation-Passed", "TN-Validation-Failed", "No-TN-Validation".
std::string_view to_string(VerStat v);

// Why a verification came out as it did: stable, counted and logged by name.
enum class IdentityCheck : std::uint8_t {
  passed = 0,
  no_identity,      // no Identity header
  bad_header,       // the Identity header value does not parse (RFC 8224 §4.1)
  malformed,        // the JWS is not three base64url parts of JSON objects
  unsupported,      // alg other than ES256, ppt other than "shaken", typ other than "passport"
  missing_claim,    // a SHAKEN claim absent or of the wrong type (RFC 8588)
  bad_signature,    // no trusted key verifies the signature
  stale,            // iat too far from now (RFC 8224 §6.2.2)
  dest_mismatch,    // dest.tn is not the called number
  orig_mismatch,    // orig.tn is not the calling number
};

std::string_view to_string(IdentityCheck c);

struct IdentityResult {
  VerStat verstat = VerStat::no_tn_validation;
  IdentityCheck check = IdentityCheck::no_identity;
  char attest = 0;  // 'A', 'B' or 'C' when passed, else 0
};

inline constexpr std::int64_t kMaxPassportAgeS = 60;  // RFC 8224 §6.2.2's recommended freshness

// Verifies the Identity header values of one INVITE. `called` and `calling`
// are the normalized numbers (sim/numbers.hpp); a PASSporT's dest.tn and
// orig.tn must equal them exactly, since RFC 8225 §5.2.1 puts them in that
// canonical form already. A header passes when any trusted key verifies its
// signature and its claims, numbers and freshness hold; the INVITE passes
// when any of its headers does. Otherwise the result is the first header's
// failure. No header at all gives No-TN-Validation.
IdentityResult verify_identity(std::span<const std::string_view> identity_values, std::string_view called,
                               std::string_view calling, const TrustedKeys& trusted, std::int64_t now,
                               std::int64_t max_age_s = kMaxPassportAgeS);

// The same for a parsed INVITE: every Identity header (full or compact
// name), called_number() and calling_number().
IdentityResult verify_identity(const sip::Message& invite, const TrustedKeys& trusted, std::int64_t now,
                               std::int64_t max_age_s = kMaxPassportAgeS);

// Header values for a verification 302; an empty value means "leave the
// header out".
struct VerificationHeaders {
  std::string p_asserted_identity;    // <sip:+NUMBER@HOST;user=phone;verstat=VERSTAT>
  std::string attestation_indicator;  // "A", "B" or "C" when passed; empty otherwise
};

// `calling` is the normalized calling number and `host` a URI host. A
// number of digits is written in global form ('+' first) with user=phone;
// anything else is %-escaped into the user part, so no byte of it can end
// the header, and an empty number leaves the user part out.
VerificationHeaders verification_headers(const IdentityResult& result, std::string_view calling,
                                         std::string_view host);

// The same for a parsed INVITE: the calling number as calling_number()
// finds it, the host of the From URI, or `own_host` when From has none
// (a tel: URI).
VerificationHeaders verification_headers(const IdentityResult& result, const sip::Message& invite,
                                         std::string_view own_host);

}  // namespace sigrelay::sim
