// WalCheckpointer: copies the write-ahead log back into the database on a connection and thread
// of its own (issue 16). SQLite's automatic checkpoint runs on the connection that commits, after
// the commit, once the WAL holds 1000 pages: on the store's one writer thread it stalled every
// waiting commit for the checkpoint's writes and its sync of the database file (the ACK latency
// p99 under load). The writer's commit hook now only wakes this thread, which runs the same
// PASSIVE checkpoint (it never blocks the writer or a reader) while the writer goes on.
//
// Durability is unchanged: a commit is durable once its WAL frames are synced (synchronous=FULL),
// whoever checkpoints later; a crash before a checkpoint leaves the frames in the WAL, which the
// next open replays.
#pragma once

#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace labgate {

class WalCheckpointer {
 public:
  /// Checkpoints the database at `path` through `own` (a connection used by nothing else) when
  /// the WAL of `writer` holds `pages` or more pages after a commit.
  WalCheckpointer(Poco::Data::Session& writer, Poco::Data::Session own, int pages)
      : writer_(Poco::Data::SQLite::Utility::dbHandle(writer)),
        own_(std::move(own)),
        pages_(pages),
        thread_([this] { loop(); }) {
    // Replaces SQLite's automatic checkpoint on the writer (wal_autocheckpoint is this hook).
    sqlite3_wal_hook(writer_, &WalCheckpointer::afterCommit, this);
  }

  /// Stops the thread; the writer goes back to checkpointing itself. Call before the writer
  /// connection closes, with no commit in progress.
  ~WalCheckpointer() {
    sqlite3_wal_autocheckpoint(writer_, pages_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

 private:
  /// SQLite's WAL hook: runs on the writer thread after each commit, with the WAL's size.
  static int afterCommit(void* self, sqlite3* /*db*/, const char* /*schema*/, int walPages) {
    auto* checkpointer = static_cast<WalCheckpointer*>(self);
    if (walPages >= checkpointer->pages_) {
      {
        std::lock_guard<std::mutex> lock(checkpointer->mutex_);
        checkpointer->requested_ = true;
      }
      checkpointer->wake_.notify_one();
    }
    return SQLITE_OK;
  }

  void loop() {
    sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(own_);
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || requested_; });
      if (stopping_) return;
      requested_ = false;
      lock.unlock();
      // PASSIVE: copies what no reader still needs, without waiting for anyone; what is left
      // goes at the next request. A failure (e.g. SQLITE_BUSY while another checkpoint runs)
      // only postpones it.
      (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }

  sqlite3* writer_;
  Poco::Data::Session own_;
  const int pages_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace labgate
