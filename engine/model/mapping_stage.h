// The interface of the mapping stage (mappings/ implements it): instrument codes become LIS codes,
// names, units and decimals, and unmapped codes get findings. Pure; shared between threads.
// The pipeline knows only this interface, as it knows the rules only through rules_stage.h.
#pragma once

#include "engine/model/model.h"

namespace labgate {

class MappingStage {
 public:
  virtual ~MappingStage() = default;
  /// Maps every result of `message` in place. Never throws.
  virtual void apply(Message& message) const = 0;
};

}  // namespace labgate
