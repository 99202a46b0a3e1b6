// JSON string quoting lives in util/json_quote.h; this header keeps the engine's name for it.
#pragma once

#include "util/json_quote.h"

namespace labgate {

using util::jsonQuote;

}  // namespace labgate
