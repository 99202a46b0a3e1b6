// Issue 19: every metric the shipped alert rules (packaging/prometheus/labgate.rules.yml) query is
// one the real labgated exports on GET /metrics. An alert on a misspelt metric never fires and
// promtool cannot tell (its tests feed the series they name): this test reads the names from the
// rules file and looks for each family's "# TYPE" line in a scrape of a running engine.
#include <regex>
#include <set>
#include <string>

#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"

namespace labgate::it {
namespace {

/// The labgate_* metric names in the `expr:` lines of the rules file.
std::set<std::string> metricsTheAlertsQuery(const std::string& rules) {
  std::set<std::string> names;
  const std::regex expr(R"(^\s*expr:\s*(.*)$)");
  const std::regex metric(R"(labgate_[a-z0-9_]+)");
  size_t start = 0;
  while (start < rules.size()) {
    size_t end = rules.find('\n', start);
    if (end == std::string::npos) end = rules.size();
    const std::string line = rules.substr(start, end - start);
    std::smatch m;
    if (std::regex_match(line, m, expr)) {
      const std::string text = m[1].str();
      for (auto it = std::sregex_iterator(text.begin(), text.end(), metric);
           it != std::sregex_iterator(); ++it) {
        names.insert(it->str());
      }
    }
    start = end + 1;
  }
  return names;
}

class AlertRulesTest : public EngineTest {};

TEST_F(AlertRulesTest, EveryMetricTheAlertsQueryIsExported) {
  const std::string rules = readFile(sourceDir() + "/packaging/prometheus/labgate.rules.yml");
  const std::set<std::string> names = metricsTheAlertsQuery(rules);
  ASSERT_GE(names.size(), 7u) << "the rules file names fewer metrics than it has alerts";

  ASSERT_NO_FATAL_FAILURE(startEngine());
  ApiResponse scrape = apiRequest("GET", config_.httpPort, "/metrics");
  ASSERT_EQ(scrape.status, 200);
  for (const std::string& name : names) {
    EXPECT_NE(scrape.body.find("# TYPE " + name + " "), std::string::npos)
        << name << " is queried by packaging/prometheus/labgate.rules.yml but not exported";
  }
}

}  // namespace
}  // namespace labgate::it
