package main

import (
	"fmt"
	"runtime/debug"
)

// runVersion prints the module versions this binary was linked from, so a test or a
// bug report can say exactly which Kubernetes, etcd and kwok it ran against.
func runVersion() int {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Println("realcp: no build info")
		return 1
	}
	fmt.Printf("go %s\n", info.GoVersion)
	for _, dep := range info.Deps {
		switch dep.Path {
		case "k8s.io/kubernetes", "sigs.k8s.io/kwok", "go.etcd.io/etcd/server/v3":
			v := dep.Version
			if dep.Replace != nil {
				v = dep.Replace.Version
			}
			fmt.Printf("%s %s\n", dep.Path, v)
		}
	}
	return 0
}
