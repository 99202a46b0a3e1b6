// Engine assembly and the /health endpoint (see engine.h).
#include "server/engine.h"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/File.h>
#include <Poco/FileChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Path.h>
#include <Poco/SplitterChannel.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "engine/api/api.h"
#include "engine/log/log.h"
#include "engine/metrics/metrics.h"
#include "engine/net/audit_forwarder.h"
#include "engine/net/delivery_worker.h"
#include "engine/net/http_server.h"
#include "engine/net/http_util.h"
#include "engine/net/tcp_listener.h"
#include "engine/net/tls.h"
#include "engine/phi/phi_gate.h"
#include "engine/pipeline/pipeline.h"
#include "engine/pipeline/reevaluation.h"
#include "engine/security/keyring.h"
#include "engine/security/posix_file.h"
#include "engine/security/signing_key.h"
#include "engine/service/backup_service.h"
#include "engine/service/log_format.h"
#include "engine/service/observability.h"
#include "engine/service/profiles.h"
#include "engine/service/retention_service.h"
#include "engine/store/audit_log.h"
#include "engine/store/mapping_sets.h"
#include "engine/store/signatures.h"
#include "engine/store/store.h"
#include "labgate/version.h"
#include "mappings/mapping_set.h"
#include "server/console.h"

namespace labgate {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("engine"); }

using HttpRoute =
    std::function<void(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse&)>;

class RouteHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RouteHandler(HttpRoute route) : route_(std::move(route)) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    try {
      route_(request, response);
    } catch (const std::exception& e) {
      // POCO's what() is the class name only ("PostgreSQL"); displayText() says what failed.
      const auto* poco = dynamic_cast<const Poco::Exception*>(&e);
      logError(logger(), "HTTP {} {} failed: {}", request.getMethod(),
               Poco::URI(request.getURI()).getPath(),
               poco != nullptr ? poco->displayText() : std::string(e.what()));
      if (!response.sent()) {
        sendProblem(response, Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR,
                    "Internal Server Error", "the request could not be completed");
      }
    }
  }

 private:
  HttpRoute route_;
};

/// One connector's current profile: read for every message, replaced whole by a reload (SIGHUP).
/// A message in progress keeps the profile it started with.
class ProfileSlot {
 public:
  explicit ProfileSlot(std::shared_ptr<const ConnectorProfile> profile)
      : profile_(std::move(profile)) {}
  std::shared_ptr<const ConnectorProfile> get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return profile_;
  }
  void set(std::shared_ptr<const ConnectorProfile> profile) {
    std::lock_guard<std::mutex> lock(mutex_);
    profile_ = std::move(profile);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ConnectorProfile> profile_;
};

class HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit HandlerFactory(HttpRoute route) : route_(std::move(route)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new RouteHandler(route_);
  }

 private:
  HttpRoute route_;
};

}  // namespace

class Engine::Impl : public api::EngineView {
 public:
  Impl(EngineConfig config, const Registry& registry)
      : config_(std::move(config)),
        registry_(registry),
        // One thread per connection being served, on each listener (http.max_connections).
        httpPool_(2, config_.httpLimits.maxConnections * (config_.httpsHost.empty() ? 1 : 2) + 2) {}

