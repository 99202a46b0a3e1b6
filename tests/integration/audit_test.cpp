// The audit trail's integrity and forwarding against the real labgated and labgate console
// (docs/audit.md): an event edited in the database file while the engine is stopped is named by
// `labgate audit verify` and by GET /api/v1/audit/verification; the trail arrives at a test syslog
// receiver (RFC 5424, octet counting) in order, and with SIGKILLs between events every sequence
// number arrives at least once with no gap; while the receiver is down /health and /metrics show
// the lag and nothing is lost; the file forwarder rotates by size; https-json posts batches and
// retries a refused one. No patient value is used anywhere here.
#include "engine/store/audit.h"

#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "engine/security/keyring.h"
#include "engine/store/store.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"
#include "tests/integration/harness_store.h"

namespace labgate::it {
namespace {

/// The value of SD-PARAM `name` in an RFC 5424 message ("" when absent).
std::string sdParam(const std::string& message, const std::string& name) {
  const std::string key = " " + name + "=\"";
  size_t at = message.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  size_t end = message.find('"', at);
  return end == std::string::npos ? "" : message.substr(at, end - at);
}

/// A syslog receiver over TCP with octet-counting framing (RFC 6587 section 3.4.1): keeps every
/// message of every connection, in arrival order.
class SyslogListener {
 public:
  /// With `tls`, a TLS receiver (RFC 5425) with that server context.
  explicit SyslogListener(int port, Poco::Net::Context::Ptr tls = nullptr)
      : port_(port), tls_(std::move(tls)) {}
  ~SyslogListener() { stop(); }
  SyslogListener(const SyslogListener&) = delete;
  SyslogListener& operator=(const SyslogListener&) = delete;

  void start() {
    if (tls_) {
      server_ = std::make_unique<Poco::Net::SecureServerSocket>(tls_);
    } else {
      server_ = std::make_unique<Poco::Net::ServerSocket>();
    }
    server_->bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<uint16_t>(port_)), true, false);
    server_->listen(16);
    running_ = true;
    thread_ = std::thread([this] { acceptLoop(); });
  }
  void stop() {
    if (!running_.exchange(false)) return;
    if (thread_.joinable()) thread_.join();
    for (auto& t : readers_) t.join();
    readers_.clear();
    server_->close();
    server_.reset();
  }

  std::vector<std::string> messages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
  }
  /// The seq numbers received, in arrival order.
  std::vector<int64_t> seqs() const {
    std::vector<int64_t> out;
    for (const auto& m : messages()) {
      const std::string seq = sdParam(m, "seq");
      out.push_back(seq.empty() ? -1 : std::stoll(seq));
    }
    return out;
  }
  /// Connections accepted so far.
  int connections() const { return connections_; }
  /// Framing errors seen ("" when none).
  std::string error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_;
  }

 private:
  void acceptLoop() {
    while (running_) {
      if (!server_->poll(Poco::Timespan(0, 100000), Poco::Net::Socket::SELECT_READ)) continue;
      Poco::Net::StreamSocket peer = server_->acceptConnection();
      ++connections_;
      readers_.emplace_back([this, peer]() mutable { readLoop(peer); });
    }
  }
  void readLoop(Poco::Net::StreamSocket peer) {
    std::string buffer;
    char chunk[4096];
    while (running_) {
      if (!peer.poll(Poco::Timespan(0, 100000), Poco::Net::Socket::SELECT_READ)) continue;
      int n = 0;
      try {
        n = peer.receiveBytes(chunk, sizeof chunk);
      } catch (const Poco::Exception&) {
        n = 0;
      }
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
      for (;;) {
        size_t space = buffer.find(' ');
        if (space == std::string::npos) break;
        const std::string length = buffer.substr(0, space);
        if (length.empty() || length.find_first_not_of("0123456789") != std::string::npos) {
          std::lock_guard<std::mutex> lock(mutex_);
          error_ = "a frame does not start with its length";
          return;
        }
        const size_t size = std::stoul(length);
        if (buffer.size() < space + 1 + size) break;
        std::lock_guard<std::mutex> lock(mutex_);
        messages_.push_back(buffer.substr(space + 1, size));
        buffer.erase(0, space + 1 + size);
      }
    }
    peer.close();
  }

  int port_;
  Poco::Net::Context::Ptr tls_;
  std::unique_ptr<Poco::Net::ServerSocket> server_;
  std::atomic<bool> running_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::vector<std::thread> readers_;
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
  std::string error_;
};

