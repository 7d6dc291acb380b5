#include "tls/tls_context.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sigrelay::tls {
namespace {

// TLS 1.2: forward secrecy (ECDHE) and AEAD only. ECDSA first: cheaper for
// the server. TLS 1.3 suites are all AEAD with (EC)DHE; we list the three
// every implementation offers and leave out the CCM ones.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// Security level 2: at least 112-bit keys (RSA >= 2048, ECC >= 224) and no
// SHA-1 signatures, which also rules out TLS 1.0/1.1 on OpenSSL 3.
constexpr int kSecurityLevel = 2;

// The first error OpenSSL queued, as text; clears the queue.
std::string openssl_reason() {
  const unsigned long e = ERR_peek_error();
  std::string text;
  if (e == 0) {
    text = "unknown OpenSSL error";
  } else if (const char* r = ERR_reason_error_string(e); r != nullptr) {
    text = r;
  } else {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    text = buf;
  }
  ERR_clear_error();
  return text;
}

std::string failed(std::string_view what, std::string_view path) {
  std::string s(what);
  if (!path.empty()) {
    s += " ";
    s += path;
  }
  s += ": ";
  s += openssl_reason();
  return s;
}

// The key-log file stays open for the context's lifetime; its descriptor is
// attached to the SSL_CTX so that freeing the context closes it.
struct KeylogSink {
  int fd = -1;
};

void free_keylog_sink(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/, void* /*argp*/) {
  auto* sink = static_cast<KeylogSink*>(ptr);
  if (sink == nullptr) return;
  ::close(sink->fd);
  delete sink;
}

int keylog_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &free_keylog_sink);
  return index;
}

void write_keylog_line(const SSL* ssl, const char* line) {
  const auto* sink = static_cast<const KeylogSink*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keylog_index()));
  if (sink == nullptr) return;
  // One writev per line: with O_APPEND the line lands whole even when
  // several workers' handshakes write at once.
  char newline = '\n';
  iovec iov[2] = {{const_cast<char*>(line), std::strlen(line)}, {&newline, 1}};
  [[maybe_unused]] const ssize_t n = ::writev(sink->fd, iov, 2);
}

std::string install_keylog(SSL_CTX* ctx) {
  const char* path = std::getenv("SSLKEYLOGFILE");
  if (path == nullptr || *path == '\0') return {};
  const int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return std::string("SSLKEYLOGFILE ") + path + ": " + std::strerror(errno);
  auto* sink = new KeylogSink{fd};
  if (keylog_index() < 0 || SSL_CTX_set_ex_data(ctx, keylog_index(), sink) != 1) {
    free_keylog_sink(nullptr, sink, nullptr, 0, 0, nullptr);
    return failed("SSLKEYLOGFILE", path);
  }
  SSL_CTX_set_keylog_callback(ctx, &write_keylog_line);
  return {};
}

// The policy shared by both sides.
std::string apply_policy(SSL_CTX* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) return failed("minimum TLS version", "");
  if (SSL_CTX_set_max_proto_version(ctx, 0) != 1) return failed("maximum TLS version", "");
  SSL_CTX_set_security_level(ctx, kSecurityLevel);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) return failed("TLS 1.2 cipher list", "");
  if (SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1) return failed("TLS 1.3 cipher suites", "");
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Non-blocking use: the write buffer may move between retries of the same
  // SSL_write (we compact it), and SSL_read should return to the event loop
  // after a non-application record instead of reading on.
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
  // "*.example.com" matches one whole label only, never "w*.example.com".
  X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(ctx), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return install_keylog(ctx);
}

std::string load_identity(SSL_CTX* ctx, const std::string& cert, const std::string& key, std::string_view what) {
  if (key.empty()) return std::string(what) + ": a certificate needs a private key";
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return failed(std::string(what) + " certificate", cert);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return failed(std::string(what) + " key", key);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) return failed(std::string(what) + " key does not match certificate", key);
  return {};
}

ContextResult make_context(const SSL_METHOD* method) {
  ContextResult r;
  r.ctx.reset(SSL_CTX_new(method));
  if (!r.ctx) r.error = failed("SSL_CTX_new", "");
  return r;
}

ContextResult fail(ContextResult& r, std::string error) {
  r.ctx.reset();
  r.error = std::move(error);
  return std::move(r);
}

bool is_ip_literal(const std::string& s) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

TlsFailure classify_verify_result(long result) {
  switch (result) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return TlsFailure::unknown_ca;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return TlsFailure::name_mismatch;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return TlsFailure::cert_expired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return TlsFailure::cert_not_yet_valid;
    default:
      return TlsFailure::cert_invalid;
  }
}

}  // namespace

void SslCtxDeleter::operator()(ssl_ctx_st* ctx) const { SSL_CTX_free(ctx); }

ContextResult make_client_context(const ClientTlsOptions& options) {
  ContextResult r = make_context(TLS_client_method());
  if (!r) return r;
  SSL_CTX* ctx = r.ctx.get();
  if (auto e = apply_policy(ctx); !e.empty()) return fail(r, std::move(e));
  if (options.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) return fail(r, failed("system CA paths", ""));
  } else if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    return fail(r, failed("ca_file", options.ca_file));
  }
  SSL_CTX_set_verify(ctx, options.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!options.client_cert.empty()) {
    if (auto e = load_identity(ctx, options.client_cert, options.client_key, "client"); !e.empty()) {
      return fail(r, std::move(e));
    }
  } else if (!options.client_key.empty()) {
    return fail(r, "client: a private key without a certificate");
  }
  return r;
}

