// Package cluster is the cluster harness: tests, behind the build tag "cluster", that build the
// real wecomflow binary, run several `wecomflow serve` processes on one fresh MariaDB database
// against the WeCom simulator (plugin/wecom/wecomtest) served by the test process, and check what
// a cluster promises (SPEC §7): nothing sent twice, fired twice or lost — through a SIGKILL,
// injected WeCom faults, token invalidations, retried callbacks and load.
//
// The cluster tests need a MySQL or MariaDB server they may create databases on; without
// WECOMFLOW_TEST_MYSQL_DSN they skip. Each test creates its own database
// (wecomflow_cluster_<random>) and drops it afterwards:
//
//	export WECOMFLOW_TEST_MYSQL_DSN='mysql://root:@tcp(127.0.0.1:3306)/test?parseTime=true'
//	go test -tags cluster -v -count=1 -timeout 60m ./cluster                       # everything
//	go test -tags cluster -v -count=1 -timeout 30m -run 'TestClusterRun$' ./cluster
//	WECOMFLOW_CLUSTER_SCALE=ci go test -tags cluster -v -count=1 -run 'TestClusterRun$' ./cluster
//
// The tests:
//
//   - TestClusterRun: 3 instances; 10,000 API messages (single and multi-recipient), 1,000
//     executions of a webhook → condition → button card (waitForResponse) → markdown decision
//     workflow whose cards the simulator clicks through random instances' callback URLs, a
//     schedule workflow "@every 2s" throughout, a burst of text callbacks and their retries, two
//     injected token invalidations, and the scheduler leader SIGKILLed mid-run — while WeCom
//     holds answers to sends it already delivered — and restarted on its address, then another
//     instance restarted gracefully (SIGTERM). Then every message is counted in every member's
//     inbox (exactly once), every execution checked (resolved once, one card and one decision
//     each), every schedule tick (one execution each, none lost across the failover), every
//     callback (stored once, deliveries counted), gettoken calls (at most one per token lifetime
//     plus one per invalidation) and every HTTP answer (no 5xx; only the killed instance's
//     connections broke). WECOMFLOW_CLUSTER_SCALE=ci runs it
//     reduced: 2 instances, 300 messages, 50 executions, one kill (what `.ci/run` runs).
//   - TestClusterFaultSoak: 20% of message/send calls fail retryably (-1, 45009, 45033, HTTP
//     5xx, timeouts, some after WeCom already delivered) and tokens are invalidated every 10 s;
//     every message ends final, nothing is duplicated, attempts stay within the retry policy and
//     every failure reason is a readable sentence — also for three messages that fail every
//     attempt. 45009's waits (1 minute, 4 and 16 when it answers again in a row) set its length.
//   - TestClusterThroughput: the same 5,000 single-recipient messages on 1 instance and then on 3
//     (fresh databases), messages/s of each and the ratio, with the CPU each process used; once
//     with the instances sharing the machine's cores, once with each held to 0.25 of a core by a
//     CPU cgroup of its own (as if each had a small machine; skipped where cgroups are read-only).
//   - TestClusterCallbackConnections: 1,000 concurrent connections (no keep-alive) each posting a
//     valid encrypted callback; every answer must be 200; p50/p99 reported.
//   - TestLoadAsDeployed: a measurement, run only when asked (-load sqlite or -load mysql; SQLite
//     needs no MariaDB): 1 instance, -clients clients posting -messages single-recipient textcards
//     with an API token; accepted/s, delivered/s, accept latency, the server's CPU per message and
//     peak RSS, and with -wait/-latency the ?wait= rate against its bound; -profile takes the
//     server's CPU profile through -pprof-addr; -callbacks N posts N pre-encrypted callbacks from
//     64 clients instead, and reports accepted/s, latency and the CPU per callback until every
//     event is processed. The command lines are in docs/benchmarks.md.
//
// Each instance gets its own -addr on 127.0.0.1, the same WECOMFLOW_SECRET_KEY and
// WECOMFLOW_ADMIN_TOKEN, and the simulator as -wecom-api-base; the harness spreads its own
// requests round-robin over the live instances, as a load balancer would. Instance logs go to
// files in the test's temporary folder (their tails are printed when a test fails), or under the
// folder WECOMFLOW_CLUSTER_LOGS names, where they are kept. The first test that starts an instance
// builds the binary as the Dockerfile's release build does (CGO_ENABLED=0, -trimpath, -tags
// nomsgpack, -ldflags "-s -w"); WECOMFLOW_CLUSTER_BINARY runs a given wecomflow binary (another
// version) instead. Numbers from these runs are in docs/benchmarks.md ("Cluster", "As deployed").
package cluster
