#include "sim/verification.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "sim/base64url.hpp"

namespace sigrelay::sim {
namespace {

constexpr std::int64_t kNow = 1716800000;
constexpr std::string_view kX5u = "https://cert.example.org/sim.pem";

PkeyPtr generate(const char* curve = "P-256") { return PkeyPtr(EVP_EC_gen(curve)); }

// The public half alone, as a verifier holds it.
PkeyPtr public_half(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  PkeyPtr pub(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return pub;
}

// A self-signed certificate for `key`, PEM.
std::string certificate_pem(EVP_PKEY* key, const char* cn) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  X509_free(cert);
  return pem;
}

std::string public_key_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return pem;
}

std::string private_key_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return pem;
}

PassportClaims claims(char attest = 'B') {
  PassportClaims c;
  c.attest = attest;
  c.dest_tn = "12125550100";
  c.orig_tn = "13035550100";
  c.iat = kNow;
  c.origid = "123e4567-e89b-12d3-a456-426655440000";
  return c;
}

class VerifyIdentity : public ::testing::Test {
 protected:
  VerifyIdentity() {
    PkeyPtr key = generate();
    trusted_.push_back(public_half(key.get()));
    signer_ = std::make_unique<PassportSigner>(std::move(key), std::string(kX5u));
  }
  IdentityResult verify(std::string_view identity, std::string_view called = "12125550100",
                        std::string_view calling = "13035550100", std::int64_t now = kNow) const {
    const std::string_view values[] = {identity};
    return verify_identity(values, called, calling, trusted_, now);
  }
  TrustedKeys trusted_;
  std::unique_ptr<PassportSigner> signer_;
};

TEST_F(VerifyIdentity, ValidPassportPassesWithItsAttestation) {
  const IdentityResult r = verify(signer_->identity_header(claims('B')));
  EXPECT_EQ(r.verstat, VerStat::tn_validation_passed);
  EXPECT_EQ(r.check, IdentityCheck::passed) << to_string(r.check);
  EXPECT_EQ(r.attest, 'B');
  EXPECT_EQ(verify(signer_->identity_header(claims('A'))).attest, 'A');
  EXPECT_EQ(verify(signer_->identity_header(claims('C'))).attest, 'C');
  // Within the 60 s freshness window on either side (RFC 8224 §6.2.2).
  EXPECT_EQ(verify(signer_->identity_header(claims()), "12125550100", "13035550100", kNow + 60).verstat,
            VerStat::tn_validation_passed);
  EXPECT_EQ(verify(signer_->identity_header(claims()), "12125550100", "13035550100", kNow - 60).verstat,
            VerStat::tn_validation_passed);
}

TEST_F(VerifyIdentity, KeyThatIsNotTrustedFails) {
  const PassportSigner stranger(generate(), std::string(kX5u));
  const IdentityResult r = verify(stranger.identity_header(claims()));
  EXPECT_EQ(r.verstat, VerStat::tn_validation_failed);
  EXPECT_EQ(r.check, IdentityCheck::bad_signature);
  EXPECT_EQ(r.attest, 0);
}

TEST_F(VerifyIdentity, AnyTrustedKeyWillDo) {
  TrustedKeys keys;
  keys.push_back(public_half(generate().get()));
  keys.push_back(public_half(generate().get()));
  const std::string identity = signer_->identity_header(claims());
  const std::string_view values[] = {identity};
  EXPECT_EQ(verify_identity(values, "12125550100", "13035550100", keys, kNow).check, IdentityCheck::bad_signature);
  keys.push_back(std::move(trusted_[0]));
  keys.push_back(public_half(generate().get()));
  const IdentityResult r = verify_identity(values, "12125550100", "13035550100", keys, kNow);
  EXPECT_EQ(r.verstat, VerStat::tn_validation_passed);
  EXPECT_EQ(r.attest, 'B');
  // A stale PASSporT is reported as stale, not as a bad signature from the other keys.
  EXPECT_EQ(verify_identity(values, "12125550100", "13035550100", keys, kNow + 61).check, IdentityCheck::stale);
}

TEST_F(VerifyIdentity, NoTrustedKeyAtAllFails) {
  const std::string identity = signer_->identity_header(claims());
  const std::string_view values[] = {identity};
  const IdentityResult r = verify_identity(values, "12125550100", "13035550100", TrustedKeys{}, kNow);
  EXPECT_EQ(r.verstat, VerStat::tn_validation_failed);
  EXPECT_EQ(r.check, IdentityCheck::bad_signature);
}

