// The REST API side of the integration harness: an HTTP(S) client that speaks JSON to labgated's
// /api/v1 (certificate verification off: the tests' certificates are self-signed), a JSON body
// builder, logging in, TOTP codes, a self-signed RSA certificate for https.listen and a probe of
// the TLS versions the server accepts (openssl s_client).
//
// Test output rule (see harness.h): answers carry tokens, API keys, CSRF tokens and TOTP secrets.
// Print ApiResponse::describe() (status, problem title and detail), never a body.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/harness.h"

namespace labgate::it {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// One answer of the API.
struct ApiResponse {
  int status = 0;       // 0: no answer (see `error`)
  std::string error;    // the transport error when status is 0
  HttpHeaders headers;  // as received, in order; a repeated header (Set-Cookie) appears repeatedly
  std::string body;
  Poco::JSON::Object::Ptr json;  // the body parsed, when it is a JSON object; else null

  /// The first value of header `name` (case-insensitive), "" when absent.
  std::string header(const std::string& name) const;
  std::vector<std::string> headerValues(const std::string& name) const;
  std::string contentType() const { return header("Content-Type"); }
  /// A string member of the JSON body ("" when absent or not a string).
  std::string text(const std::string& key) const;
  /// An integer member of the JSON body (`fallback` when absent).
  int64_t number(const std::string& key, int64_t fallback = -1) const;
  /// A boolean member of the JSON body (`fallback` when absent).
  bool flag(const std::string& key, bool fallback = false) const;
  /// The "items" array of a list answer (empty array when absent).
  Poco::JSON::Array::Ptr items() const;
  bool ok() const { return status >= 200 && status < 300; }
  /// What a failure message may print: status, and for a problem+json answer its title and
  /// detail (never other members, never a success body).
  std::string describe() const;
};

/// One request to labgated on 127.0.0.1:port. A non-empty body is sent as application/json
/// unless `headers` name a Content-Type. With `sourceAddress` (plain HTTP only) the connection
/// leaves from that local address, e.g. "127.0.0.2": another loopback address, so that the
/// allow-list tests can be two different peers. Never throws: a transport failure is status 0.
ApiResponse apiRequest(const std::string& method, int port, const std::string& path,
                       const std::string& body = "", const HttpHeaders& headers = {},
                       bool https = false, std::chrono::milliseconds timeout = 30000ms,
                       const std::string& sourceAddress = "");

/// Authorization: Bearer `token`, followed by `more`.
HttpHeaders withBearer(const std::string& token, HttpHeaders more = {});

/// A JSON object built member by member, for request bodies.
class Json {
 public:
  Json();
  Json& set(const std::string& key, const std::string& value);
  Json& set(const std::string& key, const char* value);
  Json& set(const std::string& key, bool value);
  Json& set(const std::string& key, int64_t value);
  Json& set(const std::string& key, int value) { return set(key, static_cast<int64_t>(value)); }
  Json& set(const std::string& key, const std::vector<std::string>& values);
  Json& set(const std::string& key, const Json& object);
  Json& setNull(const std::string& key);
  std::string str() const;
  Poco::JSON::Object::Ptr object() const { return object_; }

 private:
  Poco::JSON::Object::Ptr object_;
};

/// The API of one labgated instance: a port (HTTP or HTTPS) and shortcuts.
class ApiClient {
 public:
  explicit ApiClient(int port, bool https = false) : port_(port), https_(https) {}

  /// The same API reached from local address `sourceAddress` (see apiRequest).
  ApiClient from(const std::string& sourceAddress) const {
    ApiClient copy = *this;
    copy.source_ = sourceAddress;
    return copy;
  }

  ApiResponse request(const std::string& method, const std::string& path,
                      const std::string& body = "", const HttpHeaders& headers = {}) const {
    return apiRequest(method, port_, path, body, headers, https_, 30000ms, source_);
  }
  ApiResponse get(const std::string& path, const HttpHeaders& headers = {}) const {
    return request("GET", path, "", headers);
  }
  ApiResponse post(const std::string& path, const std::string& body,
                   const HttpHeaders& headers = {}) const {
    return request("POST", path, body, headers);
  }
  ApiResponse patch(const std::string& path, const std::string& body,
                    const HttpHeaders& headers = {}) const {
    return request("PATCH", path, body, headers);
  }
  ApiResponse del(const std::string& path, const HttpHeaders& headers = {}) const {
    return request("DELETE", path, "", headers);
  }

  /// POST /api/v1/sessions; the session token, or "" when the login was refused. The answer goes
  /// to `response` when given. `headers` are sent too (e.g. a User-Agent).
  std::string login(const std::string& org, const std::string& user, const std::string& password,
                    const std::string& totp = "", ApiResponse* response = nullptr,
                    const HttpHeaders& headers = {}) const;

  int port() const { return port_; }
  bool https() const { return https_; }

 private:
  int port_;
  bool https_;
  std::string source_;
};

/// Seconds since the Unix epoch (wall clock: TOTP runs on it).
int64_t unixNow();
/// The 6-digit RFC 6238 code of `base32Secret` at `unixSeconds` (labgate::security::totpAt).
std::string totpCode(const std::string& base32Secret, int64_t unixSeconds);
/// Sleeps until a new 30-second TOTP step begins (plus a small margin), so that a code of the new
/// step was never used before (codes are accepted once).
void waitForNextTotpStep();

/// A self-signed RSA certificate and its unencrypted key for https.listen, made with
/// `openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost` in `dir`. Returns
/// false (with openssl's stderr in `why`) on failure.
bool makeTestCertificate(const std::string& dir, std::string* certPath, std::string* keyPath,
                         std::string* why);

/// What `openssl s_client -connect 127.0.0.1:PORT <args> </dev/null` reported.
struct TlsProbe {
  bool launched = false;   // openssl ran
  bool handshake = false;  // a session was established ("New, TLSv1.x, Cipher is ...")
  std::string protocol;    // "TLSv1.3" etc. from the "Protocol" line or the "New," line
  std::string output;      // stdout + stderr, for failure messages (no secret in it)
};
TlsProbe probeTls(int port, const std::vector<std::string>& args, const std::string& captureDir);

}  // namespace labgate::it
