// The one vocabulary of flag words: what a cell or value saying "yes" or "no" may read, for
// booleans (an "excluded" or "modified" column) and for integration-type cells (manual or
// automatic integration). Every export reader (MassHunter, SCIEX, TASQ, the CSV and XML layouts)
// reads its flags here, so a cell reading `manual` means the same in all of them.
#pragma once

#include <optional>
#include <string_view>

namespace labgate::util {

/// The words, compared after trimming, case-insensitively, with runs of spaces and '_' read as
/// one space:
///   yes: true, yes, y, 1, x, manual, manually integrated, m, mm (MassHunter's "manual")
///   no:  false, no, n, 0, auto, automatic, "" (an empty cell)
/// nullopt for any other word.
std::optional<bool> flagWord(std::string_view text);

/// True only for a yes word (an unknown word or an empty cell is no).
inline bool saysYes(std::string_view text) { return flagWord(text).value_or(false); }

}  // namespace labgate::util
