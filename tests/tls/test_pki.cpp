#include "tests/tls/test_pki.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <utility>

namespace sigrelay::tls::testing {
namespace {

constexpr long kDay = 24 * 60 * 60;

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

bool add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

struct CertSpec {
  const char* common_name = "";
  bool ca = false;
  const char* subject_alt_name = nullptr;
  long not_before = -kDay;  // seconds from now
  long not_after = 30 * kDay;
  long serial = 1;
};

// Self-signed when issuer is null.
Cert make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  Cert cert(X509_new());
  if (!cert) return {};
  X509* x = cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), spec.serial);
  X509_gmtime_adj(X509_getm_notBefore(x), spec.not_before);
  X509_gmtime_adj(X509_getm_notAfter(x), spec.not_after);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(spec.common_name), -1, -1,
                             0);
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
  bool ok =
      add_extension(x, &ctx, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
      add_extension(x, &ctx, NID_key_usage, spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature") &&
      add_extension(x, &ctx, NID_subject_key_identifier, "hash");
  if (ok && !spec.ca) ok = add_extension(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
  if (ok && spec.subject_alt_name != nullptr) ok = add_extension(x, &ctx, NID_subject_alt_name, spec.subject_alt_name);
  if (!ok || X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) return {};
  return cert;
}

bool write_cert(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = PEM_write_X509(f, cert) == 1;
  return std::fclose(f) == 0 && ok;
}

bool write_key(const std::string& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  return std::fclose(f) == 0 && ok;
}

Key new_key() { return Key(EVP_EC_gen("P-256")); }

}  // namespace

TestPki::TestPki(TestPki&& other) noexcept
    : dir(std::move(other.dir)),
      ca_cert(std::move(other.ca_cert)),
      server_cert(std::move(other.server_cert)),
      server_key(std::move(other.server_key)),
      expired_cert(std::move(other.expired_cert)),
      expired_key(std::move(other.expired_key)),
      rogue_cert(std::move(other.rogue_cert)),
      rogue_key(std::move(other.rogue_key)),
      impostor_cert(std::move(other.impostor_cert)),
      impostor_key(std::move(other.impostor_key)),
      client_cert(std::move(other.client_cert)),
      client_key(std::move(other.client_key)),
      error(std::move(other.error)) {
  other.dir.clear();
}

TestPki::~TestPki() {
  if (dir.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

TestPki TestPki::create() {
  TestPki pki;
  char templ[] = "/tmp/sigrelay-tls-test-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    pki.error = "mkdtemp failed";
    return pki;
  }
  pki.dir = templ;
  const auto path = [&](const char* name) { return pki.dir + "/" + name; };
  constexpr const char* kNames = "DNS:localhost,IP:127.0.0.1";

  Key ca_key = new_key();
  Key rogue_ca_key = new_key();
  Key server_key = new_key();
  Key client_key = new_key();
  if (!ca_key || !rogue_ca_key || !server_key || !client_key) {
    pki.error = "key generation failed";
    return pki;
  }
  Cert ca = make_cert({.common_name = "sigrelay test CA", .ca = true, .serial = 1}, ca_key.get(), nullptr, nullptr);
  Cert rogue_ca =
      make_cert({.common_name = "rogue test CA", .ca = true, .serial = 2}, rogue_ca_key.get(), nullptr, nullptr);
  Cert impostor_ca =
      make_cert({.common_name = "sigrelay test CA", .ca = true, .serial = 3}, rogue_ca_key.get(), nullptr, nullptr);
  if (!ca || !rogue_ca || !impostor_ca) {
    pki.error = "CA certificate failed";
    return pki;
  }
  Cert server = make_cert({.common_name = "localhost", .subject_alt_name = kNames, .serial = 10}, server_key.get(),
                          ca.get(), ca_key.get());
  Cert expired = make_cert({.common_name = "localhost",
                            .subject_alt_name = kNames,
                            .not_before = -30 * kDay,
                            .not_after = -kDay,
                            .serial = 11},
                           server_key.get(), ca.get(), ca_key.get());
  Cert rogue = make_cert({.common_name = "localhost", .subject_alt_name = kNames, .serial = 12}, server_key.get(),
                         rogue_ca.get(), rogue_ca_key.get());
  Cert impostor = make_cert({.common_name = "localhost", .subject_alt_name = kNames, .serial = 14}, server_key.get(),
                            impostor_ca.get(), rogue_ca_key.get());
  Cert client = make_cert({.common_name = "sigrelay test client", .subject_alt_name = "DNS:client.test", .serial = 13},
                          client_key.get(), ca.get(), ca_key.get());
  if (!server || !expired || !rogue || !impostor || !client) {
    pki.error = "leaf certificate failed";
    return pki;
  }
  pki.ca_cert = path("ca.pem");
  pki.server_cert = path("server.pem");
  pki.server_key = path("server.key");
  pki.expired_cert = path("expired.pem");
  pki.expired_key = pki.server_key;
  pki.rogue_cert = path("rogue.pem");
  pki.rogue_key = pki.server_key;
  pki.impostor_cert = path("impostor.pem");
  pki.impostor_key = pki.server_key;
  pki.client_cert = path("client.pem");
  pki.client_key = path("client.key");
  const bool ok = write_cert(pki.ca_cert, ca.get()) && write_cert(pki.server_cert, server.get()) &&
                  write_key(pki.server_key, server_key.get()) && write_cert(pki.expired_cert, expired.get()) &&
                  write_cert(pki.rogue_cert, rogue.get()) && write_cert(pki.impostor_cert, impostor.get()) &&
                  write_cert(pki.client_cert, client.get()) && write_key(pki.client_key, client_key.get());
  if (!ok) pki.error = "writing PEM files failed";
  return pki;
}

const TestPki& shared_pki() {
  static const TestPki pki = TestPki::create();
  return pki;
}

}  // namespace sigrelay::tls::testing
