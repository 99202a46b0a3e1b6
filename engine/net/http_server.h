// The engine's HTTP(S) listener: POCO's request and response classes served on a TCPServer whose
// connections are watched, so that slow or idle clients cannot take the API down (issue 18,
// findings 3 and 7).
//
// Each connection is served by one pool thread, as in POCO's HTTPServer, but every connection is
// registered with a watchdog that knows what it is doing and since when:
//   head      receiving a request head (for the first request: from the moment it was accepted,
//             the TLS handshake included): closed after `headTimeoutSeconds` in total, however
//             slowly the bytes trickle in;
//   body      receiving a request body: closed after `bodyTimeoutSeconds` in total, or for a
//             handler that caps the body (limitRequestBodyTime()) after the head deadline plus
//             the cap at 64 KiB/s, unless the handler has read the body to its end
//             (requestBodyRead());
//   handling  the handler works and answers: never cut;
//   idle      a keep-alive connection between requests: closed after `keepAliveTimeoutSeconds`;
//   drain     after an answer that left body bytes unread: read and dropped for a few seconds so
//             that the client reads the answer, then closed.
// When every slot is taken (or connections wait in the accept queue), idle keep-alive connections
// are closed first, oldest first, then connections that have been sending a head for more than
// two seconds. A closed connection is shut down at the socket (shutdown(2)), which wakes the
// thread blocked in its read.
//
// Framing (RFC 9112 §6): a request with both Content-Length and Transfer-Encoding, a transfer
// coding other than chunked alone, several or malformed Content-Length fields is answered 400; a
// POST, PUT or PATCH without either is answered 411; both close the connection. An answer sent
// while the request body is still unread carries "Connection: close" and ends the connection
// (no unread body is ever parsed as the next request). Every answer carries
// X-Content-Type-Options: nosniff; answers over TLS carry Strict-Transport-Security.
//
// Thread-safety: start() and stop() from one thread; everything else is internal.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>

#include <cstdint>
#include <memory>
#include <string>

namespace labgate {

/// The limits of the engine's HTTP(S) listeners (docs/configuration.md, "http.*").
struct HttpLimits {
  int maxConnections = 256;              // http.max_connections, per listener
  int headTimeoutSeconds = 20;           // http.request_head_timeout_seconds
  int bodyTimeoutSeconds = 300;          // http.request_body_timeout_seconds
  int keepAliveTimeoutSeconds = 10;      // http.keep_alive_timeout_seconds
  int64_t hstsMaxAgeSeconds = 31536000;  // https.hsts_max_age_seconds (0: no header)
};

class HttpServer {
 public:
  /// `name` ("http" or "https") labels log lines and metrics; `tls` adds the HSTS header.
  /// `pool` must have room for limits.maxConnections threads of this listener.
  HttpServer(std::string name, Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
             Poco::ThreadPool& pool, const Poco::Net::ServerSocket& socket, HttpLimits limits,
             bool tls);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start();
  /// Stops accepting and shuts every connection down; the caller then joins the pool.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace labgate
