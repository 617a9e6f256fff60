// Package models holds wecomflow's persistent data: the gorm models, the Store that opens
// embedded SQLite or MySQL/MariaDB and migrates it, and the Secret column type that keeps
// credentials encrypted at rest. It imports nothing else of wecomflow's.
package models
