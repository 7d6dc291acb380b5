// The TLS policy of make_client_context/make_server_context, and every way
// peer verification can fail, with the reason we report.
#include "tls/tls_context.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/tls/connection_pair.hpp"
#include "tests/tls/test_pki.hpp"

namespace sigrelay::tls {
namespace {

using testing::ConnectionPair;
using testing::shared_pki;

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(shared_pki().error.empty()) << shared_pki().error; }

  static SslCtxPtr client(bool verify = true, std::string cert = {}, std::string key = {}) {
    auto r = make_client_context({.ca_file = shared_pki().ca_cert,
                                  .client_cert = std::move(cert),
                                  .client_key = std::move(key),
                                  .verify = verify});
    EXPECT_TRUE(r) << r.error;
    return std::move(r.ctx);
  }
  static SslCtxPtr server(const std::string& cert, const std::string& key, std::string client_ca = {}) {
    auto r = make_server_context({.cert = cert, .key = key, .client_ca_file = std::move(client_ca)});
    EXPECT_TRUE(r) << r.error;
    return std::move(r.ctx);
  }
  static SslCtxPtr good_server() { return server(shared_pki().server_cert, shared_pki().server_key); }
};

// Every suite the contexts can negotiate is AEAD; every TLS 1.2 one uses
// ECDHE (forward secrecy).
void expect_aead_only(SSL_CTX* ctx) {
  SSL* ssl = SSL_new(ctx);
  ASSERT_NE(ssl, nullptr);
  STACK_OF(SSL_CIPHER)* ciphers = SSL_get1_supported_ciphers(ssl);
  ASSERT_NE(ciphers, nullptr);
  int tls12 = 0;
  int tls13 = 0;
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    EXPECT_EQ(SSL_CIPHER_is_aead(c), 1) << SSL_CIPHER_get_name(c);
    // TLS 1.3 suites leave the key exchange to the handshake ("any").
    if (SSL_CIPHER_get_kx_nid(c) == NID_kx_any) {
      ++tls13;
    } else {
      ++tls12;
      EXPECT_EQ(SSL_CIPHER_get_kx_nid(c), NID_kx_ecdhe) << SSL_CIPHER_get_name(c);
    }
  }
  EXPECT_GT(tls12, 0);
  EXPECT_GT(tls13, 0);
  sk_SSL_CIPHER_free(ciphers);
  SSL_free(ssl);
}

TEST_F(TlsContextTest, PolicyIsTls12MinimumAeadNoCompressionNoRenegotiation) {
  SslCtxPtr contexts[] = {client(), good_server()};
  for (const SslCtxPtr& ctx : contexts) {
    ASSERT_TRUE(ctx);
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.get()), TLS1_2_VERSION);
    const auto options = SSL_CTX_get_options(ctx.get());
    EXPECT_NE(options & SSL_OP_NO_COMPRESSION, 0U);
    EXPECT_NE(options & SSL_OP_NO_RENEGOTIATION, 0U);
    expect_aead_only(ctx.get());
  }
}

TEST_F(TlsContextTest, VerificationIsOnByDefault) {
  auto ctx = make_client_context({});
  ASSERT_TRUE(ctx) << ctx.error;  // system CA paths
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx.ctx.get()) & SSL_VERIFY_PEER, SSL_VERIFY_PEER);
  EXPECT_EQ(SSL_CTX_get_verify_mode(client(false).get()), SSL_VERIFY_NONE);
}

TEST_F(TlsContextTest, ConfigurationErrorsNameTheFile) {
  auto missing_ca = make_client_context({.ca_file = "/nonexistent/ca.pem"});
  EXPECT_FALSE(missing_ca);
  EXPECT_NE(missing_ca.error.find("/nonexistent/ca.pem"), std::string::npos) << missing_ca.error;

  auto cert_without_key =
      make_client_context({.ca_file = shared_pki().ca_cert, .client_cert = shared_pki().client_cert});
  EXPECT_FALSE(cert_without_key);
  EXPECT_NE(cert_without_key.error.find("private key"), std::string::npos) << cert_without_key.error;

  // The server key belongs to a different certificate than the client's.
  auto mismatched = make_server_context({.cert = shared_pki().client_cert, .key = shared_pki().server_key});
  EXPECT_FALSE(mismatched);
  EXPECT_FALSE(mismatched.error.empty());

  auto no_cert = make_server_context({});
  EXPECT_FALSE(no_cert);
  EXPECT_FALSE(no_cert.error.empty());
}

