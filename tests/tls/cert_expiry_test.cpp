// Certificate expiry: notAfter read from PEM files and from a live TLS
// session, as unix seconds, and the text an alarm shows. Certificates are
// made here with the OpenSSL API, with notAfter values whose unix time is
// known independently (RFC 5280 §4.1.2.5 time forms, converted with
// `date -u -d ... +%s`).
#include "tls/cert_expiry.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include "tests/tls/connection_pair.hpp"
#include "tests/tls/test_pki.hpp"
#include "tls/tls_context.hpp"

namespace sigrelay::tls {
namespace {

using testing::ConnectionPair;
using testing::shared_pki;

constexpr std::int64_t kDay = 24 * 60 * 60;
// 2026-12-06T12:00:00Z
constexpr std::int64_t kDec6 = 1796558400;

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

const Key& test_key() {
  static const Key key(EVP_EC_gen("P-256"));
  return key;
}

// notAfter as either an RFC 5280 time string or unix seconds.
struct Spec {
  const char* common_name = "sim.test";
  const char* organization = nullptr;
  const char* issuer_cn = "sigrelay expiry test CA";
  const char* not_after_text = nullptr;  // "YYMMDDHHMMSSZ" or "YYYYMMDDHHMMSSZ"
  std::int64_t not_after = kDec6;        // used when not_after_text is null
};

Cert make_cert(const Spec& spec) {
  Cert cert(X509_new());
  X509* x = cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(kDec6 - 400 * kDay));
  if (spec.not_after_text != nullptr) {
    if (ASN1_TIME_set_string(X509_getm_notAfter(x), spec.not_after_text) != 1) return {};
  } else if (ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(spec.not_after)) == nullptr) {
    return {};
  }
  X509_set_pubkey(x, test_key().get());
  // Most general first, as certificates carry names; RFC 2253 prints them
  // the other way round.
  X509_NAME* subject = X509_get_subject_name(x);
  if (spec.organization != nullptr) {
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(spec.organization), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(spec.common_name),
                             -1, -1, 0);
  X509_NAME* issuer = X509_get_issuer_name(x);
  X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(spec.issuer_cn), -1,
                             -1, 0);
  if (X509_sign(x, test_key().get(), EVP_sha256()) == 0) return {};
  return cert;
}

std::string cert_pem(const Spec& spec) {
  Cert cert = make_cert(spec);
  if (!cert) return {};
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string key_pem() {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), test_key().get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

// notAfter by another route than the code under test: OpenSSL's own day
// arithmetic from the epoch.
std::int64_t file_not_after(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return -1;
  Cert cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!cert) return -1;
  ASN1_TIME* epoch = ASN1_TIME_set(nullptr, 0);
  int days = 0;
  int seconds = 0;
  const int ok = ASN1_TIME_diff(&days, &seconds, epoch, X509_get0_notAfter(cert.get()));
  ASN1_TIME_free(epoch);
  return ok == 1 ? std::int64_t{days} * kDay + seconds : -1;
}

class CertExpiryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test_key());
    char templ[] = "/tmp/sigrelay-expiry-test-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir = templ;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
  std::string write(const char* name, const std::string& content) {
    const std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "w");
    EXPECT_NE(f, nullptr);
    if (f == nullptr) return path;
    EXPECT_EQ(std::fwrite(content.data(), 1, content.size(), f), content.size());
    std::fclose(f);
    return path;
  }
  CertExpiry leaf_of(const Spec& spec) {
    const std::string pem = cert_pem(spec);
    EXPECT_FALSE(pem.empty());
    return leaf_expiry_from_file(write("cert.pem", pem));
  }
  std::string dir;
};