/// A test HTTP receiver for https-json (plain HTTP on loopback): keeps every body it accepted;
/// answers 503 to the first `refuse` requests.
class JsonReceiver {
 public:
  JsonReceiver(int port, int refuse) : refuse_(refuse) {
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<uint16_t>(port)), true, false);
    socket.listen(16);
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(2);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), pool_, socket, params);
    server_->start();
  }
  ~JsonReceiver() {
    server_->stop();
    pool_.joinAll();
  }
  JsonReceiver(const JsonReceiver&) = delete;
  JsonReceiver& operator=(const JsonReceiver&) = delete;

  std::vector<std::string> bodies() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bodies_;
  }
  int refused() const { return refused_; }
  /// Every Authorization value seen ("" for a request without one).
  std::set<std::string> authorizations() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return authorizations_;
  }

 private:
  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(JsonReceiver& owner) : owner_(owner) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
      std::string body;
      Poco::StreamCopier::copyToString(request.stream(), body);
      {
        std::lock_guard<std::mutex> lock(owner_.mutex_);
        owner_.authorizations_.insert(request.get("Authorization", ""));
      }
      if (owner_.refused_ < owner_.refuse_) {
        ++owner_.refused_;
        response.setStatus(Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE);
        response.setContentLength(0);
        response.send();
        return;
      }
      {
        std::lock_guard<std::mutex> lock(owner_.mutex_);
        owner_.bodies_.push_back(body);
      }
      response.setStatus(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
      response.send();
    }

   private:
    JsonReceiver& owner_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(JsonReceiver& owner) : owner_(owner) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(owner_);
    }

   private:
    JsonReceiver& owner_;
  };

  int refuse_;
  std::atomic<int> refused_{0};
  Poco::ThreadPool pool_{1, 4};
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  mutable std::mutex mutex_;
  std::vector<std::string> bodies_;
  std::set<std::string> authorizations_;
};

class AuditTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    config_.set("security.argon2.memory_kib", "1024");
    config_.set("security.argon2.iterations", "1");
    api_ = ApiClient(config_.httpPort);
  }

  std::string db() const { return config_.dataDir + "/labgate.db"; }
  int64_t maxAuditId() const {
    std::optional<std::string> text = storeQuery(db(), "SELECT COALESCE(MAX(id), 0) FROM audit");
    return text && !text->empty() ? std::stoll(*text) : -1;
  }
  /// One accepted ASTM message: at least one audit event.
  void sendOne() {
    AstmInstrument instrument(astmPort());
    Transfer t = instrument.sendSession(
        buildAstmMessage({{newSampleId("AU"), {{"GLU", "5.4", "mmol/L"}}, {}}}));
    ASSERT_TRUE(t.complete) << "the message was not acknowledged";
  }
  ProgramRun labgate(const std::vector<std::string>& args) const {
    return runProgram(binDir() + "/labgate", args, 120000ms, tmp_->path());
  }
  Poco::JSON::Object::Ptr verification(const std::string& token) const {
    ApiResponse r = api_.get("/api/v1/audit/verification", withBearer(token));
    EXPECT_EQ(r.status, 200) << r.describe();
    if (r.status != 200) return nullptr;
    return Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  }
  /// /health's audit_forwarding entry `name` (null when absent).
  Poco::JSON::Object::Ptr forwarderHealth(const std::string& name) const {
    Health h = health();
    if (!h.ok()) return nullptr;
    Poco::JSON::Array::Ptr list = h.root->getArray("audit_forwarding");
    for (size_t i = 0; list && i < list->size(); ++i) {
      Poco::JSON::Object::Ptr f = list->getObject(static_cast<unsigned>(i));
      if (f && f->getValue<std::string>("name") == name) return f;
    }
    return nullptr;
  }
  void useSyslog(int port) {
    config_.set("audit.forward", "siem");
    config_.set("audit.forwarder.siem.kind", "syslog");
    config_.set("audit.forwarder.siem.address", "127.0.0.1:" + std::to_string(port));
    config_.set("audit.forwarder.siem.retry_initial_ms", "50");
    config_.set("audit.forwarder.siem.retry_max_ms", "400");
  }

  ApiClient api_{0};
};

