// The engine's HTTP(S) listener (see http_server.h).
#include "engine/net/http_server.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/String.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/log/log.h"
#include "engine/metrics/metrics.h"
#include "engine/net/http_util.h"

namespace labgate {
namespace {

using Clock = std::chrono::steady_clock;
using Poco::Net::HTTPResponse;

Poco::Logger& logger() { return Poco::Logger::get("http"); }

metrics::Counter closedConnections() {
  return metrics::registry().counter(
      "labgate_http_connections_closed_total",
      "HTTP(S) connections the engine closed itself, by listener and reason: head_timeout (no "
      "complete request head in time), body_timeout, idle_timeout (keep-alive), pressure (every "
      "slot taken: idle and slow connections closed to make room).",
      {"listener", "reason"});
}

metrics::Gauge openConnections() {
  return metrics::registry().gauge("labgate_http_connections",
                                   "HTTP(S) connections being served, by listener.", {"listener"});
}

/// What a connection is doing (see http_server.h).
enum class Phase { kHead, kBody, kHandling, kIdle, kDrain };

/// How long a connection may stay in the drain phase.
constexpr auto kDrainTime = std::chrono::seconds(3);
/// Body bytes read and dropped after an answer that left them unread.
constexpr int64_t kDrainBytes = int64_t{4} << 20;
/// The slowest body transfer limitRequestBodyTime() allows for (64 KiB/s).
constexpr int64_t kMinBodyBytesPerSecond = 65536;
/// Under pressure, a head that has been arriving for longer than this may be closed.
constexpr auto kSlowHead = std::chrono::seconds(2);

/// Every connection of one listener, what it is doing and since when; the watchdog's view.
class Tracker {
 public:
  Tracker(std::string name, HttpLimits limits) : name_(std::move(name)), limits_(limits) {}

