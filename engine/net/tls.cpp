// TLS server contexts (see tls.h).
#include "engine/net/tls.h"

#include <Poco/File.h>
#include <openssl/ssl.h>

namespace labgate {

/// True when `path` names a readable regular file.
bool readableFile(const std::string& path) {
  try {
    Poco::File file(path);
    return file.exists() && file.isFile() && file.canRead();
  } catch (const Poco::Exception&) {
    return false;
  }
}

/// The TLS server context: TLS 1.2 minimum (1.3 preferred: OpenSSL picks the highest both
/// sides speak), PEM certificate and key, and with a CA the client must present a certificate
/// it signed. Status::config naming the key at fault.
StatusOr<Poco::Net::Context::Ptr> makeTlsContext(const std::string& prefix, const KeyValues& keys) {
  auto get = [&keys](const char* key) {
    auto it = keys.find(key);
    return it == keys.end() ? std::string() : it->second;
  };
  std::string cert = get("tls.cert"), key = get("tls.key"), ca = get("tls.ca");
  if (cert.empty() && key.empty()) {
    if (!ca.empty()) return Status::config(prefix + "tls.ca", "set only with tls.cert and tls.key");
    return Poco::Net::Context::Ptr();
  }
  if (cert.empty()) return Status::config(prefix + "tls.cert", "missing (tls.key is set)");
  if (key.empty()) return Status::config(prefix + "tls.key", "missing (tls.cert is set)");
  if (!readableFile(cert)) return Status::config(prefix + "tls.cert", "not a readable file");
  if (!readableFile(key)) return Status::config(prefix + "tls.key", "not a readable file");
  if (!ca.empty() && !readableFile(ca))
    return Status::config(prefix + "tls.ca", "not a readable file");
  Poco::Net::Context::Params params;
  params.certificateFile = cert;
  params.privateKeyFile = key;
  params.caLocation = ca;
  params.verificationMode =
      ca.empty() ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_STRICT;
  params.loadDefaultCAs = false;
  // TLS 1.2 suites: forward secrecy and AEAD only (ECDHE/DHE with AES-GCM or ChaCha20-Poly1305),
  // no CBC, SHA-1 MACs or static RSA key exchange. TLS 1.3 suites are OpenSSL's (all AEAD).
  params.cipherList = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL";
  Poco::Net::Context::Ptr context;
  try {
    context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
  } catch (const Poco::Exception& e) {
    std::string text = e.displayText();
    bool keyAtFault = text.find("private key") != std::string::npos ||
                      text.find("PrivateKey") != std::string::npos;
    std::string which = keyAtFault ? "tls.key" : "tls.cert";
    return Status::config(prefix + which, "cannot be loaded: " + text);
  }
  if (SSL_CTX_check_private_key(context->sslContext()) != 1)
    return Status::config(prefix + "tls.key", "does not match the certificate of tls.cert");
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  context->preferServerCiphers();
  return context;
}

}  // namespace labgate
