// Package eventhook delivers the events of SPEC §10.3 to the URLs people register: a message
// sent, partly sent, failed or answered, an execution resolved or failed. The store queues an
// event in the same transaction as the change that causes it (models.HookEvent); the Deliverer
// here claims due events under leases, as the sender claims message requests, POSTs each signed
// through the fetcher that refuses internal addresses, and records every attempt. Every instance
// runs one; the leases make each attempt one instance's.
package eventhook
