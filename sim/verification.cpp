#include "sim/verification.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "sim/numbers.hpp"

namespace sigrelay::sim {

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct OpensslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};


bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// RFC 3261 §25.1 user: unreserved and user-unreserved characters stay, the
// rest is escaped. ';' is escaped too: with user=phone it would start tel
// parameters (RFC 3261 §19.1.6) that the number never had.
std::string escape_user(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  static constexpr std::string_view kKeep = "-_.!~*'()&=+$,";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alnum || kKeep.find(c) != std::string_view::npos) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

IdentityCheck from_verdict(Verdict v) {
  switch (v) {
    case Verdict::valid: return IdentityCheck::passed;
    case Verdict::malformed: return IdentityCheck::malformed;
    case Verdict::unsupported: return IdentityCheck::unsupported;
    case Verdict::missing_claim: return IdentityCheck::missing_claim;
    case Verdict::bad_signature: return IdentityCheck::bad_signature;
    case Verdict::stale: return IdentityCheck::stale;
  }
  return IdentityCheck::malformed;
}

// One Identity header value: the check and, when it passed, the attestation.
IdentityResult check_one(std::string_view value, std::string_view called, std::string_view calling,
                         const TrustedKeys& trusted, std::int64_t now, std::int64_t max_age_s) {
  IdentityResult r;
  r.verstat = VerStat::tn_validation_failed;
  const auto header = parse_identity_header(value);
  if (!header) {
    r.check = IdentityCheck::bad_header;
    return r;
  }
  // RFC 8224 §4.1: the header's alg and ppt, when given, must be the
  // PASSporT's; this verifier knows only ES256 SHAKEN PASSporTs.
  if ((!header->alg.empty() && header->alg != "ES256") ||
      (!header->ppt.empty() && !iequals(header->ppt, "shaken"))) {
    r.check = IdentityCheck::unsupported;
    return r;
  }
  // Every key fails the same way on a malformed or unsupported PASSporT; a
  // key that gets past the signature says more than one that does not.
  Verification best;
  best.verdict = Verdict::bad_signature;
  bool first = true;
  for (const PkeyPtr& key : trusted) {
    Verification v = verify_passport(header->jws, key.get(), now, max_age_s);
    if (first || v.verdict != Verdict::bad_signature) best = std::move(v);
    first = false;
    if (best.verdict == Verdict::valid) break;
  }
  if (trusted.empty()) best = verify_passport(header->jws, nullptr, now, max_age_s);
  r.check = from_verdict(best.verdict);
  if (r.check != IdentityCheck::passed) return r;
  if (best.claims.dest_tn != called) {
    r.check = IdentityCheck::dest_mismatch;
    return r;
  }
  if (best.claims.orig_tn != calling) {
    r.check = IdentityCheck::orig_mismatch;
    return r;
  }
  r.verstat = VerStat::tn_validation_passed;
  r.attest = best.claims.attest;
  return r;
}

}  // namespace

bool load_trusted_keys(const std::string& path, TrustedKeys& out, std::string& error) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    error = "cannot read '" + path + "'";
    return false;
  }
  TrustedKeys found;
  for (int block = 1;; ++block) {
    char* name_raw = nullptr;
    char* header_raw = nullptr;
    unsigned char* data_raw = nullptr;
    long len = 0;
    const int ok = PEM_read_bio(bio.get(), &name_raw, &header_raw, &data_raw, &len);
    const std::unique_ptr<char, OpensslFree> name(name_raw);
    const std::unique_ptr<char, OpensslFree> header(header_raw);
    const std::unique_ptr<unsigned char, OpensslFree> data(data_raw);
    if (ok != 1) {
      // PEM_R_NO_START_LINE is the normal end of the file; anything else a
      // block that does not decode.
      const unsigned long e = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) break;
      error = "'" + path + "': PEM block " + std::to_string(block) + " does not decode";
      return false;
    }
    const std::string_view kind(name.get());
    const unsigned char* p = data.get();
    PkeyPtr key;
    if (kind == "CERTIFICATE") {
      std::unique_ptr<X509, X509Deleter> cert(d2i_X509(nullptr, &p, len));
      if (cert) key.reset(X509_get_pubkey(cert.get()));
    } else if (kind == "PUBLIC KEY") {
      key.reset(d2i_PUBKEY(nullptr, &p, len));
    } else {
      error = "'" + path + "': PEM block " + std::to_string(block) + " is '" + std::string(kind) +
              "', not a CERTIFICATE or PUBLIC KEY";
      return false;
    }
    ERR_clear_error();
    if (!key) {
      error = "'" + path + "': the " + std::string(kind) + " in PEM block " + std::to_string(block) +
              " does not parse";
      return false;
    }
    if (!is_p256(key.get())) {
      error = "'" + path + "': the key in PEM block " + std::to_string(block) +
              " is not an EC P-256 key (ES256 needs one)";
      return false;
    }
    found.push_back(std::move(key));
  }
  if (found.empty()) {
    error = "'" + path + "' holds no PEM CERTIFICATE or PUBLIC KEY";
    return false;
  }
  for (PkeyPtr& k : found) out.push_back(std::move(k));
  return true;
}

