package fetch

import (
	"net/netip"
	"testing"
)

func TestInternalAddresses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr     string
		internal bool
	}{
		// IPv4: the refused ranges at their edges, and public neighbours.
		{"0.0.0.0", true},
		{"0.255.255.255", true},
		{"1.1.1.1", false},
		{"9.255.255.255", false},
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"11.0.0.0", false},
		{"100.63.255.255", false},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"100.128.0.0", false},
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"169.254.169.254", true},
		{"169.255.0.1", false},
		{"172.15.255.255", false},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"172.32.0.0", false},
		{"192.0.0.170", true},
		{"192.0.2.1", true},
		{"192.0.3.1", false},
		{"192.167.255.255", false},
		{"192.168.1.1", true},
		{"198.18.0.1", true},
		{"198.19.255.255", true},
		{"198.20.0.0", false},
		{"198.51.100.7", true},
		{"203.0.113.9", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		{"223.255.255.255", false},
		{"8.8.8.8", false},
		{"140.207.189.38", false},
		// IPv4-mapped IPv6 is its IPv4 address.
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.1.2.3", true},
		{"::ffff:169.254.169.254", true},
		{"::ffff:8.8.8.8", false},
		// IPv6.
		{"::", true},
		{"::1", true},
		{"::127.0.0.1", true}, // IPv4-compatible, deprecated
		{"::8.8.8.8", true},
		{"100::1", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"febf::1", true},
		{"fec0::1", true},
		{"fc00::1", true},
		{"fd12:3456:789a::1", true},
		{"ff02::1", true},
		{"ff0e::1", true},
		{"2001::1", true}, // Teredo
		{"2001:db8::1", true},
		{"3fff::1", true},
		{"2001:4860:4860::8888", false},
		{"2400:3200::1", false},
		{"2606:4700:4700::1111", false},
		{"2001:200::1", false}, // just past 2001::/23
		{"4000::1", true},      // outside 2000::/3
		// NAT64 and 6to4 are their embedded IPv4 address.
		{"64:ff9b::7f00:1", true},
		{"64:ff9b::a9fe:a9fe", true},
		{"64:ff9b::808:808", false},
		{"64:ff9b:1::808:808", true}, // local-use NAT64
		{"2002:7f00:1::1", true},
		{"2002:c0a8:101::1", true},
		{"2002:808:808::1", false},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := internal(a); got != tc.internal {
			t.Errorf("internal(%s) = %v, want %v", tc.addr, got, tc.internal)
		}
	}
	if !internal(netip.Addr{}) {
		t.Error("the zero address is not internal")
	}
}

func TestAllowOpensRanges(t *testing.T) {
	t.Parallel()
	var allow []netip.Prefix
	for _, p := range []string{"127.0.0.0/8", "10.20.0.0/16", "fd00::/8", "::ffff:192.168.1.0/120", "198.51.100.7/32"} {
		allow = append(allow, netip.MustParsePrefix(p))
	}
	f := New(Options{Allow: allow})
	for _, tc := range []struct {
		addr    string
		permits bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"64:ff9b::7f00:1", true},
		{"10.20.3.4", true},
		{"10.21.0.1", false},
		{"fd00::5", true},
		{"fc00::5", false},
		{"192.168.1.9", true},
		{"192.168.2.9", false},
		{"198.51.100.7", true},
		{"198.51.100.8", false},
		{"::1", false},
		{"169.254.169.254", false},
		{"8.8.8.8", true},
		{"2001:4860:4860::8888", true},
	} {
		if got := f.permits(netip.MustParseAddr(tc.addr)); got != tc.permits {
			t.Errorf("permits(%s) = %v, want %v", tc.addr, got, tc.permits)
		}
	}
	if none := New(Options{}); none.permits(netip.MustParseAddr("127.0.0.1")) {
		t.Error("no allow list permits loopback")
	}
}
