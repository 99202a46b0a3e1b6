// AuditForwarder and its sinks (see audit_forwarder.h).
#include "engine/net/audit_forwarder.h"

#include <Poco/Environment.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/NullStream.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "engine/log/log.h"
#include "engine/net/delivery_worker.h"
#include "engine/security/posix_file.h"

namespace labgate {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("audit.forward"); }

/// An SD-PARAM value: ", \ and ] escaped (RFC 5424 section 6.3.3).
std::string sdValue(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

/// A header field of printable US-ASCII (33..126) of at most `max` characters, "-" when empty.
std::string headerField(const std::string& text, size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() == max) break;
    auto u = static_cast<unsigned char>(c);
    out += (u >= 33 && u <= 126) ? c : '_';
  }
  return out.empty() ? "-" : out;
}

/// A client TLS context: TLS 1.2 or later, the receiver verified (system CAs and `ca`), a client
/// certificate when `cert` and `key` are given.
Poco::Net::Context::Ptr clientContext(const AuditForwarderSettings& s) {
  Poco::Net::Context::Params params;
  params.certificateFile = s.cert;
  params.privateKeyFile = s.key;
  params.caLocation = s.ca;
  params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
  params.loadDefaultCAs = true;
  Poco::Net::Context::Ptr context =
      new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  return context;
}

Poco::Timespan seconds(int64_t n) { return Poco::Timespan(static_cast<long>(n), 0); }

// ---- syslog -------------------------------------------------------------------------------------

class SyslogSink : public AuditSink {
 public:
  explicit SyslogSink(AuditForwarderSettings settings)
      : settings_(std::move(settings)), hostname_(headerField(Poco::Environment::nodeName(), 255)) {
    if (settings_.tls) context_ = clientContext(settings_);
  }

  Status send(const std::vector<ChainedEvent>& events) override {
    const std::string where = "audit.forwarder." + settings_.name;
    try {
      // A receiver sends no application data: a readable connection was closed or reset (what
      // we wrote now would be lost), or carries TLS records of its own (a TLS 1.3 session
      // ticket). Look before writing: reconnect when it was closed.
      if (socket_ && !stillOpen()) close();
      if (!socket_) connect();
      std::string frames;
      for (const ChainedEvent& e : events) {
        const std::string message = syslogMessage(e, settings_.facility, hostname_);
        frames += std::to_string(message.size());
        frames += ' ';
        frames += message;
      }
      size_t sent = 0;
      while (sent < frames.size()) {
        int n = socket_->sendBytes(frames.data() + sent, static_cast<int>(frames.size() - sent));
        if (n <= 0) throw Poco::IOException("the connection was closed");
        sent += static_cast<size_t>(n);
      }
      return Status::ok();
    } catch (const Poco::Exception& e) {
      close();
      return Status::unavailable(where, "syslog " + settings_.host + ":" +
                                            std::to_string(settings_.port) + ": " +
                                            e.displayText());
    }
  }

  void close() override {
    if (!socket_) return;
    try {
      socket_->close();
    } catch (const Poco::Exception&) {
      // Closing a broken connection: nothing more to do.
    }
    socket_.reset();
  }

 private:
  bool stillOpen() {
    try {
      if (!socket_->poll(Poco::Timespan(0),
                         Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR)) {
        return true;
      }
      socket_->setReceiveTimeout(Poco::Timespan(0, 20000));
      char discard[512];
      return socket_->receiveBytes(discard, sizeof discard) > 0;
    } catch (const Poco::TimeoutException&) {
      return true;  // TLS records without application data: the connection is fine
    } catch (const Poco::Exception&) {
      return false;
    }
  }