TEST_F(TlsContextTest, DnsNameIsVerifiedAndSentAsSni) {
  auto c = client();
  auto s = good_server();
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get(), .peer_name = "localhost"});
  ASSERT_TRUE(p.handshake()) << p.client->close_detail();
  const char* sni = SSL_get_servername(p.server->native_handle(), TLSEXT_NAMETYPE_host_name);
  ASSERT_NE(sni, nullptr);
  EXPECT_STREQ(sni, "localhost");
}

TEST_F(TlsContextTest, IpLiteralIsVerifiedAgainstIpSanAndNotSentAsSni) {
  auto c = client();
  auto s = good_server();
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get(), .peer_name = "127.0.0.1"});
  ASSERT_TRUE(p.handshake()) << p.client->close_detail();
  // RFC 6066 §3: literal IPv4 and IPv6 addresses are not permitted in "HostName".
  EXPECT_EQ(SSL_get_servername(p.server->native_handle(), TLSEXT_NAMETYPE_host_name), nullptr);
}

struct Failure {
  CloseReason reason;
  TlsFailure kind;
  std::string detail;
};

Failure client_failure(ConnectionPair& p) {
  EXPECT_FALSE(p.handshake());
  p.run_until([&] { return p.client->state() == StreamState::closed; });
  return {p.client->close_reason(), p.client->tls_failure(), p.client->close_detail()};
}

TEST_F(TlsContextTest, HostnameMismatchIsReported) {
  auto c = client();
  auto s = good_server();
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get(), .peer_name = "sip.example.com"});
  const Failure f = client_failure(p);
  EXPECT_EQ(f.reason, CloseReason::handshake_failed);
  EXPECT_EQ(f.kind, TlsFailure::name_mismatch);
  EXPECT_EQ(f.detail, "certificate verify failed: hostname mismatch");
  // The server sees the client's alert.
  p.run_until([&] { return p.server->state() == StreamState::closed; });
  EXPECT_EQ(p.server->close_reason(), CloseReason::handshake_failed);
  EXPECT_EQ(p.server->tls_failure(), TlsFailure::peer_alert) << p.server->close_detail();
}

TEST_F(TlsContextTest, IpAddressMismatchIsReported) {
  auto c = client();
  auto s = good_server();
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get(), .peer_name = "127.0.0.2"});
  const Failure f = client_failure(p);
  EXPECT_EQ(f.kind, TlsFailure::name_mismatch);
  EXPECT_EQ(f.detail,
            std::string("certificate verify failed: ") + X509_verify_cert_error_string(X509_V_ERR_IP_ADDRESS_MISMATCH));
}

TEST_F(TlsContextTest, UnknownCaIsReported) {
  auto c = client();
  auto s = server(shared_pki().rogue_cert, shared_pki().rogue_key);
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get()});
  const Failure f = client_failure(p);
  EXPECT_EQ(f.reason, CloseReason::handshake_failed);
  EXPECT_EQ(f.kind, TlsFailure::unknown_ca);
  EXPECT_EQ(f.detail, std::string("certificate verify failed: ") +
                          X509_verify_cert_error_string(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
}

TEST_F(TlsContextTest, ImpostorCaWithTheTrustedNameIsReported) {
  auto c = client();
  auto s = server(shared_pki().impostor_cert, shared_pki().impostor_key);
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get()});
  const Failure f = client_failure(p);
  EXPECT_EQ(f.kind, TlsFailure::cert_invalid);
  EXPECT_EQ(f.detail, std::string("certificate verify failed: ") +
                          X509_verify_cert_error_string(X509_V_ERR_CERT_SIGNATURE_FAILURE));
}

TEST_F(TlsContextTest, ExpiredCertificateIsReported) {
  auto c = client();
  auto s = server(shared_pki().expired_cert, shared_pki().expired_key);
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get()});
  const Failure f = client_failure(p);
  EXPECT_EQ(f.kind, TlsFailure::cert_expired);
  EXPECT_EQ(f.detail, "certificate verify failed: certificate has expired");
}