TEST_F(VerifyIdentity, NumbersMustBeTheCallsNumbers) {
  const std::string identity = signer_->identity_header(claims());
  IdentityResult r = verify(identity, "12125550199", "13035550100");
  EXPECT_EQ(r.verstat, VerStat::tn_validation_failed);
  EXPECT_EQ(r.check, IdentityCheck::dest_mismatch);
  EXPECT_EQ(r.attest, 0);
  r = verify(identity, "12125550100", "13035550199");
  EXPECT_EQ(r.verstat, VerStat::tn_validation_failed);
  EXPECT_EQ(r.check, IdentityCheck::orig_mismatch);
  // A prefix of the number is not the number.
  EXPECT_EQ(verify(identity, "1212555010", "13035550100").check, IdentityCheck::dest_mismatch);
}

TEST_F(VerifyIdentity, StalePassportFails) {
  const std::string identity = signer_->identity_header(claims());
  IdentityResult r = verify(identity, "12125550100", "13035550100", kNow + 61);
  EXPECT_EQ(r.verstat, VerStat::tn_validation_failed);
  EXPECT_EQ(r.check, IdentityCheck::stale);
  EXPECT_EQ(r.attest, 0);
  EXPECT_EQ(verify(identity, "12125550100", "13035550100", kNow - 61).check, IdentityCheck::stale);
  const std::string_view values[] = {identity};
  EXPECT_EQ(verify_identity(values, "12125550100", "13035550100", trusted_, kNow + 100, 120).verstat,
            VerStat::tn_validation_passed);
}

TEST_F(VerifyIdentity, GarbageFails) {
  for (const char* garbage : {"garbage", "a.b.c;info=<https://x/y>;alg=ES256;ppt=shaken", "e30.e30.e30",
                              ";info=<https://x/y>", "a.b.c;info=<https://x/y", "...."}) {
    const IdentityResult r = verify(garbage);
    EXPECT_EQ(r.verstat, VerStat::tn_validation_failed) << garbage;
    EXPECT_NE(r.check, IdentityCheck::passed) << garbage;
    EXPECT_EQ(r.attest, 0) << garbage;
  }
  EXPECT_EQ(verify("garbage").check, IdentityCheck::malformed);
  EXPECT_EQ(verify(";info=<https://x/y>").check, IdentityCheck::bad_header);
  EXPECT_EQ(verify("a.b.c;info=<https://x/y").check, IdentityCheck::bad_header);
  EXPECT_EQ(verify("e30.e30.e30").check, IdentityCheck::unsupported);  // {} has no alg
}

TEST_F(VerifyIdentity, TamperedSignatureOrPayloadFails) {
  const std::string identity = signer_->identity_header(claims());
  const auto d2 = identity.find('.', identity.find('.') + 1);
  std::string tampered = identity;
  tampered[d2 + 10] = tampered[d2 + 10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verify(tampered).check, IdentityCheck::bad_signature);
  // Claims that would pass, under the signature of others.
  PassportClaims upgraded = claims('A');
  const auto d1 = identity.find('.');
  const std::string swapped = identity.substr(0, d1 + 1) +
                              base64url_encode(passport_payload_json(upgraded)) + identity.substr(d2);
  EXPECT_EQ(verify(swapped).check, IdentityCheck::bad_signature);
}

TEST_F(VerifyIdentity, HeaderParametersMustMatchAShakenEs256Passport) {
  const std::string identity = signer_->identity_header(claims());
  const std::string jws = identity.substr(0, identity.find(';'));
  EXPECT_EQ(verify(jws + ";info=<https://x/y>;alg=ES256;ppt=div").check, IdentityCheck::unsupported);
  EXPECT_EQ(verify(jws + ";info=<https://x/y>;alg=RS256;ppt=shaken").check, IdentityCheck::unsupported);
  EXPECT_EQ(verify(jws + ";info=<https://x/y>;alg=ES256;ppt=\"shaken\"").verstat, VerStat::tn_validation_passed);
  // alg and ppt may be left out; the PASSporT's own header says the same.
  EXPECT_EQ(verify(jws + ";info=<https://x/y>").verstat, VerStat::tn_validation_passed);
}

TEST_F(VerifyIdentity, NoIdentityIsNoValidation) {
  const IdentityResult r = verify_identity({}, "12125550100", "13035550100", trusted_, kNow);
  EXPECT_EQ(r.verstat, VerStat::no_tn_validation);
  EXPECT_EQ(r.check, IdentityCheck::no_identity);
  EXPECT_EQ(r.attest, 0);
}

