#include "sip/contact_list.hpp"

#include "sip/header_id.hpp"
#include "sip/header_values.hpp"

namespace sigrelay::sip {
namespace {

constexpr std::size_t kMaxOrder = 255;

bool ascii_digit(char c) { return c >= '0' && c <= '9'; }

// Splits a Contact value at the commas between entries. NameAddrList stops
// at the first bad entry, which would let one garbage Contact hide every one
// after it; here each entry is cut out first and judged alone. Commas inside
// a quoted display name or inside <...> do not split (RFC 3261 §20: a URI
// holding a comma must be bracketed). An unterminated quote or bracket makes
// the rest of the value one entry, which then fails to parse.
class EntrySplitter {
 public:
  explicit EntrySplitter(std::string_view value) : rest_(value) {}

  bool next(std::string_view& entry) {
    if (done_) return false;
    bool quoted = false;
    bool bracketed = false;
    for (std::size_t i = 0; i < rest_.size(); ++i) {
      const char c = rest_[i];
      if (quoted) {
        if (c == '\\') {
          ++i;  // quoted-pair: the next byte is literal, even a quote
        } else if (c == '"') {
          quoted = false;
        }
      } else if (bracketed) {
        bracketed = c != '>';
      } else if (c == '"') {
        quoted = true;
      } else if (c == '<') {
        bracketed = true;
      } else if (c == ',') {
        entry = rest_.substr(0, i);
        rest_.remove_prefix(i + 1);
        return true;
      }
    }
    entry = rest_;
    done_ = true;
    return true;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

// Keeps items sorted by q, highest first, stable for equal q. When the set is
// full the lowest-q, latest entry is the one that falls out.
void insert(ContactSet& set, const ContactTarget& t) {
  std::size_t pos = set.count;
  while (pos > 0 && set.items[pos - 1].q < t.q) --pos;
  if (set.count == kMaxContactTargets) {
    ++set.dropped_over_limit;
    if (pos == kMaxContactTargets) return;
  } else {
    ++set.count;
  }
  for (std::size_t i = set.count - 1; i > pos; --i) set.items[i] = set.items[i - 1];
  set.items[pos] = t;
}

// One entry of a Contact value; nullopt when it cannot be a target.
std::optional<ContactTarget> parse_entry(std::string_view entry) {
  NameAddr na;
  // '*' is allowed in the parse only so that it is recognised, then refused:
  // it means "all bindings" in a REGISTER and is no target in a 3xx.
  if (!parse_name_addr(entry, na, /*allow_star=*/true) || na.star) return std::nullopt;
  if (na.uri.scheme != UriScheme::sip && na.uri.scheme != UriScheme::sips) return std::nullopt;
  ContactTarget t;
  t.uri_text = na.uri_text;
  t.uri = na.uri;
  // In an addr-spec without <>, ";q=" after the URI is a header param
  // (RFC 3261 §20.10), which parse_name_addr already put in na.params.
  if (const auto q = find_param(na.params, "q")) {
    const auto value = parse_qvalue(*q);
    if (!value) return std::nullopt;
    t.q = *value;
  }
  return t;
}

}  // namespace

std::optional<std::uint16_t> parse_qvalue(std::string_view v) {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return std::nullopt;
  if (v.size() == 1) return static_cast<std::uint16_t>(v[0] == '1' ? 1000 : 0);
  if (v[1] != '.' || v.size() > 5) return std::nullopt;  // at most three decimals
  const std::string_view decimals = v.substr(2);
  if (v[0] == '1') {
    for (const char c : decimals) {
      if (c != '0') return std::nullopt;
    }
    return static_cast<std::uint16_t>(1000);
  }
  std::uint16_t value = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    std::uint16_t d = 0;
    if (i < decimals.size()) {
      if (!ascii_digit(decimals[i])) return std::nullopt;
      d = static_cast<std::uint16_t>(decimals[i] - '0');
    }
    value = static_cast<std::uint16_t>(value * 10 + d);
  }
  return value;
}

ContactSet collect_contacts(const Message& m) {
  ContactSet set;
  std::size_t position = 0;
  for (const Header& h : m.headers) {
    if (h.id != HeaderId::contact) continue;
    EntrySplitter split(h.value);
    std::string_view entry;
    while (split.next(entry)) {
      const auto order = static_cast<std::uint8_t>(position < kMaxOrder ? position : kMaxOrder);
      ++position;
      auto target = parse_entry(entry);
      if (!target) {
        ++set.skipped_invalid;
        continue;
      }
      target->order = order;
      insert(set, *target);
    }
  }
  return set;
}

}  // namespace sigrelay::sip
