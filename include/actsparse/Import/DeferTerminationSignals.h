//===- DeferTerminationSignals.h - signals around temp files -*- C++ -*-===//
//
// An interrupted sparse-opt must leave no temporary file. LLVM removes the
// files registered with llvm::sys::RemoveFileOnSignal when SIGINT or
// SIGTERM arrives, but a temporary file is created first and registered
// after (and LLVM installs its handlers only then): a signal in between
// kills the process with the file still there. Seen on a loaded machine
// in test/faults/interrupt.test.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_IMPORT_DEFERTERMINATIONSIGNALS_H
#define ACTSPARSE_IMPORT_DEFERTERMINATIONSIGNALS_H

#include <csignal>
#include <pthread.h>

namespace mlir::actsparse {

/// Holds SIGINT and SIGTERM back for the scope that creates a temporary
/// file and registers it for removal. A signal that arrives meanwhile is
/// delivered when the scope ends, to the handler that removes the file.
class DeferTerminationSignals {
public:
  DeferTerminationSignals() {
    sigset_t held;
    sigemptyset(&held);
    sigaddset(&held, SIGINT);
    sigaddset(&held, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &held, &previous);
  }
  ~DeferTerminationSignals() {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  }
  DeferTerminationSignals(const DeferTerminationSignals &) = delete;
  DeferTerminationSignals &operator=(const DeferTerminationSignals &) = delete;

private:
  sigset_t previous;
};

} // namespace mlir::actsparse

#endif // ACTSPARSE_IMPORT_DEFERTERMINATIONSIGNALS_H