TEST_F(VerifyIdentity, AnyPassingHeaderPassesOtherwiseTheFirstFailureCounts) {
  const std::string good = signer_->identity_header(claims('C'));
  const PassportSigner stranger(generate(), std::string(kX5u));
  const std::string foreign = stranger.identity_header(claims());
  const std::string_view both[] = {"garbage", good};
  IdentityResult r = verify_identity(both, "12125550100", "13035550100", trusted_, kNow);
  EXPECT_EQ(r.verstat, VerStat::tn_validation_passed);
  EXPECT_EQ(r.attest, 'C');
  const std::string_view bad[] = {foreign, "garbage"};
  r = verify_identity(bad, "12125550100", "13035550100", trusted_, kNow);
  EXPECT_EQ(r.verstat, VerStat::tn_validation_failed);
  EXPECT_EQ(r.check, IdentityCheck::bad_signature);
}

std::string invite(std::string_view extra_headers, std::string_view from = "<sip:+1-303-555-0100@switch.example;user=phone>") {
  return "INVITE sip:+1-212-555-0100@svc.example.com;user=phone SIP/2.0\r\n"
         "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKnashds8\r\n"
         "Max-Forwards: 70\r\n"
         "From: " + std::string(from) + ";tag=1928301774\r\n"
         "To: <sip:+1-212-555-0100@svc.example.com;user=phone>\r\n"
         "Call-ID: a84b4c76e66710@192.0.2.1\r\n"
         "CSeq: 1 INVITE\r\n" +
         std::string(extra_headers) + "Content-Length: 0\r\n\r\n";
}

TEST_F(VerifyIdentity, FromAnInviteWithItsNormalizedNumbers) {
  const std::string identity = signer_->identity_header(claims());
  sip::MessageWithHeaders<> m;
  std::string text = invite("Identity: " + identity + "\r\n");
  ASSERT_TRUE(m.parse(text).ok());
  IdentityResult r = verify_identity(m.msg, trusted_, kNow);
  EXPECT_EQ(r.verstat, VerStat::tn_validation_passed) << to_string(r.check);
  EXPECT_EQ(r.attest, 'B');

  // The compact form "y" (RFC 8224 §4), after an unrelated header.
  text = invite("Subject: hi\r\ny: " + identity + "\r\n");
  ASSERT_TRUE(m.parse(text).ok());
  EXPECT_EQ(verify_identity(m.msg, trusted_, kNow).verstat, VerStat::tn_validation_passed);

  // P-Asserted-Identity, not From, names the calling party (RFC 3325).
  text = invite("P-Asserted-Identity: <sip:+13035550199@switch.example;user=phone>\r\nIdentity: " + identity + "\r\n");
  ASSERT_TRUE(m.parse(text).ok());
  r = verify_identity(m.msg, trusted_, kNow);
  EXPECT_EQ(r.check, IdentityCheck::orig_mismatch);

  text = invite("");
  ASSERT_TRUE(m.parse(text).ok());
  EXPECT_EQ(verify_identity(m.msg, trusted_, kNow).verstat, VerStat::no_tn_validation);
}

TEST(VerStat, AtisValues) {
  EXPECT_EQ(to_string(VerStat::tn_validation_passed), "TN-Validation-Passed");
  EXPECT_EQ(to_string(VerStat::tn_validation_failed), "TN-Validation-Failed");
  EXPECT_EQ(to_string(VerStat::no_tn_validation), "No-TN-Validation");
}

TEST(VerificationHeaders, PassedCarriesTheAttestation) {
  IdentityResult r;
  r.verstat = VerStat::tn_validation_passed;
  r.check = IdentityCheck::passed;
  r.attest = 'A';
  const VerificationHeaders h = verification_headers(r, "13035550100", "switch.example");
  EXPECT_EQ(h.p_asserted_identity, "<sip:+13035550100@switch.example;user=phone;verstat=TN-Validation-Passed>");
  EXPECT_EQ(h.attestation_indicator, "A");
}

TEST(VerificationHeaders, FailedAndNoneCarryNoAttestation) {
  IdentityResult r;
  r.verstat = VerStat::tn_validation_failed;
  r.check = IdentityCheck::stale;
  VerificationHeaders h = verification_headers(r, "13035550100", "[2001:db8::1]");
  EXPECT_EQ(h.p_asserted_identity, "<sip:+13035550100@[2001:db8::1];user=phone;verstat=TN-Validation-Failed>");
  EXPECT_EQ(h.attestation_indicator, "");
  h = verification_headers(IdentityResult{}, "13035550100", "192.0.2.1");
  EXPECT_EQ(h.p_asserted_identity, "<sip:+13035550100@192.0.2.1;user=phone;verstat=No-TN-Validation>");
  EXPECT_EQ(h.attestation_indicator, "");
}

