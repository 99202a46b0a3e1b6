// The REST API client of the integration harness (see harness_api.h).
#include "tests/integration/harness_api.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <sstream>

#include "engine/security/crypto.h"
#include "engine/security/totp.h"
#include "tests/integration/harness_hl7.h"

namespace labgate::it {

namespace {

bool sameName(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Poco::Net::Context::Ptr clientContext() {
  // The tests' certificates are self-signed: no verification, no host name check. The TLS
  // versions the server accepts are probed separately (probeTls).
  static Poco::Net::Context::Ptr context = [] {
    Poco::Net::Context::Ptr c = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "",
                                                       "", Poco::Net::Context::VERIFY_NONE);
    c->enableExtendedCertificateVerification(false);
    return c;
  }();
  return context;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ApiResponse

std::string ApiResponse::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (sameName(key, name)) return value;
  }
  return {};
}

std::vector<std::string> ApiResponse::headerValues(const std::string& name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : headers) {
    if (sameName(key, name)) values.push_back(value);
  }
  return values;
}

std::string ApiResponse::text(const std::string& key) const {
  if (json.isNull() || !json->has(key)) return {};
  try {
    Poco::Dynamic::Var v = json->get(key);
    if (v.isString()) return v.convert<std::string>();
  } catch (const Poco::Exception&) {
  }
  return {};
}

int64_t ApiResponse::number(const std::string& key, int64_t fallback) const {
  if (json.isNull() || !json->has(key)) return fallback;
  try {
    Poco::Dynamic::Var v = json->get(key);
    if (v.isEmpty() || v.isString()) return fallback;
    return v.convert<int64_t>();
  } catch (const Poco::Exception&) {
    return fallback;
  }
}

bool ApiResponse::flag(const std::string& key, bool fallback) const {
  if (json.isNull() || !json->has(key)) return fallback;
  try {
    Poco::Dynamic::Var v = json->get(key);
    if (v.isBoolean()) return v.convert<bool>();
  } catch (const Poco::Exception&) {
  }
  return fallback;
}

Poco::JSON::Array::Ptr ApiResponse::items() const {
  Poco::JSON::Array::Ptr items;
  if (!json.isNull()) items = json->getArray("items");
  if (items.isNull()) items = new Poco::JSON::Array;
  return items;
}

std::string ApiResponse::describe() const {
  std::string out = "status " + std::to_string(status);
  if (status == 0) return out + " (" + error + ")";
  if (contentType().rfind("application/problem+json", 0) == 0 && !json.isNull()) {
    out += " (" + text("title") + ": " + text("detail") + ")";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Requests

ApiResponse apiRequest(const std::string& method, int port, const std::string& path,
                       const std::string& body, const HttpHeaders& headers, bool https,
                       std::chrono::milliseconds timeout, const std::string& sourceAddress) {
  ApiResponse answer;
  try {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (!sourceAddress.empty()) {
      // Poco 1.11's session cannot choose its local address: bind and connect the socket here and
      // hand it over (one request per connection, as everywhere in this client). For TLS the
      // connected socket is attached to a secure one and used by a plain session object, since
      // HTTPSClientSession refuses an already connected socket.
      Poco::Net::StreamSocket socket(Poco::Net::SocketAddress::IPv4);
      socket.impl()->bind(Poco::Net::SocketAddress(sourceAddress, 0));
      socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)),
                     toTimespan(timeout));
      if (https) {
        session = std::make_unique<Poco::Net::HTTPClientSession>(
            Poco::Net::SecureStreamSocket::attach(socket, clientContext()));
      } else {
        session = std::make_unique<Poco::Net::HTTPClientSession>(socket);
      }
    } else if (https) {
      session = std::make_unique<Poco::Net::HTTPSClientSession>(
          "127.0.0.1", static_cast<Poco::UInt16>(port), clientContext());
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1",
                                                               static_cast<Poco::UInt16>(port));
    }
    session->setTimeout(toTimespan(timeout));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost("127.0.0.1", static_cast<Poco::UInt16>(port));
    bool contentTypeGiven = false;
    for (const auto& [name, value] : headers) {
      if (sameName(name, "Content-Type")) contentTypeGiven = true;
      request.add(name, value);
    }
    if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
      if (!contentTypeGiven && !body.empty()) request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session->sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    std::ostringstream out;
    Poco::StreamCopier::copyStream(in, out);
    answer.status = static_cast<int>(response.getStatus());
    for (const auto& [name, value] : response) answer.headers.emplace_back(name, value);
    answer.body = out.str();
    try {
      Poco::JSON::Parser parser;
      Poco::Dynamic::Var parsed = parser.parse(answer.body);
      if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
        answer.json = parsed.extract<Poco::JSON::Object::Ptr>();
      }
    } catch (const Poco::Exception&) {
      answer.json = nullptr;
    }
  } catch (const Poco::Exception& e) {
    answer.status = 0;
    answer.error = e.displayText();
  }
  return answer;
}

HttpHeaders withBearer(const std::string& token, HttpHeaders more) {
  HttpHeaders headers{{"Authorization", "Bearer " + token}};
  headers.insert(headers.end(), more.begin(), more.end());
  return headers;
}

