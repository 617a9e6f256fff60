// Package workflow runs wecomflow's workflows (SPEC §4): definitions validated at save and kept
// per version, triggers (manual, webhook, schedule, WeCom event) that store an execution before
// they are acknowledged, and a runner that drives executions through notification, condition,
// delay and end nodes.
//
// The runner holds no state between steps. It claims a due execution under a lease, replays its
// finished jobs, checks the pending one and runs new nodes until one must wait — for a delay,
// a delivery or a card click — then writes the whole step (jobs, messages, the execution's next
// wake time) in one transaction. A notification's message is stored in the step that creates its
// job, so a crash can neither lose it nor send it twice; the sender and the card-click handler
// wake the waiting execution in the transaction that records what it waited for.
//
// Conditions are expr-lang expressions (github.com/expr-lang/expr) over the template roots.
package workflow