  Status start(const Engine& self) {
    metrics::declareEngineMetrics();
    StatusOr<phi::PhiGate> gate = phi::PhiGate::loadFile(config_.phiPatterns);
    if (!gate.isOk()) return prefixed("phi.patterns", gate.status());
    auto sharedGate = std::make_shared<const phi::PhiGate>(std::move(gate.value()));
    phiGate_ = sharedGate;

    // Destinations first: connectors name them.
    Pipeline::DestinationMap destinations;
    for (const auto& d : config_.destinations) {
      StatusOr<const DestinationKind*> kind = registry_.requireDestination(d.name, d.kind);
      if (!kind.isOk()) return kind.status();
      StatusOr<std::unique_ptr<Destination>> made =
          kind.value()->factory(DestinationContext{d.name, d.keys});
      if (!made.isOk()) return made.status();
      destinations[d.name] = std::shared_ptr<Destination>(std::move(made.value()));
    }

    // Profiles (mapping sets, rule sets, PHI policy) before anything is opened for writing.
    StatusOr<std::vector<ConnectorProfile>> built = buildConnectorProfiles(config_, registry_);
    if (!built.isOk()) return built.status();
    std::vector<ConnectorProfile> profiles = std::move(built).value();

    // Encryption at rest (docs/encryption.md): the key files are checked before the store opens.
    StatusOr<std::shared_ptr<security::Keyring>> keyring =
        security::openKeyring(config_.keyFile, config_.previousKeyFile, config_.dataDir);
    if (!keyring.isOk()) return keyring.status();
    if (!keyring.value()) {
      logWarning(logger(), "content is not encrypted at rest: set security.key_file");
    }
    StatusOr<std::shared_ptr<Store>> store =
        Store::open(StoreLocation{config_.dataDir, config_.storeUrl, config_.storePasswordFile},
                    keyring.value());
    if (!store.isOk()) {
      const Status& why = store.status();
      return why.location().rfind("security.", 0) == 0 || why.location().rfind("store.", 0) == 0
                 ? why
                 : prefixed("data.dir", why);
    }
    logInfo(logger(), "store: {} at {} (node {})", store.value()->backendName(),
            store.value()->displayLocation(), config_.nodeId);
    if (!keyring.value()) {
      if (std::optional<std::string> kek = store.value()->encryptionKekFingerprint()) {
        return Status::config("security.key_file",
                              "not set, but the store holds content encrypted at rest (its data "
                              "keys are wrapped by key-encryption key " +
                                  *kek + "); set it to that key file");
      }
    }
    store_ = store.value();

    // Mapping sets (docs/mappings.md): a connector's file is stored as a version of its set when
    // it changed; every connector runs its set's active version.
    mappingSets_ = std::make_unique<MappingSetStore>(store_);
    std::vector<std::pair<const ConnectorConfig*, int64_t>> activatedAtStart;
    for (const ConnectorConfig& c : config_.connectors) {  // files first: a set may be shared
      StatusOr<std::optional<int64_t>> imported = importMappingFile(c);
      if (!imported.isOk()) return imported.status();
      if (imported.value()) activatedAtStart.emplace_back(&c, *imported.value());
    }
    for (size_t i = 0; i < config_.connectors.size() && registry_.mappingParser(); ++i) {
      StatusOr<std::shared_ptr<const MappingStage>> stage = storedStage(config_.connectors[i]);
      if (!stage.isOk()) return stage.status();
      profiles[i].mappings = stage.value();
    }

    // Audit forwarders (docs/audit.md): each resumes after its durable cursor.
    auto auditLog = std::make_shared<AuditLog>(store_);
    for (const AuditForwarderSettings& f : config_.auditForwarders) {
      StatusOr<std::unique_ptr<AuditSink>> sink = makeAuditSink(f);
      if (!sink.isOk()) return sink.status();
      forwarders_.push_back(std::make_unique<AuditForwarder>(f, std::move(sink).value(), auditLog));
    }
    // The Ed25519 key of electronic signatures (docs/signatures.md): sealed under the key file
    // when there is one.
    std::optional<security::KeyEncryptionKey> signingKek;
    if (!config_.keyFile.empty()) {
      StatusOr<security::KeyEncryptionKey> kek =
          security::loadKeyFile(config_.keyFile, config_.dataDir);
      if (!kek.isOk()) return kek.status();
      signingKek = std::move(kek).value();
    }
    std::optional<security::KeyEncryptionKey> previousKek;  // a rotation: re-seal under the new
    if (!config_.keyFile.empty() && !config_.previousKeyFile.empty()) {
      StatusOr<security::KeyEncryptionKey> kek = security::loadKeyFile(
          config_.previousKeyFile, config_.dataDir, "security.previous_key_file");
      if (!kek.isOk()) return kek.status();
      previousKek = std::move(kek).value();
    }
    StatusOr<std::shared_ptr<security::SigningKey>> signing =
        security::SigningKey::loadOrCreate(config_.dataDir, signingKek ? &*signingKek : nullptr,
                                           previousKek ? &*previousKek : nullptr);
    if (!signing.isOk()) return signing.status();
    signingKey_ = signing.value();
    // Signatures another key made fail online verification: a restore of a backup that carried
    // no signing key (format 1), or a signing key file removed. Say so, and what keeps them.
    for (const auto& [keyId, made] : SignatureStore::signaturesByKey(*store_)) {
      if (keyId == signingKey_->fingerprint()) continue;
      logWarning(
          logger(),
          "{} electronic signature(s) in the store were made with signing key {}, not "
          "with this server's key {}{}: they will fail online verification "
          "(GET /api/v1/signatures/{{id}}/verification). To keep them verifiable online, stop "
          "labgated and put the old server's signing-key.sealed into data.dir (restoring "
          "a backup that carries the signing key does this); else keep the old server's "
          "public key (the PEM of its GET /api/v1/signing-key) and verify them offline "
          "with labgate verify-signature FILE.json --public-key OLD.pem",
          made, keyId, signingKey_->fingerprint(),
          signingKey_->isNew() ? " (a new key: data.dir held none)" : "");
    }
    destinations_ = destinations;

    // Backups need the key file (they are always encrypted); the scheduler starts last.
    if (!config_.keyFile.empty()) {
      StatusOr<security::KeyEncryptionKey> kek =
          security::loadKeyFile(config_.keyFile, config_.dataDir);
      if (!kek.isOk()) return kek.status();
      backups_ = std::make_unique<BackupService>(store_, std::move(kek).value(), config_.backup,
                                                 config_.dataDir);
      // The signing key goes with every backup: a restore keeps old signatures verifiable.
      backups_->carrySigningKey(
          Poco::Path(config_.dataDir).append(security::kSealedSigningKeyFile).toString());
    }

    StatusOr<std::unique_ptr<api::Api>> made = api::Api::create(store_, config_.security, *this);
    if (!made.isOk()) return made.status();
    api_ = std::move(made).value();
    Status bootstrapped = api_->bootstrap(std::getenv("LABGATE_ADMIN_PASSWORD"));
    if (!bootstrapped.isOk()) return bootstrapped;

    pipeline_ = std::make_shared<Pipeline>(store_, sharedGate, destinations);
    pipeline_->setExportWindow(config_.exportWindowResults);
    for (const auto& d : config_.destinations) {
      PipelineOptions pipeline;
      pipeline.depth = static_cast<int>(d.pipelineDepth);
      workers_.push_back(std::make_unique<DeliveryWorker>(
          d.name, d.kind, destinations[d.name], store_,
          RetryPolicy{d.retryInitialMillis, d.retryMaxMillis}, sharedGate, pipeline));
      workers_.back()->setLease(
          LeaseOptions{config_.nodeId, std::chrono::milliseconds(config_.leaseSeconds * 1000)});
    }
    pipeline_->setQueuedListener([this](const std::string& destination) {
      for (auto& w : workers_) w->wake();
      (void)destination;
    });
    // Held results evaluated again (engine/pipeline/reevaluation.h) with each connector's current
    // profile, rendered for its destinations as the pipeline renders.
    reevaluator_ = std::make_unique<Reevaluator>(
        store_, destinations,
        [this](const std::string& connector) -> std::shared_ptr<const ConnectorProfile> {
          for (size_t i = 0; i < config_.connectors.size() && i < profiles_.size(); ++i) {
            if (config_.connectors[i].name == connector) return profiles_[i]->get();
          }
          return nullptr;
        },
        [this] { wakeDelivery(); });

    for (size_t i = 0; i < config_.connectors.size(); ++i) {
      const auto& c = config_.connectors[i];
      auto slot =
          std::make_shared<ProfileSlot>(std::make_shared<const ConnectorProfile>(profiles[i]));
      profiles_.push_back(slot);
      auto pipeline = pipeline_;
      IntakeHandler handler = [pipeline, slot](const Envelope& envelope, const FormatCodec& codec) {
        std::shared_ptr<const ConnectorProfile> profile = slot->get();
        Envelope e = envelope;
        e.orgId = profile->orgId;
        return pipeline->process(e, *profile, codec);
      };
      ExportHandler exportHandler = [pipeline, slot](const ExportJob& job) {
        return pipeline->processExport(job, *slot->get());
      };
      SourceContext context;
      context.name = c.name;
      context.instrument = c.instrument;
      context.keys = c.keys;
      context.handler = handler;
      context.exportHandler = exportHandler;
      context.exportFormats = &registry_.exportFormats();
      context.configDir = config_.configDir;
      context.dataDir = config_.dataDir;
      context.allow = c.allow;
      StatusOr<std::unique_ptr<Source>> source = registry_.createSource(c.kind, context);
      if (!source.isOk()) return source.status();
      connectorInfo_.push_back(ConnectorInfo{c.name, c.kind, c.orgId, c.allow,
                                             dynamic_cast<HttpSource*>(source.value().get()),
                                             c.instrument, boundSet(c)});
      sources_.push_back(std::move(source.value()));
    }

    auto factory = [this, &self]() {
      return new HandlerFactory([this, &self](Poco::Net::HTTPServerRequest& request,
                                              Poco::Net::HTTPServerResponse& response) {
        route(self, request, response);
      });
    };
    try {
      Poco::Net::ServerSocket socket;
      socket.bind(Poco::Net::SocketAddress(config_.httpHost, config_.httpPort), true, false);
      socket.listen(128);
      http_ = std::make_unique<HttpServer>("http", factory(), httpPool_, socket, config_.httpLimits,
                                           /*tls=*/false);
    } catch (const Poco::Exception& e) {
      return Status::config("http.listen", listenFailure(config_.httpHost, config_.httpPort, e));
    }
    if (!config_.httpsHost.empty()) {
      StatusOr<Poco::Net::Context::Ptr> tls = makeTlsContext("", config_.tlsKeys);
      if (!tls.isOk()) return tls.status();
      try {
        Poco::Net::SecureServerSocket socket(tls.value());
        socket.bind(Poco::Net::SocketAddress(config_.httpsHost, config_.httpsPort), true, false);
        socket.listen(128);
        https_ = std::make_unique<HttpServer>("https", factory(), httpPool_, socket,
                                              config_.httpLimits, /*tls=*/true);
      } catch (const Poco::Exception& e) {
        return Status::config("https.listen",
                              listenFailure(config_.httpsHost, config_.httpsPort, e));
      }
    }

    for (auto& w : workers_) w->start();
    for (auto& f : forwarders_) f->start();
    for (auto& s : sources_) {
      Status started = s->start();
      if (!started.isOk()) return started;
    }
    if (backups_) {
      Status started = backups_->start();
      if (!started.isOk()) return started;
    }
    // Retention (issue 17): prunes delivered bodies and peaks past their period; off by default.
    retention_ = std::make_unique<RetentionService>(store_, config_.retention);
    retention_->start();
    // HTTP(S) last: once /health answers, every listener is up (the sockets were bound above, so
    // a client that comes early waits in the backlog instead of being refused).
    if (https_) https_->start();
    http_->start();
    for (const auto& [c, version] : activatedAtStart) {
      onMappingSetActivated(c->orgId, boundSet(*c), version);
    }
    Status audited = store_->appendAudit({"default", "engine", "engine.started", "engine",
                                          std::string("{\"version\":\"") + kVersion + "\"}"});
    if (!audited.isOk()) logError(logger(), "start: not audited: {}", audited.toString());
    logInfo(logger(),
            "labgated {} started: data in {}, HTTP on {}:{}{}, {} connector(s), "
            "{} destination(s)",
            std::string(kVersion), config_.dataDir, config_.httpHost, config_.httpPort,
            config_.httpsHost.empty()
                ? std::string()
                : ", HTTPS on " + config_.httpsHost + ":" + std::to_string(config_.httpsPort),
            sources_.size(), workers_.size());
    return Status::ok();
  }

