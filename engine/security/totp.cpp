// Placeholder: the RFC 6238 implementation follows in the next commit.
#include "engine/security/totp.h"

#include <stdexcept>

namespace labgate::security {

std::string newTotpSecret() { throw std::runtime_error("not implemented"); }
std::string hotp(std::string_view, uint64_t, const TotpParams&) { return {}; }
int64_t totpStep(int64_t, const TotpParams&) { return 0; }
std::string totpAt(std::string_view, int64_t, const TotpParams&) { return {}; }
std::optional<int64_t> totpVerify(std::string_view, std::string_view, int64_t, int64_t,
                                  const TotpParams&) {
  return std::nullopt;
}
std::string totpProvisioningUri(std::string_view, std::string_view, std::string_view,
                                const TotpParams&) {
  return {};
}

}  // namespace labgate::security
