package models

// The API's page bounds: a page defaults to 20 items and holds at most 200.
const (
	defaultPageSize = 20
	maxPageSize     = 200
)

// MaxPage is the highest page number a list serves: far past any real list, and low enough that
// the row offset it stands for cannot overflow.
const MaxPage = 1_000_000

// Normalize fills the defaults (page 1, 20 items) and caps the size at 200 and the page at MaxPage.
func (p Page) Normalize() Page {
	if p.Page < 1 {
		p.Page = 1
	}
	if p.Page > MaxPage {
		p.Page = MaxPage
	}
	if p.Size < 1 {
		p.Size = defaultPageSize
	}
	if p.Size > maxPageSize {
		p.Size = maxPageSize
	}
	return p
}

// List is one page of a list as the API and the pages show it.
type List[T any] struct {
	Items []T
	Total int64
	Page  Page
}

// ListOf is one page of a list held whole in memory (one read from WeCom).
func ListOf[T any](items []T, p Page) List[T] {
	p = p.Normalize()
	start := min(p.offset(), len(items))
	end := min(start+p.Size, len(items))
	return List[T]{Items: append(make([]T, 0, end-start), items[start:end]...), Total: int64(len(items)), Page: p}
}

// NewList maps one page of stored rows to their views.
func NewList[M, V any](items []M, total int64, p Page, view func(*M) V) List[V] {
	out := make([]V, len(items))
	for i := range items {
		out[i] = view(&items[i])
	}
	return List[V]{Items: out, Total: total, Page: p.Normalize()}
}
