#include "sim/passport.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "sim/base64url.hpp"

namespace sigrelay::sim {
namespace {

using json = nlohmann::json;

// RFC 8588 §6 example claims (with erratum 6656: iat is a number).
PassportClaims rfc8588_claims() {
  PassportClaims c;
  c.attest = 'A';
  c.dest_tn = "12155550131";
  c.orig_tn = "12155550121";
  c.iat = 1443208345;
  c.origid = "123e4567-e89b-12d3-a456-426655440000";
  return c;
}

PkeyPtr generate_p256() { return PkeyPtr(EVP_EC_gen("P-256")); }

std::string public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return pem;
}

// An EC key from JWK coordinates (RFC 7518 §6.2.1): uncompressed point 04||x||y, optional d.
PkeyPtr key_from_jwk(std::string_view x, std::string_view y, std::string_view d = {}) {
  const std::string point = std::string(1, '\x04') + *base64url_decode(x) + *base64url_decode(y);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  BIGNUM* priv = nullptr;
  if (!d.empty()) {
    const std::string dd = *base64url_decode(d);
    priv = BN_bin2bn(reinterpret_cast<const unsigned char*>(dd.data()), static_cast<int>(dd.size()), nullptr);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv);
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &key, d.empty() ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEYPAIR, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(priv);
  return PkeyPtr(key);
}

// RFC 7515 Appendix A.3: a JWS signed with ES256 by a published P-256 key.
constexpr std::string_view kA3Input =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr std::string_view kA3Signature =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
constexpr std::string_view kA3X = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
constexpr std::string_view kA3Y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
constexpr std::string_view kA3D = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";

TEST(Es256, VerifiesTheRfc7515AppendixA3Signature) {
  const PkeyPtr pub = key_from_jwk(kA3X, kA3Y);
  ASSERT_TRUE(pub);
  const auto sig = base64url_decode(kA3Signature);
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(es256_verify(kA3Input, *sig, pub.get()));
  std::string tampered(kA3Input);
  tampered[5] ^= 1;
  EXPECT_FALSE(es256_verify(tampered, *sig, pub.get()));
  EXPECT_FALSE(es256_verify(kA3Input, sig->substr(0, 63), pub.get()));
}

TEST(Es256, SignsWithTheRfc7515KeySoTheRfcKeyVerifies) {
  const PkeyPtr priv = key_from_jwk(kA3X, kA3Y, kA3D);
  const PkeyPtr pub = key_from_jwk(kA3X, kA3Y);
  ASSERT_TRUE(priv && pub);
  const std::string raw = es256_sign(kA3Input, priv.get());
  ASSERT_EQ(raw.size(), 64u);  // R || S, 32 bytes each (RFC 7518 §3.4)
  EXPECT_TRUE(es256_verify(kA3Input, raw, pub.get()));
}

// A second, lower-level path: the DER signature rebuilt from R || S and
// checked over a separately computed SHA-256 digest.
bool verify_over_digest(std::string_view input, std::string_view raw, EVP_PKEY* key) {
  unsigned char digest[32];
  unsigned int dlen = 0;
  EVP_Digest(input.data(), input.size(), digest, &dlen, EVP_sha256(), nullptr);
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(p, 32, nullptr), BN_bin2bn(p + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig, &der);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  const bool ok = EVP_PKEY_verify_init(ctx) == 1 &&
                  EVP_PKEY_verify(ctx, der, static_cast<std::size_t>(der_len), digest, dlen) == 1;
  EVP_PKEY_CTX_free(ctx);
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return ok;
}

TEST(Passport, SerializesTheRfc8588ExampleCanonically) {
  // RFC 8225 §9: keys in lexicographic order, no whitespace.
  EXPECT_EQ(passport_header_json("https://cert.example.org/passport.cer"),
            R"({"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://cert.example.org/passport.cer"})");
  EXPECT_EQ(passport_payload_json(rfc8588_claims()),
            R"({"attest":"A","dest":{"tn":["12155550131"]},"iat":1443208345,"orig":{"tn":"12155550121"},)"
            R"("origid":"123e4567-e89b-12d3-a456-426655440000"})");
}

TEST(Passport, SignThenVerify) {
  PkeyPtr key = generate_p256();
  ASSERT_TRUE(key);
  const PkeyPtr pub = load_public_key_pem(public_pem(key.get()));
  ASSERT_TRUE(pub);
  const PassportSigner signer(std::move(key), "https://cert.example.org/passport.cer");
  const std::string jws = signer.sign(rfc8588_claims());

  // Three base64url parts.
  const auto d1 = jws.find('.');
  const auto d2 = jws.find('.', d1 + 1);
  ASSERT_NE(d2, std::string::npos);
  EXPECT_EQ(jws.find('.', d2 + 1), std::string::npos);
  EXPECT_EQ(jws.find_first_of("=+/ "), std::string::npos);

  const json header = json::parse(*base64url_decode(jws.substr(0, d1)));
  EXPECT_EQ(header, json::parse(R"({"alg":"ES256","ppt":"shaken","typ":"passport",
                                    "x5u":"https://cert.example.org/passport.cer"})"));
  const json payload = json::parse(*base64url_decode(jws.substr(d1 + 1, d2 - d1 - 1)));
  EXPECT_EQ(payload["attest"], "A");
  EXPECT_EQ(payload["dest"]["tn"], json::array({"12155550131"}));
  EXPECT_EQ(payload["orig"]["tn"], "12155550121");
  EXPECT_TRUE(payload["iat"].is_number_integer());
  EXPECT_EQ(payload["iat"], 1443208345);
  EXPECT_EQ(payload["origid"], "123e4567-e89b-12d3-a456-426655440000");

  const auto raw = base64url_decode(jws.substr(d2 + 1));
  ASSERT_TRUE(raw.has_value());
  ASSERT_EQ(raw->size(), 64u);
  EXPECT_TRUE(verify_over_digest(jws.substr(0, d2), *raw, pub.get()));

  const Verification v = verify_passport(jws, pub.get(), 1443208345 + 10);
  EXPECT_EQ(v.verdict, Verdict::valid) << to_string(v.verdict);
  EXPECT_EQ(v.claims.dest_tn, "12155550131");
  EXPECT_EQ(v.claims.orig_tn, "12155550121");
  EXPECT_EQ(v.claims.attest, 'A');
  EXPECT_EQ(v.x5u, "https://cert.example.org/passport.cer");
}

TEST(Passport, VerifyVerdicts) {
  PkeyPtr key = generate_p256();
  const PkeyPtr other = generate_p256();
  const PkeyPtr pub = load_public_key_pem(public_pem(key.get()));
  const PassportSigner signer(std::move(key), "https://cert.example.org/passport.cer");
  const PassportClaims claims = rfc8588_claims();
  const std::string jws = signer.sign(claims);
  const std::int64_t now = claims.iat;

  EXPECT_EQ(verify_passport(jws, other.get(), now).verdict, Verdict::bad_signature);
  EXPECT_EQ(verify_passport(jws, pub.get(), now + 61).verdict, Verdict::stale);
  EXPECT_EQ(verify_passport(jws, pub.get(), now - 61).verdict, Verdict::stale);
  EXPECT_EQ(verify_passport(jws, pub.get(), now + 3600, 7200).verdict, Verdict::valid);

  // A payload swapped for another (attest C) keeps the old signature: rejected.
  PassportClaims c = claims;
  c.attest = 'C';
  const auto d1 = jws.find('.');
  const auto d2 = jws.find('.', d1 + 1);
  const std::string swapped = jws.substr(0, d1 + 1) + base64url_encode(passport_payload_json(c)) + jws.substr(d2);
  EXPECT_EQ(verify_passport(swapped, pub.get(), now).verdict, Verdict::bad_signature);

  EXPECT_EQ(verify_passport("", pub.get(), now).verdict, Verdict::malformed);
  EXPECT_EQ(verify_passport("a.b", pub.get(), now).verdict, Verdict::malformed);
  EXPECT_EQ(verify_passport(jws + ".x", pub.get(), now).verdict, Verdict::malformed);
  EXPECT_EQ(verify_passport("e30.e30.", pub.get(), now).verdict, Verdict::unsupported);  // {} header
  const std::string none = base64url_encode(R"({"alg":"none","ppt":"shaken","typ":"passport"})");
  EXPECT_EQ(verify_passport(none + "." + jws.substr(d1 + 1), pub.get(), now).verdict, Verdict::unsupported);
}

TEST(Passport, MissingClaimIsReportedAfterTheSignature) {
  // A correctly signed PASSporT without origid.
  PkeyPtr key = generate_p256();
  const PkeyPtr pub = load_public_key_pem(public_pem(key.get()));
  const std::string input =
      base64url_encode(passport_header_json("https://x.example/c.pem")) + "." +
      base64url_encode(R"({"attest":"A","dest":{"tn":["1"]},"iat":100,"orig":{"tn":"2"}})");
  const std::string jws = input + "." + base64url_encode(es256_sign(input, key.get()));
  EXPECT_EQ(verify_passport(jws, pub.get(), 100).verdict, Verdict::missing_claim);
}

TEST(Passport, IdentityHeaderForm) {
  PkeyPtr key = generate_p256();
  const PkeyPtr pub = load_public_key_pem(public_pem(key.get()));
  const PassportSigner signer(std::move(key), "https://cert.example.org/passport.cer");
  const std::string value = signer.identity_header(rfc8588_claims());
  // RFC 8224 §4.1 / RFC 8588 §6: JWS;info=<URL>;alg=ES256;ppt=shaken
  const std::string tail = ";info=<https://cert.example.org/passport.cer>;alg=ES256;ppt=shaken";
  ASSERT_GT(value.size(), tail.size());
  EXPECT_EQ(value.substr(value.size() - tail.size()), tail);
  const auto parsed = parse_identity_header(value);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->info, "https://cert.example.org/passport.cer");
  EXPECT_EQ(parsed->alg, "ES256");
  EXPECT_EQ(parsed->ppt, "shaken");
  EXPECT_EQ(verify_passport(parsed->jws, pub.get(), rfc8588_claims().iat).verdict, Verdict::valid);

  const auto quoted = parse_identity_header("a.b.c ; INFO=<https://x/y;z> ; ppt=\"shaken\"");
  ASSERT_TRUE(quoted.has_value());
  EXPECT_EQ(quoted->jws, "a.b.c");
  EXPECT_EQ(quoted->info, "https://x/y;z");
  EXPECT_EQ(quoted->ppt, "shaken");
  EXPECT_FALSE(parse_identity_header(";info=<x>").has_value());
  EXPECT_FALSE(parse_identity_header("a.b.c;info=<x").has_value());
}

TEST(Passport, OrigidIsAVersion4Uuid) {
  const std::string a = new_origid();
  const std::string b = new_origid();
  ASSERT_EQ(a.size(), 36u);
  EXPECT_NE(a, b);
  for (std::size_t i : {8u, 13u, 18u, 23u}) EXPECT_EQ(a[i], '-');
  EXPECT_EQ(a[14], '4');                                 // RFC 4122 §4.1.3 version
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);  // §4.1.1 variant
}

TEST(Passport, LoadsOnlyP256PrivateKeys) {
  const std::string dir = ::testing::TempDir();
  const std::string p256 = dir + "/sim_passport_p256.pem";
  const std::string p384 = dir + "/sim_passport_p384.pem";
  auto write_key = [](const std::string& path, EVP_PKEY* k) {
    FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  };
  PkeyPtr k256 = generate_p256();
  PkeyPtr k384(EVP_EC_gen("P-384"));
  write_key(p256, k256.get());
  write_key(p384, k384.get());
  std::string error;
  EXPECT_TRUE(load_p256_private_key(p256, error)) << error;
  EXPECT_FALSE(load_p256_private_key(p384, error));
  EXPECT_NE(error.find("P-256"), std::string::npos);
  EXPECT_FALSE(load_p256_private_key(dir + "/does-not-exist.pem", error));
  EXPECT_NE(error.find("cannot read"), std::string::npos);
  std::remove(p256.c_str());
  std::remove(p384.c_str());
}

}  // namespace
}  // namespace sigrelay::sim