TEST_F(TlsContextTest, VerifyOffAcceptsAnyCertificate) {
  auto c = client(false);
  auto s = server(shared_pki().rogue_cert, shared_pki().rogue_key);
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get(), .peer_name = "sip.example.com"});
  EXPECT_TRUE(p.handshake()) << p.client->close_detail();
}

TEST_F(TlsContextTest, ServerOfferingOnlyTls10IsRefused) {
  // A server as old equipment would be: TLS 1.0 only. OpenSSL 3 allows
  // TLS 1.0 only at security level 0 (its signatures use SHA-1).
  auto c = client();
  auto s = good_server();
  SSL_CTX_set_security_level(s.get(), 0);
  ASSERT_EQ(SSL_CTX_set_min_proto_version(s.get(), TLS1_VERSION), 1);
  ASSERT_EQ(SSL_CTX_set_max_proto_version(s.get(), TLS1_VERSION), 1);
  ASSERT_EQ(SSL_CTX_set_cipher_list(s.get(), "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"), 1);
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get()});
  const Failure f = client_failure(p);
  EXPECT_EQ(f.reason, CloseReason::handshake_failed);
  EXPECT_EQ(f.kind, TlsFailure::protocol_version) << f.detail;
  p.run_until([&] { return p.server->state() == StreamState::closed; });
  EXPECT_EQ(p.server->tls_failure(), TlsFailure::protocol_version) << p.server->close_detail();
}

TEST_F(TlsContextTest, ServerOfferingOnlyTls11IsRefused) {
  auto c = client();
  auto s = good_server();
  SSL_CTX_set_security_level(s.get(), 0);
  ASSERT_EQ(SSL_CTX_set_min_proto_version(s.get(), TLS1_1_VERSION), 1);
  ASSERT_EQ(SSL_CTX_set_max_proto_version(s.get(), TLS1_1_VERSION), 1);
  ASSERT_EQ(SSL_CTX_set_cipher_list(s.get(), "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"), 1);
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get()});
  const Failure f = client_failure(p);
  EXPECT_EQ(f.kind, TlsFailure::protocol_version) << f.detail;
}

TEST_F(TlsContextTest, TlsClientAgainstPlainSipServerSaysSo) {
  auto c = client();
  ConnectionPair p({.client_tls = c.get(), .server_tls = nullptr});
  // A plain-TCP SIP server answers the ClientHello with text.
  ASSERT_TRUE(p.run_until([&] { return p.server->counters().bytes_in > 0; }));
  ASSERT_TRUE(p.server->send("SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n", p.now));
  ASSERT_TRUE(p.run_until([&] { return p.client->state() == StreamState::closed; }));
  EXPECT_EQ(p.client->close_reason(), CloseReason::handshake_failed);
  EXPECT_NE(p.client->close_detail().find("is the peer speaking TLS?"), std::string::npos) << p.client->close_detail();
}

TEST_F(TlsContextTest, MutualTlsAcceptsOurClientCertificate) {
  auto c = client(true, shared_pki().client_cert, shared_pki().client_key);
  auto s = server(shared_pki().server_cert, shared_pki().server_key, shared_pki().ca_cert);
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get()});
  ASSERT_TRUE(p.handshake()) << p.server->close_detail();
  // In TLS 1.3 the server checks the certificate after the client is done:
  // exchange a message to be sure it was accepted.
  ASSERT_TRUE(p.client->send(testing::sip_request("mtls"), p.now));
  ASSERT_TRUE(p.run_until([&] { return !p.server_got.empty(); }));
  X509* peer = SSL_get0_peer_certificate(p.server->native_handle());
  ASSERT_NE(peer, nullptr);
}

