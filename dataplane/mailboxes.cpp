#include "dataplane/mailboxes.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

namespace sigrelay::dataplane {

Mailboxes::Mailboxes(unsigned sip, unsigned tls)
    : sip_(sip), tls_(tls), sleeping_(new std::atomic<bool>[sip + tls]) {
  for (unsigned i = 0; i < sip + tls; ++i) sleeping_[i].store(false);
}

std::unique_ptr<Mailboxes> Mailboxes::create(unsigned sip_workers, unsigned tls_workers, std::uint32_t ring_size,
                                             std::string& error) {
  std::unique_ptr<Mailboxes> m(new Mailboxes(sip_workers, tls_workers));
  const unsigned n = sip_workers + tls_workers;
  m->rings_.resize(static_cast<std::size_t>(n) * n);
  for (unsigned from = 0; from < n; ++from) {
    for (unsigned to = 0; to < n; ++to) {
      if (from == to || (!m->is_sip(from) && !m->is_sip(to))) continue;
      auto r = std::make_unique<SpscRing<Packet>>();
      const auto e = SpscRing<Packet>::create(ring_size, *r, "sigrelay");
      if (e != RingError::ok) {
        error = "cannot create ring: " + std::string(to_string(e));
        return nullptr;
      }
      m->rings_[static_cast<std::size_t>(from) * n + to] = std::move(r);
    }
  }
  for (unsigned t = 0; t < n; ++t) {
    const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
      error = "eventfd failed";
      return nullptr;
    }
    m->wake_fds_.push_back(fd);
  }
  return m;
}

Mailboxes::~Mailboxes() {
  for (int fd : wake_fds_) close(fd);
}

SpscRing<Packet>* Mailboxes::ring(unsigned from, unsigned to) const {
  const unsigned n = threads();
  if (from >= n || to >= n) return nullptr;
  return rings_[static_cast<std::size_t>(from) * n + to].get();
}

unsigned Mailboxes::send(unsigned from, unsigned to, std::span<Packet* const> packets) {
  auto* r = ring(from, to);
  if (r == nullptr || packets.empty()) return 0;
  const unsigned n = r->enqueue_burst(packets);
  // Pairs with the fence in prepare_sleep(): either the consumer sees the
  // packets on its last check, or we see it sleeping and wake it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (n > 0 && sleeping_[to].load(std::memory_order_relaxed)) wake(to);
  return n;
}

unsigned Mailboxes::receive(unsigned from, unsigned to, std::span<Packet*> out) {
  auto* r = ring(from, to);
  return r == nullptr ? 0 : r->dequeue_burst(out);
}

void Mailboxes::prepare_sleep(unsigned self) {
  sleeping_[self].store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void Mailboxes::woke(unsigned self) {
  sleeping_[self].store(false, std::memory_order_relaxed);
  std::uint64_t v;
  while (read(wake_fds_[self], &v, sizeof v) > 0) {
  }
}

void Mailboxes::wake(unsigned thread) {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto r = write(wake_fds_[thread], &one, sizeof one);
}

}  // namespace sigrelay::dataplane