/// Runs `sql` on the stopped engine's database with a writing connection of the test.
void editDatabase(const std::string& dbPath, const std::vector<std::string>& sql) {
  storeExecute(dbPath, sql);  // the data.dir's database on either back end (harness_store.h)
}

// ---------------------------------------------------------------------------------------------
// Integrity

TEST_F(AuditTest, ChainReportedBrokenAtTheEditedEvent) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(sendOne());
  const std::string token = api_.login("default", "admin", kTestAdminPassword);
  ASSERT_FALSE(token.empty());
  Poco::JSON::Object::Ptr before = verification(token);
  ASSERT_TRUE(before);
  EXPECT_TRUE(before->getValue<bool>("valid"));
  EXPECT_GE(before->getValue<int64_t>("events"), 4);
  ASSERT_NO_FATAL_FAILURE(stopEngine());

  ProgramRun intact = labgate({"audit", "verify", "--data-dir", config_.dataDir});
  EXPECT_EQ(intact.exitCode, 0) << intact.err;
  EXPECT_NE(intact.out.find("intact"), std::string::npos) << intact.out;

  const int64_t last = maxAuditId();
  ASSERT_GE(last, 4);
  const int64_t edited = last / 2;
  // What someone with the database file would do: lift the append-only trigger, change a detail.
  editDatabase(
      db(), {"DROP TRIGGER audit_no_update",
             "UPDATE audit SET detail = '{\"edited\":true}' WHERE id = " + std::to_string(edited),
             "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT "
             "RAISE(ABORT, 'the audit log is append-only'); END"});

  ProgramRun broken = labgate({"audit", "verify", "--data-dir", config_.dataDir});
  EXPECT_EQ(broken.exitCode, 1) << broken.err;
  EXPECT_NE(broken.out.find("BROKEN at event " + std::to_string(edited) + " (content)"),
            std::string::npos)
      << broken.out;
  ProgramRun json = labgate({"audit", "verify", "--database", db(), "--json"});
  EXPECT_EQ(json.exitCode, 1) << json.err;
  Poco::JSON::Object::Ptr report =
      Poco::JSON::Parser().parse(json.out).extract<Poco::JSON::Object::Ptr>();
  EXPECT_FALSE(report->getValue<bool>("valid"));
  Poco::JSON::Object::Ptr first = report->getObject("broken");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->getValue<int64_t>("id"), edited);
  EXPECT_EQ(first->getValue<std::string>("problem"), "content");

  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string again = api_.login("default", "admin", kTestAdminPassword);
  Poco::JSON::Object::Ptr online = verification(again);
  ASSERT_TRUE(online);
  EXPECT_FALSE(online->getValue<bool>("valid"));
  ASSERT_TRUE(online->getObject("broken"));
  EXPECT_EQ(online->getObject("broken")->getValue<int64_t>("id"), edited);
  EXPECT_NE(online->getValue<std::string>("reason").find("changed after it was written"),
            std::string::npos);
  // Without credentials: 401 (the route declares audit.read).
  EXPECT_EQ(api_.get("/api/v1/audit/verification").status, 401);
}

TEST_F(AuditTest, RewrittenHashBreaksTheLinkOfTheNextEvent) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  for (int i = 0; i < 2; ++i) ASSERT_NO_FATAL_FAILURE(sendOne());
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  const int64_t last = maxAuditId();
  ASSERT_GE(last, 3);
  const int64_t edited = 2;
  // A careful forger recomputes the edited event's own hash: the next event's link breaks.
  std::optional<std::vector<StoreRow>> rows = StoreReader(db()).rows(
      "SELECT org_id, at, actor, action, subject, prev_hash FROM audit "
      "WHERE id = 2");
  ASSERT_TRUE(rows && rows->size() == 1);
  const StoreRow& r = rows->front();
  AuditEvent forged{r[0], r[2], r[3], r[4], "{\"forged\":true}"};
  const std::string hash = auditChainHash(r[5], auditCanonicalForm(r[1], forged));
  editDatabase(db(),
               {"DROP TRIGGER audit_no_update",
                "UPDATE audit SET detail = '{\"forged\":true}', hash = '" + hash + "' WHERE id = 2",
                "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT "
                "RAISE(ABORT, 'the audit log is append-only'); END"});
  ProgramRun json = labgate({"audit", "verify", "--data-dir", config_.dataDir, "--json"});
  EXPECT_EQ(json.exitCode, 1) << json.err;
  Poco::JSON::Object::Ptr report =
      Poco::JSON::Parser().parse(json.out).extract<Poco::JSON::Object::Ptr>();
  Poco::JSON::Object::Ptr first = report->getObject("broken");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->getValue<int64_t>("id"), edited + 1);
  EXPECT_EQ(first->getValue<std::string>("problem"), "link");
  EXPECT_EQ(first->getValue<std::string>("expected"), hash);  // the forged event's hash

  ProgramRun usage = labgate({"audit", "verify"});
  EXPECT_EQ(usage.exitCode, 2);
  ProgramRun missing = labgate({"audit", "verify", "--data-dir", tmp_->file("nowhere")});
  EXPECT_EQ(missing.exitCode, 1);
}

