// CIDR blocks and allow-lists. Addresses are parsed with inet_pton rather than
// Poco::Net::IPAddress::parse: Poco falls back to inet_aton for IPv4, which reads "010.0.0.1" as
// 8.0.0.1 and "10.1" as 10.0.0.1 (a typo must not become some other network), and 1.11 refuses
// "::". The bytes are then kept in a Poco IPAddress, which is what peers arrive as. Canonical
// text is formatted here too (RFC 5952 for IPv6), because Poco prints "::ffff:0.0.0.0" as
// "::ffff:" and compresses the first run of zeros rather than the longest.
#include "engine/security/cidr.h"

#include <arpa/inet.h>

#include <array>
#include <cstdio>
#include <cstring>

namespace labgate::security {
namespace {

using Poco::Net::IPAddress;

constexpr size_t kMappedPrefixBits = 96;  // ::ffff:0:0/96 holds the IPv4-mapped addresses

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const unsigned char* bytesOf(const IPAddress& address) {
  return static_cast<const unsigned char*>(address.addr());
}

/// ::ffff:a.b.c.d, judged on the bytes (Poco's isIPv4Mapped() is also true of plain IPv4).
bool isMapped(const unsigned char* v6) {
  static constexpr unsigned char kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return std::memcmp(v6, kPrefix, sizeof kPrefix) == 0;
}

/// Whether the first `prefix` bits of `a` and `b` agree.
bool samePrefix(const unsigned char* a, const unsigned char* b, unsigned prefix) {
  const unsigned whole = prefix / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

void clearHostBits(unsigned char* bytes, size_t length, unsigned prefix) {
  for (size_t i = 0; i < length; ++i) {
    const size_t first = i * 8;
    if (first + 8 <= prefix) continue;
    const unsigned keep = prefix > first ? static_cast<unsigned>(prefix - first) : 0;
    bytes[i] &= static_cast<unsigned char>(0xFF << (8 - keep));
  }
}

std::string formatV4(const unsigned char* b) {
  char text[16];
  std::snprintf(text, sizeof text, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
  return text;
}

/// RFC 5952 §4: lower-case hex, no leading zeros, the longest run (the first of equals) of two
/// or more zero groups written as "::".
std::string formatV6(const unsigned char* b) {
  std::array<unsigned, 8> groups{};
  for (size_t i = 0; i < 8; ++i) groups[i] = (unsigned{b[2 * i]} << 8) | b[2 * i + 1];
  size_t bestStart = 8, bestLength = 0;
  for (size_t i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > bestLength) bestStart = i, bestLength = j - i;
    i = j;
  }
  if (bestLength < 2) bestStart = 8;

  std::string out;
  for (size_t i = 0; i < 8; ++i) {
    if (i == bestStart) {
      out += "::";
      i += bestLength - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    char group[5];
    std::snprintf(group, sizeof group, "%x", groups[i]);
    out += group;
  }
  return out;
}

std::string formatAddress(const IPAddress& address) {
  return address.family() == IPAddress::IPv4 ? formatV4(bytesOf(address))
                                             : formatV6(bytesOf(address));
}

}  // namespace

StatusOr<Cidr> Cidr::parse(std::string_view text) {
  const std::string location(text);
  const std::string_view entry = trim(text);
  if (entry.empty()) return Status::invalid(location, "empty address");

  const size_t slash = entry.find('/');
  const std::string addressText(entry.substr(0, slash));
  unsigned char bytes[16] = {};
  size_t length = 4;
  if (inet_pton(AF_INET, addressText.c_str(), bytes) != 1) {
    length = 16;
    if (inet_pton(AF_INET6, addressText.c_str(), bytes) != 1) {
      return Status::invalid(location, "not an IPv4 or IPv6 address");
    }
  }
  const unsigned maxPrefix = static_cast<unsigned>(length * 8);

  unsigned prefix = maxPrefix;
  if (slash != std::string_view::npos) {
    const std::string_view digits = entry.substr(slash + 1);
    const std::string range = "a prefix length from 0 to " + std::to_string(maxPrefix);
    if (digits.empty() || digits.size() > 3) {
      return Status::invalid(location, "expected " + range + " after '/'");
    }
    prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return Status::invalid(location, "expected " + range + " after '/'");
      prefix = prefix * 10 + static_cast<unsigned>(c - '0');
    }
    if (prefix > maxPrefix) {
      return Status::invalid(location, "prefix length " + std::to_string(prefix) +
                                           " is out of range; expected " + range);
    }
  }

  // A block inside ::ffff:0:0/96 is an IPv4 block written the long way; keep it as one, so it
  // matches IPv4 peers and mapped peers alike.
  if (length == 16 && prefix >= kMappedPrefixBits && isMapped(bytes)) {
    std::memmove(bytes, bytes + 12, 4);
    length = 4;
    prefix -= kMappedPrefixBits;
  }

  unsigned char network[16];
  std::memcpy(network, bytes, length);
  clearHostBits(network, length, prefix);
  Cidr cidr;
  cidr.network_ = IPAddress(network, static_cast<poco_socklen_t>(length));
  cidr.prefix_ = prefix;
  if (std::memcmp(network, bytes, length) != 0) {
    return Status::invalid(location, "host bits are set; did you mean " + cidr.toString() + "?");
  }
  return cidr;
}

bool Cidr::contains(const IPAddress& address) const {
  const unsigned char* peer = bytesOf(address);
  if (network_.family() == IPAddress::IPv4) {
    if (address.family() == IPAddress::IPv6) {
      if (!isMapped(peer)) return false;
      peer += 12;
    }
    return samePrefix(peer, bytesOf(network_), prefix_);
  }
  // A mapped peer is the same client as the plain IPv4 one (a dual-stack socket reports it so),
  // and gets the same answer: no IPv6 block holds it, not even "::/0".
  if (address.family() != IPAddress::IPv6 || isMapped(peer)) return false;
  return samePrefix(peer, bytesOf(network_), prefix_);
}

std::string Cidr::toString() const {
  return formatAddress(network_) + "/" + std::to_string(prefix_);
}

StatusOr<AllowList> AllowList::parse(const std::vector<std::string>& entries) {
  AllowList list;
  for (size_t i = 0; i < entries.size(); ++i) {
    StatusOr<Cidr> block = Cidr::parse(entries[i]);
    if (!block.isOk()) {
      return Status::invalid("entry " + std::to_string(i + 1), block.status().toString());
    }
    list.blocks_.push_back(std::move(block).value());
  }
  return list;
}

bool AllowList::allows(const IPAddress& address) const {
  if (blocks_.empty()) return true;
  for (const Cidr& block : blocks_) {
    if (block.contains(address)) return true;
  }
  return false;
}

std::vector<std::string> AllowList::toStrings() const {
  std::vector<std::string> out;
  out.reserve(blocks_.size());
  for (const Cidr& block : blocks_) out.push_back(block.toString());
  return out;
}

}  // namespace labgate::security