ContextResult make_server_context(const ServerTlsOptions& options) {
  ContextResult r = make_context(TLS_server_method());
  if (!r) return r;
  SSL_CTX* ctx = r.ctx.get();
  if (auto e = apply_policy(ctx); !e.empty()) return fail(r, std::move(e));
  if (options.cert.empty()) return fail(r, "server: no certificate configured");
  if (auto e = load_identity(ctx, options.cert, options.key, "server"); !e.empty()) return fail(r, std::move(e));
  // Our own order of preference, not the client's.
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Required for session resumption when client certificates are verified.
  static constexpr unsigned char kSessionContext[] = "sigrelay";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  if (!options.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options.client_ca_file.c_str(), nullptr) != 1) {
      return fail(r, failed("client_ca_file", options.client_ca_file));
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.client_ca_file.c_str());
    if (names == nullptr) return fail(r, failed("client_ca_file", options.client_ca_file));
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return r;
}

std::string set_peer_name(ssl_st* ssl, std::string_view name) {
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  if (name.empty()) return "no server name to verify";
  const std::string n(name);
  if (is_ip_literal(n)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), n.c_str()) != 1) return failed("peer address", n);
    return {};
  }
  if (SSL_set_tlsext_host_name(ssl, n.c_str()) != 1) return failed("SNI", n);
  if (SSL_set1_host(ssl, n.c_str()) != 1) return failed("peer name", n);
  return {};
}

std::string_view to_string(TlsFailure f) {
  switch (f) {
    case TlsFailure::none:
      return "none";
    case TlsFailure::unknown_ca:
      return "unknown_ca";
    case TlsFailure::name_mismatch:
      return "name_mismatch";
    case TlsFailure::cert_expired:
      return "cert_expired";
    case TlsFailure::cert_not_yet_valid:
      return "cert_not_yet_valid";
    case TlsFailure::cert_invalid:
      return "cert_invalid";
    case TlsFailure::protocol_version:
      return "protocol_version";
    case TlsFailure::no_shared_cipher:
      return "no_shared_cipher";
    case TlsFailure::peer_alert:
      return "peer_alert";
    case TlsFailure::peer_closed:
      return "peer_closed";
    case TlsFailure::io_error:
      return "io_error";
    case TlsFailure::other:
      return "other";
  }
  return "other";
}

TlsFailureInfo diagnose_tls_failure(const ssl_st* ssl, int ssl_error) {
  const int saved_errno = errno;
  // The queue holds the root cause first (often deep inside libcrypto: "EVP
  // lib") and the SSL library's own verdict last; the verdict classifies.
  unsigned long first = 0;
  unsigned long verdict = 0;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    if (first == 0) first = e;
    if (ERR_GET_LIB(e) == ERR_LIB_SSL) verdict = e;
  }
  const unsigned long e = verdict != 0 ? verdict : first;
  TlsFailureInfo info;
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    info.kind = TlsFailure::peer_closed;
    info.text = "peer closed the TLS session (close_notify)";
    return info;
  }
  if (e == 0) {
    if (ssl_error == SSL_ERROR_SYSCALL && saved_errno != 0) {
      info.kind = TlsFailure::io_error;
      info.text = std::strerror(saved_errno);
    } else if (ssl_error == SSL_ERROR_SYSCALL) {
      info.kind = TlsFailure::peer_closed;
      info.text = "connection closed by peer without close_notify";
    } else {
      info.kind = TlsFailure::other;
      info.text = "TLS failure without detail";
    }
    return info;
  }
  const char* reason_text = ERR_reason_error_string(e);
  const std::string reason_str = reason_text != nullptr ? reason_text : "unknown OpenSSL error";
  if (ERR_GET_LIB(e) == ERR_LIB_SYS) {
    info.kind = TlsFailure::io_error;
    info.text = reason_str;
    return info;
  }
  if (ERR_GET_LIB(e) != ERR_LIB_SSL) {
    info.kind = TlsFailure::other;
    info.text = reason_str;
    return info;
  }
  const int reason = ERR_GET_REASON(e);
  switch (reason) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED: {
      const long result = ssl != nullptr ? SSL_get_verify_result(ssl) : X509_V_OK;
      info.kind = classify_verify_result(result);
      info.text = "certificate verify failed: ";
      info.text += X509_verify_cert_error_string(result);
      return info;
    }
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_VERSION_TOO_HIGH:
      info.kind = TlsFailure::protocol_version;
      break;
    case SSL_R_WRONG_VERSION_NUMBER:
      // What a peer that does not speak TLS at all (plain SIP on the port)
      // looks like from here.
      info.kind = TlsFailure::other;
      info.text = reason_str + " (is the peer speaking TLS?)";
      return info;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_CIPHERS_AVAILABLE:
      info.kind = TlsFailure::no_shared_cipher;
      break;
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
      info.kind = TlsFailure::peer_closed;
      info.text = "connection closed by peer without close_notify";
      return info;
    default:
      info.kind = reason >= SSL_AD_REASON_OFFSET ? TlsFailure::peer_alert : TlsFailure::other;
      break;
  }
  info.text = reason_str;
  return info;
}

std::string describe_tls_failure(const ssl_st* ssl, int ssl_error) { return diagnose_tls_failure(ssl, ssl_error).text; }

}  // namespace sigrelay::tls
