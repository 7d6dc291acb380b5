// Test support: a buffer whose last byte sits just before an inaccessible
// page, so reading one byte past the data faults at once (the picohttpparser
// trick). Used by every parser test that must prove it never over-reads.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

namespace sigrelay::sip::testing {

class GuardedBuffer {
 public:
  // Room for `capacity` bytes (at least one page) followed by the guard page.
  explicit GuardedBuffer(std::size_t capacity = 0) {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    data_len_ = ((capacity + page - 1) / page + 1) * page - page;
    if (data_len_ == 0) data_len_ = page;
    map_len_ = data_len_ + page;
    void* p = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = static_cast<char*>(p);
    if (mprotect(base_ + data_len_, page, PROT_NONE) != 0) {
      munmap(base_, map_len_);
      base_ = nullptr;
    }
  }
  // Places `bytes` at once; view() returns them.
  explicit GuardedBuffer(std::string_view bytes) : GuardedBuffer(bytes.size()) { view_ = place(bytes); }
  ~GuardedBuffer() {
    if (base_ != nullptr) munmap(base_, map_len_);
  }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  bool ready() const { return base_ != nullptr; }
  // Copies `s` so that it ends right at the guard page (s.size() <= capacity).
  std::string_view place(std::string_view s) {
    char* dst = base_ + data_len_ - s.size();
    if (!s.empty()) std::memcpy(dst, s.data(), s.size());
    view_ = {dst, s.size()};
    return view_;
  }
  std::string_view view() const { return view_; }
  std::size_t capacity() const { return data_len_; }
  // The first inaccessible byte.
  const char* guard() const { return base_ + data_len_; }

 private:
  char* base_ = nullptr;
  std::size_t data_len_ = 0;
  std::size_t map_len_ = 0;
  std::string_view view_;
};

}  // namespace sigrelay::sip::testing
