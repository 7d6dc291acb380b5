#include "sip/branch_codec.hpp"

#include <array>
#include <cstring>

namespace sigrelay::sip {
namespace {

// What the MAC covers: a fixed tag naming this use and format version, then
// the fields big-endian. The tag keeps a branch MAC from ever equalling a MAC
// the same key computes for something else (e.g. hashing a Call-ID).
constexpr std::array<std::uint8_t, 4> kMacTag = {'s', 'r', 'b', '1'};
constexpr std::size_t kFieldBytes = 1 + 3 + 2;
constexpr std::size_t kMacInputSize = kMacTag.size() + kFieldBytes;

std::uint64_t branch_mac(const BranchId& id, BranchMac mac) {
  std::array<std::uint8_t, kMacInputSize> in{};
  std::memcpy(in.data(), kMacTag.data(), kMacTag.size());
  std::uint8_t* f = in.data() + kMacTag.size();
  f[0] = id.worker;
  f[1] = static_cast<std::uint8_t>(id.slot >> 16);
  f[2] = static_cast<std::uint8_t>(id.slot >> 8);
  f[3] = static_cast<std::uint8_t>(id.slot);
  f[4] = static_cast<std::uint8_t>(id.generation >> 8);
  f[5] = static_cast<std::uint8_t>(id.generation);
  return mac(in);
}

constexpr char kHexDigits[] = "0123456789abcdef";

// Lowercase hex only: accepting 'A'..'F' too would give one id two spellings,
// and a single changed character could then still verify.
constexpr std::uint8_t kNotHex = 0xff;
constexpr std::array<std::uint8_t, 256> make_hex_table() {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = kNotHex;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) {
    t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - 'a' + 10);
  }
  return t;
}
constexpr auto kHexTable = make_hex_table();

void put_hex(char* out, std::uint64_t value, std::size_t digits) {
  for (std::size_t i = digits; i-- > 0;) {
    out[i] = kHexDigits[value & 0xf];
    value >>= 4;
  }
}

// Reads a fixed number of digits; a non-hex character sets a bit in bad
// rather than returning early, so every input takes the same path.
std::uint64_t get_hex(const char* in, std::size_t digits, std::uint8_t& bad) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const std::uint8_t d = kHexTable[static_cast<unsigned char>(in[i])];
    bad |= d & 0xf0;
    v = (v << 4) | (d & 0x0f);
  }
  return v;
}

constexpr std::size_t kWorkerDigits = 2;
constexpr std::size_t kSlotDigits = 6;
constexpr std::size_t kGenerationDigits = 4;
constexpr std::size_t kMacDigits = 16;
static_assert(kBranchPrefix.size() + kWorkerDigits + kSlotDigits + kGenerationDigits + kMacDigits ==
              kBranchLength);

}  // namespace

std::size_t encode_branch(const BranchId& id, BranchMac mac, char* out) {
  if (id.slot > kMaxBranchSlot) return 0;
  std::memcpy(out, kBranchPrefix.data(), kBranchPrefix.size());
  char* p = out + kBranchPrefix.size();
  put_hex(p, id.worker, kWorkerDigits);
  p += kWorkerDigits;
  put_hex(p, id.slot, kSlotDigits);
  p += kSlotDigits;
  put_hex(p, id.generation, kGenerationDigits);
  p += kGenerationDigits;
  put_hex(p, branch_mac(id, mac), kMacDigits);
  return kBranchLength;
}

std::optional<BranchId> decode_branch(std::string_view branch, BranchMac mac) {
  if (branch.size() != kBranchLength || !is_our_branch(branch)) return std::nullopt;
  const char* p = branch.data() + kBranchPrefix.size();
  std::uint8_t bad = 0;
  BranchId id;
  id.worker = static_cast<std::uint8_t>(get_hex(p, kWorkerDigits, bad));
  p += kWorkerDigits;
  id.slot = static_cast<std::uint32_t>(get_hex(p, kSlotDigits, bad));
  p += kSlotDigits;
  id.generation = static_cast<std::uint16_t>(get_hex(p, kGenerationDigits, bad));
  p += kGenerationDigits;
  const std::uint64_t claimed = get_hex(p, kMacDigits, bad);
  if (bad != 0) return std::nullopt;
  // One 64-bit comparison: no byte-by-byte early exit to time.
  if (branch_mac(id, mac) != claimed) return std::nullopt;
  return id;
}

}  // namespace sigrelay::sip
