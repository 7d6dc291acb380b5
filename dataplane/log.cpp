#include "dataplane/log.hpp"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace sigrelay::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<int> g_fd{2};
std::atomic<int> g_journal{-1};  // -1: decide from JOURNAL_STREAM on first use

bool journal() {
  int j = g_journal.load(std::memory_order_relaxed);
  if (j < 0) {
    j = std::getenv("JOURNAL_STREAM") != nullptr ? 1 : 0;
    g_journal.store(j, std::memory_order_relaxed);
  }
  return j == 1;
}

constexpr const char* kNames[] = {"error", "warning", "info", "debug"};
// syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG.
constexpr const char* kPriorities[] = {"<3>", "<4>", "<6>", "<7>"};

void emit(Level l, const char* text, std::size_t len) {
  char line[2048];
  const auto i = static_cast<std::size_t>(l);
  const int n = journal() ? std::snprintf(line, sizeof line, "%ssigrelay: %.*s\n", kPriorities[i],
                                          static_cast<int>(len), text)
                          : std::snprintf(line, sizeof line, "sigrelay: %s: %.*s\n", kNames[i],
                                          static_cast<int>(len), text);
  if (n <= 0) return;
  std::size_t size = static_cast<std::size_t>(n) < sizeof line ? static_cast<std::size_t>(n) : sizeof line - 1;
  if (size == sizeof line - 1) line[size - 1] = '\n';  // cut long lines, keep them lines
  const ssize_t ignored = ::write(g_fd.load(std::memory_order_relaxed), line, size);
  (void)ignored;
}

void vformat(Level l, const char* format, va_list ap) {
  char text[1800];
  const int n = std::vsnprintf(text, sizeof text, format, ap);
  if (n < 0) return;
  emit(l, text, static_cast<std::size_t>(n) < sizeof text ? static_cast<std::size_t>(n) : sizeof text - 1);
}

}  // namespace

void set_level(Level l) { g_level.store(l, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void set_output(int fd, bool journal_format) {
  g_fd.store(fd, std::memory_order_relaxed);
  g_journal.store(journal_format ? 1 : 0, std::memory_order_relaxed);
}

void write(Level l, std::string_view message) {
  if (enabled(l)) emit(l, message.data(), message.size());
}

void writef(Level l, const char* format, ...) {
  if (!enabled(l)) return;
  va_list ap;
  va_start(ap, format);
  vformat(l, format, ap);
  va_end(ap);
}

bool RateLimit::allow(std::chrono::steady_clock::time_point now) {
  if (now - window_ >= interval_) {
    window_ = now;
    used_ = 0;
  }
  if (used_ < burst_) {
    ++used_;
    return true;
  }
  ++suppressed_;
  ++suppressed_total_;
  return false;
}

std::uint64_t RateLimit::take_suppressed() {
  const std::uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

void limited(RateLimit& limit, Level l, const char* format, ...) {
  if (!enabled(l) || !limit.allow(std::chrono::steady_clock::now())) return;
  if (const std::uint64_t n = limit.take_suppressed(); n > 0) {
    writef(l, "%llu similar message(s) suppressed", static_cast<unsigned long long>(n));
  }
  va_list ap;
  va_start(ap, format);
  vformat(l, format, ap);
  va_end(ap);
}

}  // namespace sigrelay::log
