// Rule sets: the JSON files in config/rules/ that say which analytics checks run for a
// connector's batches, with which limits, per analyte (docs/rules.md). Validated strictly at
// start-up; versioned (the version is stored with every decision).
#pragma once

#include <memory>
#include <string>

#include "engine/model/rules_stage.h"
#include "engine/model/status.h"

namespace labgate::rules {

/// Reads, checks and compiles a rule set file (and the Lua scripts it names). Errors are
/// Status::config naming the file and the key, e.g. `config/rules/x.json: analytes.CORT.qc.rules:
/// unknown rule "2_5s"`.
StatusOr<std::shared_ptr<const RulesStage>> loadRuleSet(const std::string& path);

/// As loadRuleSet, from JSON text; `sourceName` names it in errors; relative Lua paths are taken
/// from the working directory.
StatusOr<std::shared_ptr<const RulesStage>> parseRuleSet(const std::string& json,
                                                         const std::string& sourceName);

}  // namespace labgate::rules
