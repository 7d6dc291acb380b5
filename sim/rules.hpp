// What the simulated service answers to an INVITE: pure functions from the
// request (and whether its source is whitelisted) to a decision. No I/O.
//
// Rule syntax (one `rule =` line each, docs/sim.md has examples):
//   PREFIX CODE [contacts=URI,URI...] [delay_ms=N] [silent] [trying]
//               [attest=A|B|C] [no_identity] [verify]
// `verify` (302 only) makes the rule the terminating side's verifier: its
// 302 carries the verdict on the INVITE's Identity header (sim/verification)
// instead of a new Identity header.
// PREFIX is matched against the normalized called number (sim/numbers.hpp);
// a leading '+' and visual separators in it are ignored, "*" matches every
// number. The longest matching prefix wins; with no match the answer is 503.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sip/message.hpp"

namespace sigrelay::sim {

inline constexpr std::uint16_t kDefaultCode = 503;
inline constexpr std::size_t kMaxContacts = 16;
inline constexpr std::uint32_t kMaxDelayMs = 3'600'000;

struct Rule {
  std::string prefix;                 // normalized; empty for "*"
  std::uint16_t code = kDefaultCode;  // 300..699
  std::vector<std::string> contacts;  // 3xx only, in preference order
  std::uint32_t delay_ms = 0;
  bool silent = false;       // never answer: the relay must fail open
  bool trying = false;       // send 100 Trying at once, before the final answer
  bool no_identity = false;  // a 302 without the Identity header
  bool verify = false;       // a 302 with the verification result, without a new Identity
  char attest = 0;           // 'A', 'B' or 'C'; 0 means shaken.attest
  std::string text;          // as configured, for logs
};

// Parses one rule; on failure returns nullopt and says why in `error`.
std::optional<Rule> parse_rule(std::string_view text, std::string& error);

// The q-value (RFC 3261 §20.10) of contact `index` of `count`: 1.0 for the
// first, then strictly descending and never 0, e.g. "1.0", "0.9", "0.8".
std::string q_value(std::size_t index, std::size_t count);

// Contact header values for a rule: "<URI>;q=...", one per contact.
std::vector<std::string> contact_values(const Rule& rule);

class RuleSet {
 public:
  // Two rules with the same prefix are an error: neither would be longer.
  bool add(Rule rule, std::string& error);
  // The rule with the longest prefix of `number`, or nullptr.
  const Rule* match(std::string_view number) const;
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  std::vector<Rule> rules_;  // longest prefix first
};

enum class Action : std::uint8_t {
  answer,     // send `code` after `delay_ms`
  silent,     // hold the INVITE unanswered until CANCEL or disconnect
  forbidden,  // the source is not whitelisted: `code` at once, rules not consulted
};

struct Decision {
  Action action = Action::answer;
  std::uint16_t code = kDefaultCode;
  std::uint32_t delay_ms = 0;
  const Rule* rule = nullptr;  // nullptr for the default answer and for forbidden
  std::string called;          // normalized called number
};

Decision decide(const sip::Message& invite, bool source_allowed, const RuleSet& rules,
                std::uint16_t forbidden_code);

}  // namespace sigrelay::sim
