#include "dataplane/spsc_ring.hpp"

#include <rte_common.h>

#include <cstdlib>

namespace sigrelay::dataplane {

std::string_view to_string(RingError e) {
  switch (e) {
    case RingError::ok: return "ok";
    case RingError::bad_capacity: return "bad_capacity";
    case RingError::no_memory: return "no_memory";
    case RingError::init_failed: return "init_failed";
  }
  return "unknown";
}

namespace detail {

RingError create_ring(std::uint32_t capacity, const char* name, rte_ring*& out) {
  // Checked here rather than left to DPDK: rte_ring_init accepts 0, and
  // rte_ring_get_memsize reports too large a size with a log line, not a code.
  if (capacity == 0 || capacity > kMaxRingCapacity) return RingError::bad_capacity;
  // rte_ring_get_memsize takes the internal power-of-two size, which
  // RING_F_EXACT_SZ makes the next power of two above capacity (one slot
  // stays free to tell full from empty).
  const ssize_t bytes = rte_ring_get_memsize(rte_align32pow2(capacity + 1));
  if (bytes <= 0) return RingError::bad_capacity;
  // aligned_alloc wants a multiple of the alignment; get_memsize already
  // rounds to a cache line, round again so that stays true whatever it does.
  const std::size_t size = RTE_ALIGN_CEIL(static_cast<std::size_t>(bytes), RTE_CACHE_LINE_SIZE);
  void* mem = std::aligned_alloc(RTE_CACHE_LINE_SIZE, size);
  if (mem == nullptr) return RingError::no_memory;
  auto* r = static_cast<rte_ring*>(mem);
  if (rte_ring_init(r, name, capacity, RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ) != 0) {
    std::free(mem);
    return RingError::init_failed;
  }
  out = r;
  return RingError::ok;
}

// rte_ring_free is only for rings from rte_ring_create (it looks the ring
// up in EAL memzones); ours are plain allocations.
void destroy_ring(rte_ring* ring) { std::free(ring); }

}  // namespace detail
}  // namespace sigrelay::dataplane
