// Document helpers.
#include "engine/model/document.h"

namespace labgate {

const std::string& Record::raw(size_t field) const {
  static const std::string kEmpty;
  return field < fields.size() ? fields[field].raw : kEmpty;
}

}  // namespace labgate