  /// Registers a connection on socket `fd`, in the head phase; 0 once stopping.
  uint64_t add(int fd) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return 0;
    uint64_t id = ++next_;
    entries_[id] = Entry{fd, Phase::kHead, Clock::now(), false, limits_.bodyTimeoutSeconds};
    return id;
  }
  void set(uint64_t id, Phase phase) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.phase == phase) return;
    it->second.phase = phase;
    it->second.since = Clock::now();
    if (phase == Phase::kBody) it->second.bodySeconds = limits_.bodyTimeoutSeconds;
  }
  /// The body of connection `id`'s current request must arrive within `seconds` (counted from
  /// the end of its head), when that is shorter than http.request_body_timeout_seconds.
  void limitBody(uint64_t id, int64_t seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    it->second.bodySeconds =
        static_cast<int>(std::min<int64_t>(seconds, limits_.bodyTimeoutSeconds));
  }
  void remove(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(id);
  }
  bool stopping() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopping_;
  }
  /// Stops registering and shuts every registered connection down.
  void stopAll() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (auto& [id, e] : entries_) cut(e);
  }

  /// Closes what is over its deadline and, when `waiting` connections wait for a slot (or every
  /// slot is taken), what can be spared. Counts what it closed by reason.
  void sweep(int waiting) {
    std::map<std::string, int> closed;
    size_t open = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const Clock::time_point now = Clock::now();
      for (auto& [id, e] : entries_) {
        if (e.cut) continue;
        const auto age = now - e.since;
        const char* reason = nullptr;
        if (e.phase == Phase::kHead && age >= std::chrono::seconds(limits_.headTimeoutSeconds)) {
          reason = "head_timeout";
        } else if ((e.phase == Phase::kBody && age >= std::chrono::seconds(e.bodySeconds)) ||
                   (e.phase == Phase::kDrain && age >= kDrainTime)) {
          // Draining what the client still sends after the answer (kDrain) is body time too.
          reason = "body_timeout";
        } else if (e.phase == Phase::kIdle &&
                   age >= std::chrono::seconds(limits_.keepAliveTimeoutSeconds)) {
          reason = "idle_timeout";
        }
        if (reason) {
          cut(e);
          ++closed[reason];
        }
      }
      size_t live = 0;
      for (const auto& [id, e] : entries_) live += e.cut ? 0 : 1;
      open = live;
      const size_t slots = static_cast<size_t>(limits_.maxConnections);
      size_t needed = 0;
      if (waiting > 0) needed = static_cast<size_t>(waiting);
      if (live >= slots) needed = std::max<size_t>(needed, 1);
      if (needed > 0) {
        // Idle keep-alive connections first, then heads that are slow to arrive; oldest first.
        std::vector<std::pair<Clock::time_point, Entry*>> idle, slow;
        for (auto& [id, e] : entries_) {
          if (e.cut) continue;
          if (e.phase == Phase::kIdle) idle.emplace_back(e.since, &e);
          if (e.phase == Phase::kHead && now - e.since >= kSlowHead) slow.emplace_back(e.since, &e);
        }
        auto older = [](const auto& a, const auto& b) { return a.first < b.first; };
        std::sort(idle.begin(), idle.end(), older);
        std::sort(slow.begin(), slow.end(), older);
        for (auto* list : {&idle, &slow}) {
          for (auto& [since, e] : *list) {
            if (needed == 0) break;
            cut(*e);
            ++closed["pressure"];
            --needed;
          }
        }
      }
    }
    openConnections().set({name_}, static_cast<double>(open));
    if (closed.empty()) return;
    for (const auto& [reason, count] : closed) {
      closedConnections().inc({name_, reason}, count);
      pending_[reason] += count;
    }
    report();
  }

 private:
  struct Entry {
    int fd;
    Phase phase;
    Clock::time_point since;
    bool cut;
    int bodySeconds;  // the current request's body deadline
  };

  static void cut(Entry& e) {
    if (e.cut) return;
    e.cut = true;
    // The descriptor stays open until the connection's thread closes it, after remove(): the
    // shutdown only wakes its blocked read or write.
    ::shutdown(e.fd, SHUT_RDWR);
  }

  /// One warning per listener and minute at most, with what was closed since the last one.
  void report() {
    const Clock::time_point now = Clock::now();
    if (reported_ != Clock::time_point() && now - reported_ < std::chrono::minutes(1)) return;
    reported_ = now;
    std::string text;
    auto part = [&](const char* reason, const std::string& what) {
      auto it = pending_.find(reason);
      if (it == pending_.end() || it->second == 0) return;
      text += (text.empty() ? "" : "; ") + std::to_string(it->second) + " " + what;
    };
    part("head_timeout", "that sent no complete request head within " +
                             std::to_string(limits_.headTimeoutSeconds) +
                             " s (http.request_head_timeout_seconds)");
    part("body_timeout", "that sent no complete request body in time (at most " +
                             std::to_string(limits_.bodyTimeoutSeconds) +
                             " s, http.request_body_timeout_seconds; less for JSON bodies)");
    part("idle_timeout", "idle keep-alive for " + std::to_string(limits_.keepAliveTimeoutSeconds) +
                             " s (http.keep_alive_timeout_seconds)");
    part("pressure", "idle or slow while all " + std::to_string(limits_.maxConnections) +
                         " connection slots were taken (http.max_connections)");
    pending_.clear();
    logWarning(
        logger(),
        "{} listener closed connection(s): {}. Many of these at once may be a slow-client "
        "attack or a misbehaving client; see labgate_http_connections_closed_total in /metrics",
        name_, text);
  }

  const std::string name_;
  const HttpLimits limits_;
  mutable std::mutex mutex_;
  bool stopping_ = false;
  uint64_t next_ = 0;
  std::map<uint64_t, Entry> entries_;
  // Watchdog thread only:
  std::map<std::string, int> pending_;
  Clock::time_point reported_;
};

/// The connection being served on this thread (requestBodyRead() reaches it).
class Connection;
thread_local Connection* tCurrent = nullptr;

