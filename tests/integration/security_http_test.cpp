// Issue 18, the HTTP(S) API under attack (findings 3, 7, 8 and parts of 11), against the real
// labgated over loopback sockets:
//   3  two hundred slow or idle clients do not take the API down; a head trickled byte by byte is
//      cut at its deadline; idle keep-alive connections are closed first when slots run out;
//   7  no request desync: an answer that leaves body bytes unread closes the connection,
//      Content-Length with Transfer-Encoding is refused (400), every answer has its own reason
//      phrase;
//   8  an upload is spooled to a 0600 file under data.dir as it arrives, never held in memory,
//      and the spool is empty afterwards;
//  11  JSON bodies under another content type (415), ?from=notadate (400 naming the parameter),
//      X-Content-Type-Options and Strict-Transport-Security.
//
// Test output rule: failures print statuses, counts and problem titles, never a token or key.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"

namespace labgate::it {
namespace {

namespace fs = std::filesystem;

std::string exportData(const std::string& name) { return testDataDir() + "/exports/" + name; }

/// A raw loopback TCP connection (no HTTP client between the test and the bytes).
class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  /// Sends every byte (blocking); false when the peer is gone.
  bool sendAll(const std::string& bytes) {
    size_t at = 0;
    while (at < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += static_cast<size_t>(n);
    }
    return true;
  }

  /// Reads until the peer closes or `timeout` passes; `closed` says which.
  std::string readUntilClosed(std::chrono::milliseconds timeout, bool* closed) {
    std::string out;
    *closed = false;
    const auto deadline = Clock::now() + timeout;
    char buffer[65536];
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, 100);
      if (ready <= 0) continue;
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        *closed = true;
        break;
      }
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }

  /// Reads one answer whose body has a Content-Length (the socket stays open).
  std::string readOneAnswer(std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    char buffer[65536];
    while (Clock::now() < deadline) {
      size_t end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string lower = out.substr(0, end);
        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
        size_t at = lower.find("content-length:");
        size_t length = at == std::string::npos ? 0 : std::stoul(lower.substr(at + 15));
        if (out.size() >= end + 4 + length) return out;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }

  /// True when the peer has closed (EOF or reset) without blocking; data is read and dropped.
  bool peerClosed() {
    char buffer[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    }
  }

 private:
  int fd_ = -1;
};

/// The status lines of every answer in `bytes` ("HTTP/1.1 404 Not Found", ...).
std::vector<std::string> statusLines(const std::string& bytes) {
  std::vector<std::string> out;
  size_t at = 0;
  while ((at = bytes.find("HTTP/1.", at)) != std::string::npos) {
    if (at == 0 || bytes.compare(at - 2, 2, "\r\n") == 0 || bytes[at - 1] == '}') {
      out.push_back(bytes.substr(at, bytes.find("\r\n", at) - at));
    }
    at += 7;
  }
  return out;
}

/// The value of header `name` in the first answer of `bytes` ("" when absent).
std::string headerOf(const std::string& bytes, const std::string& name) {
  std::string head = bytes.substr(0, bytes.find("\r\n\r\n"));
  std::string lowerHead = head, lowerName = name + ":";
  std::transform(lowerHead.begin(), lowerHead.end(), lowerHead.begin(), ::tolower);
  std::transform(lowerName.begin(), lowerName.end(), lowerName.begin(), ::tolower);
  size_t at = lowerHead.find("\r\n" + lowerName);
  if (at == std::string::npos) return "";
  size_t start = at + 2 + lowerName.size();
  std::string value = head.substr(start, head.find("\r\n", start) - start);
  value.erase(0, value.find_first_not_of(' '));
  return value;
}

/// A number of /proc/PID/status ("VmRSS", "VmHWM") in KiB, -1 when unreadable.
long procStatusKib(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

/// The process id of the labgated started with `configPath` (its command line names it).
int enginePid(const std::string& configPath) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find("labgated") != std::string::npos &&
        cmdline.find(configPath) != std::string::npos) {
      return std::stoi(name);
    }
  }
  return -1;
}

class SecurityHttpTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    config_.set("security.argon2.memory_kib", "1024");
    config_.set("security.argon2.iterations", "1");
  }

  void addHttps() {
    std::string cert, key, why;
    ASSERT_TRUE(makeTestCertificate(tmp_->path(), &cert, &key, &why)) << why;
    httpsPort_ = freePort();
    config_.set("https.listen", "127.0.0.1:" + std::to_string(httpsPort_));
    config_.set("tls.cert", cert);
    config_.set("tls.key", key);
  }

  void addUploadConnector(int64_t maxBytes) {
    ConnectorConfig up;
    up.name = "upload1";
    up.kind = "upload";
    up.instrument = "qqq-01";
    up.mappings = exportData("mappings-lcms.csv");
    up.extra["max_bytes"] = std::to_string(maxBytes);
    config_.connectors.push_back(up);
    config_.omit("connector.upload1.listen");
    config_.omit("connector.upload1.astm.receive_timeout_seconds");
  }

  std::string adminToken(int port, bool https = false) {
    ApiResponse login;
    std::string token =
        ApiClient(port, https).login("default", "admin", kTestAdminPassword, "", &login);
    EXPECT_FALSE(token.empty()) << "admin login: " << login.describe();
    return token;
  }

  std::string uploadKey() {
    const ApiClient api(config_.httpPort);
    ApiResponse created = api.post(
        "/api/v1/api-keys",
        Json().set("name", "spool test").set("roles", std::vector<std::string>{"instrument"}).str(),
        withBearer(adminToken(config_.httpPort)));
    EXPECT_EQ(created.status, 201) << "POST /api/v1/api-keys: " << created.describe();
    return created.text("key");
  }

  int httpsPort_ = 0;
};

// ---- Finding 3: slow clients ---------------------------------------------------------------

/// Many connections that each trickle a request head that never ends, or stay silent; a thread
/// keeps the tricklers going and notes when the engine closes each connection.
class SlowClients {
 public:
  struct Client {
    std::unique_ptr<RawSocket> socket;
    std::string head;  // trickled one byte at a time; empty: silent
    size_t sent = 0;
    Clock::time_point openedAt;
    std::optional<Clock::time_point> closedAt;
  };

  /// A request head that never ends.
  static std::string endlessHttpHead() {
    return "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + std::string(4000, 'a');
  }
  /// A TLS record header announcing a 512-byte handshake record that never completes.
  static std::string endlessTlsRecord() {
    return std::string("\x16\x03\x01\x02\x00", 5) + std::string(4000, 'a');
  }

  void open(int port, int count, const std::string& head) {
    for (int i = 0; i < count; ++i) {
      Client c;
      c.socket = std::make_unique<RawSocket>(port);
      c.head = head;
      c.openedAt = Clock::now();
      if (!c.socket->connected()) c.closedAt = c.openedAt;
      std::lock_guard<std::mutex> lock(mutex_);
      clients_.push_back(std::move(c));
    }
  }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  ~SlowClients() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  size_t total() {
    std::lock_guard<std::mutex> lock(mutex_);
    return clients_.size();
  }
  size_t stillOpen() {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t n = 0;
    for (const auto& c : clients_) n += c.closedAt ? 0 : 1;
    return n;
  }
  /// The shortest time from connecting to being closed, over the closed clients.
  std::chrono::milliseconds shortestLife() {
    std::lock_guard<std::mutex> lock(mutex_);
    auto best = std::chrono::milliseconds::max();
    for (const auto& c : clients_) {
      if (c.closedAt) {
        best = std::min(
            best, std::chrono::duration_cast<std::chrono::milliseconds>(*c.closedAt - c.openedAt));
      }
    }
    return best;
  }