// Sets TZ for one scope; POSIX rule strings, so no zoneinfo files are needed.
class TimeZone {
 public:
  explicit TimeZone(const char* tz) {
    if (const char* old = std::getenv("TZ"); old != nullptr) {
      old_ = old;
      had_ = true;
    }
    setenv("TZ", tz, 1);
    tzset();
  }
  ~TimeZone() {
    if (had_) {
      setenv("TZ", old_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  TimeZone(const TimeZone&) = delete;
  TimeZone& operator=(const TimeZone&) = delete;

 private:
  std::string old_;
  bool had_ = false;
};

TEST_F(CertExpiryTest, LeafGivesNotAfterSubjectAndIssuer) {
  const CertExpiry e = leaf_of({.organization = "Example Carrier", .not_after_text = "261206120000Z"});
  ASSERT_TRUE(e.ok) << e.error;
  EXPECT_EQ(e.not_after, kDec6);
  // RFC 4514 §2.1: the last RDN of the sequence comes first.
  EXPECT_EQ(e.subject, "CN=sim.test,O=Example Carrier");
  EXPECT_EQ(e.issuer, "CN=sigrelay expiry test CA");
  EXPECT_TRUE(e.error.empty());
}

// RFC 5280 §4.1.2.5.1: UTCTime YY >= 50 is 19YY, YY < 50 is 20YY;
// §4.1.2.5.2: GeneralizedTime from 2050 on.
TEST_F(CertExpiryTest, TimeFormsOfRfc5280) {
  struct Case {
    const char* text;
    std::int64_t unix_seconds;
  };
  const Case cases[] = {
      {"491231235959Z", 2524607999},    // 2049-12-31T23:59:59Z
      {"500101000000Z", -631152000},    // 1950-01-01T00:00:00Z
      {"20500101000000Z", 2524608000},  // 2050-01-01T00:00:00Z
      {"20380119031408Z", 2147483648},  // one second past 32-bit time_t
      {"700101000000Z", 0},
  };
  for (const Case& c : cases) {
    const CertExpiry e = leaf_of({.not_after_text = c.text});
    ASSERT_TRUE(e.ok) << c.text << ": " << e.error;
    EXPECT_EQ(e.not_after, c.unix_seconds) << c.text;
  }
}

TEST_F(CertExpiryTest, LocalTimeZoneChangesNothing) {
  // notAfter late in the UTC day: in India it is already the next day.
  const std::string path = write("late.pem", cert_pem({.not_after_text = "261206233000Z"}));
  constexpr std::int64_t kExpected = kDec6 + 11 * 3600 + 1800;
  for (const char* tz : {"UTC0", "IST-5:30", "EST5EDT,M3.2.0,M11.1.0", "NZST-12NZDT,M9.5.0,M4.1.0/3"}) {
    const TimeZone zone(tz);
    const CertExpiry e = leaf_expiry_from_file(path);
    ASSERT_TRUE(e.ok) << tz << ": " << e.error;
    EXPECT_EQ(e.not_after, kExpected) << tz;
    EXPECT_EQ(describe_expiry(e, kExpected - 2 * kDay), "CN=sim.test expires in 2 days (2026-12-06)") << tz;
  }
}

TEST_F(CertExpiryTest, ValidityRelativeToTheClock) {
  // What `openssl req -days 10` makes, and one that ran out three days ago.
  const auto now = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
  const std::int64_t before = now();
  Cert fresh(X509_new());
  Cert stale(X509_new());
  ASSERT_TRUE(fresh && stale);
  X509_gmtime_adj(X509_getm_notAfter(fresh.get()), 10 * kDay);
  X509_gmtime_adj(X509_getm_notAfter(stale.get()), -3 * kDay);
  const std::int64_t after = now();
  for (X509* x : {fresh.get(), stale.get()}) {
    X509_gmtime_adj(X509_getm_notBefore(x), -30 * kDay);
    X509_set_pubkey(x, test_key().get());
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("sim.test"), -1, -1, 0);
    ASSERT_NE(X509_sign(x, test_key().get(), EVP_sha256()), 0);
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), fresh.get());
  PEM_write_bio_X509(bio.get(), stale.get());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  const auto chain = chain_expiry_from_file(write("clock.pem", std::string(data, static_cast<std::size_t>(len))));
  ASSERT_EQ(chain.size(), 2U);
  ASSERT_TRUE(chain[0].ok && chain[1].ok) << chain[0].error << chain[1].error;
  EXPECT_GE(chain[0].not_after, before + 10 * kDay);
  EXPECT_LE(chain[0].not_after, after + 10 * kDay);
  EXPECT_GE(chain[1].not_after, before - 3 * kDay);
  EXPECT_LE(chain[1].not_after, after - 3 * kDay);
  EXPECT_EQ(describe_expiry(chain[0], chain[0].not_after - 10 * kDay).find("CN=sim.test expires in 10 days ("), 0U);
  EXPECT_EQ(describe_expiry(chain[1], chain[1].not_after + 3 * kDay).find("CN=sim.test expired 3 days ago ("), 0U);
}

TEST_F(CertExpiryTest, ChainListsEveryCertificateInFileOrder) {
  // A chain file as servers load it, with its private key in front; the
  // intermediate runs out first.
  const std::string file = key_pem() + cert_pem({.common_name = "sim.test", .not_after_text = "261206120000Z"}) +
                           cert_pem({.common_name = "Example Intermediate", .not_after_text = "261121120000Z"}) +
                           cert_pem({.common_name = "Example Root", .not_after_text = "20500101000000Z"});
  const std::string path = write("chain.pem", file);
  const auto chain = chain_expiry_from_file(path);
  ASSERT_EQ(chain.size(), 3U);
  for (const auto& c : chain) EXPECT_TRUE(c.ok) << c.error;
  EXPECT_EQ(chain[0].subject, "CN=sim.test");
  EXPECT_EQ(chain[0].not_after, kDec6);
  EXPECT_EQ(chain[1].subject, "CN=Example Intermediate");
  EXPECT_EQ(chain[1].not_after, 1795262400);  // 2026-11-21T12:00:00Z
  EXPECT_EQ(chain[2].subject, "CN=Example Root");
  EXPECT_EQ(chain[2].not_after, 2524608000);

  const CertExpiry leaf = leaf_expiry_from_file(path);
  ASSERT_TRUE(leaf.ok) << leaf.error;
  EXPECT_EQ(leaf.subject, "CN=sim.test");
  EXPECT_EQ(leaf.not_after, kDec6);
}

TEST_F(CertExpiryTest, UnreadableFilesSayWhy) {
  const std::string missing = dir + "/missing.pem";
  CertExpiry e = leaf_expiry_from_file(missing);
  EXPECT_FALSE(e.ok);
  EXPECT_EQ(e.not_after, 0);
  EXPECT_EQ(e.error, "cannot read " + missing + ": No such file or directory");
  auto chain = chain_expiry_from_file(missing);
  ASSERT_EQ(chain.size(), 1U);
  EXPECT_FALSE(chain[0].ok);
  EXPECT_EQ(chain[0].error, e.error);

  e = leaf_expiry_from_file(dir);
  EXPECT_FALSE(e.ok);
  EXPECT_EQ(e.error, "cannot read " + dir + ": Is a directory");

  for (const std::string& content : {std::string(), key_pem(), std::string("not PEM at all\n")}) {
    const std::string path = write("empty.pem", content);
    e = leaf_expiry_from_file(path);
    EXPECT_FALSE(e.ok);
    EXPECT_EQ(e.error, "no certificate in " + path);
    chain = chain_expiry_from_file(path);
    ASSERT_EQ(chain.size(), 1U);
    EXPECT_FALSE(chain[0].ok);
  }
}

TEST_F(CertExpiryTest, MalformedCertificateAfterAGoodOne) {
  // Valid base64, but not a DER certificate.
  const std::string path = write(
      "broken.pem", cert_pem({.not_after_text = "261206120000Z"}) +
                        "-----BEGIN CERTIFICATE-----\nMIIBAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----\n");
  const auto chain = chain_expiry_from_file(path);
  ASSERT_EQ(chain.size(), 2U);
  EXPECT_TRUE(chain[0].ok);
  EXPECT_EQ(chain[0].not_after, kDec6);
  EXPECT_FALSE(chain[1].ok);
  EXPECT_EQ(chain[1].error.rfind(path + ": certificate 2 is malformed (", 0), 0U) << chain[1].error;
  // The leaf alone is fine.
  EXPECT_TRUE(leaf_expiry_from_file(path).ok);

  const std::string first_broken =
      write("first.pem", "-----BEGIN CERTIFICATE-----\nMIIBAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----\n");
  const CertExpiry e = leaf_expiry_from_file(first_broken);
  EXPECT_FALSE(e.ok);
  EXPECT_EQ(e.error.rfind(first_broken + ": certificate 1 is malformed (", 0), 0U) << e.error;
}

TEST_F(CertExpiryTest, LeavesTheCallersOpenSslErrorQueueAsItWas) {
  const std::string broken =
      write("broken.pem", "-----BEGIN CERTIFICATE-----\nMIIBAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----\n");
  const std::string good = write("good.pem", cert_pem({}));
  ERR_clear_error();
  ERR_raise(ERR_LIB_USER, 42);
  const unsigned long mine = ERR_peek_last_error();
  EXPECT_FALSE(leaf_expiry_from_file(broken).ok);
  EXPECT_FALSE(leaf_expiry_from_file(dir + "/missing.pem").ok);
  EXPECT_TRUE(leaf_expiry_from_file(good).ok);
  EXPECT_EQ(chain_expiry_from_file(good).size(), 1U);
  EXPECT_FALSE(peer_expiry(nullptr).ok);
  EXPECT_EQ(ERR_get_error(), mine);
  EXPECT_EQ(ERR_get_error(), 0UL);
}

TEST(DescribeExpiry, WholeDaysLeftOrGone) {
  CertExpiry e;
  e.ok = true;
  e.subject = "CN=sim.test";
  e.not_after = kDec6;
  EXPECT_EQ(describe_expiry(e, kDec6 - 12 * kDay), "CN=sim.test expires in 12 days (2026-12-06)");
  EXPECT_EQ(describe_expiry(e, kDec6 - 12 * kDay - 1), "CN=sim.test expires in 12 days (2026-12-06)");
  EXPECT_EQ(describe_expiry(e, kDec6 - 12 * kDay + 1), "CN=sim.test expires in 11 days (2026-12-06)");
  EXPECT_EQ(describe_expiry(e, kDec6 - kDay), "CN=sim.test expires in 1 day (2026-12-06)");
  // RFC 5280 §4.1.2.5: valid through notAfter, inclusive.
  EXPECT_EQ(describe_expiry(e, kDec6), "CN=sim.test expires in less than a day (2026-12-06)");
  EXPECT_EQ(describe_expiry(e, kDec6 + 1), "CN=sim.test expired less than a day ago (2026-12-06)");
  EXPECT_EQ(describe_expiry(e, kDec6 + kDay), "CN=sim.test expired 1 day ago (2026-12-06)");
  EXPECT_EQ(describe_expiry(e, kDec6 + 3 * kDay), "CN=sim.test expired 3 days ago (2026-12-06)");
  EXPECT_EQ(describe_expiry(e, kDec6 + 4 * kDay - 1), "CN=sim.test expired 3 days ago (2026-12-06)");

  e.subject.clear();
  e.not_after = 2524608000;
  EXPECT_EQ(describe_expiry(e, 2524608000 - 400 * kDay),
            "certificate with an empty subject expires in 400 days (2050-01-01)");

  CertExpiry bad;
  bad.error = "no certificate in /x.pem";
  EXPECT_EQ(describe_expiry(bad, kDec6), "unknown expiry: no certificate in /x.pem");
}

class PeerExpiryTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(shared_pki().error.empty()) << shared_pki().error; }
};

