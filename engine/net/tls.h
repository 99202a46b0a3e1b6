// TLS server contexts for every listener that speaks TLS (the engine's HTTPS API, MLLP and ASTM
// links): one policy, one place.
#pragma once

#include <Poco/Net/Context.h>

#include <string>

#include "engine/model/status.h"
#include "engine/net/interfaces.h"

namespace labgate {

/// The TLS server context from `tls.cert`, `tls.key` and optional `tls.ca` in `keys`: TLS 1.2
/// minimum (1.3 preferred: OpenSSL picks the highest both sides speak), PEM certificate and key,
/// no weak ciphers, and with a CA the client must present a certificate it signed. A null
/// context when neither cert nor key is set. Status::config naming `prefix` + the key at fault,
/// the file and what is wrong in words (never the TLS library's error text): a file missing,
/// unreadable or not a regular file, no PEM certificate or key in it, a key encrypted with a
/// passphrase, a key that does not belong to the certificate, and a key file whose mode gives
/// group or others any access (the rule of security.key_file: chmod 600).
StatusOr<Poco::Net::Context::Ptr> makeTlsContext(const std::string& prefix, const KeyValues& keys);

/// True when `path` names a regular file this process can open for reading.
bool readableFile(const std::string& path);

}  // namespace labgate