TEST(VerificationHeaders, OddCallingPartsCannotBreakTheHeader) {
  // A user part that is not a number: no '+', no user=phone, and every byte
  // outside RFC 3261's user characters escaped (CR LF would end the header).
  const VerificationHeaders h = verification_headers(IdentityResult{}, "al ice\r\nX: y;z@<>", "h.example");
  EXPECT_EQ(h.p_asserted_identity, "<sip:al%20ice%0D%0AX%3A%20y%3Bz%40%3C%3E@h.example;verstat=No-TN-Validation>");
  EXPECT_EQ(verification_headers(IdentityResult{}, "", "h.example").p_asserted_identity,
            "<sip:h.example;verstat=No-TN-Validation>");
}

TEST(VerificationHeaders, FromAnInvite) {
  IdentityResult r;
  r.verstat = VerStat::tn_validation_passed;
  r.check = IdentityCheck::passed;
  r.attest = 'C';
  sip::MessageWithHeaders<> m;
  std::string text = invite("");
  ASSERT_TRUE(m.parse(text).ok());
  VerificationHeaders h = verification_headers(r, m.msg, "192.0.2.99");
  EXPECT_EQ(h.p_asserted_identity, "<sip:+13035550100@switch.example;user=phone;verstat=TN-Validation-Passed>");
  EXPECT_EQ(h.attestation_indicator, "C");
  // A tel: From has no host: the simulator's own address stands in.
  text = invite("", "<tel:+1-303-555-0142>");
  ASSERT_TRUE(m.parse(text).ok());
  h = verification_headers(r, m.msg, "192.0.2.99");
  EXPECT_EQ(h.p_asserted_identity, "<sip:+13035550142@192.0.2.99;user=phone;verstat=TN-Validation-Passed>");
  // P-Asserted-Identity's number wins over From's; the host stays From's.
  text = invite("P-Asserted-Identity: <tel:+13035550177>\r\n");
  ASSERT_TRUE(m.parse(text).ok());
  h = verification_headers(r, m.msg, "192.0.2.99");
  EXPECT_EQ(h.p_asserted_identity, "<sip:+13035550177@switch.example;user=phone;verstat=TN-Validation-Passed>");
}

class TrustFile : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    path_ = ::testing::TempDir() + "/sim_verification_test_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".pem";
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  std::string path_;
};

TEST_F(TrustFile, LoadsEveryCertificateAndPublicKey) {
  PkeyPtr a = generate();
  PkeyPtr b = generate();
  PkeyPtr c = generate();
  const std::string path = write("a bundle may have text between blocks\n" + certificate_pem(a.get(), "a") +
                                 certificate_pem(b.get(), "b") + public_key_pem(c.get()));
  TrustedKeys keys;
  keys.push_back(generate());  // already there: kept
  std::string error;
  ASSERT_TRUE(load_trusted_keys(path, keys, error)) << error;
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(EVP_PKEY_eq(keys[1].get(), a.get()), 1);
  EXPECT_EQ(EVP_PKEY_eq(keys[2].get(), b.get()), 1);
  EXPECT_EQ(EVP_PKEY_eq(keys[3].get(), c.get()), 1);

  // And they verify what their private halves sign.
  const PassportSigner signer(std::move(b), std::string(kX5u));
  const std::string identity = signer.identity_header(claims());
  const std::string_view values[] = {identity};
  EXPECT_EQ(verify_identity(values, "12125550100", "13035550100", keys, kNow).verstat,
            VerStat::tn_validation_passed);
}

TEST_F(TrustFile, RejectsWhatCannotBeTrusted) {
  TrustedKeys keys;
  std::string error;
  PkeyPtr p256 = generate();
  PkeyPtr p384 = generate("P-384");

  std::string path = write(certificate_pem(p256.get(), "ok") + certificate_pem(p384.get(), "p384"));
  EXPECT_FALSE(load_trusted_keys(path, keys, error));
  EXPECT_NE(error.find("P-256"), std::string::npos) << error;
  EXPECT_NE(error.find("block 2"), std::string::npos) << error;
  EXPECT_TRUE(keys.empty());  // nothing from a file that failed

  path = write(private_key_pem(p256.get()));
  EXPECT_FALSE(load_trusted_keys(path, keys, error));
  EXPECT_NE(error.find("PRIVATE KEY"), std::string::npos) << error;

  path = write("no PEM here\n");
  EXPECT_FALSE(load_trusted_keys(path, keys, error));
  EXPECT_NE(error.find("holds no PEM CERTIFICATE"), std::string::npos) << error;

  path = write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  EXPECT_FALSE(load_trusted_keys(path, keys, error));
  EXPECT_NE(error.find("does not parse"), std::string::npos) << error;

  EXPECT_FALSE(load_trusted_keys(::testing::TempDir() + "/does-not-exist.pem", keys, error));
  EXPECT_NE(error.find("cannot read"), std::string::npos) << error;
  EXPECT_TRUE(keys.empty());
}

}  // namespace
}  // namespace sigrelay::sim
