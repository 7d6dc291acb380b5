#include "sim/passport.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "sim/base64url.hpp"

namespace sigrelay::sim {

namespace {

using json = nlohmann::json;

constexpr std::size_t kCoordinateBytes = 32;  // P-256

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigDeleter {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};


// ECDSA in OpenSSL yields DER SEQUENCE { r, s }; JWS wants R || S, each
// left-padded to the curve size (RFC 7518 §3.4).
std::string der_to_raw(const unsigned char* der, std::size_t len) {
  const unsigned char* p = der;
  std::unique_ptr<ECDSA_SIG, SigDeleter> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig) return {};
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * kCoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kCoordinateBytes) != static_cast<int>(kCoordinateBytes) ||
      BN_bn2binpad(s, out + kCoordinateBytes, kCoordinateBytes) != static_cast<int>(kCoordinateBytes)) {
    return {};
  }
  return raw;
}

std::string raw_to_der(std::string_view raw) {
  if (raw.size() != 2 * kCoordinateBytes) return {};
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(in, kCoordinateBytes, nullptr);
  BIGNUM* s = BN_bin2bn(in + kCoordinateBytes, kCoordinateBytes, nullptr);
  std::unique_ptr<ECDSA_SIG, SigDeleter> sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || !sig || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return {};
  }
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return {};
  return der;
}

json header_json(const std::string& x5u) {
  return json{{"alg", "ES256"}, {"ppt", "shaken"}, {"typ", "passport"}, {"x5u", x5u}};
}

json payload_json(const PassportClaims& c) {
  return json{{"attest", std::string(1, c.attest)},
              {"dest", {{"tn", json::array({c.dest_tn})}}},
              {"iat", c.iat},
              {"orig", {{"tn", c.orig_tn}}},
              {"origid", c.origid}};
}

// Numbers can hold bytes that are not UTF-8; replace them rather than fail.
std::string compact(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::optional<json> decode_part(std::string_view part) {
  const auto bytes = base64url_decode(part);
  if (!bytes) return std::nullopt;
  json j = json::parse(*bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

const json* member(const json& obj, const char* name) {
  const auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool string_is(const json& obj, const char* name, std::string_view want) {
  const json* v = member(obj, name);
  return v != nullptr && v->is_string() && v->get_ref<const std::string&>() == want;
}

}  // namespace

bool is_p256(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) return false;
  const std::string_view group(name, len);
  return group == "prime256v1" || group == "P-256";
}

std::string new_origid() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) return {};
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return std::string(out, 36);
}

PkeyPtr load_p256_private_key(const std::string& path, std::string& error) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    error = "cannot read '" + path + "'";
    return nullptr;
  }
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    error = "'" + path + "' holds no PEM private key";
    return nullptr;
  }
  if (!is_p256(key.get())) {
    error = "'" + path + "' is not an EC P-256 key (ES256 needs one)";
    return nullptr;
  }
  return key;
}

PkeyPtr load_public_key_pem(std::string_view pem) {
  {
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (PkeyPtr key{PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr)}) return key;
  }
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<X509, X509Deleter> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return nullptr;
  return PkeyPtr(X509_get_pubkey(cert.get()));
}

std::string es256_sign(std::string_view signing_input, EVP_PKEY* private_key) {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || private_key == nullptr || !is_p256(private_key) ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, private_key) != 1) {
    return {};
  }
  const auto* data = reinterpret_cast<const unsigned char*>(signing_input.data());
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, signing_input.size()) != 1) return {};
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len, data,
                     signing_input.size()) != 1) {
    return {};
  }
  return der_to_raw(reinterpret_cast<const unsigned char*>(der.data()), len);
}

bool es256_verify(std::string_view signing_input, std::string_view raw_signature, EVP_PKEY* public_key) {
  const std::string der = raw_to_der(raw_signature);
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  return !der.empty() && public_key != nullptr && is_p256(public_key) && ctx &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, public_key) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

std::string passport_header_json(const std::string& x5u) { return compact(header_json(x5u)); }

std::string passport_payload_json(const PassportClaims& claims) { return compact(payload_json(claims)); }

std::string PassportSigner::sign(const PassportClaims& claims) const {
  const std::string input = base64url_encode(passport_header_json(x5u_)) + "." +
                            base64url_encode(passport_payload_json(claims));
  const std::string raw = es256_sign(input, key_.get());
  if (raw.empty()) return {};
  return input + "." + base64url_encode(raw);
}

