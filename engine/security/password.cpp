// Placeholder: the libargon2-backed implementation follows in the next commit.
#include "engine/security/password.h"

#include <stdexcept>

namespace labgate::security {

PasswordHasher::PasswordHasher(Argon2Params params) : params_(params) {}
std::string PasswordHasher::hash(std::string_view) const {
  throw std::runtime_error("not implemented");
}
PasswordHasher::Verdict PasswordHasher::verify(std::string_view, const std::string&) const {
  return {};
}
void PasswordHasher::burn(std::string_view) const {}

StatusOr<PasswordPolicy> PasswordPolicy::load(size_t minLength, const std::string&) {
  PasswordPolicy policy;
  policy.minLength = minLength;
  return policy;
}
Status PasswordPolicy::check(std::string_view, std::string_view, std::string_view) const {
  return Status::invalid("password", "not implemented");
}

}  // namespace labgate::security
