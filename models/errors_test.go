package models_test

import (
	"fmt"
	"testing"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// The store's errors reach a user as the catalogue's codes, through the kind each names, even
// wrapped: problem reads them without importing the store.
func TestStoreErrorsBecomeTheirCodes(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]problem.Code{
		models.ErrNotFound:  problem.CodeNotFound,
		models.ErrDuplicate: problem.CodeConflict,
		models.ErrInUse:     problem.CodeConflict,
		fmt.Errorf("store: x: %w", models.ErrNotFound): problem.CodeNotFound,
		models.ErrWrongState:                           problem.CodeInternal,
	} {
		pe, ok := problem.StoreError("Channel", err).(*problem.Error)
		if !ok || pe.Code != want {
			t.Errorf("%v: %v, want %s", err, pe, want)
		}
	}
}