TEST_F(AuditTest, BackupFileIsVerifiedOffline) {
  Poco::File(tmp_->file("keys")).createDirectories();
  const std::string keyFile = tmp_->file("keys/kek.key");
  ASSERT_TRUE(security::writeNewKeyFile(keyFile).isOk());
  config_.set("security.key_file", keyFile);
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ASSERT_NO_FATAL_FAILURE(sendOne());
  const std::string token = api_.login("default", "admin", kTestAdminPassword);
  ASSERT_FALSE(token.empty());
  ApiResponse made = api_.post("/api/v1/backups", "", withBearer(token));
  ASSERT_EQ(made.status, 201) << made.describe();
  const std::string file = config_.dataDir + "/backups/" + made.text("name");
  ASSERT_TRUE(fileExists(file));

  ProgramRun ok = labgate({"audit", "verify", "--backup", file, "--key-file", keyFile, "--work-dir",
                           tmp_->path(), "--json"});
  EXPECT_EQ(ok.exitCode, 0) << ok.err;
  Poco::JSON::Object::Ptr report =
      Poco::JSON::Parser().parse(ok.out).extract<Poco::JSON::Object::Ptr>();
  EXPECT_TRUE(report->getValue<bool>("valid"));
  EXPECT_GE(report->getValue<int64_t>("events"), 3);

  const std::string otherKey = tmp_->file("keys/other.key");
  ASSERT_TRUE(security::writeNewKeyFile(otherKey).isOk());
  ProgramRun wrong = labgate(
      {"audit", "verify", "--backup", file, "--key-file", otherKey, "--work-dir", tmp_->path()});
  EXPECT_EQ(wrong.exitCode, 1) << wrong.err;
  ProgramRun noKey = labgate({"audit", "verify", "--backup", file});
  EXPECT_EQ(noKey.exitCode, 2);
}

// ---------------------------------------------------------------------------------------------
// Forwarding