  void connect() {
    Poco::Net::SocketAddress address(settings_.host, settings_.port);
    std::unique_ptr<Poco::Net::StreamSocket> socket;
    if (settings_.tls) {
      auto secure = std::make_unique<Poco::Net::SecureStreamSocket>(context_);
      secure->setPeerHostName(settings_.host);
      secure->connect(address, seconds(settings_.timeoutSeconds));
      socket = std::move(secure);
    } else {
      socket = std::make_unique<Poco::Net::StreamSocket>();
      socket->connect(address, seconds(settings_.timeoutSeconds));
    }
    socket->setSendTimeout(seconds(settings_.timeoutSeconds));
    socket->setNoDelay(true);
    socket_ = std::move(socket);
  }

  AuditForwarderSettings settings_;
  std::string hostname_;
  Poco::Net::Context::Ptr context_;
  std::unique_ptr<Poco::Net::StreamSocket> socket_;
};

// ---- https-json
// -----------------------------------------------------------------------------------

class HttpsJsonSink : public AuditSink {
 public:
  HttpsJsonSink(AuditForwarderSettings settings, std::string authorization)
      : settings_(std::move(settings)),
        uri_(settings_.url),
        authorization_(std::move(authorization)) {
    if (uri_.getScheme() == "https") context_ = clientContext(settings_);
  }

  Status send(const std::vector<ChainedEvent>& events) override {
    const std::string where = "audit.forwarder." + settings_.name;
    std::string body = "[";
    for (size_t i = 0; i < events.size(); ++i) {
      if (i > 0) body += ',';
      body += auditEventJson(events[i]);
    }
    body += "]";
    try {
      std::unique_ptr<Poco::Net::HTTPClientSession> session;
      if (context_) {
        session = std::make_unique<Poco::Net::HTTPSClientSession>(uri_.getHost(), uri_.getPort(),
                                                                  context_);
      } else {
        session = std::make_unique<Poco::Net::HTTPClientSession>(uri_.getHost(), uri_.getPort());
      }
      session->setTimeout(seconds(settings_.timeoutSeconds));
      Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, uri_.getPathAndQuery(),
                                     Poco::Net::HTTPMessage::HTTP_1_1);
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      if (!authorization_.empty()) request.set("Authorization", authorization_);
      request.set("X-LabGate-First-Seq", std::to_string(events.front().id));
      request.set("X-LabGate-Last-Seq", std::to_string(events.back().id));
      session->sendRequest(request) << body;
      Poco::Net::HTTPResponse response;
      std::istream& in = session->receiveResponse(response);
      Poco::NullOutputStream sink;
      Poco::StreamCopier::copyStream(in, sink);
      const int code = static_cast<int>(response.getStatus());
      if (code < 200 || code > 299) {
        return Status::unavailable(where, settings_.url + " answered " + std::to_string(code));
      }
      return Status::ok();
    } catch (const Poco::Exception& e) {
      return Status::unavailable(where, settings_.url + ": " + e.displayText());
    }
  }

 private:
  AuditForwarderSettings settings_;
  Poco::URI uri_;
  std::string authorization_;  // never logged
  Poco::Net::Context::Ptr context_;
};