// ---------------------------------------------------------------------------------------------
// Json

Json::Json() : object_(new Poco::JSON::Object) {}

Json& Json::set(const std::string& key, const std::string& value) {
  object_->set(key, value);
  return *this;
}
Json& Json::set(const std::string& key, const char* value) {
  object_->set(key, std::string(value));
  return *this;
}
Json& Json::set(const std::string& key, bool value) {
  object_->set(key, value);
  return *this;
}
Json& Json::set(const std::string& key, int64_t value) {
  object_->set(key, static_cast<Poco::Int64>(value));
  return *this;
}
Json& Json::set(const std::string& key, const std::vector<std::string>& values) {
  Poco::JSON::Array::Ptr array = new Poco::JSON::Array;
  for (const auto& v : values) array->add(v);
  object_->set(key, array);
  return *this;
}
Json& Json::set(const std::string& key, const Json& object) {
  object_->set(key, object.object_);
  return *this;
}
Json& Json::setNull(const std::string& key) {
  object_->set(key, Poco::Dynamic::Var());
  return *this;
}

std::string Json::str() const {
  std::ostringstream out;
  object_->stringify(out);
  return out.str();
}

// ---------------------------------------------------------------------------------------------
// Logging in

std::string ApiClient::login(const std::string& org, const std::string& user,
                             const std::string& password, const std::string& totp,
                             ApiResponse* response, const HttpHeaders& headers) const {
  Json body;
  body.set("org", org).set("user", user).set("password", password);
  if (!totp.empty()) body.set("totp", totp);
  ApiResponse answer = post("/api/v1/sessions", body.str(), headers);
  std::string token = answer.status == 201 ? answer.text("token") : "";
  if (response) *response = std::move(answer);
  return token;
}

// ---------------------------------------------------------------------------------------------
// TOTP

int64_t unixNow() { return static_cast<int64_t>(std::time(nullptr)); }

std::string totpCode(const std::string& base32Secret, int64_t unixSeconds) {
  auto key = security::base32Decode(base32Secret);
  if (!key) return {};
  return security::totpAt(*key, unixSeconds);
}

void waitForNextTotpStep() {
  const int64_t step = unixNow() / 30;
  while (unixNow() / 30 == step) std::this_thread::sleep_for(100ms);
  std::this_thread::sleep_for(300ms);
}

// ---------------------------------------------------------------------------------------------
// TLS

bool makeTestCertificate(const std::string& dir, std::string* certPath, std::string* keyPath,
                         std::string* why) {
  const std::string openssl = findProgram("openssl");
  if (openssl.empty()) {
    if (why) *why = "openssl CLI not installed";
    return false;
  }
  *certPath = dir + "/https-cert.pem";
  *keyPath = dir + "/https-key.pem";
  ProgramRun run = runProgram(openssl,
                              {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                               "-subj", "/CN=localhost", "-keyout", *keyPath, "-out", *certPath},
                              60000ms, dir);
  if (!run.finished || run.exitCode != 0 || !fileExists(*certPath) || !fileExists(*keyPath)) {
    if (why) *why = "openssl req failed (status " + std::to_string(run.exitCode) + "): " + run.err;
    return false;
  }
  // labgated refuses a private key group or others may read (whatever openssl's version did).
  return ::chmod(keyPath->c_str(), 0600) == 0;
}

TlsProbe probeTls(int port, const std::vector<std::string>& args, const std::string& captureDir) {
  TlsProbe probe;
  const std::string openssl = findProgram("openssl");
  if (openssl.empty()) return probe;
  // Through sh for the </dev/null: s_client would otherwise wait on the suite's stdin. The
  // arguments are the test's own constants (no quoting needed).
  std::string command = openssl + " s_client -connect 127.0.0.1:" + std::to_string(port);
  for (const auto& a : args) command += " " + a;
  command += " </dev/null";
  ProgramRun run = runProgram("/bin/sh", {"-c", command}, 30000ms, captureDir);
  probe.launched = run.finished;
  probe.output = run.out + run.err;
  std::istringstream lines(probe.output);
  std::string line;
  while (std::getline(lines, line)) {
    // "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384" after a handshake; "New, (NONE), Cipher
    // is (NONE)" when there was none.
    if (line.rfind("New, ", 0) == 0) {
      std::string version = line.substr(5, line.find(',', 5) - 5);
      if (version.rfind("TLSv", 0) == 0) {
        probe.handshake = true;
        if (probe.protocol.empty()) probe.protocol = version;
      }
    }
    // "Protocol: TLSv1.3" (OpenSSL 3) or "    Protocol  : TLSv1.2" (the SSL-Session block).
    size_t at = line.find("Protocol");
    size_t colon = line.find(':', at == std::string::npos ? 0 : at);
    if (at != std::string::npos && colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
        value.pop_back();
      }
      if (value.rfind("TLSv", 0) == 0) probe.protocol = value;
    }
  }
  if (probe.output.size() > 2000) probe.output.resize(2000);
  return probe;
}

}  // namespace labgate::it
