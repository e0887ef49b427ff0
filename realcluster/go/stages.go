package main

import (
	"fmt"

	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

// runKwokStages prints kwok's own default pod stages (the ones kwok plays when its
// configuration names no pod stage), as one multi-document YAML stream. Giving kwok
// any pod stage of ours replaces all of these, so the harness starts from kwok's own
// text and changes only what it must, instead of keeping a copy that could drift
// from the kwok version linked here.
func runKwokStages() int {
	for i, stage := range []string{
		podfast.DefaultPodReady,
		podfast.DefaultPodComplete,
		podfast.DefaultPodDelete,
	} {
		if i > 0 {
			fmt.Println("---")
		}
		fmt.Print(stage)
	}
	return 0
}
