// labgated: the LabGate engine. Reads the configuration, starts the engine, serves until
// SIGTERM or SIGINT, then stops cleanly; SIGHUP reloads the mapping sets and rule sets.
// Configuration errors go to stderr as one line naming the key or file, with exit code 78
// (EX_CONFIG). `--check-config` validates everything and exits 0 ("configuration OK") or 1.
// The umask is 077: every file and directory it creates is the service user's only.
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionException.h>
#include <Poco/Util/OptionProcessor.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>
#include <pthread.h>
#include <sys/stat.h>

#include <csignal>
#include <iostream>

#include "engine/log/log.h"
#include "engine/service/config.h"
#include "labgate/version.h"
#include "server/check_config.h"
#include "server/engine.h"
#include "server/plugins.h"

namespace {

constexpr int kExitConfig = 78;

class LabgateDaemon : public Poco::Util::ServerApplication {
 public:
  /// A usage error in the arguments (an unknown option, a missing argument), "" when none.
  /// POCO would log it without a prefix and exit 78 (EX_CONFIG); a usage error is 64.
  std::string usageError(int argc, char** argv) {
    Poco::Util::OptionSet options;
    defineOptions(options);
    Poco::Util::OptionProcessor processor(options);
    processor.setUnixStyle(true);
    try {
      for (int i = 1; i < argc; ++i) {
        std::string name, value;
        processor.process(argv[i], name, value);
      }
      processor.checkRequired();
    } catch (const Poco::Util::OptionException& e) {
      return e.displayText();
    }
    return {};
  }

 protected:
  void defineOptions(Poco::Util::OptionSet& options) override {
    ServerApplication::defineOptions(options);
    options.addOption(Poco::Util::Option("config", "c",
                                         "configuration file (default "
                                         "config/labgate.properties)")
                          .required(false)
                          .repeatable(false)
                          .argument("FILE")
                          .callback(Poco::Util::OptionCallback<LabgateDaemon>(
                              this, &LabgateDaemon::setConfigPath)));
    options.addOption(
        Poco::Util::Option("help", "h", "show this help and exit")
            .callback(Poco::Util::OptionCallback<LabgateDaemon>(this, &LabgateDaemon::showHelp)));
    options.addOption(
        Poco::Util::Option("check-config", "",
                           "validate the configuration and every file it names, without "
                           "opening listeners or the store; exit 0 when it is OK, 1 otherwise")
            .callback(Poco::Util::OptionCallback<LabgateDaemon>(this, &LabgateDaemon::setCheck)));
    options.addOption(Poco::Util::Option("version", "v", "print the version and exit")
                          .callback(Poco::Util::OptionCallback<LabgateDaemon>(
                              this, &LabgateDaemon::showVersion)));
  }

  int main(const std::vector<std::string>&) override {
    if (stopEarly_) return EXIT_OK;
    if (checkOnly_) return checkConfig();
    std::signal(SIGPIPE, SIG_IGN);  // a peer that hangs up is a socket error, not a crash
    // SIGTERM, SIGINT, SIGQUIT and SIGHUP are blocked before any thread starts (threads inherit
    // the mask) and taken by sigwait below: a stock ServerApplication would die on SIGHUP
    // (POCO-NOTES 2), and a signal must never land on a worker thread.
    sigset_t signals = handledSignals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    labgate::StatusOr<labgate::EngineConfig> config = labgate::loadEngineConfig(configPath_);
    if (!config.isOk()) return fail(config.status());
    labgate::Status logging = labgate::configureLogging(config.value());
    if (!logging.isOk()) return fail(logging);
    for (const std::string& warning : config.value().warnings) {
      labgate::logWarning(Poco::Logger::get("engine"), "configuration: {}", warning);
    }

    labgate::Registry registry;
    labgate::registerPlugins(registry);
    labgate::Engine engine(config.value(), registry);
    labgate::Status started = engine.start();
    if (!started.isOk()) {
      engine.stop();
      // Start-up errors name the configuration file and the key, as loading errors do.
      if (started.code() == labgate::Status::Code::kConfig) {
        started =
            labgate::Status::config(configPath_ + ": " + started.location(), started.reason());
      }
      return fail(started);
    }
    int signal = 0;
    siginfo_t info{};
    for (;;) {
      signal = sigwaitinfo(&signals, &info);
      if (signal < 0) continue;  // EINTR
      if (signal != SIGHUP) break;
      labgate::logInfo(Poco::Logger::get("engine"),
                       "SIGHUP from pid {}: reloading mapping sets and rule sets",
                       static_cast<int>(info.si_pid));
      // Ignored on purpose: reload() logs every file that fails, and that connector keeps the old
      // one.
      (void)engine.reload();
    }
    labgate::logInfo(Poco::Logger::get("engine"), "stopping on {} from pid {}",
                     std::string(sigabbrev(signal)), static_cast<int>(info.si_pid));
    engine.stop();
    labgate::logInfo(Poco::Logger::get("engine"), "stopped");
    return EXIT_OK;
  }

