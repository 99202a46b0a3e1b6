// Audit hash chain (see audit.h), with OpenSSL's SHA-256.
#include "engine/store/audit.h"

#include <openssl/evp.h>

#include <stdexcept>

#include "engine/store/store.h"

namespace labgate {
namespace {

void appendField(std::string& out, const std::string& value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ';';
}

}  // namespace

std::string auditCanonicalForm(const std::string& at, const AuditEvent& event) {
  std::string out;
  appendField(out, at);
  appendField(out, event.orgId);
  appendField(out, event.actor);
  appendField(out, event.action);
  appendField(out, event.subject);
  appendField(out, event.detail);
  return out;
}

std::string sha256Hex(const std::string& bytes) {
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up again on every digest (a
  // third of the cost of hashing a message; issue 16). Kept for the life of the process.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const EVP_MD* md = sha256 != nullptr ? sha256 : EVP_sha256();
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, md, nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0x0F];
  }
  return hex;
}

std::string auditChainHash(const std::string& prevHash, const std::string& canonical) {
  return sha256Hex(prevHash + canonical);
}

}  // namespace labgate
