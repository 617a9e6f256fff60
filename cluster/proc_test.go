//go:build cluster

package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

func hmacHex(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// clockTick is Linux's USER_HZ, the unit of /proc/<pid>/stat times (100 on every mainstream
// architecture).
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time (user + system) a process has used so far, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no comm", pid)
	}
	f := strings.Fields(s[i+1:])
	// After the comm: state(3) ppid(4) … utime(14) stime(15).
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return time.Duration(u+st) * clockTick, nil
}

// procPeakRSS is a process's peak resident set (VmHWM in /proc/<pid>/status), in bytes.
func procPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

// resetPeakRSS starts a process's VmHWM over at its current resident set (Linux's clear_refs 5),
// so that a peak read later is the peak since now.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// findProcess is the pid of the first process whose command name is one of names, or 0.
func findProcess(names ...string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		for _, n := range names {
			if strings.TrimSpace(string(comm)) == n {
				return pid
			}
		}
	}
	return 0
}

// cpuMeter measures the CPU each process of a run used between start and stop: the instances,
// the database server and the test process (the simulator and the harness's clients).
type cpuMeter struct {
	names  []string
	pids   []int
	before []time.Duration
	at     time.Time
}

func (c *cluster) cpuMeter() *cpuMeter {
	m := &cpuMeter{at: time.Now()}
	for _, in := range c.instances {
		in.mu.Lock()
		if in.cmd != nil && in.cmd.Process != nil {
			m.names = append(m.names, fmt.Sprintf("instance %d", in.n))
			m.pids = append(m.pids, in.cmd.Process.Pid)
		}
		in.mu.Unlock()
	}
	if pid := findProcess("mariadbd", "mysqld"); pid != 0 {
		m.names = append(m.names, "mariadbd")
		m.pids = append(m.pids, pid)
	}
	m.names = append(m.names, "test process (simulator + clients)")
	m.pids = append(m.pids, os.Getpid())
	for _, pid := range m.pids {
		d, _ := procCPU(pid)
		m.before = append(m.before, d)
	}
	return m
}

// report says, per process, how many cores it kept busy on average since the meter started.
func (m *cpuMeter) report() string {
	wall := time.Since(m.at)
	type row struct {
		name  string
		cores float64
	}
	var rows []row
	total := 0.0
	for i, pid := range m.pids {
		d, err := procCPU(pid)
		if err != nil {
			continue
		}
		cores := (d - m.before[i]).Seconds() / wall.Seconds()
		total += cores
		rows = append(rows, row{m.names[i], cores})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].cores > rows[j].cores })
	var b strings.Builder
	fmt.Fprintf(&b, "CPU over %.1f s (cores busy on average; the machine has %d): ", wall.Seconds(), runtime.NumCPU())
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %.2f, ", r.name, r.cores)
	}
	fmt.Fprintf(&b, "total %.2f", total)
	return b.String()
}

// dbCounters reads the database server's statement, commit and fsync counters. They are
// server-wide: anything else using the server meanwhile is counted too.
func (c *cluster) dbCounters() map[string]int64 {
	out := map[string]int64{}
	if c.db == nil {
		return out // SQLite: in the instance's process, nothing to ask
	}
	rows, err := c.db.Query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_commit', 'Com_select', 'Com_insert', 'Com_update', 'Innodb_data_fsyncs')")
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v int64
		if rows.Scan(&name, &v) == nil {
			out[name] = v
		}
	}
	return out
}

// perMessage says how many of each counter one message cost between two readings.
func perMessage(before, after map[string]int64, messages int) string {
	var parts []string
	for _, k := range []string{"Questions", "Com_select", "Com_insert", "Com_update", "Com_commit", "Innodb_data_fsyncs"} {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(after[k]-before[k])/float64(messages)))
	}
	return "database work per message: " + strings.Join(parts, ", ")
}