  void stop() {
    // The HTTP server first: upload requests run on its threads and use the sources.
    for (auto* server : {&https_, &http_}) {
      if (*server) (*server)->stop();
    }
    httpPool_.joinAll();
    https_.reset();
    http_.reset();
    if (retention_) retention_->stop();  // finishes the transaction in progress
    retention_.reset();
    if (backups_) backups_->stop();  // waits for a backup in progress
    backups_.reset();
    // Every listener stops accepting at once; each then waits for its connections to finish the
    // message they are in (a commit in progress completes and is answered, a partial message is
    // dropped unanswered and sent again by the instrument). The store drains its writer last.
    std::vector<std::thread> stopping;
    for (auto& s : sources_) stopping.emplace_back([&s] { s->stop(); });
    for (auto& t : stopping) t.join();
    for (auto& w : workers_) w->stop();
    if (store_) {
      Status audited = store_->appendAudit({"default", "engine", "engine.stopped", "engine", "{}"});
      if (!audited.isOk()) logError(logger(), "stop: not audited: {}", audited.toString());
    }
    // The forwarders last, after a short chance to send what is left (engine.stopped); what they
    // could not send goes at the next start.
    if (store_ && !forwarders_.empty()) {
      const int64_t last = AuditLog(store_).lastId();
      for (auto& f : forwarders_) f->flush(last, 2000);
    }
    for (auto& f : forwarders_) f->stop();
    forwarders_.clear();
    connectorInfo_.clear();
    api_.reset();
    reevaluator_.reset();
    profiles_.clear();
    sources_.clear();
    workers_.clear();
    pipeline_.reset();
    mappingSets_.reset();
    store_.reset();
  }

