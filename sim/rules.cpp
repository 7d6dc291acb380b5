#include "sim/rules.hpp"

#include <algorithm>
#include <charconv>

#include "sim/numbers.hpp"
#include "sip/uri.hpp"

namespace sigrelay::sim {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep, bool skip_empty) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t end = s.find(sep, pos);
    if (end == std::string_view::npos) end = s.size();
    const auto part = s.substr(pos, end - pos);
    if (!part.empty() || !skip_empty) out.push_back(part);
    pos = end + 1;
  }
  return out;
}

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool valid_contact(std::string_view uri_text) {
  if (!printable(uri_text) || uri_text.find_first_of("<>\",") != std::string_view::npos) return false;
  sip::Uri uri;
  if (!sip::parse_uri(uri_text, uri)) return false;
  return uri.scheme == sip::UriScheme::sip || uri.scheme == sip::UriScheme::sips ||
         uri.scheme == sip::UriScheme::tel;
}

}  // namespace

std::optional<Rule> parse_rule(std::string_view text, std::string& error) {
  const auto words = split_ws(text);
  if (words.size() < 2) {
    error = "expected 'PREFIX CODE [options]'";
    return std::nullopt;
  }
  Rule rule;
  rule.text = std::string(text);
  if (words[0] != "*") {
    if (!printable(words[0])) {
      error = "prefix '" + std::string(words[0]) + "' has characters that are not printable";
      return std::nullopt;
    }
    rule.prefix = normalize_number(words[0]);
    if (rule.prefix.empty()) {
      error = "prefix '" + std::string(words[0]) + "' is empty once '+' and separators are removed (use '*' to match every number)";
      return std::nullopt;
    }
  }
  if (words[1].size() != 3 || !parse_number(words[1], rule.code) || rule.code < 300 || rule.code > 699) {
    error = "code '" + std::string(words[1]) + "' is not a final response code from 300 to 699";
    return std::nullopt;
  }
  bool has_delay = false;
  for (std::size_t i = 2; i < words.size(); ++i) {
    const auto w = words[i];
    const auto eq = w.find('=');
    const auto name = w.substr(0, eq);
    const auto value = eq == std::string_view::npos ? std::string_view{} : w.substr(eq + 1);
    const bool has_value = eq != std::string_view::npos;
    if (name == "silent" && !has_value) {
      rule.silent = true;
    } else if (name == "trying" && !has_value) {
      rule.trying = true;
    } else if (name == "no_identity" && !has_value) {
      rule.no_identity = true;
    } else if (name == "verify" && !has_value) {
      rule.verify = true;
    } else if (name == "delay_ms" && has_value) {
      if (!parse_number(value, rule.delay_ms) || rule.delay_ms > kMaxDelayMs) {
        error = "delay_ms '" + std::string(value) + "' is not a number of milliseconds up to " +
                std::to_string(kMaxDelayMs);
        return std::nullopt;
      }
      has_delay = true;
    } else if (name == "attest" && has_value) {
      if (value != "A" && value != "B" && value != "C") {
        error = "attest '" + std::string(value) + "' is not A, B or C (RFC 8588)";
        return std::nullopt;
      }
      rule.attest = value[0];
    } else if (name == "contacts" && has_value) {
      for (const auto uri : split(value, ',', false)) {
        if (!valid_contact(uri)) {
          error = "contact '" + std::string(uri) + "' is not a sip:, sips: or tel: URI";
          return std::nullopt;
        }
        rule.contacts.emplace_back(uri);
      }
      if (rule.contacts.size() > kMaxContacts) {
        error = "more than " + std::to_string(kMaxContacts) + " contacts";
        return std::nullopt;
      }
    } else {
      error = "unknown option '" + std::string(w) + "'";
      return std::nullopt;
    }
  }
  if (!rule.contacts.empty() && rule.code / 100 != 3) {
    error = "contacts only go with a 3xx code";
    return std::nullopt;
  }
  if (rule.silent && has_delay) {
    error = "silent never answers, so delay_ms means nothing with it";
    return std::nullopt;
  }
  if (rule.verify) {
    // The verdict rides on the redirect; these would make it mean something else.
    if (rule.code != 302) {
      error = "verify only goes with 302, the answer that carries the verification result";
      return std::nullopt;
    }
    if (rule.silent) {
      error = "silent never answers, so verify means nothing with it";
      return std::nullopt;
    }
    if (rule.no_identity) {
      error = "verify already leaves out the Identity header: drop no_identity";
      return std::nullopt;
    }
    if (rule.attest != 0) {
      error = "attest= is for signing, and a verify rule does not sign: drop it";
      return std::nullopt;
    }
  }
  return rule;
}

std::string q_value(std::size_t index, std::size_t count) {
  if (index == 0) return "1.0";
  // Thousandths: steps of 0.1 while they fit, smaller steps for long lists.
  const std::size_t step = std::min<std::size_t>(100, 999 / (count > 1 ? count - 1 : 1));
  const std::size_t q = 1000 - index * step;
  std::string digits = std::to_string(1000 + q).substr(1);  // three digits, zero-padded
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  return "0." + digits;
}

std::vector<std::string> contact_values(const Rule& rule) {
  std::vector<std::string> out;
  out.reserve(rule.contacts.size());
  for (std::size_t i = 0; i < rule.contacts.size(); ++i) {
    out.push_back("<" + rule.contacts[i] + ">;q=" + q_value(i, rule.contacts.size()));
  }
  return out;
}

bool RuleSet::add(Rule rule, std::string& error) {
  for (const Rule& r : rules_) {
    if (r.prefix == rule.prefix) {
      error = "prefix '" + (rule.prefix.empty() ? std::string("*") : rule.prefix) +
              "' is already used by rule '" + r.text + "'";
      return false;
    }
  }
  const auto pos = std::find_if(rules_.begin(), rules_.end(), [&](const Rule& r) {
    return r.prefix.size() < rule.prefix.size();
  });
  rules_.insert(pos, std::move(rule));
  return true;
}

const Rule* RuleSet::match(std::string_view number) const {
  for (const Rule& r : rules_) {
    if (number.substr(0, r.prefix.size()) == r.prefix) return &r;
  }
  return nullptr;
}

Decision decide(const sip::Message& invite, bool source_allowed, const RuleSet& rules,
                std::uint16_t forbidden_code) {
  Decision d;
  d.called = called_number(invite);
  if (!source_allowed) {
    d.action = Action::forbidden;
    d.code = forbidden_code;
    return d;
  }
  d.rule = rules.match(d.called);
  if (d.rule == nullptr) return d;
  d.code = d.rule->code;
  d.delay_ms = d.rule->delay_ms;
  d.action = d.rule->silent ? Action::silent : Action::answer;
  return d;
}

}  // namespace sigrelay::sim