 private:
  void setConfigPath(const std::string&, const std::string& value) { configPath_ = value; }
  void setCheck(const std::string&, const std::string&) { checkOnly_ = true; }

  static sigset_t handledSignals() {
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&signals, s);
    return signals;
  }

  static const char* sigabbrev(int signal) {
    switch (signal) {
      case SIGTERM:
        return "SIGTERM";
      case SIGINT:
        return "SIGINT";
      case SIGQUIT:
        return "SIGQUIT";
      default:
        return "a signal";
    }
  }

  /// --check-config: what start() would read, nothing opened; one line on stdout or stderr.
  int checkConfig() {
    labgate::StatusOr<labgate::EngineConfig> config = labgate::loadEngineConfig(configPath_);
    labgate::Status status = config.status();
    if (config.isOk()) {
      labgate::Registry registry;
      labgate::registerPlugins(registry);
      status = labgate::checkConfiguration(config.value(), registry);
      if (!status.isOk()) {
        status = labgate::Status::config(configPath_ + ": " + status.location(), status.reason());
      }
    }
    if (!status.isOk()) {
      std::cerr << "labgated: " << status.toString() << std::endl;
      return 1;
    }
    for (const std::string& warning : config.value().warnings) {
      std::cerr << "labgated: warning: " << configPath_ << ": " << warning << std::endl;
    }
    std::cout << "labgated: " << configPath_ << ": configuration OK" << std::endl;
    return EXIT_OK;
  }

  void showHelp(const std::string&, const std::string&) {
    Poco::Util::HelpFormatter help(options());
    help.setCommand(commandName());
    help.setUsage("[--config FILE] [--check-config]");
    help.setHeader(
        "LabGate engine: receives instrument results, refuses patient-identifying data, maps "
        "codes, applies the rule sets, stores durably and forwards to the LIS. Connector kinds "
        "(connector.NAME.kind): astm-tcp (ASTM E1381/E1394 over TCP), hl7-mllp (HL7 v2 ORU^R01 "
        "and OUL^R22 over MLLP, plain or TLS), file-drop (LC-MS/MS batch exports from a watched "
        "folder) and upload (batch exports by POST /api/v1/uploads). Destination kind: hl7-mllp "
        "(HL7 v2.5.1 ORU^R01 to the LIS).");
    help.setFooter(
        "REST API (docs/api.md, docs/openapi.yaml): accounts, sessions, API keys, samples and "
        "results, uploads, diagnostics, audit trail, backups; with GET /health, /ready and "
        "/metrics on http.listen / https.listen. Configuration keys: docs/configuration.md. "
        "SIGHUP reloads the mapping sets and rule sets; SIGTERM stops cleanly.\n"
        "Environment: LABGATE_ADMIN_PASSWORD creates the first administrator (user admin of "
        "organisation default) when the store has no user.\n"
        "Exit status: 0 stopped cleanly (--check-config: the configuration is OK); 1 "
        "--check-config found an error; 64 usage error (an unknown option); 78 configuration "
        "error at start-up (one line naming the file and key).");
    help.format(std::cout);
    stopEarly_ = true;
    stopOptionsProcessing();
  }

  void showVersion(const std::string&, const std::string&) {
    std::cout << "labgated " << labgate::kVersion << "\n";
    stopEarly_ = true;
    stopOptionsProcessing();
  }

  int fail(const labgate::Status& status) {
    std::cerr << "labgated: " << status.toString() << std::endl;
    return kExitConfig;
  }

  std::string configPath_ = "config/labgate.properties";
  bool stopEarly_ = false;
  bool checkOnly_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  // Everything labgated creates (the database and its -wal/-shm, logs, backups, spool and body
  // files, the watched folder's processed/ and rejected/) is the service user's only, also when
  // it is started outside systemd (whose unit sets UMask=0077 as well). First, before anything
  // is created.
  ::umask(077);
  LabgateDaemon daemon;
  if (std::string usage = daemon.usageError(argc, argv); !usage.empty()) {
    std::cerr << "labgated: " << usage << " (try labgated --help)" << std::endl;
    return 64;  // EX_USAGE
  }
  try {
    return daemon.run(argc, argv);
  } catch (const Poco::Exception& e) {
    std::cerr << "labgated: " << e.displayText() << std::endl;
    return 64;  // EX_USAGE: e.g. an unknown option
  }
}