  Poco::JSON::Object::Ptr health() const {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    Poco::JSON::Array::Ptr connectors = new Poco::JSON::Array;
    Poco::JSON::Array::Ptr destinations = new Poco::JSON::Array;
    bool degraded = false;
    for (const auto& s : sources_) {
      Poco::JSON::Object::Ptr c = s->health();
      // A connector with a fault (e.g. a watched folder's processed/ replaced by a link) takes
      // nothing until it is mended; the others serve on.
      degraded = degraded || c->optValue<std::string>("state", "") == "fault";
      connectors->add(c);
    }
    Poco::JSON::Array::Ptr leases = new Poco::JSON::Array;  // the queues this node delivers
    for (const auto& w : workers_) {
      Poco::JSON::Object::Ptr d = w->health();
      degraded = degraded || d->getValue<std::string>("state") == "retrying";
      Poco::JSON::Object::Ptr lease = d->getObject("lease");
      if (lease && lease->optValue<bool>("held", false))
        leases->add(d->getValue<std::string>("name"));
      destinations->add(d);
    }
    // Audit forwarding: events not yet forwarded and the oldest's age (docs/audit.md).
    Poco::JSON::Array::Ptr forwarding = new Poco::JSON::Array;
    for (const auto& f : forwarders_) {
      Poco::JSON::Object::Ptr item = f->health();
      degraded = degraded || item->getValue<std::string>("state") == "retrying";
      forwarding->add(item);
    }
    // "degraded": the engine accepts and stores, but some destination cannot deliver right now,
    // some audit forwarder cannot forward, or some connector has a fault.
    out->set("status", degraded ? "degraded" : "ok");
    out->set("version", kVersion);
    out->set("node", config_.nodeId);
    out->set("store", store_ ? store_->backendName() : std::string());
    out->set("leases", leases);
    out->set("connectors", connectors);
    out->set("destinations", destinations);
    if (!forwarders_.empty()) out->set("audit_forwarding", forwarding);
    if (backups_) {
      std::optional<int64_t> last = backups_->lastSuccess();
      out->set("last_backup_at",
               last ? Poco::Dynamic::Var(Poco::DateTimeFormatter::format(
                          Poco::Timestamp::fromEpochTime(*last), "%Y-%m-%dT%H:%M:%SZ"))
                    : Poco::Dynamic::Var());
    }
    return out;
  }

