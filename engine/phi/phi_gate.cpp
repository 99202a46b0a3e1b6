// The PHI gate's screening pass: structural rules by location, then the pattern set over each
// field's decoded text, minus matches covered by the allow-list. See phi_gate.h for the contract
// and docs/phi.md for the pattern file.
#include "engine/phi/phi_gate.h"

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <utility>

#include "engine/phi/normalize.h"
#include "engine/phi/rules.h"

namespace labgate::phi {
namespace {

struct Span {
  size_t begin;
  size_t end;
};

bool isBlank(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

bool hasAlnum(std::string_view text) {
  for (unsigned char c : text) {
    if (std::isalnum(c) || c >= 0x80) return true;
  }
  return false;
}

re2::StringPiece trimmed(re2::StringPiece text) {
  while (!text.empty() && (text[0] == ' ' || text[0] == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text[text.size() - 1] == ' ' || text[text.size() - 1] == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

/// Calls `visit(begin, end)` for each non-empty match of `re` in `text`, left to right. With
/// `overlapping`, the next search starts one byte after the previous match's start (so a match
/// hidden under an allowed one is still found); otherwise after its end. Stops when `visit`
/// returns false.
template <typename Visit>
void forEachMatch(const RE2& re, const re2::StringPiece& text, bool overlapping, Visit visit) {
  size_t pos = 0;
  re2::StringPiece match;
  while (pos < text.size() && re.Match(text, pos, text.size(), RE2::UNANCHORED, &match, 1)) {
    size_t begin = static_cast<size_t>(match.data() - text.data());
    size_t end = begin + match.size();
    if (end > begin && !visit(begin, end)) return;
    pos = overlapping || end == begin ? begin + 1 : end;
  }
}

class FieldScreen {
 public:
  /// `exemptOnly`: the field is listed under `exempt`; only screen_exempt patterns run.
  FieldScreen(const PhiGate::Rules& rules, std::string_view text, size_t format, bool exemptOnly)
      : rules_(rules), text_(text), formatBit_(1u << format), exemptOnly_(exemptOnly) {}

  /// Id of the first pattern with a match not covered by the allow-list, or null.
  const std::string* firstPattern() {
    std::vector<int> candidates = rules_.patterns.matching(text_);
    if (candidates.empty()) return nullptr;
    bool numeric = rules_.numericValue && RE2::FullMatch(trimmed(text_), *rules_.numericValue);
    for (int index : candidates) {
      const CompiledPattern& pattern = rules_.patterns.items[static_cast<size_t>(index)];
      if (pattern.numericId && numeric) continue;
      if ((pattern.formats & formatBit_) == 0) continue;
      if (exemptOnly_ && !pattern.screenExempt) continue;
      bool uncovered = false;
      forEachMatch(*pattern.re, text_, true, [&](size_t begin, size_t end) {
        uncovered = !allowed(begin, end);
        return !uncovered;
      });
      if (uncovered) return &pattern.id;
    }
    return nullptr;
  }

 private:
  /// True when [begin, end) lies inside one allow-list match.
  bool allowed(size_t begin, size_t end) {
    if (!allowSpansReady_) {
      allowSpansReady_ = true;
      for (int index : rules_.allows.matching(text_)) {
        forEachMatch(*rules_.allows.items[static_cast<size_t>(index)].re, text_, false,
                     [&](size_t b, size_t e) {
                       allowSpans_.push_back(Span{b, e});
                       return true;
                     });
      }
    }
    for (const Span& span : allowSpans_) {
      if (span.begin <= begin && end <= span.end) return true;
    }
    return false;
  }

  const PhiGate::Rules& rules_;
  re2::StringPiece text_;
  unsigned formatBit_;
  bool exemptOnly_;
  bool allowSpansReady_ = false;
  std::vector<Span> allowSpans_;
};

/// The first pattern that fires on `text` as sent or, when it holds anything but ASCII, on its
/// NFKC form or its ASCII fold (normalize.h): look-alike characters do not hide an identifier.
/// UTF-8 that was read as Latin-1 is screened again as the UTF-8 it was (with its forms). Each
/// form is screened on its own, with its own allow-list spans.
const std::string* firstPatternInForms(const PhiGate::Rules& rules, std::string_view text,
                                       size_t format, bool exemptOnly) {
  auto screenOne = [&](std::string_view form) {
    return FieldScreen(rules, form, format, exemptOnly).firstPattern();
  };
  if (const std::string* id = screenOne(text)) return id;
  if (isAscii(text)) return nullptr;
  auto screenNormalised = [&](std::string_view source) -> const std::string* {
    const std::string nfkc = nfkcForm(source);
    if (nfkc != source) {
      if (const std::string* id = screenOne(nfkc)) return id;
    }
    const std::string folded = foldedForm(nfkc);
    if (folded == nfkc || folded == source) return nullptr;
    return screenOne(folded);
  };
  if (const std::string* id = screenNormalised(text)) return id;
  const std::string reread = latin1Reread(text);
  if (reread.empty()) return nullptr;
  if (const std::string* id = screenOne(reread)) return id;
  return screenNormalised(reread);
}

bool isPlaceholder(const PhiGate::Rules& rules, std::string_view text) {
  re2::StringPiece value = trimmed(text);
  for (const auto& re : rules.placeholders) {
    if (RE2::FullMatch(value, *re)) return true;
  }
  return false;
}

/// The id of the first `columns` rule that matches `rawName`, or "".
std::string classifyName(const PhiGate::Rules& rules, const std::string& rawName) {
  re2::StringPiece trimmedName = trimmed(rawName);
  if (trimmedName.empty()) return "";
  // camelCase and snake_case names ("PatientName", "DateOfBirth", "patient_id", XML attribute
  // names) are matched as words: a space goes between a lower-case letter and an upper-case one.
  std::string spaced;
  spaced.reserve(trimmedName.size() + 8);
  for (size_t k = 0; k < trimmedName.size(); ++k) {
    char c = trimmedName[k];
    if (k > 0 && std::isupper(static_cast<unsigned char>(c)) &&
        std::islower(static_cast<unsigned char>(trimmedName[k - 1]))) {
      spaced.push_back(' ');
    }
    spaced.push_back(c);
  }
  re2::StringPiece name(spaced);
  std::vector<int> hits = rules.columns.matching(name);
  return hits.empty() ? "" : rules.columns.items[static_cast<size_t>(hits.front())].id;
}

/// The rules of one record type (null when the type has none): looked up once per record, not
/// once per field and rule kind.
const std::map<size_t, std::string>* rulesOfType(const FieldRules* rules, const std::string& type) {
  if (rules == nullptr) return nullptr;
  auto found = rules->find(type);
  return found == rules->end() ? nullptr : &found->second;
}

/// As findFieldRule() over the rules rulesOfType() found.
const std::string* ruleFor(const std::map<size_t, std::string>* byField, size_t field) {
  if (byField == nullptr) return nullptr;
  auto exact = byField->find(field);
  if (exact != byField->end()) return &exact->second;
  auto all = byField->find(kAllFields);
  return all == byField->end() ? nullptr : &all->second;
}

}  // namespace

StatusOr<Policy> parsePolicy(const std::string& text) {
  if (text == "refuse") return Policy::kRefuse;
  if (text == "strip") return Policy::kStrip;
  return Status::config("phi.policy",
                        "unknown PHI policy \"" + text + "\" (expected \"refuse\" or \"strip\")");
}

StatusOr<PhiGate> PhiGate::loadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::config(path, "cannot open the PHI pattern file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::config(path, "cannot read the PHI pattern file");
  return fromJson(text.str(), path);
}

StatusOr<PhiGate> PhiGate::fromJson(const std::string& json, const std::string& sourceName) {
  auto rules = compileRules(json, sourceName);
  if (!rules.isOk()) return rules.status();
  return PhiGate(std::move(rules).value());
}

Screening PhiGate::screen(Document& document, Policy policy) const {
  Screening result;
  if (!rules_) return result;
  const size_t format = static_cast<size_t>(document.format);
  const FieldRules* structural = format < kFormatCount ? &rules_->structural[format] : nullptr;
  const FieldRules* exempt = format < kFormatCount ? &rules_->exempt[format] : nullptr;
  const FieldRules* exemptAll = format < kFormatCount ? &rules_->exemptAll[format] : nullptr;
  for (Record& record : document.records) {
    const auto* structuralHere = rulesOfType(structural, record.type);
    const auto* exemptHere = rulesOfType(exempt, record.type);
    const auto* exemptAllHere = rulesOfType(exemptAll, record.type);
    for (size_t i = 1; i < record.fields.size(); ++i) {
      Field& field = record.fields[i];
      // A builder that left text empty but raw meaningful gets its raw screened (fail closed).
      const std::string_view text =
          field.text().empty() && hasAlnum(field.raw()) ? field.raw() : field.text();
      if (isBlank(text)) continue;
      const std::string* id = nullptr;
      if (record.nameRules && i < record.nameRules->size() && !(*record.nameRules)[i].empty() &&
          !isPlaceholder(*rules_, text)) {
        id = &(*record.nameRules)[i];
      }
      if (!id && structuralHere) {
        id = ruleFor(structuralHere, i);
        if (id && isPlaceholder(*rules_, text)) id = nullptr;
      }
      if (!id && !ruleFor(exemptAllHere, i)) {
        const bool exemptOnly = ruleFor(exemptHere, i) != nullptr;
        id = firstPatternInForms(*rules_, text, format, exemptOnly);
      }
      if (!id) continue;
      result.hits.push_back(Hit{record.location(i), *id, record.ordinal, i});
      if (policy == Policy::kStrip) {
        field.strip();
      }
    }
  }
  return result;
}

std::shared_ptr<const std::vector<std::string>> PhiGate::classifyNames(
    const std::vector<std::string>& names) const {
  auto out = std::make_shared<std::vector<std::string>>(names.size());
  if (!rules_ || !rules_->columns.set) return out;
  for (size_t i = 0; i < names.size(); ++i) {
    (*out)[i] = classifyName(*rules_, names[i]);
    // A name written with look-alike characters ("Ｐatient Ｎame", Cyrillic letters) is
    // classified by its ASCII fold as well.
    if ((*out)[i].empty() && !isAscii(names[i])) {
      (*out)[i] = classifyName(*rules_, foldedForm(nfkcForm(names[i])));
      const std::string reread = (*out)[i].empty() ? latin1Reread(names[i]) : std::string();
      if (!reread.empty()) (*out)[i] = classifyName(*rules_, foldedForm(nfkcForm(reread)));
    }
  }
  return out;
}

size_t PhiGate::patternCount() const { return rules_ ? rules_->patterns.items.size() : 0; }

size_t PhiGate::allowCount() const { return rules_ ? rules_->allows.items.size() : 0; }

size_t PhiGate::structuralCount() const { return rules_ ? rules_->structuralCount : 0; }

}  // namespace labgate::phi