TEST_F(AuditTest, SyslogReceivesTheTrailInOrderAndNothingIsLostAcrossSigkill) {
  const int port = freePort();
  SyslogListener listener(port);
  listener.start();
  useSyslog(port);
  ASSERT_NO_FATAL_FAILURE(startEngine());
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(sendOne());
  int64_t last = maxAuditId();
  ASSERT_TRUE(waitUntil(
      [&] {
        auto s = listener.seqs();
        return !s.empty() && s.back() >= last;
      },
      30000ms))
      << "the syslog receiver did not get event " << last;
  // One connection, no restart yet: exactly 1..last in order.
  std::vector<int64_t> seqs = listener.seqs();
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], static_cast<int64_t>(i + 1));
  EXPECT_EQ(listener.connections(), 1);
  // The message form: PRI (facility 13 log audit, severity notice), version 1, the chain hash in
  // the structured data and the event as JSON after the BOM, hashing as the chain says.
  const std::string message = listener.messages().front();
  EXPECT_EQ(message.rfind("<109>1 ", 0), 0u) << message.substr(0, 20);
  size_t bom = message.find("\xEF\xBB\xBF");
  ASSERT_NE(bom, std::string::npos);
  Poco::JSON::Object::Ptr event =
      Poco::JSON::Parser().parse(message.substr(bom + 3)).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(event->getValue<int64_t>("seq"), 1);
  EXPECT_EQ(event->getValue<std::string>("hash"), sdParam(message, "hash"));
  EXPECT_EQ(event->getValue<std::string>("prev_hash"), kAuditGenesisHash);
  AuditEvent e{event->getValue<std::string>("org"), event->getValue<std::string>("actor"),
               event->getValue<std::string>("action"), event->getValue<std::string>("subject"),
               event->getValue<std::string>("detail")};
  EXPECT_EQ(
      auditChainHash(kAuditGenesisHash, auditCanonicalForm(event->getValue<std::string>("at"), e)),
      event->getValue<std::string>("hash"));

  // kill -9 right after an event was committed, three times.
  for (int round = 0; round < 3; ++round) {
    ASSERT_NO_FATAL_FAILURE(sendOne());
    engine_->kill();
    ASSERT_NO_FATAL_FAILURE(startEngine());
  }
  ASSERT_NO_FATAL_FAILURE(sendOne());
  last = maxAuditId();
  ASSERT_TRUE(waitUntil(
      [&] {
        auto s = listener.seqs();
        std::set<int64_t> got(s.begin(), s.end());
        return static_cast<int64_t>(got.size()) >= last && got.count(last) > 0;
      },
      60000ms))
      << "events missing at the receiver after the kills";
  std::vector<int64_t> all = listener.seqs();
  std::set<int64_t> got(all.begin(), all.end());
  for (int64_t id = 1; id <= last; ++id) EXPECT_TRUE(got.count(id)) << "no event " << id;
  // Each connection delivers in order: a repeat only ever restarts from an earlier point.
  EXPECT_TRUE(listener.error().empty()) << listener.error();
  std::cout << "[ audit    ] " << last << " events, " << all.size()
            << " syslog messages received across 3 kills\n";
}

TEST_F(AuditTest, SyslogOverTlsVerifiesTheReceiver) {
  std::string cert, key, why;
  ASSERT_TRUE(makeTestCertificate(tmp_->path(), &cert, &key, &why)) << why;
  Poco::Net::Context::Params params;
  params.certificateFile = cert;
  params.privateKeyFile = key;
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;
  Poco::Net::Context::Ptr server =
      new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
  const int port = freePort();
  SyslogListener listener(port, server);
  listener.start();
  useSyslog(port);
  // The certificate names localhost: the forwarder checks the name it connects to.
  config_.set("audit.forwarder.siem.address", "localhost:" + std::to_string(port));
  config_.set("audit.forwarder.siem.tls", "true");
  config_.set("audit.forwarder.siem.ca", cert);
  ASSERT_NO_FATAL_FAILURE(startEngine());
  // Batch after batch over one connection (the receiver's TLS records, such as TLS 1.3 session
  // tickets, are not taken for a closed connection).
  for (int i = 0; i < 3; ++i) {
    ASSERT_NO_FATAL_FAILURE(sendOne());
    const int64_t last = maxAuditId();
    ASSERT_TRUE(waitUntil(
        [&] {
          auto s = listener.seqs();
          return !s.empty() && s.back() >= last;
        },
        30000ms))
        << "event " << last << " did not arrive over TLS";
  }
  std::vector<int64_t> seqs = listener.seqs();
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], static_cast<int64_t>(i + 1));
  EXPECT_EQ(listener.connections(), 1);
  // A clean stop sends what is left, engine.stopped included.
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  const int64_t stopped = maxAuditId();
  EXPECT_EQ(storeQuery(db(), "SELECT action FROM audit WHERE id = " + std::to_string(stopped)),
            std::optional<std::string>("engine.stopped"));
  EXPECT_EQ(listener.seqs().back(), stopped);
}