/// The Authorization value in `path`: its first line, from a file that gives group and others
/// nothing (it is a secret). Errors name the key, never the content.
StatusOr<std::string> readAuthorization(const std::string& key, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::config(key, "cannot open " + path);
  struct stat st {};
  std::string problem;
  if (::fstat(fd, &st) != 0) {
    problem = "cannot stat " + path;
  } else {
    problem = security::groupOrOtherAccess(st, path);
    if (problem.empty()) problem = security::ownerProblem(st, path);
  }
  std::string text;
  if (problem.empty()) {
    char buffer[4096];
    const ssize_t n = security::readFull(fd, buffer, sizeof buffer);
    if (n < 0) problem = "cannot read " + path;
    if (n > 0) text.assign(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!problem.empty()) return Status::config(key, problem);
  text = text.substr(0, text.find_first_of("\r\n"));
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
  if (text.empty()) return Status::config(key, path + " is empty (one line: e.g. Bearer TOKEN)");
  return text;
}

// ---- file ---------------------------------------------------------------------------------------

class FileSink : public AuditSink {
 public:
  explicit FileSink(AuditForwarderSettings settings) : settings_(std::move(settings)) {}
  ~FileSink() override { close(); }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  Status send(const std::vector<ChainedEvent>& events) override {
    const std::string where = "audit.forwarder." + settings_.name + ".path";
    if (fd_ < 0) {
      if (Status opened = open(); !opened.isOk()) return opened;
    }
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && st.st_size >= settings_.maxBytes) {
      if (Status rotated = rotate(); !rotated.isOk()) return rotated;
    }
    std::string lines;
    for (const ChainedEvent& e : events) {
      lines += auditEventJson(e);
      lines += '\n';
    }
    if (!security::writeFull(fd_, lines) || ::fsync(fd_) != 0) {
      close();
      return Status::io(where, "cannot write " + settings_.path);
    }
    return Status::ok();
  }

  void close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  Status open() {
    const std::string where = "audit.forwarder." + settings_.name + ".path";
    const std::string dir = Poco::Path(settings_.path).makeAbsolute().parent().toString();
    const std::string made = security::createPrivateDirectories(dir);
    if (!made.empty()) return Status::io(where, made);
    fd_ = ::open(settings_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                 0600);
    if (fd_ < 0) return Status::io(where, "cannot open " + settings_.path);
    return Status::ok();
  }

  /// path.keep is dropped, path.N becomes path.N+1, path becomes path.1, a new path is opened.
  Status rotate() {
    close();
    const std::string& p = settings_.path;
    std::remove((p + "." + std::to_string(settings_.keep)).c_str());
    for (int i = settings_.keep - 1; i >= 1; --i) {
      const std::string from = p + "." + std::to_string(i);
      if (::access(from.c_str(), F_OK) == 0) {
        std::rename(from.c_str(), (p + "." + std::to_string(i + 1)).c_str());
      }
    }
    if (std::rename(p.c_str(), (p + ".1").c_str()) != 0) {
      return Status::io("audit.forwarder." + settings_.name + ".path", "cannot rotate " + p);
    }
    return open();
  }

  AuditForwarderSettings settings_;
  int fd_ = -1;
};

}  // namespace

std::string syslogMessage(const ChainedEvent& e, int facility, const std::string& hostname) {
  const int severity = 5;  // notice
  std::string out = "<" + std::to_string(facility * 8 + severity) + ">1 ";
  out += headerField(e.at, 64);
  out += ' ';
  out += hostname;
  out += " labgated - ";
  out += headerField(e.action, 32);
  out += " [labgate@32473 seq=\"" + std::to_string(e.id) + "\" hash=\"" + sdValue(e.hash) +
         "\" prev=\"" + sdValue(e.prevHash) + "\" org=\"" + sdValue(e.orgId) + "\"] ";
  out += "\xEF\xBB\xBF";  // BOM: the MSG is UTF-8 (RFC 5424 section 6.4)
  out += auditEventJson(e);
  return out;
}

StatusOr<std::unique_ptr<AuditSink>> makeAuditSink(const AuditForwarderSettings& settings) {
  const std::string prefix = "audit.forwarder." + settings.name + ".";
  try {
    if (settings.kind == "syslog") return std::unique_ptr<AuditSink>(new SyslogSink(settings));
    if (settings.kind == "https-json") {
      std::string authorization;
      if (!settings.authorizationFile.empty()) {
        StatusOr<std::string> read =
            readAuthorization(prefix + "authorization_file", settings.authorizationFile);
        if (!read.isOk()) return read.status();
        authorization = std::move(read).value();
      }
      return std::unique_ptr<AuditSink>(new HttpsJsonSink(settings, std::move(authorization)));
    }
    if (settings.kind == "file") return std::unique_ptr<AuditSink>(new FileSink(settings));
  } catch (const Poco::Exception& e) {
    return Status::config(prefix + (settings.ca.empty() ? "cert" : "ca"),
                          "cannot set up TLS: " + e.displayText());
  }
  return Status::config(prefix + "kind", "must be syslog, https-json or file");
}

