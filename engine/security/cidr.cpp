// Placeholder: the implementation follows in the next commit.
#include "engine/security/cidr.h"

namespace labgate::security {

StatusOr<Cidr> Cidr::parse(std::string_view) { return Status::invalid("cidr", "not implemented"); }
bool Cidr::contains(const Poco::Net::IPAddress&) const { return false; }
std::string Cidr::toString() const { return {}; }

StatusOr<AllowList> AllowList::parse(const std::vector<std::string>&) { return AllowList(); }
bool AllowList::allows(const Poco::Net::IPAddress&) const { return true; }
std::vector<std::string> AllowList::toStrings() const { return {}; }

}  // namespace labgate::security
