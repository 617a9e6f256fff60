package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// benchmarkDirectorySync runs a full directory sync of a simulated corp of `members` members in
// `departments` departments (each member in one; the simulator's user/list answers per
// department) through the real API, task runner, WeCom client and store, against the in-process
// simulator over loopback; then a second sync of the unchanged corp. It reports both durations,
// the rows (members, departments, users) the second sync wrote, and the process's peak RSS.
// Every iteration starts from an empty database.
func benchmarkDirectorySync(b *testing.B, members, departments int, autoCreateUsers bool) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newDirectoryEnv(b, deliveryOptions{start: time.Now()})
		corp := e.demo.CorpID
		for d := 0; d < departments; d++ {
			e.sim.AddDepartment(corp, wecomtest.Department{ID: 1000 + d, ParentID: 1, Name: fmt.Sprintf("部门%04d", d), Order: d})
		}
		for m := 0; m < members; m++ {
			id := fmt.Sprintf("u%06d", m)
			e.sim.AddUser(corp, wecomtest.User{UserID: id, Name: "成员" + id, Position: "工程师", Departments: []int{1000 + m%departments}})
		}
		if autoCreateUsers {
			e.patchSync(map[string]any{"autoCreateUsers": true})
		}
		e.runDirectory(fmt.Sprintf("bench%d", i))
		b.StartTimer()

		start := time.Now()
		first := e.sync()
		firstElapsed := time.Since(start)

		b.StopTimer()
		if first["status"] != "success" || counts(first)["members"] != float64(members+20) {
			b.Fatalf("first sync: %v", first)
		}
		e.clock.Advance(time.Minute)
		before := e.clock.Now()
		e.clock.Advance(time.Minute)
		start = time.Now()
		second := e.sync()
		secondElapsed := time.Since(start)
		if second["status"] != "success" {
			b.Fatalf("second sync: %v", second)
		}
		b.ReportMetric(firstElapsed.Seconds(), "first-s")
		b.ReportMetric(secondElapsed.Seconds(), "second-s")
		b.ReportMetric(float64(e.rowsWrittenSince(before)), "rows-written-2nd")
		b.ReportMetric(peakRSSMiB(), "peakRSS-MiB")
		e.stopRunner()
		b.StartTimer()
	}
}

func BenchmarkDirectorySync100k(b *testing.B) { benchmarkDirectorySync(b, 100_000, 2_000, false) }

func BenchmarkDirectorySync100kAutoCreateUsers(b *testing.B) {
	benchmarkDirectorySync(b, 100_000, 2_000, true)
}
