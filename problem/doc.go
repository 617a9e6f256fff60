// Package problem is the error vocabulary every face of wecomflow shares: the catalogue of codes
// (docs/api.md), the Error a user reads — a code, a sentence and, for validation, the fields it
// names — and the field errors themselves. The REST API writes it as JSON, the pages as a page.
// It imports nothing of wecomflow's, so every package may use it.
package problem
