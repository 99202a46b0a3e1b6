// IP allow-lists: CIDR blocks for IPv4 and IPv6 ("10.0.0.0/8", "192.168.1.7", "::1/128",
// "fd00::/8"). An IPv4-mapped IPv6 peer ("::ffff:10.1.2.3") is matched as its IPv4 address.
#pragma once

#include <Poco/Net/IPAddress.h>

#include <string>
#include <string_view>
#include <vector>

#include "engine/model/status.h"

namespace labgate::security {

class Cidr {
 public:
  /// "ADDRESS" (a single host) or "ADDRESS/PREFIX". Host bits set below the prefix are an error
  /// ("10.0.0.1/8": did you mean 10.0.0.0/8?), so a typo cannot widen a list silently.
  static StatusOr<Cidr> parse(std::string_view text);

  bool contains(const Poco::Net::IPAddress& address) const;
  /// Canonical text, "10.0.0.0/8".
  std::string toString() const;

 private:
  // StatusOr<Cidr> default-constructs its value slot; nobody else may build an unparsed Cidr.
  friend class labgate::StatusOr<Cidr>;
  Cidr() = default;
  Poco::Net::IPAddress network_;
  unsigned prefix_ = 0;
};

class AllowList {
 public:
  AllowList() = default;
  /// Every entry must parse; the error names the entry's position and what is wrong.
  static StatusOr<AllowList> parse(const std::vector<std::string>& entries);

  /// An empty list allows everyone.
  bool empty() const { return blocks_.empty(); }
  bool allows(const Poco::Net::IPAddress& address) const;
  std::vector<std::string> toStrings() const;

 private:
  std::vector<Cidr> blocks_;
};

}  // namespace labgate::security