  // ---- api::EngineView -----------------------------------------------------------------------
  std::vector<ConnectorInfo> connectorInfo() const override { return connectorInfo_; }
  Poco::JSON::Object::Ptr connectorHealth(const std::string& name) const override {
    for (size_t i = 0; i < connectorInfo_.size() && i < sources_.size(); ++i) {
      if (connectorInfo_[i].name == name) return sources_[i]->health();
    }
    return nullptr;
  }
  std::map<std::string, std::string> destinationOrgs() const override {
    std::map<std::string, std::string> out;
    for (const auto& d : config_.destinations) out[d.name] = d.orgId;
    return out;
  }
  Poco::JSON::Object::Ptr destinationHealth(const std::string& name) const override {
    for (size_t i = 0; i < config_.destinations.size() && i < workers_.size(); ++i) {
      if (config_.destinations[i].name == name) return workers_[i]->health();
    }
    return nullptr;
  }
  api::BackupControl* backups() const override { return backups_.get(); }
  std::shared_ptr<const security::SigningKey> signingKey() const override { return signingKey_; }
  std::vector<OutboundDraft> renderRelease(const std::string& connector,
                                           const Message& released) const override {
    // The connector's current profile names its destinations; each renders the released part
    // as it renders auto-released results (Pipeline::commitBuilt).
    std::vector<OutboundDraft> out;
    for (size_t i = 0; i < config_.connectors.size() && i < profiles_.size(); ++i) {
      if (config_.connectors[i].name != connector) continue;
      std::shared_ptr<const ConnectorProfile> profile = profiles_[i]->get();
      for (const std::string& name : profile->destinations) {
        auto it = destinations_.find(name);
        if (it == destinations_.end()) continue;
        std::string controlId = newControlId();
        out.push_back(
            {name, controlId, it->second->render(released, controlId, profile->instrument)});
      }
    }
    return out;
  }
  void wakeDelivery() const override {
    for (const auto& w : workers_) w->wake();
  }
  std::string identifyingPattern(const std::string& text) const override {
    if (!phiGate_ || text.empty()) return "";
    // One record of a type no structural rule names: only the patterns run over the text.
    Document document;
    document.format = SourceFormat::kHl7;
    Record record;
    record.type = "free-text";
    record.fields.resize(2);
    record.fields[0] = Field(record.type, record.type);
    record.fields[1] = Field(text, text);
    document.records.push_back(std::move(record));
    phi::Screening screening = phiGate_->screen(document, phi::Policy::kRefuse);
    return screening.clean() ? "" : screening.hits.front().patternId;
  }
  std::optional<CalibrationCurveView> calibrationCurve(const std::string& orgId,
                                                       const std::string& connector,
                                                       const Message& batch,
                                                       const std::string& analyte) const override {
    for (size_t i = 0; i < config_.connectors.size() && i < profiles_.size(); ++i) {
      const ConnectorConfig& c = config_.connectors[i];
      if (c.name != connector || c.orgId != orgId) continue;
      std::shared_ptr<const ConnectorProfile> profile = profiles_[i]->get();
      if (!profile->rules) return std::nullopt;
      return profile->rules->calibrationCurve(batch, analyte);
    }
    return std::nullopt;
  }
  ParsedMappings parseMappings(std::string_view bytes, const std::string& source) const override {
    if (!registry_.mappingParser()) return api::EngineView::parseMappings(bytes, source);
    return registry_.mappingParser()(bytes, source);
  }
  /// Hot swap: every connector bound to the set gets a profile with the new version's stage; a
  /// message in progress finishes with the profile it started with.
  void mappingSetActivated(const std::string& orgId, const std::string& name,
                           int64_t version) const override {
    {
      std::lock_guard<std::mutex> lock(reloadMutex_);
      for (size_t i = 0; i < config_.connectors.size() && i < profiles_.size(); ++i) {
        const ConnectorConfig& c = config_.connectors[i];
        if (c.orgId != orgId || boundSet(c) != name) continue;
        StatusOr<std::shared_ptr<const MappingStage>> stage = storedStage(c);
        if (!stage.isOk()) {
          logError(logger(), "connector {} keeps its previous mappings: {}", c.name,
                   stage.status().toString());
          continue;
        }
        auto profile = std::make_shared<ConnectorProfile>(*profiles_[i]->get());
        profile->mappings = stage.value();
        profiles_[i]->set(profile);
        logInfo(logger(), "connector {}: mapping set {} version {} in use for the next message",
                c.name, name, static_cast<Poco::Int64>(version));
      }
    }
    onMappingSetActivated(orgId, name, version);
  }
  Reevaluator* reevaluator() const override { return reevaluator_.get(); }
  std::vector<ReevaluationOutcome> reevaluateHeldForMapping(
      const std::string& orgId, const std::vector<std::string>& connectors,
      const std::string& actor, const std::string& reason) {
    if (!reevaluator_) return {};
    return reevaluator_->reevaluateHeldForMapping(orgId, connectors, actor, reason);
  }

