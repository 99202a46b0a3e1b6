// labgated: the LabGate engine. Reads the configuration, starts the engine, serves until
// SIGTERM or SIGINT, then stops cleanly. Configuration errors go to stderr as one line naming
// the key or file, with exit code 78 (EX_CONFIG).
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include <csignal>
#include <iostream>

#include "engine/service/config.h"
#include "engine/service/engine.h"
#include "labgate/version.h"

namespace {

constexpr int kExitConfig = 78;

class LabgateDaemon : public Poco::Util::ServerApplication {
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
    options.addOption(Poco::Util::Option("version", "v", "print the version and exit")
                          .callback(Poco::Util::OptionCallback<LabgateDaemon>(
                              this, &LabgateDaemon::showVersion)));
  }

  int main(const std::vector<std::string>&) override {
    if (stopEarly_) return EXIT_OK;
    std::signal(SIGPIPE, SIG_IGN);  // a peer that hangs up is a socket error, not a crash
    std::signal(SIGHUP, SIG_IGN);   // a stock ServerApplication would die on it (POCO-NOTES 2)

    labgate::StatusOr<labgate::EngineConfig> config = labgate::loadEngineConfig(configPath_);
    if (!config.isOk()) return fail(config.status());
    labgate::Status logging = labgate::configureLogging(config.value());
    if (!logging.isOk()) return fail(logging);

    labgate::Registry registry;
    labgate::registerBuiltinConnectors(registry);
    labgate::Engine engine(config.value(), registry);
    labgate::Status started = engine.start();
    if (!started.isOk()) {
      engine.stop();
      return fail(started);
    }
    waitForTerminationRequest();
    Poco::Logger::get("engine").information("stopping on request");
    engine.stop();
    Poco::Logger::get("engine").information("stopped");
    return EXIT_OK;
  }

 private:
  void setConfigPath(const std::string&, const std::string& value) { configPath_ = value; }

  void showHelp(const std::string&, const std::string&) {
    Poco::Util::HelpFormatter help(options());
    help.setCommand(commandName());
    help.setUsage("[--config FILE]");
    help.setHeader(
        "LabGate engine: receives instrument results (ASTM over TCP), refuses patient-"
        "identifying data, maps codes, stores durably and forwards to the LIS (HL7 over MLLP).");
    help.setFooter(
        "Configuration keys: docs/configuration.md. GET /health and the REST API (docs/api.md) on "
        "http.listen / https.listen.\nEnvironment: LABGATE_ADMIN_PASSWORD creates the first "
        "administrator (user admin of organisation default) when the store has no user.");
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
};

}  // namespace

int main(int argc, char** argv) {
  LabgateDaemon daemon;
  try {
    return daemon.run(argc, argv);
  } catch (const Poco::Exception& e) {
    std::cerr << "labgated: " << e.displayText() << std::endl;
    return 64;  // EX_USAGE: e.g. an unknown option
  }
}
