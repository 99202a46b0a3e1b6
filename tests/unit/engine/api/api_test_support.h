// Drives engine/api's Api in process, without sockets: an in-memory HTTPServerRequest and
// HTTPServerResponse, an empty EngineView, and a store in a temporary directory. Time is a
// ManualClock, so timeouts are tested by moving it forward, never by sleeping.
#pragma once

#include <Poco/File.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>

#include "engine/api/api.h"
#include "engine/model/clock.h"
#include "engine/store/store.h"

namespace labgate::api::testing {

class MemoryResponse : public Poco::Net::HTTPServerResponse {
 public:
  void sendContinue() override {}
  std::ostream& send() override {
    sent_ = true;
    return body_;
  }
  void sendFile(const std::string&, const std::string&) override { sent_ = true; }
  void sendBuffer(const void* buffer, std::size_t length) override {
    sent_ = true;
    body_.write(static_cast<const char*>(buffer), static_cast<std::streamsize>(length));
  }
  void redirect(const std::string&, HTTPStatus status) override {
    setStatus(status);
    sent_ = true;
  }
  void requireAuthentication(const std::string&) override {
    setStatus(HTTP_UNAUTHORIZED);
    sent_ = true;
  }
  bool sent() const override { return sent_; }
  std::string body() const { return body_.str(); }

 private:
  std::ostringstream body_;
  bool sent_ = false;
};

class MemoryRequest : public Poco::Net::HTTPServerRequest {
 public:
  MemoryRequest(const std::string& method, const std::string& uri, const std::string& body,
                MemoryResponse& response)
      : body_(body),
        client_("127.0.0.1", 40000),
        server_("127.0.0.1", 8480),
        params_(new Poco::Net::HTTPServerParams),
        response_(response) {
    setMethod(method);
    setURI(uri);
    if (!body.empty()) {
      setContentType("application/json");
      setContentLength64(static_cast<Poco::Int64>(body.size()));
    }
  }
  std::istream& stream() override { return body_; }
  const Poco::Net::SocketAddress& clientAddress() const override { return client_; }
  const Poco::Net::SocketAddress& serverAddress() const override { return server_; }
  const Poco::Net::HTTPServerParams& serverParams() const override { return *params_; }
  Poco::Net::HTTPServerResponse& response() const override { return response_; }
  bool secure() const override { return false; }

 private:
  std::istringstream body_;
  Poco::Net::SocketAddress client_;
  Poco::Net::SocketAddress server_;
  Poco::Net::HTTPServerParams::Ptr params_;
  MemoryResponse& response_;
};

class NoEngine : public EngineView {
 public:
  std::vector<ConnectorInfo> connectorInfo() const override { return {}; }
  Poco::JSON::Object::Ptr connectorHealth(const std::string&) const override { return nullptr; }
  std::map<std::string, std::string> destinationOrgs() const override { return {}; }
  Poco::JSON::Object::Ptr destinationHealth(const std::string&) const override { return nullptr; }
};

struct Answer {
  int status = 0;
  Poco::JSON::Object::Ptr json;  // null when the body is not a JSON object
  std::string body;
};

inline constexpr const char* kAdminPassword = "correct horse battery staple 42";

/// An Api over a fresh store, bootstrapped with admin "admin" of "default", judged by `clock`.
class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    auto opened = Store::open(dir_);
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    store_ = opened.value();
  }
  void TearDown() override {
    api_.reset();
    store_.reset();
    Poco::File(dir_).remove(true);
  }
  /// Makes the Api with `settings` (cheap Argon2 parameters unless the test set others).
  void start(SecuritySettings settings = {}) {
    settings.argon2 = security::Argon2Params{1024, 1, 1};
    auto created = Api::create(store_, settings, engine_, clock_);
    ASSERT_TRUE(created.isOk()) << created.status().toString();
    api_ = std::move(created).value();
    ASSERT_TRUE(api_->bootstrap(kAdminPassword).isOk());
  }
  Answer call(const std::string& method, const std::string& uri, const std::string& body = "",
              const std::string& bearer = "") {
    MemoryResponse response;
    MemoryRequest request(method, uri, body, response);
    if (!bearer.empty()) request.set("Authorization", "Bearer " + bearer);
    api_->handle(request, response);
    Answer a;
    a.status = static_cast<int>(response.getStatus());
    a.body = response.body();
    try {
      a.json = Poco::JSON::Parser().parse(a.body).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
    }
    return a;
  }
  /// Logs in as the administrator: the session token, or "" (and a test failure).
  std::string login() {
    Answer a = call(
        "POST", "/api/v1/sessions",
        std::string(R"({"org":"default","user":"admin","password":")") + kAdminPassword + "\"}");
    EXPECT_EQ(a.status, 201) << a.body;
    if (!a.json || !a.json->has("token")) return "";
    return a.json->getValue<std::string>("token");
  }

  ManualClock clock_{systemClock().nowMillis()};  // starts now: expiry times must be future
  NoEngine engine_;
  std::string dir_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<Api> api_;
};

}  // namespace labgate::api::testing