  /// SIGHUP: every connector's mapping set and rule set read again from the configured files and
  /// swapped in whole; a connector whose files fail keeps its previous profile. One audit event
  /// "config.reloaded" per organisation names what was reloaded (rule-set versions) and kept.
  Status reload() {
    std::vector<std::pair<const ConnectorConfig*, int64_t>> activated;  // file versions activated
    Status first;
    {
      std::lock_guard<std::mutex> lock(reloadMutex_);
      if (!store_) return Status::unavailable("engine", "not running");
      first = reloadLocked(activated);
    }
    for (const auto& [c, version] : activated) {
      onMappingSetActivated(c->orgId, boundSet(*c), version);
    }
    return first;
  }

  Status reloadLocked(std::vector<std::pair<const ConnectorConfig*, int64_t>>& activated) {
    Status first;
    size_t reloadedCount = 0;
    std::map<std::string, std::pair<std::string, std::string>> byOrg;  // reloaded, kept (JSON)
    auto keep = [&](const ConnectorConfig& c, const Status& why) {
      logError(logger(), "reload: connector {} keeps its previous mappings and rules: {}", c.name,
               why.toString());
      if (first.isOk()) first = why;
      std::string& kept = byOrg[c.orgId].second;
      kept += (kept.empty() ? "{\"connector\":" : ",{\"connector\":") + jsonLogString(c.name) +
              ",\"error\":" + jsonLogString(why.toString()) + "}";
    };
    // First every connector's files (a changed mapping file becomes the active version of its
    // set), then each connector binds its set's active version: a set may be shared.
    std::vector<std::optional<ConnectorProfile>> built(config_.connectors.size());
    for (size_t i = 0; i < config_.connectors.size() && i < profiles_.size(); ++i) {
      const ConnectorConfig& c = config_.connectors[i];
      StatusOr<ConnectorProfile> profile = buildConnectorProfile(c, registry_);
      if (!profile.isOk()) {
        keep(c, profile.status());
        continue;
      }
      StatusOr<std::optional<int64_t>> imported = importMappingFile(c);
      if (!imported.isOk()) {
        keep(c, imported.status());
        continue;
      }
      if (imported.value()) activated.emplace_back(&c, *imported.value());
      built[i] = std::move(profile).value();
    }
    for (size_t i = 0; i < built.size(); ++i) {
      if (!built[i]) continue;
      const ConnectorConfig& c = config_.connectors[i];
      if (registry_.mappingParser()) {
        StatusOr<std::shared_ptr<const MappingStage>> stage = storedStage(c);
        if (!stage.isOk()) {
          keep(c, stage.status());
          continue;
        }
        built[i]->mappings = stage.value();
      }
      auto profile = std::make_shared<const ConnectorProfile>(std::move(*built[i]));
      const std::string version = profile->rules ? profile->rules->version() : "";
      profiles_[i]->set(profile);
      ++reloadedCount;
      std::string& reloaded = byOrg[c.orgId].first;
      reloaded += (reloaded.empty() ? "{\"connector\":" : ",{\"connector\":") +
                  jsonLogString(c.name) + ",\"mappings\":" + jsonLogString(c.mappingsPath) +
                  ",\"mapping_set\":" + jsonLogString(boundSet(c)) +
                  ",\"rules\":" + jsonLogString(c.rulesPath) +
                  ",\"rules_version\":" + jsonLogString(version) + "}";
    }
    for (const auto& [org, lists] : byOrg) {
      Status audited = store_->appendAudit(
          {org, "engine", "config.reloaded", "engine",
           "{\"reloaded\":[" + lists.first + "],\"kept\":[" + lists.second + "]}"});
      if (!audited.isOk()) logError(logger(), "reload: not audited: {}", audited.toString());
    }
    metrics::configReloads().inc({first.isOk() ? "ok" : "error"});
    if (first.isOk()) {
      logInfo(logger(), "reload: mapping sets and rule sets reloaded");
    } else if (reloadedCount == 0) {
      logError(logger(),
               "reload failed: no connector was reloaded, every one keeps its previous mappings "
               "and rules (see above)");
    } else {
      logWarning(logger(),
                 "reload: mapping sets and rule sets reloaded in part: {} of {} connector(s) "
                 "reloaded, the others keep their previous ones (see above)",
                 reloadedCount, config_.connectors.size());
    }
    return first;
  }

  void route(const Engine& self, Poco::Net::HTTPServerRequest& request,
             Poco::Net::HTTPServerResponse& response) {
    using Poco::Net::HTTPResponse;
    const std::string path = Poco::URI(request.getURI()).getPath();
    // /health, /ready and /metrics need no credentials: they carry names and counts only.
    if (path == "/health" || path == "/ready" || path == "/metrics") {
      if (request.getMethod() != "GET" && request.getMethod() != "HEAD") {
        response.set("Allow", "GET, HEAD");
        sendProblem(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed",
                    path + " answers GET");
      } else if (path == "/health") {
        sendJson(response, HTTPResponse::HTTP_OK, self.health());
      } else if (path == "/ready") {
        Readiness ready = checkReadiness(*self.health(), store_.get());
        sendJson(response,
                 ready.ready ? HTTPResponse::HTTP_OK : HTTPResponse::HTTP_SERVICE_UNAVAILABLE,
                 ready.body);
      } else {
        const std::string text = renderMetrics(*self.health(), store_.get());
        response.setStatus(HTTPResponse::HTTP_OK);
        response.setContentType("text/plain; version=0.0.4; charset=utf-8");
        response.set("Cache-Control", "no-store");
        response.setContentLength(static_cast<std::streamsize>(text.size()));
        response.send() << text;
      }
    } else if (api_ && api::Api::handles(path)) {
      api_->handle(request, response);
    } else if (ConsoleFiles::handles(path)) {
      console_.serve(request, response, path);
    } else {
      sendProblem(response, HTTPResponse::HTTP_NOT_FOUND, "Not Found", "no resource at " + path);
    }
  }

