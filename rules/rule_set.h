// Rule sets: the JSON files in config/rules/ that say which analytics checks run for a
// connector's batches, with which limits, per analyte (docs/rules.md). Validated strictly at
// start-up; versioned (the version is stored with every decision).
#pragma once

#include <memory>
#include <string>

#include "engine/model/rules_stage.h"
#include "engine/model/status.h"

namespace labgate::rules {

/// Reads, checks and compiles a rule set file (and the Lua scripts it names) for a connector:
/// labgated, `labgated --check-config` and `labgate dry-run` load rule sets through it. Errors are
/// Status::config naming the file and the key, e.g. `config/rules/x.json: analytes.CORT.qc.rules:
/// unknown rule "2_5s"`. Besides the file's own syntax it refuses a set that cannot serve a
/// connector: `qc.westgard` true (the default) with QC checks on and no analyte with qc_targets
/// (`config/rules/x.json: qc.westgard: qc.westgard is true ... but no analyte has qc_targets:
/// ...`).
StatusOr<std::shared_ptr<const RulesStage>> loadRuleSet(const std::string& path);

/// As loadRuleSet, from JSON text, without the start-up rule about Westgard targets (tests and
/// tools that evaluate a set they write themselves); `sourceName` names it in errors; relative Lua
/// paths are taken from the working directory.
StatusOr<std::shared_ptr<const RulesStage>> parseRuleSet(const std::string& json,
                                                         const std::string& sourceName);

}  // namespace labgate::rules