TEST_F(AuditTest, SyslogOverTlsRefusesAReceiverItCannotVerify) {
  std::string cert, key, why;
  ASSERT_TRUE(makeTestCertificate(tmp_->path(), &cert, &key, &why)) << why;
  Poco::Net::Context::Params params;
  params.certificateFile = cert;
  params.privateKeyFile = key;
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;
  Poco::Net::Context::Ptr server =
      new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
  const int port = freePort();
  SyslogListener listener(port, server);
  listener.start();
  useSyslog(port);
  config_.set("audit.forwarder.siem.address", "localhost:" + std::to_string(port));
  config_.set("audit.forwarder.siem.tls", "true");  // no ca: the self-signed receiver is unknown
  ASSERT_NO_FATAL_FAILURE(startEngine());
  Poco::JSON::Object::Ptr f;
  ASSERT_TRUE(waitUntil(
      [&] {
        f = forwarderHealth("siem");
        return f && f->getValue<std::string>("state") == "retrying";
      },
      20000ms));
  EXPECT_GT(f->getValue<int64_t>("lag_events"), 0);
  EXPECT_TRUE(listener.seqs().empty()) << "an event went to an unverified receiver";
}

TEST_F(AuditTest, LagShowsInHealthAndMetricsWhileTheReceiverIsDown) {
  const int port = freePort();
  useSyslog(port);  // nobody listens yet
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ASSERT_NO_FATAL_FAILURE(sendOne());
  Poco::JSON::Object::Ptr f;
  ASSERT_TRUE(waitUntil(
      [&] {
        f = forwarderHealth("siem");
        return f && f->getValue<std::string>("state") == "retrying";
      },
      20000ms));
  EXPECT_GE(f->getValue<int64_t>("lag_events"), 2);
  EXPECT_FALSE(f->getValue<std::string>("last_error").empty());
  EXPECT_EQ(health().root->getValue<std::string>("status"), "degraded");
  ApiResponse metrics = apiRequest("GET", config_.httpPort, "/metrics");
  EXPECT_NE(metrics.body.find("labgate_audit_forward_lag_events{forwarder=\"siem\"}"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("labgate_audit_forward_retrying{forwarder=\"siem\"} 1"),
            std::string::npos);

  SyslogListener listener(port);
  listener.start();
  ASSERT_TRUE(waitUntil(
      [&] {
        f = forwarderHealth("siem");
        return f && f->getValue<int64_t>("lag_events") == 0 &&
               f->getValue<std::string>("state") != "retrying";
      },
      30000ms))
      << "the lag did not drain once the receiver came up";
  const int64_t last = maxAuditId();
  std::vector<int64_t> seqs = listener.seqs();
  ASSERT_FALSE(seqs.empty());
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], static_cast<int64_t>(i + 1));
  EXPECT_GE(seqs.back(), last - 1);  // a /health read writes nothing; an event may follow
}

TEST_F(AuditTest, FileForwarderWritesJsonLinesAndRotatesBySize) {
  const std::string dir = tmp_->file("trail");
  const std::string path = dir + "/audit.jsonl";
  config_.set("audit.forward", "archive");
  config_.set("audit.forwarder.archive.kind", "file");
  config_.set("audit.forwarder.archive.path", path);
  config_.set("audit.forwarder.archive.max_bytes", "4096");
  config_.set("audit.forwarder.archive.keep", "50");
  config_.set("audit.forwarder.archive.batch_size", "2");
  ASSERT_NO_FATAL_FAILURE(startEngine());
  for (int i = 0; i < 12; ++i) ASSERT_NO_FATAL_FAILURE(sendOne());
  const int64_t last = maxAuditId();
  ASSERT_TRUE(waitUntil(
      [&] {
        auto f = forwarderHealth("archive");
        return f && f->getValue<int64_t>("cursor") >= last;
      },
      30000ms));
  ASSERT_TRUE(fileExists(path + ".1")) << "no rotation at 4096 bytes";
  // Oldest file first: audit.jsonl.N ... .1, audit.jsonl.
  std::vector<std::string> files;
  for (int i = 50; i >= 1; --i) {
    if (fileExists(path + "." + std::to_string(i))) files.push_back(path + "." + std::to_string(i));
  }
  files.push_back(path);
  std::vector<int64_t> seqs;
  for (const auto& file : files) {
    const std::string text = readFile(file);
    if (file != path) {
      EXPECT_GE(text.size(), 4096u - 2000u) << file;
    }
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      Poco::JSON::Object::Ptr e =
          Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
      seqs.push_back(e->getValue<int64_t>("seq"));
    }
  }
  ASSERT_GE(seqs.size(), static_cast<size_t>(last));
  for (size_t i = 0; i < static_cast<size_t>(last); ++i) {
    EXPECT_EQ(seqs[i], static_cast<int64_t>(i + 1));
  }
}

