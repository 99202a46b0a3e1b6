// Rule-set loading (see rule_set.h). PLACEHOLDER until the analytics modules land: a rule set
// with a version and nothing else.
#include "rules/rule_set.h"

#include <Poco/JSON/Parser.h>

#include <fstream>
#include <sstream>

namespace labgate::rules {
namespace {

class EmptyRuleSet : public RulesStage {
 public:
  explicit EmptyRuleSet(std::string version) : version_(std::move(version)) {}
  void evaluate(Message&, const RulesContext&) const override {}
  const std::string& version() const override { return version_; }

 private:
  std::string version_;
};

}  // namespace

StatusOr<std::shared_ptr<const RulesStage>> parseRuleSet(const std::string& json,
                                                         const std::string& sourceName) {
  try {
    Poco::JSON::Parser parser;
    auto root = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
    std::string version = root->optValue<std::string>("version", "");
    if (version.empty()) return Status::config(sourceName, "version: required");
    return std::shared_ptr<const RulesStage>(std::make_shared<EmptyRuleSet>(version));
  } catch (const Poco::Exception& e) {
    return Status::config(sourceName, "not valid JSON: " + e.displayText());
  }
}

StatusOr<std::shared_ptr<const RulesStage>> loadRuleSet(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::config(path, "cannot open the rule set");
  std::ostringstream text;
  text << in.rdbuf();
  return parseRuleSet(text.str(), path);
}

}  // namespace labgate::rules
