// TLS server contexts (see tls.h).
#include "engine/net/tls.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/metrics/metrics.h"
#include "engine/security/posix_file.h"

namespace labgate {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, PkeyFree>;

/// The whole of a PEM file (bounded: a certificate chain or a key is a few KiB), read from one
/// descriptor after the checks on it; "" with `why` set when it cannot be used. `secret`: a
/// private key, whose mode must give group and others nothing.
std::string readTlsFile(const std::string& path, bool secret, std::string& why) {
  security::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) {
      why = path + " does not exist";
    } else if (err == EACCES) {
      why = path + " cannot be read by labgated (uid " + security::describeUid(::geteuid()) +
            "): permission denied";
    } else {
      why = path + " cannot be opened: " + std::strerror(err);
    }
    return "";
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    why = path + " cannot be read: " + std::strerror(errno);
    return "";
  }
  if (!S_ISREG(st.st_mode)) {
    why = path + (S_ISDIR(st.st_mode) ? " is a directory" : " is not a regular file") +
          ", not a PEM file";
    return "";
  }
  if (secret) {
    why = security::groupOrOtherAccess(st, path);
    if (!why.empty()) {
      why += ": a TLS private key is as secret as security.key_file";
      return "";
    }
  }
  constexpr size_t kMaxPem = 1 << 20;
  std::string text(kMaxPem + 1, '\0');
  const ssize_t n = security::readFull(fd.get(), text.data(), text.size());
  if (n < 0) {
    why = path + " cannot be read: " + std::strerror(errno);
    return "";
  }
  if (static_cast<size_t>(n) > kMaxPem) {
    why = path + " is larger than 1 MiB: not a PEM certificate or key";
    return "";
  }
  text.resize(static_cast<size_t>(n));
  if (text.empty()) why = path + " is empty";
  return text;
}

Bio memoryBio(const std::string& text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

/// The certificates of a PEM text (the first is the server's; a chain follows it).
std::vector<Certificate> certificatesOf(const std::string& text) {
  std::vector<Certificate> out;
  Bio bio = memoryBio(text);
  while (bio) {
    Certificate cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    out.push_back(std::move(cert));
  }
  ERR_clear_error();  // the end of the text is reported as an error
  return out;
}

/// The passphrase callback: labgated never asks for a passphrase (it runs unattended); it notes
/// that one was asked for and answers with none.
/// The Unix time of a certificate's notAfter, or nullopt when OpenSSL cannot read it.
std::optional<double> notAfterOf(const X509* cert) {
  const ASN1_TIME* notAfter = X509_get0_notAfter(cert);
  std::tm tm{};
  if (notAfter == nullptr || ASN1_TIME_to_tm(notAfter, &tm) != 1) return std::nullopt;
  return static_cast<double>(timegm(&tm));
}

int refusePassphrase(char*, int, int, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

/// Cleanses and drops a text that held a private key.
void forget(std::string& text) {
  if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  text.clear();
}

}  // namespace

bool readableFile(const std::string& path) {
  security::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  struct stat st {};
  return fd.get() >= 0 && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode);
}

/// The TLS server context: TLS 1.2 minimum (1.3 preferred: OpenSSL picks the highest both
/// sides speak), PEM certificate and key, and with a CA the client must present a certificate
/// it signed. Every file is read and checked here first, so that a problem is named in words
/// (which key, which file, what is wrong) and never as the TLS library's error text.
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

  std::string why;
  const std::string certText = readTlsFile(cert, false, why);
  if (!why.empty()) return Status::config(prefix + "tls.cert", why);
  std::vector<Certificate> chain = certificatesOf(certText);
  if (chain.empty()) {
    return Status::config(prefix + "tls.cert",
                          cert +
                              " holds no PEM certificate (expected a \"-----BEGIN "
                              "CERTIFICATE-----\" block, the server's certificate first)");
  }
  // For the alert on a certificate about to expire (packaging/prometheus/labgate.rules.yml).
  if (std::optional<double> expires = notAfterOf(chain.front().get())) {
    std::string context = prefix.empty() ? "api" : prefix;
    if (context.size() > 1 && context.back() == '.') context.pop_back();
    metrics::tlsCertificateExpiry().set({context}, *expires);
  }

  std::string keyText = readTlsFile(key, true, why);
  if (!why.empty()) return Status::config(prefix + "tls.key", why);
  bool asked = false;
  PrivateKey privateKey;
  {
    Bio bio = memoryBio(keyText);
    if (bio)
      privateKey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, refusePassphrase, &asked));
    ERR_clear_error();
  }
  forget(keyText);
  if (!privateKey) {
    if (asked) {
      return Status::config(
          prefix + "tls.key",
          key +
              " is encrypted with a passphrase, and labgated runs unattended with none to give; "
              "store the key without one (openssl pkey -in " +
              key + " -out NEW.key, then chmod 600 NEW.key) and name NEW.key");
    }
    return Status::config(prefix + "tls.key",
                          key +
                              " holds no PEM private key (expected a \"-----BEGIN PRIVATE "
                              "KEY-----\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" block)");
  }
  if (X509_check_private_key(chain.front().get(), privateKey.get()) != 1) {
    ERR_clear_error();
    return Status::config(prefix + "tls.key", "the private key in " + key +
                                                  " does not belong to the certificate in " + cert +
                                                  " (tls.cert)");
  }
  privateKey.reset();

  if (!ca.empty()) {
    const std::string caText = readTlsFile(ca, false, why);
    if (!why.empty()) return Status::config(prefix + "tls.ca", why);
    if (certificatesOf(caText).empty()) {
      return Status::config(prefix + "tls.ca",
                            ca + " holds no PEM certificate (expected the \"-----BEGIN "
                                 "CERTIFICATE-----\" blocks of the CAs that sign client "
                                 "certificates)");
    }
  }

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
    // The files were read and checked above; what is left is rare (e.g. a key type or size the
    // TLS library's security level refuses, or a file replaced in between).
    ERR_clear_error();
    const std::string text = e.displayText();
    const bool keyAtFault = text.find("private key") != std::string::npos ||
                            text.find("PrivateKey") != std::string::npos;
    if (keyAtFault) {
      return Status::config(prefix + "tls.key",
                            key +
                                " was refused by the TLS library (a key type or size it does "
                                "not accept, e.g. RSA under 2048 bits?)");
    }
    return Status::config(prefix + "tls.cert",
                          cert +
                              " was refused by the TLS library (a certificate it does not "
                              "accept, e.g. an RSA key under 2048 bits or a SHA-1 signature?)");
  }
  if (SSL_CTX_check_private_key(context->sslContext()) != 1) {
    ERR_clear_error();
    return Status::config(prefix + "tls.key", "the private key in " + key +
                                                  " does not belong to the certificate in " + cert +
                                                  " (tls.cert)");
  }
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  context->preferServerCiphers();
  return context;
}

}  // namespace labgate
