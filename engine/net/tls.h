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
/// context when neither cert nor key is set. Status::config naming `prefix` + the key at fault.
StatusOr<Poco::Net::Context::Ptr> makeTlsContext(const std::string& prefix, const KeyValues& keys);

/// True when `path` names a readable regular file.
bool readableFile(const std::string& path);

}  // namespace labgate