 private:
  void run() {
    // One byte per trickling client every 500 ms.
    while (!stop_) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& c : clients_) {
          if (c.closedAt) continue;
          if (c.socket->peerClosed()) {
            c.closedAt = Clock::now();
            continue;
          }
          if (c.sent < c.head.size()) {
            ssize_t n =
                ::send(c.socket->fd(), c.head.data() + c.sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n == 1) {
              ++c.sent;
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
              c.closedAt = Clock::now();
            }
          }
        }
      }
      std::this_thread::sleep_for(500ms);
    }
  }

  std::mutex mutex_;
  std::vector<Client> clients_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(SecurityHttpTest, ApiStaysUpWithTwoHundredSlowClientsAndCutsThemAtTheHeadDeadline) {
  constexpr int kHeadTimeout = 20;
  config_.set("http.request_head_timeout_seconds", std::to_string(kHeadTimeout));
  ASSERT_NO_FATAL_FAILURE(addHttps());
  ASSERT_NO_FATAL_FAILURE(startEngine());

  SlowClients slow;
  const auto opened = Clock::now();
  slow.open(config_.httpPort, 120, SlowClients::endlessHttpHead());
  slow.open(config_.httpPort, 80, "");  // silent after connecting
  slow.open(httpsPort_, 5, SlowClients::endlessTlsRecord());
  slow.open(httpsPort_, 5, "");
  ASSERT_EQ(slow.total(), 210u);
  slow.start();
  std::this_thread::sleep_for(1500ms);  // every connection accepted and trickling

  // The API answers while all of them are connected: health over HTTP and HTTPS, and a login.
  const ApiClient http(config_.httpPort), https(httpsPort_, true);
  ApiResponse health = http.get("/health");
  EXPECT_EQ(health.status, 200) << "GET /health with 210 slow clients: " << health.describe() << " "
                                << health.error;
  ApiResponse secureHealth = https.get("/health");
  EXPECT_EQ(secureHealth.status, 200)
      << "GET /health over HTTPS with 210 slow clients: " << secureHealth.describe() << " "
      << secureHealth.error;
  ApiResponse login;
  std::string token = http.login("default", "admin", kTestAdminPassword, "", &login);
  EXPECT_EQ(login.status, 201) << "login with 210 slow clients: " << login.describe() << " "
                               << login.error;
  if (Clock::now() - opened < std::chrono::seconds(kHeadTimeout - 2)) {
    EXPECT_EQ(slow.stillOpen(), 210u) << "slow clients were closed before their head deadline";
  }

  // Every one of them is closed once the head deadline has passed, however steadily it sends.
  EXPECT_TRUE(waitUntil([&] { return slow.stillOpen() == 0; },
                        std::chrono::seconds(kHeadTimeout + 40), 500ms))
      << slow.stillOpen() << " of 210 slow connections still open " << kHeadTimeout + 40
      << " s after connecting";
  EXPECT_GE(slow.shortestLife(), std::chrono::seconds(kHeadTimeout - 1))
      << "a slow connection was closed before http.request_head_timeout_seconds";

  // Still serving afterwards, and the closures are counted.
  EXPECT_EQ(http.get("/health").status, 200);
  ApiResponse metrics = http.get("/metrics");
  EXPECT_NE(metrics.body.find("labgate_http_connections_closed_total{listener=\"http\",reason="
                              "\"head_timeout\"} 200"),
            std::string::npos)
      << "labgate_http_connections_closed_total does not count the 200 plain-HTTP closures";
  EXPECT_NE(engine_->stderrText().find("http.request_head_timeout_seconds"), std::string::npos)
      << "no warning names the head deadline";
}