std::string_view to_string(VerStat v) {
  switch (v) {
    case VerStat::tn_validation_passed: return "TN-Validation-Passed";
    case VerStat::tn_validation_failed: return "TN-Validation-Failed";
    case VerStat::no_tn_validation: return "No-TN-Validation";
  }
  return "No-TN-Validation";
}

std::string_view to_string(IdentityCheck c) {
  switch (c) {
    case IdentityCheck::passed: return "passed";
    case IdentityCheck::no_identity: return "no_identity";
    case IdentityCheck::bad_header: return "bad_header";
    case IdentityCheck::malformed: return "malformed";
    case IdentityCheck::unsupported: return "unsupported";
    case IdentityCheck::missing_claim: return "missing_claim";
    case IdentityCheck::bad_signature: return "bad_signature";
    case IdentityCheck::stale: return "stale";
    case IdentityCheck::dest_mismatch: return "dest_mismatch";
    case IdentityCheck::orig_mismatch: return "orig_mismatch";
  }
  return "unknown";
}

IdentityResult verify_identity(std::span<const std::string_view> identity_values, std::string_view called,
                               std::string_view calling, const TrustedKeys& trusted, std::int64_t now,
                               std::int64_t max_age_s) {
  IdentityResult first;  // no header: No-TN-Validation
  for (std::size_t i = 0; i < identity_values.size(); ++i) {
    const IdentityResult r = check_one(identity_values[i], called, calling, trusted, now, max_age_s);
    if (r.verstat == VerStat::tn_validation_passed) return r;
    if (i == 0) first = r;
  }
  return first;
}

IdentityResult verify_identity(const sip::Message& invite, const TrustedKeys& trusted, std::int64_t now,
                               std::int64_t max_age_s) {
  std::vector<std::string_view> values;
  for (const sip::Header& h : invite.headers) {
    if (h.id == sip::HeaderId::identity) values.push_back(h.value);
  }
  return verify_identity(values, called_number(invite), calling_number(invite), trusted, now, max_age_s);
}

VerificationHeaders verification_headers(const IdentityResult& result, std::string_view calling,
                                         std::string_view host) {
  VerificationHeaders h;
  const bool phone = all_digits(calling);
  const std::string user = phone ? "+" + std::string(calling) : escape_user(calling);
  h.p_asserted_identity = "<sip:";
  if (!user.empty()) h.p_asserted_identity += user + "@";
  h.p_asserted_identity += std::string(host);
  if (phone) h.p_asserted_identity += ";user=phone";
  h.p_asserted_identity += ";verstat=" + std::string(to_string(result.verstat)) + ">";
  if (result.verstat == VerStat::tn_validation_passed && result.attest != 0) {
    h.attestation_indicator = std::string(1, result.attest);
  }
  return h;
}

VerificationHeaders verification_headers(const IdentityResult& result, const sip::Message& invite,
                                         std::string_view own_host) {
  const sip::Uri& from = invite.from.uri;
  const bool has_host = (from.scheme == sip::UriScheme::sip || from.scheme == sip::UriScheme::sips) &&
                        !from.host.empty();
  return verification_headers(result, calling_number(invite), has_host ? from.host : own_host);
}

}  // namespace sigrelay::sim