bool digitsOnly(const std::string& s) {
  return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
}

/// RFC 9112 §6: "" when the request's framing is unambiguous, else why not (and the status).
std::string framingProblem(const Poco::Net::HTTPServerRequest& request,
                           HTTPResponse::HTTPStatus& status) {
  status = HTTPResponse::HTTP_BAD_REQUEST;
  int lengths = 0, codings = 0;
  std::string coding, length;
  for (const auto& [name, value] : request) {
    if (Poco::icompare(name, "Content-Length") == 0) {
      ++lengths;
      length = Poco::trim(value);
    } else if (Poco::icompare(name, "Transfer-Encoding") == 0) {
      ++codings;
      coding = Poco::trim(value);
    }
  }
  if (codings > 0 && lengths > 0) {
    return "the request has both Content-Length and Transfer-Encoding; send one of them";
  }
  if (codings > 1 || (codings == 1 && Poco::icompare(coding, "chunked") != 0)) {
    return "Transfer-Encoding must be \"chunked\" alone";
  }
  if (lengths > 1) return "the request has more than one Content-Length";
  if (lengths == 1 && !digitsOnly(length)) return "Content-Length must be a decimal number";
  const std::string& method = request.getMethod();
  if (codings == 0 && lengths == 0 && (method == "POST" || method == "PUT" || method == "PATCH")) {
    status = HTTPResponse::HTTP_LENGTH_REQUIRED;
    return "a " + method + " request must carry Content-Length (or Transfer-Encoding: chunked)";
  }
  return "";
}

/// One HTTP connection: POCO's HTTPServerConnection loop with the watchdog's phases, the framing
/// checks and the common headers.
class Connection : public Poco::Net::TCPServerConnection {
 public:
  struct Shared {
    std::string name;
    HttpLimits limits;
    bool tls = false;
    Poco::Net::HTTPRequestHandlerFactory::Ptr factory;
    Poco::Net::HTTPServerParams::Ptr params;
    std::shared_ptr<Tracker> tracker;
  };

  Connection(const Poco::Net::StreamSocket& socket, const Shared& shared)
      : TCPServerConnection(socket), shared_(shared) {}

  void run() override {
    Tracker& tracker = *shared_.tracker;
    id_ = tracker.add(static_cast<int>(socket().impl()->sockfd()));
    if (id_ == 0) return;
    tCurrent = this;
    try {
      serve();
    } catch (const std::exception& e) {
      logDebug(logger(), "{} connection ended: {}", shared_.name, std::string(e.what()));
    }
    tCurrent = nullptr;
    tracker.remove(id_);
  }

  /// limitRequestBodyTime(): the handler reads at most `maxBytes` of the body.
  void limitBody(int64_t maxBytes) {
    if (!bodyPending_) return;
    shared_.tracker->limitBody(
        id_, shared_.limits.headTimeoutSeconds + maxBytes / kMinBodyBytesPerSecond);
  }

  /// requestBodyRead(): the handler has read the body to its end.
  void bodyRead() {
    if (!bodyPending_) return;
    bodyPending_ = false;
    if (response_ && !response_->sent()) response_->setKeepAlive(keepAlive_);
    shared_.tracker->set(id_, Phase::kHandling);
  }