TEST_F(SecurityHttpTest, WhenEverySlotIsTakenIdleKeepAliveConnectionsAreClosedFirst) {
  config_.set("http.max_connections", "8");
  config_.set("http.request_head_timeout_seconds", "120");
  config_.set("http.keep_alive_timeout_seconds", "120");
  ASSERT_NO_FATAL_FAILURE(startEngine());

  // Three keep-alive connections that made one request each and now wait.
  std::vector<std::unique_ptr<RawSocket>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawSocket>(config_.httpPort));
    ASSERT_TRUE(idle.back()->sendAll("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    std::string answer = idle.back()->readOneAnswer(15000ms);
    ASSERT_EQ(statusLines(answer).size(), 1u) << "no answer on keep-alive connection " << i;
    EXPECT_EQ(statusLines(answer)[0], "HTTP/1.1 200 OK");
  }
  std::this_thread::sleep_for(500ms);
  // Eight more that trickle heads: every slot is taken, requests wait in the queue.
  SlowClients slow;
  slow.open(config_.httpPort, 8, SlowClients::endlessHttpHead());
  slow.start();

  // The idle ones go first...
  for (size_t i = 0; i < idle.size(); ++i) {
    EXPECT_TRUE(waitUntil([&] { return idle[i]->peerClosed(); }, 20000ms))
        << "idle keep-alive connection " << i << " was not closed under pressure";
  }
  // ... and a new request is still served (a slow head makes room), long before the 120 s
  // head deadline.
  ApiResponse health = ApiClient(config_.httpPort).get("/health");
  EXPECT_EQ(health.status, 200) << "GET /health with every slot taken: " << health.describe() << " "
                                << health.error;
  ApiResponse metrics = ApiClient(config_.httpPort).get("/metrics");
  EXPECT_NE(metrics.body.find("labgate_http_connections_closed_total{listener=\"http\",reason="
                              "\"pressure\"}"),
            std::string::npos);
}

TEST_F(SecurityHttpTest, ATrickledLoginBodyIsCutLongBeforeTheUploadDeadline) {
  config_.set("http.request_head_timeout_seconds", "5");
  config_.set("http.request_body_timeout_seconds", "600");
  ASSERT_NO_FATAL_FAILURE(startEngine());
  // A complete head announcing a 200-byte JSON body, then one byte every 500 ms: the login's
  // body may take the head deadline plus 1 MiB at 64 KiB/s (21 s), not 600 s.
  RawSocket socket(config_.httpPort);
  ASSERT_TRUE(
      socket.sendAll("POST /api/v1/sessions HTTP/1.1\r\nHost: a\r\n"
                     "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"));
  const auto started = Clock::now();
  bool closed = false;
  for (int i = 0; i < 198 && !closed; ++i) {
    std::this_thread::sleep_for(500ms);
    closed = socket.peerClosed() || !socket.sendAll(" ");
  }
  const auto lived = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started);
  EXPECT_TRUE(closed) << "a login body trickled for 99 s was not cut";
  EXPECT_LT(lived.count(), 60) << "cut only after " << lived.count() << " s";
  EXPECT_GE(lived.count(), 20) << "cut before the body deadline";
  ApiResponse metrics = ApiClient(config_.httpPort).get("/metrics");
  EXPECT_NE(metrics.body.find("labgate_http_connections_closed_total{listener=\"http\",reason="
                              "\"body_timeout\"} 1"),
            std::string::npos);
  EXPECT_EQ(health().httpStatus, 200);
}

// ---- Finding 7: request desync -------------------------------------------------------------

