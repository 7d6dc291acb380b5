// The Via branch of every request sigrelay sends (RFC 3261 §8.1.1.7, §16.6
// step 8). A response carries our branch back in its top Via, so the branch
// alone must lead to the owning worker and transaction slot in O(1), and a
// forged or stale branch must lead nowhere.
//
// Format (docs/branch-codec.md), 40 characters, all RFC 3261 token chars:
//
//   z9hG4bK-sr1-WWSSSSSSGGGGMMMMMMMMMMMMMMMM
//   cookie  mark  worker slot generation MAC   (lowercase hex)
//
// CANCEL and the ACK for a non-2xx final reuse the INVITE's branch (RFC 3261
// §9.1, §17.1.1.3), so they decode to the INVITE's slot; the transaction
// layer tells them apart by CSeq method, as §17.1.3 matching does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sigrelay::sip {

struct BranchId {
  std::uint8_t worker = 0;       // owning sip worker
  std::uint32_t slot = 0;        // transaction slot, 24 bits
  std::uint16_t generation = 0;  // bumped when the slot is reused
  friend bool operator==(const BranchId&, const BranchId&) = default;
};

inline constexpr std::uint32_t kMaxBranchSlot = (1U << 24) - 1;

// The keyed MAC, injected so sip/ stays free of crypto libraries: a plain
// function pointer plus the object it works on (tls::KeyedHash::call and a
// KeyedHash*). No allocation, no virtual call. The function must be keyed
// with a per-process secret; one BranchMac per thread if the MAC is not
// thread-safe (KeyedHash is not).
struct BranchMac {
  using Fn = std::uint64_t (*)(const void* ctx, std::span<const std::uint8_t> data);
  Fn fn = nullptr;
  const void* ctx = nullptr;

  std::uint64_t operator()(std::span<const std::uint8_t> data) const { return fn(ctx, data); }
};

inline constexpr std::string_view kBranchPrefix = "z9hG4bK-sr1-";
inline constexpr std::size_t kBranchLength = kBranchPrefix.size() + 2 + 6 + 4 + 16;
static_assert(kBranchLength <= 40);

// Writes exactly kBranchLength characters (no terminator) to out and returns
// kBranchLength; returns 0 and writes nothing if id.slot exceeds 24 bits.
std::size_t encode_branch(const BranchId& id, BranchMac mac, char* out);

// The id a branch of ours was made for, or nullopt if the view has the wrong
// length, the wrong prefix, a character outside lowercase hex, or a MAC that
// does not match (forged, corrupted, or made by another process's secret).
// O(1); reads nothing outside the view.
std::optional<BranchId> decode_branch(std::string_view branch, BranchMac mac);

// Prefix check only: says the branch claims to be ours, not that it is valid.
constexpr bool is_our_branch(std::string_view branch) {
  return branch.substr(0, kBranchPrefix.size()) == kBranchPrefix;
}

}  // namespace sigrelay::sip
