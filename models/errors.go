package models

import "errors"

// Errors callers branch on; storage errors are wrapped around them with %w.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("already exists")
	ErrInUse     = errors.New("in use")
)
