#include "tls/cert_expiry.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>

namespace sigrelay::tls {
namespace {

constexpr std::int64_t kDay = 24 * 60 * 60;
// Far above any certificate bundle; stops a wrong path (a device, a huge
// log) from being read whole.
constexpr std::size_t kMaxFileSize = 16U * 1024U * 1024U;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// Whatever OpenSSL queues while one of our functions runs is ours to read
// and drop; entries the caller had queued before stay.
class ErrorMark {
 public:
  ErrorMark() { ERR_set_mark(); }
  ~ErrorMark() { ERR_pop_to_mark(); }
  ErrorMark(const ErrorMark&) = delete;
  ErrorMark& operator=(const ErrorMark&) = delete;
};

// Certificates are never encrypted; a key block in the same file is
// skipped unread. Never prompt on a terminal either way.
int no_password(char*, int, int, void*) { return 0; }

std::string name_text(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr) return {};
  // RFC 2253, but UTF-8 kept as it is rather than escaped byte by byte:
  // operators read these names.
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) return {};
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

// ASN1_TIME_to_tm applies RFC 5280's two-digit-year rule and yields UTC
// fields; timegm (not mktime) keeps the local time zone out of it.
bool unix_time(const ASN1_TIME* t, std::int64_t& out) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return false;
  const time_t seconds = timegm(&tm);
  // -1 is also a real instant, the last second of 1969.
  if (seconds == static_cast<time_t>(-1) &&
      !(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31 && tm.tm_hour == 23 && tm.tm_min == 59 &&
        tm.tm_sec == 59)) {
    return false;
  }
  out = static_cast<std::int64_t>(seconds);
  return true;
}

CertExpiry from_certificate(const X509* cert) {
  CertExpiry e;
  std::int64_t not_after = 0;
  if (!unix_time(X509_get0_notAfter(cert), not_after)) {
    e.error = "the certificate's notAfter is not a valid time";
    return e;
  }
  e.subject = name_text(X509_get_subject_name(cert));
  e.issuer = name_text(X509_get_issuer_name(cert));
  e.not_after = not_after;
  e.ok = true;
  return e;
}

CertExpiry failure(std::string error) {
  CertExpiry e;
  e.error = std::move(error);
  return e;
}

// The whole file, or why not.
bool read_file(const std::string& path, std::string& data, std::string& error) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  char buf[16384];
  bool ok = true;
  for (;;) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, f);
    data.append(buf, n);
    if (data.size() > kMaxFileSize) {
      error = "cannot read " + path + ": larger than " + std::to_string(kMaxFileSize / (1024 * 1024)) + " MiB";
      ok = false;
      break;
    }
    if (n < sizeof buf) {
      if (std::ferror(f) != 0) {
        error = "cannot read " + path + ": " + std::strerror(errno);
        ok = false;
      }
      break;
    }
  }
  std::fclose(f);
  return ok;
}

// Reads the file's certificates in order; stops after `limit` of them. A
// trailing entry with ok = false reports what went wrong.
std::vector<CertExpiry> read_chain(const std::string& path, std::size_t limit) {
  // The most telling error is the first this read queued; ERR_peek_error
  // returns it only when nothing was queued before (else the caller's).
  const bool queue_was_empty = ERR_peek_error() == 0;
  const ErrorMark mark;
  std::vector<CertExpiry> out;
  std::string data;
  std::string error;
  if (!read_file(path, data, error)) {
    out.push_back(failure(std::move(error)));
    return out;
  }
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) {
    out.push_back(failure("cannot read " + path + ": out of memory"));
    return out;
  }
  while (out.size() < limit) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr));
    if (cert) {
      CertExpiry e = from_certificate(cert.get());
      if (!e.ok) e.error = path + ": certificate " + std::to_string(out.size() + 1) + ": " + e.error;
      out.push_back(std::move(e));
      continue;
    }
    // No further PEM certificate block: the normal end of the file.
    const unsigned long last = ERR_peek_last_error();
    if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
      if (out.empty()) out.push_back(failure("no certificate in " + path));
      break;
    }
    const char* reason = ERR_reason_error_string(queue_was_empty ? ERR_peek_error() : last);
    out.push_back(failure(path + ": certificate " + std::to_string(out.size() + 1) + " is malformed (" +
                          (reason != nullptr ? reason : "unknown OpenSSL error") + ")"));
    break;
  }
  return out;
}

std::string utc_date(std::int64_t seconds) {
  const auto t = static_cast<time_t>(seconds);
  std::tm tm{};
  char buf[32];
  if (gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm) == 0) return "?";
  return buf;
}

std::string days_text(std::int64_t days) { return std::to_string(days) + (days == 1 ? " day" : " days"); }

}  // namespace

CertExpiry leaf_expiry_from_file(const std::string& pem_path) {
  std::vector<CertExpiry> chain = read_chain(pem_path, 1);
  return std::move(chain.front());
}

std::vector<CertExpiry> chain_expiry_from_file(const std::string& pem_path) {
  return read_chain(pem_path, static_cast<std::size_t>(-1));
}

CertExpiry peer_expiry(const ssl_st* ssl) {
  if (ssl == nullptr) return failure("no TLS session");
  const ErrorMark mark;
  const X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return failure("the peer presented no certificate");
  return from_certificate(cert);
}

std::string describe_expiry(const CertExpiry& cert, std::int64_t now) {
  if (!cert.ok) return "unknown expiry: " + cert.error;
  std::string text = cert.subject.empty() ? std::string("certificate with an empty subject") : cert.subject;
  // RFC 5280 §4.1.2.5: valid through notAfter, inclusive.
  if (cert.not_after >= now) {
    const std::int64_t days = (cert.not_after - now) / kDay;
    text += days == 0 ? " expires in less than a day" : " expires in " + days_text(days);
  } else {
    const std::int64_t days = (now - cert.not_after) / kDay;
    text += days == 0 ? " expired less than a day ago" : " expired " + days_text(days) + " ago";
  }
  return text + " (" + utc_date(cert.not_after) + ")";
}

}  // namespace sigrelay::tls