 private:
  static Status prefixed(const std::string& key, const Status& s) {
    return Status::config(key, s.toString());
  }

  /// The mapping set a connector runs: connector.NAME.mapping_set, or the set its file
  /// (connector.NAME.mappings) is stored as.
  static std::string boundSet(const ConnectorConfig& c) {
    return c.mappingSet.empty() ? mappingSetNameOfFile(c.mappingsPath) : c.mappingSet;
  }
  static std::string mappingKey(const ConnectorConfig& c) {
    return "connector." + c.name + (c.mappingSet.empty() ? ".mappings" : ".mapping_set");
  }

  /// The stage of the connector's set's active version; a set with none active yet maps nothing
  /// (every code unmapped, so held), said in the log.
  StatusOr<std::shared_ptr<const MappingStage>> storedStage(const ConnectorConfig& c) const {
    const std::string set = boundSet(c);
    std::optional<MappingSetVersion> active = mappingSets_->activeVersion(c.orgId, set);
    const std::string empty = "instrument_code,lis_code,lis_name,units,decimals\n";
    const std::string source =
        active ? set + " version " + std::to_string(active->version) : set + " (none active)";
    if (!active) {
      logWarning(logger(),
                 "connector {}: mapping set {} has no active version yet: every code is unmapped "
                 "and held until a version is uploaded and activated",
                 c.name, set);
    }
    ParsedMappings parsed = registry_.mappingParser()(active ? active->csv : empty, source);
    if (!parsed.problems.empty() || !parsed.stage) {
      const MappingProblemInfo p =
          parsed.problems.empty() ? MappingProblemInfo{} : parsed.problems.front();
      return Status::config(mappingKey(c), source + ":" + std::to_string(p.line) + ": " +
                                               p.message + " (the stored version does not parse)");
    }
    return parsed.stage;
  }

  /// connector.NAME.mappings: the file stored as a new version of its set and activated when it
  /// changed since the configuration stored it last. The version activated, or nullopt (also for
  /// a connector bound to a stored set, and without a registered mapping parser).
  StatusOr<std::optional<int64_t>> importMappingFile(const ConnectorConfig& c) {
    if (!registry_.mappingParser() || !c.mappingSet.empty()) return std::optional<int64_t>();
    std::ifstream in(c.mappingsPath, std::ios::binary);
    if (!in) return Status::config(mappingKey(c), "cannot read " + c.mappingsPath);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ParsedMappings parsed = registry_.mappingParser()(bytes, c.mappingsPath);
    if (!parsed.problems.empty()) {
      const MappingProblemInfo& p = parsed.problems.front();
      return Status::config(mappingKey(c),
                            c.mappingsPath + ":" + std::to_string(p.line) + ": " + p.message);
    }
    StatusOr<std::optional<int64_t>> imported =
        mappingSets_->importFile(c.orgId, boundSet(c), parsed.text,
                                 static_cast<int64_t>(parsed.rows.size()), c.mappingsPath);
    if (!imported.isOk()) return prefixed(mappingKey(c), imported.status());
    if (imported.value()) {
      logInfo(logger(), "connector {}: {} changed: version {} of mapping set {} activated", c.name,
              c.mappingsPath, static_cast<Poco::Int64>(*imported.value()), boundSet(c));
    }
    return imported;
  }

  /// After a version of a set was activated (through the API or a changed file): the held
  /// results of the connectors bound to the set that wait only for a mapping are evaluated again
  /// with it (docs/adr/0014-reevaluation.md); newly releasable ones are queued as usual.
  void onMappingSetActivated(const std::string& orgId, const std::string& setName,
                             int64_t version) const {
    const std::vector<std::string> connectors = connectorsBoundTo(orgId, setName);
    if (connectors.empty() || !reevaluator_) return;
    const std::string reason =
        "mapping set " + setName + " version " + std::to_string(version) + " activated";
    std::vector<ReevaluationOutcome> outcomes =
        reevaluator_->reevaluateHeldForMapping(orgId, connectors, "engine", reason);
    int64_t released = 0;
    for (const ReevaluationOutcome& o : outcomes) released += o.released;
    if (!outcomes.empty()) {
      logInfo(logger(), "{}: {} held batch(es) evaluated again, {} result(s) released", reason,
              outcomes.size(), static_cast<Poco::Int64>(released));
    }
  }

  /// The connectors of `orgId` that run mapping set `setName`, in config order.
  std::vector<std::string> connectorsBoundTo(const std::string& orgId,
                                             const std::string& setName) const {
    std::vector<std::string> out;
    for (const ConnectorConfig& c : config_.connectors) {
      if (c.orgId == orgId && boundSet(c) == setName) out.push_back(c.name);
    }
    return out;
  }

