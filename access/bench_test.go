package access

import "testing"

// BenchmarkCheck is the role check every API request and page pays.
func BenchmarkCheck(b *testing.B) {
	p := Principal{Kind: KindToken, ID: 2, Role: Operator, Channels: []string{"ops"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := Check(p, "POST", "/api/v1/messages"); err != nil {
			b.Fatal(err)
		}
	}
}
