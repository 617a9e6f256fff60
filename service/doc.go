// Package service holds the operations an admin performs on wecomflow's resources — API tokens,
// authenticators, channels, users and their import — with their validation. The REST handlers
// (server) and the admin pages (web) both call it, so the two can never disagree.
package service