  EngineConfig config_;
  const Registry& registry_;
  ConsoleFiles console_{config_.consoleDir};  // the browser console at / (console.dir)
  std::shared_ptr<Store> store_;
  std::shared_ptr<Pipeline> pipeline_;
  std::vector<std::unique_ptr<DeliveryWorker>> workers_;
  std::vector<std::unique_ptr<AuditForwarder>> forwarders_;  // audit.forward, in listed order
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<ConnectorInfo> connectorInfo_;  // in config order, parallel to sources_

  // Each connector's profile, in config order: reload() swaps them.
  std::vector<std::shared_ptr<ProfileSlot>> profiles_;
  mutable std::mutex reloadMutex_;  // reloads and mapping-set activations, one at a time
  std::unique_ptr<MappingSetStore> mappingSets_;  // mapping sets stored in the database
  std::unique_ptr<api::Api> api_;
  std::unique_ptr<Reevaluator> reevaluator_;     // held results evaluated again (issue 14)
  std::unique_ptr<BackupService> backups_;       // when security.key_file is set
  std::unique_ptr<RetentionService> retention_;  // retention.* (issue 17)
  std::shared_ptr<const security::SigningKey> signingKey_;  // electronic signatures
  std::shared_ptr<const phi::PhiGate> phiGate_;             // also screens reasons people write
  Pipeline::DestinationMap destinations_;                   // QA release renders through them
  Poco::ThreadPool httpPool_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<HttpServer> https_;
};

Engine::Engine(EngineConfig config, const Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(config), registry)) {}
Engine::~Engine() { stop(); }
Status Engine::start() { return impl_->start(*this); }
void Engine::stop() { impl_->stop(); }
Status Engine::reload() { return impl_->reload(); }
std::vector<ReevaluationOutcome> Engine::reevaluateHeldForMapping(
    const std::string& orgId, const std::vector<std::string>& connectors, const std::string& actor,
    const std::string& reason) {
  return impl_->reevaluateHeldForMapping(orgId, connectors, actor, reason);
}
Poco::JSON::Object::Ptr Engine::health() const { return impl_->health(); }

Status configureLogging(const EngineConfig& config) {
  Poco::AutoPtr<Poco::SplitterChannel> splitter(new Poco::SplitterChannel);
  Poco::AutoPtr<Poco::Formatter> formatter;
  if (config.logFormat == "json") {
    formatter = new JsonLineFormatter;  // log.format = json: one object per line
  } else {
    formatter = new TextLineFormatter;
  }
  // The log directory and file are the owner's only (0700, 0600) whatever the umask; an existing
  // log file with group/other bits is tightened, said once the log is open.
  std::string notice;
  {
    const std::string dir = Poco::Path(config.logFile).parent().toString();
    const std::string made = security::createPrivateDirectories(dir);
    if (!made.empty())
      return Status::config("log.file", "cannot open " + config.logFile + ": " + made);
    security::PrivateFile privateFile = security::ensurePrivateFile(config.logFile);
    if (!privateFile.error.empty()) {
      return Status::config("log.file", privateFile.error);
    }
    notice = privateFile.notice;
  }
  try {
    Poco::AutoPtr<Poco::FileChannel> file(new Poco::FileChannel(config.logFile));
    file->setProperty("rotation", config.logRotation);
    file->setProperty("archive", "number");
    file->setProperty("times", "utc");
    // log.keep: a number of archives, or their maximum age ("30 days"); "none" keeps them all.
    const bool count = config.logKeep.find_first_not_of("0123456789") == std::string::npos;
    if (config.logKeep != "none") {
      file->setProperty(count ? "purgeCount" : "purgeAge", config.logKeep);
    }
    file->open();
    splitter->addChannel(new Poco::FormattingChannel(formatter, file));
  } catch (const Poco::Exception& e) {
    return Status::config("log.file", "cannot open " + config.logFile + ": " + e.displayText());
  }
  if (config.logConsole) {
    splitter->addChannel(new Poco::FormattingChannel(formatter, new Poco::ConsoleChannel));
  }
  Poco::Logger::root().setChannel(splitter);
  Poco::Logger::root().setLevel(config.logLevel);
  // Loggers created before this point keep their old channel: set it on all of them.
  std::vector<std::string> names;
  Poco::Logger::names(names);
  for (const auto& name : names) {
    Poco::Logger::get(name).setChannel(splitter);
    Poco::Logger::get(name).setLevel(config.logLevel);
  }
  // log.level.COMPONENT: that logger and the ones below it (created now if need be, so that a
  // logger made later inherits the level).
  for (const auto& [component, level] : config.logLevels) {
    Poco::Logger::get(component).setLevel(level);
    Poco::Logger::setLevel(component, Poco::Logger::parseLevel(level));
  }
  if (!notice.empty()) logWarning(Poco::Logger::get("engine"), "{}", "log file: " + notice);
  return Status::ok();
}

}  // namespace labgate
