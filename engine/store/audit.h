// The audit log's hash chain. Each event stores hash = SHA-256(prev_hash || canonical form), where
// the canonical form is defined here (length-prefixed fields, so no two events share one), not by
// any serialiser's key order. The first event's prev_hash is 64 zeros.
#pragma once

#include <string>

namespace labgate {

struct AuditEvent;

inline constexpr const char* kAuditGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Canonical bytes of an event as chained: each field as "<length>:<bytes>;" in a fixed order.
std::string auditCanonicalForm(const std::string& at, const AuditEvent& event);
/// Hex SHA-256 of prevHash followed by the canonical form.
std::string auditChainHash(const std::string& prevHash, const std::string& canonical);
/// Hex SHA-256 of arbitrary bytes.
std::string sha256Hex(const std::string& bytes);

}  // namespace labgate