TEST_F(SecurityHttpTest, AnAnswerThatLeavesBodyUnreadClosesTheConnection) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  // A JSON body over the 1 MiB limit whose tail is a complete request: answered 413 once, and the
  // tail is never taken for a request of its own.
  const std::string smuggled = "GET /api/v1/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  std::string body = "{\"org\":\"" + std::string((1 << 20) + 16384, 'a') + "\"}" + smuggled;
  RawSocket socket(config_.httpPort);
  ASSERT_TRUE(socket.connected());
  ASSERT_TRUE(
      socket.sendAll("POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Content-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body));
  bool closed = false;
  std::string answer = socket.readUntilClosed(30000ms, &closed);
  std::vector<std::string> lines = statusLines(answer);
  ASSERT_EQ(lines.size(), 1u) << "answers on one request: " << lines.size()
                              << (lines.size() > 1 ? " (second: " + lines[1] + ")" : "");
  EXPECT_EQ(lines[0].substr(0, 13), "HTTP/1.1 413 ");
  EXPECT_NE(lines[0], "HTTP/1.1 413 OK");
  EXPECT_EQ(headerOf(answer, "Connection"), "Close");
  EXPECT_TRUE(closed) << "the connection stayed open after an answer that left body unread";
  EXPECT_EQ(health().httpStatus, 200);

  // A body the handler read to its end keeps the connection: two logins on one connection.
  const std::string login =
      Json().set("org", "default").set("user", "admin").set("password", kTestAdminPassword).str();
  const std::string request =
      "POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(login.size()) + "\r\n\r\n" + login;
  RawSocket keepAlive(config_.httpPort);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(keepAlive.sendAll(request)) << "request " << i;
    std::string reply = keepAlive.readOneAnswer(15000ms);
    lines = statusLines(reply);
    ASSERT_EQ(lines.size(), 1u) << "request " << i;
    EXPECT_EQ(lines[0], "HTTP/1.1 201 Created") << "request " << i;
    EXPECT_EQ(headerOf(reply, "Connection"), "Keep-Alive") << "request " << i;
  }
}

TEST_F(SecurityHttpTest, AmbiguousFramingIsRefusedAndTheConnectionClosed) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string next = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  struct Case {
    std::string label, head, body;
    int status;
  };
  const std::vector<Case> cases = {
      {"Content-Length with Transfer-Encoding",
       "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n", 400},
      {"Transfer-Encoding with Content-Length",
       "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n", "0\r\n\r\n", 400},
      {"a coding other than chunked", "Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n", 400},
      {"Transfer-Encoding twice", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
       "0\r\n\r\n", 400},
      {"two Content-Length values", "Content-Length: 2\r\nContent-Length: 40\r\n", "{}", 400},
      {"a signed Content-Length", "Content-Length: +2\r\n", "{}", 400},
      {"no length at all", "", "", 411},
  };
  for (const Case& c : cases) {
    RawSocket socket(config_.httpPort);
    ASSERT_TRUE(socket.connected());
    ASSERT_TRUE(
        socket.sendAll("POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\n" +
                       c.head + "\r\n" + c.body + next));
    bool closed = false;
    std::string answer = socket.readUntilClosed(15000ms, &closed);
    std::vector<std::string> lines = statusLines(answer);
    ASSERT_EQ(lines.size(), 1u) << c.label << ": " << lines.size() << " answers";
    const std::string expected =
        c.status == 400 ? "HTTP/1.1 400 Bad Request" : "HTTP/1.1 411 Length Required";
    EXPECT_EQ(lines[0], expected) << c.label;
    EXPECT_EQ(headerOf(answer, "Content-Type"), "application/problem+json") << c.label;
    EXPECT_TRUE(closed) << c.label << ": the connection stayed open";
  }
  EXPECT_EQ(health().httpStatus, 200);
}

TEST_F(SecurityHttpTest, EveryAnswerCarriesItsOwnReasonPhrase) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  struct Case {
    std::string request, statusLine;
  };
  const std::vector<Case> cases = {
      {"GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 404 Not Found"},
      {"GET /api/v1/me HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 401 Unauthorized"},
      {"DELETE /health HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
      {"GET /api/v1/users/1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer nonsense\r\n\r\n",
       "HTTP/1.1 401 Unauthorized"},
      {"GET /health HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200 OK"},
  };
  for (const Case& c : cases) {
    RawSocket socket(config_.httpPort);
    ASSERT_TRUE(socket.sendAll(c.request));
    std::string answer = socket.readOneAnswer(15000ms);
    std::vector<std::string> lines = statusLines(answer);
    ASSERT_FALSE(lines.empty()) << c.statusLine << ": no answer";
    EXPECT_EQ(lines[0], c.statusLine);
    EXPECT_EQ(headerOf(answer, "X-Content-Type-Options"), "nosniff") << c.statusLine;
  }
}

// ---- Finding 11: content types, query parameters, security headers ----------------------