 private:
  void serve() {
    Tracker& tracker = *shared_.tracker;
    Poco::Net::HTTPServerSession session(socket(), shared_.params);
    bool first = true;
    while (!tracker.stopping() && session.hasMoreRequests()) {
      if (!first) tracker.set(id_, Phase::kHead);
      first = false;
      bool again = false;
      try {
        Poco::Net::HTTPServerResponseImpl response(session);
        Poco::Net::HTTPServerRequestImpl request(response, session, shared_.params.get());
        again = serveOne(session, request, response);
      } catch (const Poco::Net::NoMessageException&) {
        return;  // closed (or cut) before a request started
      } catch (const Poco::Net::MessageException&) {
        answerBare(session, HTTPResponse::HTTP_BAD_REQUEST);
        lingerClose(session);
        return;
      } catch (const Poco::Exception&) {
        // A malformed head that POCO refused while parsing it (e.g. a Content-Length it cannot
        // read) is answered; a network failure (timeout, reset, cut by the watchdog) is not.
        if (!session.networkException()) {
          answerBare(session, HTTPResponse::HTTP_BAD_REQUEST);
          lingerClose(session);
        }
        return;
      }
      if (!again) return;
      session.setKeepAlive(true);
      tracker.set(id_, Phase::kIdle);
    }
  }

  /// Serves one request; true when the connection may carry another.
  bool serveOne(Poco::Net::HTTPServerSession& session, Poco::Net::HTTPServerRequestImpl& request,
                Poco::Net::HTTPServerResponseImpl& response) {
    Tracker& tracker = *shared_.tracker;
    response.setDate(Poco::Timestamp());
    response.setVersion(request.getVersion());
    response.set("X-Content-Type-Options", "nosniff");
    if (shared_.tls && shared_.limits.hstsMaxAgeSeconds > 0) {
      response.set("Strict-Transport-Security",
                   "max-age=" + std::to_string(shared_.limits.hstsMaxAgeSeconds));
    }
    keepAlive_ = shared_.params->getKeepAlive() && request.getKeepAlive() &&
                 session.canKeepAlive() && !tracker.stopping();
    HTTPResponse::HTTPStatus status;
    const std::string problem = framingProblem(request, status);
    if (!problem.empty()) {
      tracker.set(id_, Phase::kHandling);
      response.setKeepAlive(false);
      sendProblem(response, status, HTTPResponse::getReasonForStatus(status), problem);
      lingerClose(session);
      return false;
    }
    bodyPending_ = request.getChunkedTransferEncoding() ||
                   (request.hasContentLength() && request.getContentLength64() > 0);
    response_ = &response;
    tracker.set(id_, bodyPending_ ? Phase::kBody : Phase::kHandling);
    // Until the handler has read the body, an answer closes the connection.
    response.setKeepAlive(keepAlive_ && !bodyPending_);
    if (bodyPending_ && request.getExpectContinue() &&
        response.getStatus() == HTTPResponse::HTTP_OK) {
      response.sendContinue();
    }
    std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
        shared_.factory->createRequestHandler(request));
    if (handler) {
      handler->handleRequest(request, response);
    } else {
      response.setKeepAlive(false);
      sendProblem(response, HTTPResponse::HTTP_NOT_IMPLEMENTED, "Not Implemented",
                  "no handler for this request");
    }
    response_ = nullptr;
    if (bodyPending_) {
      drain(request);
      return false;
    }
    return response.getKeepAlive() && keepAlive_ && !tracker.stopping();
  }

  /// Reads and drops what is left of a body the handler did not read (bounded in bytes and, by
  /// the watchdog, in time), so that the client reads the answer before the connection closes.
  void drain(Poco::Net::HTTPServerRequest& request) {
    shared_.tracker->set(id_, Phase::kDrain);
    try {
      std::istream& in = request.stream();
      char buffer[8192];
      int64_t dropped = 0;
      while (in && dropped < kDrainBytes) {
        in.read(buffer, sizeof buffer);
        if (in.gcount() <= 0) break;
        dropped += in.gcount();
      }
    } catch (const Poco::Exception&) {
      // Closed anyway.
    }
  }

  /// After an answer to a request whose length is unknown: ends the sending side and reads what
  /// the client still sends (at most 64 KiB, a few seconds by the watchdog), so that the answer is
  /// not lost to a reset when the connection closes with unread bytes.
  void lingerClose(Poco::Net::HTTPServerSession& session) {
    shared_.tracker->set(id_, Phase::kDrain);
    try {
      session.socket().shutdownSend();
      char buffer[8192];
      int total = 0;
      while (total < 65536) {
        int n = session.socket().receiveBytes(buffer, sizeof buffer);
        if (n <= 0) break;
        total += n;
      }
    } catch (const Poco::Exception&) {
      // Closed anyway.
    }
  }

  /// An answer when the request could not even be read (no handler, no problem document body
  /// beyond the status): the connection then closes.
  static void answerBare(Poco::Net::HTTPServerSession& session, HTTPResponse::HTTPStatus status) {
    try {
      if (!session.connected()) return;
      Poco::Net::HTTPServerResponseImpl response(session);
      response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
      response.setStatusAndReason(status);
      response.setKeepAlive(false);
      response.set("X-Content-Type-Options", "nosniff");
      response.setContentLength(0);
      response.send();
    } catch (const Poco::Exception&) {
      // The client is gone.
    }
  }

  Shared shared_;
  uint64_t id_ = 0;
  bool keepAlive_ = false;
  bool bodyPending_ = false;
  Poco::Net::HTTPServerResponse* response_ = nullptr;
};

class ConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  explicit ConnectionFactory(Connection::Shared shared) : shared_(std::move(shared)) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    return new Connection(socket, shared_);
  }

 private:
  Connection::Shared shared_;
};

}  // namespace

void requestBodyRead() {
  if (tCurrent) tCurrent->bodyRead();
}

void limitRequestBodyTime(int64_t maxBytes) {
  if (tCurrent) tCurrent->limitBody(maxBytes);
}

class HttpServer::Impl {
 public:
  Impl(std::string name, Poco::Net::HTTPRequestHandlerFactory::Ptr factory, Poco::ThreadPool& pool,
       const Poco::Net::ServerSocket& socket, HttpLimits limits, bool tls)
      : name_(name), tracker_(std::make_shared<Tracker>(name, limits)) {
    closedConnections();  // declared now, so that /metrics lists the families from the start
    openConnections().set({name_}, 0);
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(limits.maxConnections);
    params->setMaxQueued(std::max(64, limits.maxConnections / 4));
    params->setKeepAlive(true);
    // The watchdog bounds the whole head, body and idle time; POCO's own per-read and keep-alive
    // waits are a little longer, so that it is the watchdog that closes (and counts) them.
    params->setKeepAliveTimeout(Poco::Timespan(limits.keepAliveTimeoutSeconds + 5, 0));
    params->setTimeout(Poco::Timespan(limits.headTimeoutSeconds + 5, 0));
    params->setMaxKeepAliveRequests(1000);
    Connection::Shared shared{name, limits, tls, std::move(factory), params, tracker_};
    server_ = std::make_unique<Poco::Net::TCPServer>(new ConnectionFactory(std::move(shared)), pool,
                                                     socket, params);
  }

  void start() {
    server_->start();
    watchdog_ = std::thread([this] { watch(); });
  }

  void stop() {
    if (!server_) return;
    server_->stop();
    tracker_->stopAll();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopped_ = true;
    }
    wake_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
  }

  ~Impl() { stop(); }

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopped_) {
      wake_.wait_for(lock, std::chrono::milliseconds(200));
      if (stopped_) break;
      lock.unlock();
      tracker_->sweep(server_->queuedConnections());
      lock.lock();
    }
  }

  std::string name_;
  std::shared_ptr<Tracker> tracker_;
  std::unique_ptr<Poco::Net::TCPServer> server_;
  std::thread watchdog_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
};

HttpServer::HttpServer(std::string name, Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                       Poco::ThreadPool& pool, const Poco::Net::ServerSocket& socket,
                       HttpLimits limits, bool tls)
    : impl_(
          std::make_unique<Impl>(std::move(name), std::move(factory), pool, socket, limits, tls)) {}
HttpServer::~HttpServer() = default;
void HttpServer::start() { impl_->start(); }
void HttpServer::stop() { impl_->stop(); }

}  // namespace labgate