TEST_F(TlsContextTest, MutualTlsRefusesClientWithoutCertificate) {
  auto c = client();
  auto s = server(shared_pki().server_cert, shared_pki().server_key, shared_pki().ca_cert);
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get()});
  p.handshake();
  ASSERT_TRUE(p.run_until([&] { return p.server->state() == StreamState::closed; }));
  EXPECT_EQ(p.server->close_reason(), CloseReason::handshake_failed);
  EXPECT_EQ(p.server->tls_failure(), TlsFailure::other) << p.server->close_detail();
  EXPECT_NE(p.server->close_detail().find("certificate"), std::string::npos) << p.server->close_detail();
  // The client learns it from the server's alert (after its own handshake
  // finished, in TLS 1.3).
  ASSERT_TRUE(p.run_until([&] { return p.client->state() == StreamState::closed; }));
  EXPECT_EQ(p.client->close_reason(), CloseReason::handshake_failed);
  EXPECT_EQ(p.client->tls_failure(), TlsFailure::peer_alert) << p.client->close_detail();
}

TEST_F(TlsContextTest, MutualTlsRefusalIsAHandshakeFailureOnTls12Too) {
  auto c = client();
  SSL_CTX_set_max_proto_version(c.get(), TLS1_2_VERSION);
  auto s = server(shared_pki().server_cert, shared_pki().server_key, shared_pki().ca_cert);
  ConnectionPair p({.client_tls = c.get(), .server_tls = s.get()});
  EXPECT_FALSE(p.handshake());
  ASSERT_TRUE(p.run_until([&] { return p.client->state() == StreamState::closed; }));
  EXPECT_EQ(p.client->close_reason(), CloseReason::handshake_failed);
  EXPECT_EQ(p.client->tls_failure(), TlsFailure::peer_alert) << p.client->close_detail();
}

TEST_F(TlsContextTest, KeyLogFileGetsNssLines) {
  const std::string path = shared_pki().dir + "/keylog.txt";
  ASSERT_EQ(setenv("SSLKEYLOGFILE", path.c_str(), 1), 0);
  auto c = client();
  unsetenv("SSLKEYLOGFILE");
  auto s = good_server();
  {
    ConnectionPair p({.client_tls = c.get(), .server_tls = s.get()});
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(p.client->tls_version(), "TLSv1.3");
  }
  std::ifstream in(path);
  ASSERT_TRUE(in.good());
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = "\n" + buffer.str();
  // The NSS key log labels for TLS 1.3 (draft-ietf-tls-keylogfile §3.1).
  for (const char* label : {"CLIENT_HANDSHAKE_TRAFFIC_SECRET ", "SERVER_HANDSHAKE_TRAFFIC_SECRET ",
                            "CLIENT_TRAFFIC_SECRET_0 ", "SERVER_TRAFFIC_SECRET_0 "}) {
    EXPECT_NE(text.find(std::string("\n") + label), std::string::npos) << label << " in" << text;
  }
  // Every line: label, the 32-byte client random in hex, the secret in hex.
  std::istringstream lines(buffer.str());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    std::istringstream fields(line);
    std::string label, random, secret, extra;
    fields >> label >> random >> secret;
    EXPECT_FALSE(label.empty()) << line;
    EXPECT_EQ(random.size(), 64U) << line;
    EXPECT_EQ(random.find_first_not_of("0123456789abcdef"), std::string::npos) << line;
    EXPECT_FALSE(secret.empty()) << line;
    EXPECT_FALSE(fields >> extra) << line;
  }
  EXPECT_GE(count, 4);
}

TEST_F(TlsContextTest, KeyLogFileThatCannotBeOpenedIsAConfigError) {
  ASSERT_EQ(setenv("SSLKEYLOGFILE", "/nonexistent/dir/keylog.txt", 1), 0);
  auto r = make_client_context({.ca_file = shared_pki().ca_cert});
  unsetenv("SSLKEYLOGFILE");
  EXPECT_FALSE(r);
  EXPECT_NE(r.error.find("SSLKEYLOGFILE"), std::string::npos) << r.error;
}

TEST(TlsFailureNames, AreStable) {
  EXPECT_EQ(to_string(TlsFailure::none), "none");
  EXPECT_EQ(to_string(TlsFailure::name_mismatch), "name_mismatch");
  EXPECT_EQ(to_string(TlsFailure::other), "other");
  EXPECT_EQ(static_cast<std::size_t>(TlsFailure::other) + 1, kTlsFailureCount);
}

}  // namespace
}  // namespace sigrelay::tls