TEST_F(SecurityHttpTest, JsonEndpointsRefuseBodiesOfOtherContentTypes) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const ApiClient api(config_.httpPort);
  const std::string login =
      Json().set("org", "default").set("user", "admin").set("password", kTestAdminPassword).str();
  for (const std::string type : {"text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "application/jsonx"}) {
    ApiResponse r = api.post("/api/v1/sessions", login, {{"Content-Type", type}});
    EXPECT_EQ(r.status, 415) << type << ": " << r.describe();
    EXPECT_EQ(r.contentType(), "application/problem+json") << type;
    EXPECT_EQ(r.text("title"), "Unsupported Media Type") << type;
  }
  // Without any Content-Type (raw: the harness's client would add one).
  RawSocket socket(config_.httpPort);
  ASSERT_TRUE(socket.sendAll("POST /api/v1/sessions HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                             std::to_string(login.size()) + "\r\n\r\n" + login));
  std::vector<std::string> lines = statusLines(socket.readOneAnswer(15000ms));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "HTTP/1.1 415 Unsupported Media Type");
  // application/json with a charset parameter, in any case, is JSON.
  ApiResponse ok =
      api.post("/api/v1/sessions", login, {{"Content-Type", "Application/JSON; charset=utf-8"}});
  EXPECT_EQ(ok.status, 201) << ok.describe();
}

TEST_F(SecurityHttpTest, MalformedTimeParametersAreRefusedNamingTheParameter) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const ApiClient api(config_.httpPort);
  const HttpHeaders auth = withBearer(adminToken(config_.httpPort));
  struct Case {
    std::string path, parameter;
  };
  // The login records (which the administrator may read); ?from= and ?to= of the audit trail and
  // the sample search are read by the same code.
  for (const Case& c : std::vector<Case>{{"/api/v1/logins?from=notadate", "from"},
                                         {"/api/v1/logins?to=2026-13-45T00:00:00Z", "to"},
                                         {"/api/v1/logins?from=12", "from"},
                                         {"/api/v1/logins?to=yesterday", "to"},
                                         {"/api/v1/logins?from=2026-01-01Tnoon", "from"}}) {
    ApiResponse r = api.get(c.path, auth);
    EXPECT_EQ(r.status, 400) << c.path << ": " << r.describe();
    EXPECT_EQ(r.contentType(), "application/problem+json") << c.path;
    EXPECT_EQ(r.text("parameter"), c.parameter) << c.path;
    EXPECT_NE(r.text("detail").find("?" + c.parameter + "="), std::string::npos) << c.path;
  }
  for (const std::string path :
       {"/api/v1/logins?from=2026-01-01T00:00:00Z", "/api/v1/logins?from=2026-01-01",
        "/api/v1/logins?to=2026-01-01T08:00:00.250%2B01:00"}) {
    ApiResponse r = api.get(path, auth);
    EXPECT_EQ(r.status, 200) << path << ": " << r.describe();
  }
}

TEST_F(SecurityHttpTest, AnswersCarryNosniffAndHttpsAnswersCarryHsts) {
  ASSERT_NO_FATAL_FAILURE(addHttps());
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const ApiClient http(config_.httpPort), https(httpsPort_, true);
  for (const std::string path : {"/health", "/api/v1/me", "/nowhere"}) {
    ApiResponse plain = http.get(path);
    EXPECT_EQ(plain.header("X-Content-Type-Options"), "nosniff") << "HTTP " << path;
    EXPECT_EQ(plain.header("Strict-Transport-Security"), "") << "HTTP " << path;
    ApiResponse secure = https.get(path);
    EXPECT_NE(secure.status, 0) << secure.error;
    EXPECT_EQ(secure.header("X-Content-Type-Options"), "nosniff") << "HTTPS " << path;
    EXPECT_EQ(secure.header("Strict-Transport-Security"), "max-age=31536000") << "HTTPS " << path;
  }
}

// ---- Finding 8: uploads spooled to disk ----------------------------------------------------