TEST_F(PeerExpiryTest, EachSideSeesTheOthersCertificate) {
  const auto& pki = shared_pki();
  auto c = make_client_context({.ca_file = pki.ca_cert, .client_cert = pki.client_cert, .client_key = pki.client_key});
  auto s = make_server_context({.cert = pki.server_cert, .key = pki.server_key, .client_ca_file = pki.ca_cert});
  ASSERT_TRUE(c) << c.error;
  ASSERT_TRUE(s) << s.error;
  ConnectionPair p({.client_tls = c.ctx.get(), .server_tls = s.ctx.get()});
  ASSERT_TRUE(p.handshake()) << p.client->close_detail() << p.server->close_detail();
  // TLS 1.3: the server has the client's certificate once the client's
  // first flight is read; a message makes sure of that.
  ASSERT_TRUE(p.client->send(testing::sip_request("expiry"), p.now));
  ASSERT_TRUE(p.run_until([&] { return !p.server_got.empty(); }));

  const CertExpiry server = peer_expiry(p.client->native_handle());
  ASSERT_TRUE(server.ok) << server.error;
  EXPECT_EQ(server.subject, "CN=localhost");
  EXPECT_EQ(server.issuer, "CN=sigrelay test CA");
  const std::int64_t server_not_after = file_not_after(pki.server_cert);
  ASSERT_GT(server_not_after, 0);
  EXPECT_EQ(server.not_after, server_not_after);

  const CertExpiry client = peer_expiry(p.server->native_handle());
  ASSERT_TRUE(client.ok) << client.error;
  EXPECT_EQ(client.subject, "CN=sigrelay test client");
  EXPECT_EQ(client.not_after, file_not_after(pki.client_cert));
}

