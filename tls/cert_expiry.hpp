// When certificates stop being valid: ours (listen.tls_cert, the client
// certificate for mutual TLS) read from their PEM files, and the service's
// as it presented it on an established TLS session. The daemon turns these
// facts into alarms (30 days ahead); nothing here decides what is too soon.
//
// Times are unix seconds (UTC). notAfter is read as RFC 5280 §4.1.2.5
// defines it: UTCTime years 50..99 are 19xx, 00..49 are 20xx;
// GeneralizedTime is taken as written. The result never depends on the
// process's time zone.
//
// Reading files and describing allocate: for start-up, reloads and the
// control thread, not for the data path. Nothing here leaves entries on
// the calling thread's OpenSSL error queue.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

// OpenSSL's opaque session type, declared so users of this header do not
// pull in <openssl/ssl.h>.
struct ssl_st;

namespace sigrelay::tls {

struct CertExpiry {
  std::string subject;        // RFC 2253 form, most specific first: "CN=sim.test,O=Example"
  std::string issuer;         // same form
  std::int64_t not_after = 0;  // unix seconds
  bool ok = false;            // false: the other fields are empty or 0 and `error` says why
  std::string error;          // "cannot read /etc/sigrelay/x.pem: No such file or directory"
};

// The first certificate in a PEM file (a chain file, leaf first, may also
// hold the private key: other PEM blocks are skipped). Fails when the file
// cannot be read, holds no certificate, or the first one is malformed.
CertExpiry leaf_expiry_from_file(const std::string& pem_path);

// Every certificate in a PEM file, in file order: a chain expires when its
// earliest member does. When the file cannot be read or holds no
// certificate, one entry with ok = false; when a later block is malformed,
// the certificates read before it, then one entry with ok = false. (A
// certificate whose notAfter is not a valid time stands in its place as an
// entry with ok = false.)
std::vector<CertExpiry> chain_expiry_from_file(const std::string& pem_path);

// The leaf certificate the peer presented on a TLS session whose handshake
// completed (for a client, the service's certificate). ok = false when
// there is none: null session, handshake not done, or a server that did
// not ask for a client certificate.
CertExpiry peer_expiry(const ssl_st* ssl);

// For logs and alarms: "CN=sim.test expires in 12 days (2026-12-06)",
// "CN=sim.test expired 3 days ago (2026-11-21)". Whole days, rounded down;
// under a day: "expires in less than a day" / "expired less than a day
// ago". The date is notAfter's, in UTC. For ok = false: "unknown expiry: "
// followed by the error.
std::string describe_expiry(const CertExpiry& cert, std::int64_t now);

}  // namespace sigrelay::tls
