package main

import (
	"os"
	"strconv"
	"syscall"
	"time"
)

// exitWithParent makes this component stop when the process that started it is gone.
//
// The Python harness stops components on exit, but a harness killed outright (SIGKILL, a
// test runner's timeout) would leave five servers behind. The harness sets
// REALCP_EXIT_WITH_PARENT to its own pid; a goroutine compares it with getppid and, once
// they differ (re-parented), sends this process SIGTERM so the component shuts down
// through its own signal handling, and exits anyway 15 s later (a component still in its
// set-up ignores a cancelled context). Comparing with the pid the parent announced, not
// with getppid at start, also catches a parent that died before this process reached
// main. Polling works whichever thread of the parent forked us, unlike PR_SET_PDEATHSIG.
func exitWithParent() {
	want, err := strconv.Atoi(os.Getenv("REALCP_EXIT_WITH_PARENT"))
	if err != nil || want <= 1 {
		return
	}
	go func() {
		for ; ; time.Sleep(500 * time.Millisecond) {
			if os.Getppid() != want {
				_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
				time.Sleep(15 * time.Second)
				os.Exit(1)
			}
		}
	}()
}