AuditForwarder::AuditForwarder(AuditForwarderSettings settings, std::unique_ptr<AuditSink> sink,
                               std::shared_ptr<AuditLog> log)
    : settings_(std::move(settings)), sink_(std::move(sink)), log_(std::move(log)) {}

AuditForwarder::~AuditForwarder() { stop(); }

void AuditForwarder::start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void AuditForwarder::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (sink_) sink_->close();
}

void AuditForwarder::wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

void AuditForwarder::flush(int64_t lastId, int64_t timeoutMillis) {
  wake();
  std::unique_lock<std::mutex> lock(mutex_);
  progress_.wait_for(lock, std::chrono::milliseconds(timeoutMillis),
                     [&] { return stopping_ || cursor_ >= lastId || state_ == "retrying"; });
}

bool AuditForwarder::waitFor(int64_t millis) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, std::chrono::milliseconds(millis), [this] { return stopping_ || woken_; });
  woken_ = false;
  return !stopping_;
}

void AuditForwarder::run() {
  constexpr int64_t kPollMillis = 250;
  const RetryPolicy retry{settings_.retryInitialMillis, settings_.retryMaxMillis};
  int failures = 0;
  try {
    int64_t cursor = log_->cursor(settings_.name);
    std::lock_guard<std::mutex> lock(mutex_);
    cursor_ = cursor;
  } catch (const std::exception& e) {
    logError(logger(), "audit forwarder {}: cannot read its cursor: {}", settings_.name,
             std::string(e.what()));
  }
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
    }
    int64_t cursor = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cursor = cursor_;
    }
    Status outcome;
    size_t count = 0;
    try {
      std::vector<ChainedEvent> events =
          log_->after(cursor, static_cast<size_t>(std::max(1, settings_.batchSize)));
      count = events.size();
      if (!events.empty()) {
        outcome = sink_->send(events);
        // Sent: the cursor moves. Should the engine die before this commit, the batch is sent
        // again at the next start (at least once; the receiver sees the repeated seq numbers).
        if (outcome.isOk()) outcome = log_->advance(settings_.name, events.back());
        if (outcome.isOk()) {
          std::lock_guard<std::mutex> lock(mutex_);
          cursor_ = events.back().id;
          forwarded_ += static_cast<int64_t>(events.size());
          state_ = "forwarding";
          lastError_.clear();
        }
        progress_.notify_all();
      }
    } catch (const std::exception& e) {
      outcome = Status::io("audit.forwarder." + settings_.name, e.what());
    }
    if (!outcome.isOk()) {
      sink_->close();
      ++failures;
      const int64_t delay = backoffMillis(retry, failures);
      bool changed = false;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        changed = state_ != "retrying" || lastError_ != outcome.toString();
        state_ = "retrying";
        lastError_ = outcome.toString();
      }
      progress_.notify_all();
      if (changed) {
        logWarning(logger(), "audit forwarder {}: {}; retrying in {} ms", settings_.name,
                   outcome.toString(), delay);
      }
      if (!waitFor(delay)) return;
      continue;
    }
    if (failures > 0) {
      logInfo(logger(), "audit forwarder {}: forwarding again", settings_.name);
      failures = 0;
    }
    if (count == 0) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        state_ = "idle";
      }
      if (!waitFor(kPollMillis)) return;
    }
  }
}

Poco::JSON::Object::Ptr AuditForwarder::health() const {
  Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  int64_t cursor = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    out->set("name", settings_.name);
    out->set("kind", settings_.kind);
    out->set("state", state_);
    out->set("forwarded", forwarded_);
    out->set("cursor", cursor_);
    cursor = cursor_;
    out->set("last_error",
             lastError_.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(lastError_));
  }
  AuditLag lag;
  try {
    lag = log_->lag(cursor);
  } catch (const std::exception&) {
    // The store is closing: no lag to show.
  }
  out->set("lag_events", lag.events);
  out->set("oldest_age_seconds",
           lag.oldestAgeMillis ? static_cast<double>(*lag.oldestAgeMillis) / 1000.0 : 0.0);
  return out;
}

}  // namespace labgate