TEST_F(SecurityHttpTest, UploadIsSpooledToAPrivateFileNotHeldInMemory) {
  constexpr size_t kSize = size_t{64} << 20;
  addUploadConnector(int64_t{128} << 20);
  // With encryption at rest, so that the pipeline also reads the spool back from its start to
  // seal the received bytes.
  const std::string keyFile = tmp_->file("kek");
  ProgramRun keygen = runProgram(binDir() + "/labgate", {"keygen", keyFile}, 20000ms, tmp_->path());
  ASSERT_TRUE(keygen.finished && keygen.exitCode == 0) << "labgate keygen: " << keygen.err;
  config_.set("security.key_file", keyFile);
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string key = uploadKey();
  ASSERT_FALSE(key.empty());
  const int pid = enginePid(configPath_);
  ASSERT_GT(pid, 0) << "labgated's process not found";
  const std::string spoolDir = config_.dataDir + "/spool/upload1";

  // 64 MiB that no export format recognises (the answer is 422): what is measured is receiving.
  std::string body;
  body.reserve(kSize);
  const std::string line = "this,is,not,an,export,of,any,known,kind,0123456789abcdef\n";
  while (body.size() + line.size() <= kSize) body += line;
  body.resize(kSize, '\n');

  // Reset the peak RSS to the current one where the kernel allows it (clear_refs 5).
  { std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5"; }
  const long before = procStatusKib(pid, "VmRSS");
  ASSERT_GT(before, 0);

  RawSocket socket(config_.httpPort);
  ASSERT_TRUE(socket.connected());
  ASSERT_TRUE(socket.sendAll(
      "POST /api/v1/uploads?connector=upload1&filename=big.csv HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\nAuthorization: Bearer " +
      key + "\r\nContent-Type: text/csv\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n"));
  ASSERT_TRUE(socket.sendAll(body.substr(0, kSize / 2)));
  // Half-way: the body is on disk, in a file only the engine's user can read.
  std::vector<std::string> spooled;
  EXPECT_TRUE(waitUntil(
      [&] {
        spooled = listFilesRecursive(spoolDir);
        return !spooled.empty() && fs::file_size(spooled[0]) >= kSize / 4;
      },
      30000ms))
      << "no spool file grew under " << spoolDir;
  if (!spooled.empty()) {
    struct stat st {};
    ASSERT_EQ(::stat(spooled[0].c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "spool file mode";
  }
  ASSERT_TRUE(socket.sendAll(body.substr(kSize / 2)));
  std::string answer = socket.readOneAnswer(120000ms);
  std::vector<std::string> lines = statusLines(answer);
  ASSERT_FALSE(lines.empty()) << "no answer to the 64 MiB upload";
  EXPECT_EQ(lines[0], "HTTP/1.1 422 Unprocessable Entity");

  const long peak = std::max(procStatusKib(pid, "VmHWM"), procStatusKib(pid, "VmRSS"));
  const long grownKib = peak - before;
  std::cout << "[   INFO   ] resident memory grew by " << grownKib / 1024 << " MiB for a "
            << kSize / (1 << 20) << " MiB upload\n";
  EXPECT_LT(grownKib, static_cast<long>(kSize / 1024 / 2))
      << "labgated's resident memory grew by " << grownKib / 1024 << " MiB for a "
      << kSize / (1 << 20) << " MiB upload";
  EXPECT_TRUE(waitUntil([&] { return listFilesRecursive(spoolDir).empty(); }, 10000ms))
      << listFilesRecursive(spoolDir).size() << " file(s) left in " << spoolDir;

  // The engine still takes a real batch through the same path afterwards.
  const std::string batch = readFile(exportData("steroids_batch.csv"));
  RawSocket again(config_.httpPort);
  ASSERT_TRUE(again.sendAll(
      "POST /api/v1/uploads?connector=upload1 HTTP/1.1\r\nHost: a\r\n"
      "Authorization: Bearer " +
      key + "\r\nContent-Type: text/csv\r\nContent-Length: " + std::to_string(batch.size()) +
      "\r\n\r\n" + batch));
  lines = statusLines(again.readOneAnswer(60000ms));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "HTTP/1.1 202 Accepted");
  EXPECT_TRUE(listFilesRecursive(spoolDir).empty());
}

}  // namespace
}  // namespace labgate::it
