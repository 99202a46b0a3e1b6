// HTTP answers shared by the engine's server and the sources that take requests on it: JSON
// bodies and RFC 9457 problem documents (application/problem+json).
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <string>

namespace labgate {

void sendJson(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPResponse::HTTPStatus code,
              const Poco::JSON::Object::Ptr& body,
              const std::string& contentType = "application/json");

/// A problem document: type about:blank, title, status, detail; `extra` members are added.
Poco::JSON::Object::Ptr problem(const std::string& title, int status, const std::string& detail);

void sendProblem(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPResponse::HTTPStatus code,
                 const std::string& title, const std::string& detail,
                 Poco::JSON::Object::Ptr body = nullptr);

/// Called by a request handler once it has read the request body to its end (the stream is at
/// EOF). Until then an answer carries "Connection: close" and the connection ends after it, so
/// that unread body bytes are never taken for the next request; the body deadline
/// (http.request_body_timeout_seconds) stops counting. Does nothing outside the engine's server.
void requestBodyRead();

/// Called by a request handler before it reads a body it caps at `maxBytes` (the JSON endpoints:
/// 1 MiB): the body must then arrive within http.request_head_timeout_seconds plus `maxBytes` at
/// 64 KiB/s (never longer than http.request_body_timeout_seconds), so that an unauthenticated
/// client trickling a login body cannot hold a connection for the uploads' long deadline.
void limitRequestBodyTime(int64_t maxBytes);

/// A source that takes requests on the engine's HTTP server (kind "upload").
class HttpSource {
 public:
  virtual ~HttpSource() = default;
  /// Handles one request for POST /api/v1/uploads routed to this connector.
  virtual void handleUpload(Poco::Net::HTTPServerRequest& request,
                            Poco::Net::HTTPServerResponse& response) = 0;
};

}  // namespace labgate
