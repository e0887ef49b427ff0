// Command realcp is a multi-call binary holding a real Kubernetes control plane for
// istio-canary's rehearsals: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok, all linked from their Go modules into one executable.
//
// One binary keeps the cold build to a single (expensive) link step. Each component
// still runs as its own process (`realcp <component> [flags]`), because the upstream
// commands each install process-wide signal handlers and global flag/metric state
// that do not tolerate a second copy in the same process.
package main

import (
	"fmt"
	"os"
	"strings"

	// The upstream mains import these for their side effects: JSON log format,
	// client-go metrics and the build-info metric.
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
)

type component struct {
	name string
	run  func() int
	help string
}

var components = []component{
	{"etcd", runEtcd, "embedded etcd server (go.etcd.io/etcd/server/v3/embed)"},
	{"kube-apiserver", runAPIServer, "k8s.io/kubernetes/cmd/kube-apiserver"},
	{"kube-controller-manager", runControllerManager, "k8s.io/kubernetes/cmd/kube-controller-manager"},
	{"kube-scheduler", runScheduler, "k8s.io/kubernetes/cmd/kube-scheduler"},
	{"kwok", runKwok, "sigs.k8s.io/kwok fake nodes and pod lifecycle"},
	{"kwok-stages", runKwokStages, "print kwok's default pod stages (YAML), for a harness that adds its own"},
	{"certs", runCerts, "write a loopback cluster's CA, serving, admin and ServiceAccount keys"},
	{"version", runVersion, "print the pinned component versions"},
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: realcp <component> [flags]")
	for _, c := range components {
		fmt.Fprintf(os.Stderr, "  %-24s %s\n", c.name, c.help)
	}
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	for _, c := range components {
		if c.name == name {
			// Each upstream command parses os.Args itself; present it the argv it
			// would have had as a standalone binary.
			os.Args = append([]string{name}, os.Args[2:]...)
			exitWithParent()
			os.Exit(c.run())
		}
	}
	fmt.Fprintf(os.Stderr, "realcp: unknown component %q (want one of %s)\n", name, names())
	os.Exit(2)
}

func names() string {
	out := make([]string, 0, len(components))
	for _, c := range components {
		out = append(out, c.name)
	}
	return strings.Join(out, ", ")
}
