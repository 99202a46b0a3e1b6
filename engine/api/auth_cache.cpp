// AuthCache (see auth_cache.h and ADR 0020).
#include "engine/api/auth_cache.h"

#include <utility>

namespace labgate::api {

const PermissionSet::Set& PermissionSet::set() const {
  static const Set kEmpty;
  return set_ ? *set_ : kEmpty;
}

template <typename Grant>
std::shared_ptr<const Grant> AuthCache::find(Map<Grant>& map, const std::string& digest,
                                             uint64_t generation) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = map.find(digest);
  if (it == map.end()) {
    ++misses_;
    return nullptr;
  }
  if (it->second->generation != generation) {
    map.erase(it);
    ++misses_;
    return nullptr;
  }
  ++hits_;
  return it->second;
}

template <typename Grant>
void AuthCache::put(Map<Grant>& map, const std::string& digest,
                    std::shared_ptr<const Grant> grant) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = map.find(digest);
  if (it != map.end()) {
    it->second = std::move(grant);
    return;
  }
  if (map.size() >= capacity_) {
    const uint64_t newest = grant->generation;
    for (auto old = map.begin(); old != map.end();) {
      old = old->second->generation != newest ? map.erase(old) : std::next(old);
    }
    // Still full: all are current; drop one (it is read again at its next use).
    if (map.size() >= capacity_ && !map.empty()) map.erase(map.begin());
  }
  if (capacity_ > 0) map.emplace(digest, std::move(grant));
}

std::shared_ptr<const SessionGrant> AuthCache::session(const std::string& digest,
                                                       uint64_t generation) {
  return find(sessions_, digest, generation);
}

std::shared_ptr<const KeyGrant> AuthCache::key(const std::string& digest, uint64_t generation) {
  return find(keys_, digest, generation);
}

void AuthCache::keep(const std::string& digest, std::shared_ptr<const SessionGrant> grant) {
  put(sessions_, digest, std::move(grant));
}

void AuthCache::keep(const std::string& digest, std::shared_ptr<const KeyGrant> grant) {
  put(keys_, digest, std::move(grant));
}

void AuthCache::forget(const std::string& digest) {
  std::lock_guard<std::mutex> lock(mutex_);
  sessions_.erase(digest);
  keys_.erase(digest);
}

AuthCache::Counts AuthCache::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return Counts{hits_, misses_, sessions_.size(), keys_.size()};
}

}  // namespace labgate::api
