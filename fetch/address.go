package fetch

import (
	"net/netip"
)

// refusedV4 are the IPv4 ranges the server does not fetch from (the package comment says why).
// Read-only.
var refusedV4 = prefixes(
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
	"192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
	"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
)

// refusedV6 are the ranges refused inside IPv6's global unicast space. Read-only.
var refusedV6 = prefixes("2001::/23", "2001:db8::/32", "3fff::/20")

// IPv6 ranges with a meaning of their own. Read-only.
var (
	globalUnicastV6 = netip.MustParsePrefix("2000::/3")
	nat64           = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour       = netip.MustParsePrefix("2002::/16")
)

func prefixes(cidrs ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(cidrs))
	for i, c := range cidrs {
		out[i] = netip.MustParsePrefix(c)
	}
	return out
}

// normal is a as the prefixes match it: without an IPv6 zone (a zoned address matches no prefix)
// and with an IPv4-mapped IPv6 address as its IPv4 address.
func normal(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

// embeddedV4 is the IPv4 address a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address carries.
func embeddedV4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// internal reports whether a is an address the server does not fetch from by default: loopback,
// private, link-local, unique-local, CGNAT, multicast, unspecified, or otherwise not globally
// reachable.
func internal(a netip.Addr) bool {
	a = normal(a)
	switch {
	case !a.IsValid():
		return true
	case a.Is4():
		return inAny(refusedV4, a)
	}
	if v4, ok := embeddedV4(a); ok {
		return internal(v4)
	}
	return !globalUnicastV6.Contains(a) || inAny(refusedV6, a)
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// normalizeAllow takes an IPv4-mapped IPv6 range (::ffff:10.0.0.0/104) as the IPv4 range it
// names, since addresses are judged unmapped.
func normalizeAllow(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out[i] = p.Masked()
	}
	return out
}
