//go:build cluster

package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// cpuLimiter holds each wecomflow instance to a fixed share of a core through the kernel's CPU
// controller (cgroup v1 cpu.cfs_quota_us, or cgroup v2 cpu.max). On a machine whose few cores the
// database, the simulator and every instance share, a second and third instance find no CPU to
// add; held to the same budget each, instances behave as if each ran on a small machine of its
// own, which is how adding instances is meant to add throughput.
type cpuLimiter struct {
	cores float64
	v2    bool
	dir   string // this cluster's group; each instance gets one below it
}

var cpuGroups atomic.Int64

func newCPULimiter(t *testing.T, cores float64) *cpuLimiter {
	t.Helper()
	l := &cpuLimiter{cores: cores}
	root := "/sys/fs/cgroup/cpu"
	if _, err := os.Stat(filepath.Join(root, "cpu.cfs_quota_us")); err != nil {
		controllers, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		if !strings.Contains(string(controllers), "cpu") {
			t.Skip("capping an instance's CPU needs the cgroup CPU controller (/sys/fs/cgroup/cpu, or cgroup v2 with cpu enabled)")
		}
		root, l.v2 = "/sys/fs/cgroup", true
	}
	l.dir = filepath.Join(root, fmt.Sprintf("wecomflow-cluster-%d-%d", os.Getpid(), cpuGroups.Add(1)))
	if err := os.Mkdir(l.dir, 0o755); err != nil {
		t.Skipf("capping an instance's CPU needs a writable cgroup: %v", err)
	}
	if l.v2 {
		if err := os.WriteFile(filepath.Join(l.dir, "cgroup.subtree_control"), []byte("+cpu"), 0o644); err != nil {
			t.Skipf("capping an instance's CPU: enable cpu below %s: %v", l.dir, err)
		}
	}
	// Registered before any instance starts, so it runs after they are stopped. A group can only
	// be removed once its processes are gone, which a killed one may take a moment to be.
	t.Cleanup(func() {
		groups, _ := filepath.Glob(filepath.Join(l.dir, "instance-*"))
		for _, g := range append(groups, l.dir) {
			err := waitFor(10*time.Second, 50*time.Millisecond, func() (bool, error) {
				err := os.Remove(g)
				return err == nil || errors.Is(err, fs.ErrNotExist), err
			})
			if err != nil {
				t.Logf("cpu cgroup %s left behind: %v", g, err)
			}
		}
	})
	return l
}

// limit moves process pid (instance n) into the instance's group, capped at l.cores.
func (l *cpuLimiter) limit(n, pid int) error {
	g := filepath.Join(l.dir, fmt.Sprintf("instance-%d", n))
	if err := os.MkdirAll(g, 0o755); err != nil {
		return fmt.Errorf("cpu cgroup: %w", err)
	}
	const period = 100000 // µs
	quota := int(l.cores * period)
	files := [][2]string{{"cpu.cfs_period_us", strconv.Itoa(period)}, {"cpu.cfs_quota_us", strconv.Itoa(quota)}}
	if l.v2 {
		files = [][2]string{{"cpu.max", fmt.Sprintf("%d %d", quota, period)}}
	}
	for _, f := range append(files, [2]string{"cgroup.procs", strconv.Itoa(pid)}) {
		if err := os.WriteFile(filepath.Join(g, f[0]), []byte(f[1]), 0o644); err != nil {
			return fmt.Errorf("cpu cgroup %s: %w", f[0], err)
		}
	}
	return nil
}
