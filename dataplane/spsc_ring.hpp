// A typed single-producer/single-consumer ring of pointers on DPDK's rte_ring,
// usable without the EAL (docs/rings.md): the memory comes from
// std::aligned_alloc and rte_ring_init lays the ring out in it, so the socket
// backend gets the same rings as the DPDK one, with no hugepages and no root.
//
// One ring per (producer thread, consumer thread) pair. Exactly one thread
// may enqueue and exactly one may dequeue, for the ring's whole life; size()
// may be read from either side and is a snapshot.
//
// Capacity is exact (RING_F_EXACT_SZ): a ring created for 1000 holds 1000.
#pragma once

// Ask rte_ring for its C11-atomics head/tail code instead of the default x86
// one (volatile plus compiler barriers): same instructions on x86, but a
// defined data-race-free program that ThreadSanitizer can check. The ring
// functions are static inline, so this affects only translation units that
// see the define; it is best set project-wide. If <rte_ring.h> was already
// included without it, the default code is used, which is still correct on
// x86 hardware.
#if !defined(RTE_USE_C11_MEM_MODEL) && !defined(_RTE_RING_H_)
#define RTE_USE_C11_MEM_MODEL 1
#endif
#include <rte_ring.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

namespace sigrelay::dataplane {

enum class RingError : std::uint8_t {
  ok = 0,
  bad_capacity,  // 0, or more than kMaxRingCapacity
  no_memory,     // aligned allocation failed
  init_failed,   // rte_ring_init refused (e.g. name too long)
};

std::string_view to_string(RingError e);

// Largest exact capacity: the ring's internal size is the next power of two
// above the capacity and may not exceed 2^30 here (rte_ring's size mask).
inline constexpr std::uint32_t kMaxRingCapacity = (1U << 30) - 1;

namespace detail {
// The untyped part, out of line: allocation and rte_ring_init.
RingError create_ring(std::uint32_t capacity, const char* name, rte_ring*& out);
void destroy_ring(rte_ring* ring);
}  // namespace detail

template <typename T>
class SpscRing {
 public:
  SpscRing() = default;  // holds no ring; create() fills it
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;
  SpscRing(SpscRing&& other) noexcept : ring_(std::exchange(other.ring_, nullptr)) {}
  SpscRing& operator=(SpscRing&& other) noexcept {
    std::swap(ring_, other.ring_);
    return *this;
  }
  ~SpscRing() { detail::destroy_ring(ring_); }

  // Not for the data path (allocates). On error, out is left unchanged.
  // name is for debugging only, at most RTE_RING_NAMESIZE - 1 characters.
  [[nodiscard]] static RingError create(std::uint32_t capacity, SpscRing& out,
                                        const char* name = "sigrelay_spsc") {
    rte_ring* r = nullptr;
    const RingError e = detail::create_ring(capacity, name, r);
    if (e == RingError::ok) out = SpscRing(r);
    return e;
  }

  // The operations below require valid(): a default or moved-from ring has
  // nothing to operate on.
  bool valid() const { return ring_ != nullptr; }

  // Producer side. Enqueues as many of items as fit, in order, and returns
  // how many; the caller owns the rest (policy: free them and count the drop).
  unsigned enqueue_burst(std::span<T* const> items) {
    return rte_ring_sp_enqueue_burst(ring_, reinterpret_cast<void* const*>(items.data()),
                                     static_cast<unsigned>(items.size()), nullptr);
  }

  // Consumer side. Fills out from the front with up to out.size() items in
  // FIFO order and returns how many.
  unsigned dequeue_burst(std::span<T*> out) {
    return rte_ring_sc_dequeue_burst(ring_, reinterpret_cast<void**>(out.data()),
                                     static_cast<unsigned>(out.size()), nullptr);
  }

  unsigned size() const { return rte_ring_count(ring_); }
  unsigned capacity() const { return rte_ring_get_capacity(ring_); }

 private:
  explicit SpscRing(rte_ring* r) : ring_(r) {}

  rte_ring* ring_ = nullptr;
};

}  // namespace sigrelay::dataplane
