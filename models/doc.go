// Package models holds wecomflow's persistent data: the Store that opens embedded SQLite or
// MySQL/MariaDB and migrates it, the Secret column type that keeps credentials encrypted at rest,
// and one file per table family with its gorm models and their queries. tx.go holds the
// transaction and query helpers the families share, lease.go the claim, renew, finish and release
// protocol of the four tables that are work queues. It imports nothing else of wecomflow's.
package models
