package models

// Errors callers branch on; storage errors are wrapped around them with %w. Each names its kind
// (StoreKind), which is how the error vocabulary (package problem) turns it into a 404 or a 409
// without importing the store.
var (
	ErrNotFound  error = &kindError{"not found", "not_found"}
	ErrDuplicate error = &kindError{"already exists", "duplicate"}
	ErrInUse     error = &kindError{"in use", "in_use"}
	// ErrLastAdmin refuses a change that would leave nobody able to administer the server.
	ErrLastAdmin error = &kindError{"the last admin", "in_use"}
)

type kindError struct{ msg, kind string }

func (e *kindError) Error() string { return e.msg }

// StoreKind is "not_found", "duplicate" or "in_use" (problem.KindNotFound …).
func (e *kindError) StoreKind() string { return e.kind }
