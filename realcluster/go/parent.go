package main

import (
	"os"
	"syscall"
	"time"
)

// exitWithParent makes this component stop when the process that started it is gone.
//
// The Python harness stops components on exit, but a harness killed outright (SIGKILL, a
// test runner's timeout) would leave five servers behind. When REALCP_EXIT_WITH_PARENT is
// set, a goroutine notices the re-parenting and sends this process SIGTERM, so the
// component shuts down through its own signal handling. Polling getppid works whichever
// thread of the parent forked us, unlike PR_SET_PDEATHSIG.
func exitWithParent() {
	if os.Getenv("REALCP_EXIT_WITH_PARENT") == "" {
		return
	}
	parent := os.Getppid()
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != parent {
				_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
				time.Sleep(15 * time.Second)
				os.Exit(1) // the component ignored SIGTERM
			}
		}
	}()
}
