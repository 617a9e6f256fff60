// Package service holds the operations an admin performs on wecomflow's resources — API tokens
// and sessions, authenticators (and their connection check), channels, users with their bulk
// upsert and import, the directory's reads and sync tasks, the callback event log and retention —
// with their validation. Messages are package message's; workflows package workflow's. The REST
// handlers (server) and the admin pages (web) both call it, so the two can never disagree.
package service
