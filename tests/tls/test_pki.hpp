// Throwaway certificates for the TLS tests, made at test start with the
// OpenSSL API in a fresh mkdtemp directory (removed again at the end).
// Keys are ECDSA P-256, signatures SHA-256.
#pragma once

#include <string>

namespace sigrelay::tls::testing {

struct TestPki {
  std::string dir;
  std::string ca_cert;  // the CA the clients trust
  // Issued by ca_cert for DNS:localhost and IP:127.0.0.1, valid now.
  std::string server_cert, server_key;
  // Same names and issuer, but notAfter (and notBefore) in the past.
  std::string expired_cert, expired_key;
  // Same names, issued by a CA nobody trusts.
  std::string rogue_cert, rogue_key;
  // Same names, issued by an impostor CA that has the trusted CA's name but
  // another key: the signature does not verify.
  std::string impostor_cert, impostor_key;
  // A client certificate issued by ca_cert, for mutual TLS.
  std::string client_cert, client_key;
  std::string error;  // empty when everything was written

  static TestPki create();
  TestPki() = default;
  TestPki(TestPki&& other) noexcept;
  TestPki& operator=(TestPki&&) = delete;
  TestPki(const TestPki&) = delete;
  ~TestPki();
};

// A process-wide instance, made on first use.
const TestPki& shared_pki();

}  // namespace sigrelay::tls::testing