TEST_F(AuditTest, HttpsJsonPostsBatchesAndRetriesARefusedOne) {
  const int port = freePort();
  JsonReceiver receiver(port, /*refuse=*/2);
  config_.set("audit.forward", "collector");
  config_.set("audit.forwarder.collector.kind", "https-json");
  // Plain http is accepted for a loopback receiver only (a local relay); https elsewhere.
  config_.set("audit.forwarder.collector.url",
              "http://127.0.0.1:" + std::to_string(port) + "/ingest");
  const std::string tokenFile = tmp_->file("collector.token");
  writeFile(tokenFile, "Bearer audit-receiver-test\n");
  ASSERT_EQ(::chmod(tokenFile.c_str(), 0600), 0);
  config_.set("audit.forwarder.collector.authorization_file", tokenFile);
  config_.set("audit.forwarder.collector.retry_initial_ms", "50");
  config_.set("audit.forwarder.collector.retry_max_ms", "200");
  ASSERT_NO_FATAL_FAILURE(startEngine());
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(sendOne());
  const int64_t last = maxAuditId();
  std::vector<int64_t> seqs;
  ASSERT_TRUE(waitUntil(
      [&] {
        seqs.clear();
        for (const auto& body : receiver.bodies()) {
          Poco::JSON::Array::Ptr a =
              Poco::JSON::Parser().parse(body).extract<Poco::JSON::Array::Ptr>();
          for (size_t i = 0; i < a->size(); ++i) {
            seqs.push_back(a->getObject(static_cast<unsigned>(i))->getValue<int64_t>("seq"));
          }
        }
        return !seqs.empty() && seqs.back() >= last;
      },
      30000ms));
  EXPECT_EQ(receiver.refused(), 2);
  EXPECT_EQ(receiver.authorizations(), std::set<std::string>{"Bearer audit-receiver-test"});
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten({{"authorization value", "audit-receiver-test"}});

  // A readable-by-others authorization file stops start-up naming the key, not the content.
  ASSERT_EQ(::chmod(tokenFile.c_str(), 0644), 0);
  config_.write(configPath_);
  ProgramRun refused =
      runProgram(binDir() + "/labgated", {"--config", configPath_}, 60000ms, tmp_->path());
  EXPECT_NE(refused.exitCode, 0);
  EXPECT_NE(refused.err.find("audit.forwarder.collector.authorization_file"), std::string::npos)
      << refused.err;
  EXPECT_EQ(refused.err.find("audit-receiver-test"), std::string::npos);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], static_cast<int64_t>(i + 1));
}

TEST_F(AuditTest, ForwarderConfigurationIsCheckedStrictly) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> keys;
    std::string names;  // the key the error must name
  };
  const std::vector<Case> cases = {
      {{{"audit.forward", "x"}}, "audit.forwarder.x.kind"},
      {{{"audit.forward", "x"}, {"audit.forwarder.x.kind", "kafka"}}, "audit.forwarder.x.kind"},
      {{{"audit.forward", "x"}, {"audit.forwarder.x.kind", "syslog"}}, "audit.forwarder.x.address"},
      {{{"audit.forward", "x"},
        {"audit.forwarder.x.kind", "syslog"},
        {"audit.forwarder.x.address", "10.9.8.7:6514"}},
       "audit.forwarder.x.tls"},
      {{{"audit.forward", "x"},
        {"audit.forwarder.x.kind", "file"},
        {"audit.forwarder.x.path", "a.jsonl"},
        {"audit.forwarder.x.colour", "red"}},
       "audit.forwarder.x.colour"},
      {{{"audit.forwarder.y.kind", "file"}}, "audit.forwarder.y.kind"},
  };
  for (const Case& c : cases) {
    EngineConfig config = config_;
    for (const auto& [k, v] : c.keys) config.set(k, v);
    const std::string path = tmp_->file("check.properties");
    config.write(path);
    ProgramRun run = runProgram(binDir() + "/labgated", {"--check-config", "--config", path},
                                60000ms, tmp_->path());
    EXPECT_NE(run.exitCode, 0) << c.names;
    EXPECT_NE((run.err + run.out).find(c.names), std::string::npos) << c.names << ": " << run.err;
  }
}

}  // namespace
}  // namespace labgate::it