std::string PassportSigner::identity_header(const PassportClaims& claims) const {
  const std::string jws = sign(claims);
  if (jws.empty()) return {};
  return jws + ";info=<" + x5u_ + ">;alg=ES256;ppt=shaken";
}

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::valid: return "valid";
    case Verdict::malformed: return "malformed";
    case Verdict::unsupported: return "unsupported";
    case Verdict::missing_claim: return "missing_claim";
    case Verdict::bad_signature: return "bad_signature";
    case Verdict::stale: return "stale";
  }
  return "unknown";
}

Verification verify_passport(std::string_view jws, EVP_PKEY* public_key, std::int64_t now,
                             std::int64_t max_age_s) {
  Verification out;
  const auto dot1 = jws.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : jws.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jws.find('.', dot2 + 1) != std::string_view::npos) return out;
  const auto header = decode_part(jws.substr(0, dot1));
  const auto payload = decode_part(jws.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = base64url_decode(jws.substr(dot2 + 1));
  if (!header || !payload || !signature) return out;

  if (!string_is(*header, "alg", "ES256") || !string_is(*header, "ppt", "shaken") ||
      !string_is(*header, "typ", "passport")) {
    out.verdict = Verdict::unsupported;
    return out;
  }

  // The signature covers the parts exactly as received (RFC 7515 §5.2).
  if (!es256_verify(jws.substr(0, dot2), *signature, public_key)) {
    out.verdict = Verdict::bad_signature;
    return out;
  }

  const json* x5u = member(*header, "x5u");
  const json* attest = member(*payload, "attest");
  const json* dest = member(*payload, "dest");
  const json* orig = member(*payload, "orig");
  const json* iat = member(*payload, "iat");
  const json* origid = member(*payload, "origid");
  const json* dest_tn = dest != nullptr && dest->is_object() ? member(*dest, "tn") : nullptr;
  const json* orig_tn = orig != nullptr && orig->is_object() ? member(*orig, "tn") : nullptr;
  const bool ok = x5u != nullptr && x5u->is_string() && attest != nullptr && attest->is_string() &&
                  dest_tn != nullptr && dest_tn->is_array() && !dest_tn->empty() &&
                  (*dest_tn)[0].is_string() && orig_tn != nullptr && orig_tn->is_string() &&
                  iat != nullptr && iat->is_number_integer() && origid != nullptr &&
                  origid->is_string();
  if (!ok) {
    out.verdict = Verdict::missing_claim;
    return out;
  }
  const auto& a = attest->get_ref<const std::string&>();
  if (a != "A" && a != "B" && a != "C") {
    out.verdict = Verdict::missing_claim;
    return out;
  }
  out.x5u = x5u->get<std::string>();
  out.claims.attest = a[0];
  out.claims.dest_tn = (*dest_tn)[0].get<std::string>();
  out.claims.orig_tn = orig_tn->get<std::string>();
  out.claims.iat = iat->get<std::int64_t>();
  out.claims.origid = origid->get<std::string>();
  const std::int64_t age = now - out.claims.iat;
  out.verdict = (age > max_age_s || age < -max_age_s) ? Verdict::stale : Verdict::valid;
  return out;
}

std::optional<IdentityHeader> parse_identity_header(std::string_view value) {
  IdentityHeader h;
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  const auto semi = value.find(';');
  h.jws = trim(value.substr(0, semi));
  if (h.jws.empty()) return std::nullopt;
  std::string_view rest = semi == std::string_view::npos ? std::string_view{} : value.substr(semi + 1);
  while (!rest.empty()) {
    std::size_t end = 0;
    // info=<...> may contain ';' inside the angle brackets.
    const auto lt = rest.find('<');
    const auto next_semi = rest.find(';');
    if (lt != std::string_view::npos && lt < next_semi) {
      const auto gt = rest.find('>', lt);
      if (gt == std::string_view::npos) return std::nullopt;
      end = rest.find(';', gt);
    } else {
      end = next_semi;
    }
    const auto param = trim(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    const auto eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    const auto name = trim(param.substr(0, eq));
    auto val = trim(param.substr(eq + 1));
    if (val.size() >= 2 && val.front() == '"' && val.back() == '"') val = val.substr(1, val.size() - 2);
    if (iequals(name, "info")) {
      if (val.size() < 2 || val.front() != '<' || val.back() != '>') return std::nullopt;
      h.info = val.substr(1, val.size() - 2);
    } else if (iequals(name, "alg")) {
      h.alg = val;
    } else if (iequals(name, "ppt")) {
      h.ppt = val;
    }
  }
  return h;
}

}  // namespace sigrelay::sim
