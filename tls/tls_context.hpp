// OpenSSL contexts for sigrelay's TCP/TLS legs, built once at start-up with
// one fixed policy (docs/tls.md): TLS 1.2 minimum, 1.3 allowed, AEAD cipher
// suites only (ECDHE with AES-GCM or ChaCha20-Poly1305 for 1.2; the 1.3
// suites, which are all AEAD), no compression, no renegotiation. Peer
// certificates are verified by default; the name to verify is set per
// connection (set_peer_name), together with SNI.
//
// Nothing here throws: a context that cannot be built comes back as an error
// sentence naming what failed, for the config check to print.
//
// If SSLKEYLOGFILE is set in the environment when a context is made, every
// handshake through it appends its secrets to that file in the NSS key-log
// format, so Wireshark can decrypt a capture. It is a debugging aid: the file
// lets anyone who has it read the traffic.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

// OpenSSL's opaque types, declared here so users of this header do not pull
// in <openssl/ssl.h>.
struct ssl_st;
struct ssl_ctx_st;

namespace sigrelay::tls {

struct SslCtxDeleter {
  void operator()(ssl_ctx_st* ctx) const;
};
using SslCtxPtr = std::unique_ptr<ssl_ctx_st, SslCtxDeleter>;

struct ClientTlsOptions {
  std::string ca_file{};      // PEM bundle of trusted CAs; empty: the system's default paths
  std::string client_cert{};  // PEM chain presented when the server asks (mutual TLS); may be empty
  std::string client_key{};   // its private key; required when client_cert is set
  bool verify = true;         // false only for troubleshooting: any certificate is then accepted
};

struct ServerTlsOptions {
  std::string cert{};            // PEM chain, leaf first
  std::string key{};             // its private key
  std::string client_ca_file{};  // non-empty: require a client certificate issued by one of these CAs
};

struct ContextResult {
  SslCtxPtr ctx;      // null when the context could not be built
  std::string error;  // why, when ctx is null: "client_cert: cannot read /etc/x.pem: No such file"

  explicit operator bool() const { return ctx != nullptr; }
};

ContextResult make_client_context(const ClientTlsOptions& options);
ContextResult make_server_context(const ServerTlsOptions& options);

// Client side of one connection: the name the server's certificate must
// carry, and SNI. A DNS name is checked against the certificate's DNS names
// and sent as SNI; an IP literal (IPv4, or IPv6 with or without brackets) is
// checked against its IP addresses and not sent, since RFC 6066 §3 forbids
// literal addresses in SNI. Returns an empty string, or why it failed.
std::string set_peer_name(ssl_st* ssl, std::string_view name);

// Why a handshake or a TLS read/write failed. Stable values: counters are
// keyed by them.
enum class TlsFailure : std::uint8_t {
  none = 0,
  unknown_ca,          // peer certificate does not chain to a trusted CA (incl. self-signed)
  name_mismatch,       // certificate valid but not issued for the name we asked for
  cert_expired,        // notAfter in the past
  cert_not_yet_valid,  // notBefore in the future
  cert_invalid,        // any other certificate verification failure
  protocol_version,    // no TLS version both sides accept (e.g. the peer offers only TLS 1.0)
  no_shared_cipher,    // no cipher suite both sides accept
  peer_alert,          // the peer aborted the handshake with an alert (e.g. it rejected our certificate)
  peer_closed,         // the peer closed the connection mid-handshake
  io_error,            // the socket failed (reset, unreachable)
  other,               // anything else OpenSSL reports
};
inline constexpr std::size_t kTlsFailureCount = 12;

// Short, fixed name: "name_mismatch". Never allocates.
std::string_view to_string(TlsFailure f);

struct TlsFailureInfo {
  TlsFailure kind = TlsFailure::none;
  std::string text;  // "certificate verify failed: hostname mismatch"
};

// Classifies and describes a failed SSL_* call from its SSL_get_error()
// code, the certificate verification result and the thread's OpenSSL error
// queue, which it empties. Must run right after the failing call, before
// errno or the error queue change. Allocates: only on the failure path.
TlsFailureInfo diagnose_tls_failure(const ssl_st* ssl, int ssl_error);
std::string describe_tls_failure(const ssl_st* ssl, int ssl_error);

}  // namespace sigrelay::tls