TEST_F(PeerExpiryTest, NoCertificateNoSessionNoExpiry) {
  const auto& pki = shared_pki();
  auto c = make_client_context({.ca_file = pki.ca_cert});
  auto s = make_server_context({.cert = pki.server_cert, .key = pki.server_key});
  ASSERT_TRUE(c && s);
  ConnectionPair p({.client_tls = c.ctx.get(), .server_tls = s.ctx.get()});
  // Before the handshake nothing has been presented.
  EXPECT_FALSE(peer_expiry(p.client->native_handle()).ok);
  ASSERT_TRUE(p.handshake());
  // A server that does not ask for a client certificate gets none.
  const CertExpiry none = peer_expiry(p.server->native_handle());
  EXPECT_FALSE(none.ok);
  EXPECT_EQ(none.error, "the peer presented no certificate");
  EXPECT_EQ(none.not_after, 0);

  ConnectionPair tcp({});
  ASSERT_TRUE(tcp.handshake());
  EXPECT_EQ(tcp.client->native_handle(), nullptr);
  const CertExpiry plain = peer_expiry(tcp.client->native_handle());
  EXPECT_FALSE(plain.ok);
  EXPECT_EQ(plain.error, "no TLS session");
}

}  // namespace
}  // namespace sigrelay::tls
