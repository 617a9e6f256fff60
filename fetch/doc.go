// Package fetch is the one way wecomflow fetches a URL a user gave it (a message's media.url, and
// later the event hook targets of SPEC §10.3): http or https only, through a dialer that refuses
// internal addresses, with the caller's timeout and size limit. Whoever may send a message must not
// be able to make the server read its own network, its loopback services or a cloud metadata
// endpoint, nor learn which internal ports answer from the error sentences.
//
// The address is judged when the connection is made, on the IP actually dialed, for the first
// request and for every redirect (at most 3, each http or https), so a name that resolves to
// another address the second time (DNS rebinding) gains nothing. No proxy from the environment is
// used: a proxy would dial on our behalf where the check cannot see. IPv4-mapped IPv6 addresses
// (::ffff:127.0.0.1) are judged as the IPv4 address they carry.
//
// Refused, unless Options.Allow (WECOMFLOW_FETCH_ALLOW) opens them:
//
//   - IPv4: 0.0.0.0/8 (this network, unspecified), 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16
//     (private), 100.64.0.0/10 (CGNAT), 127.0.0.0/8 (loopback), 169.254.0.0/16 (link-local, the
//     cloud metadata endpoints), 192.0.0.0/24 (IETF protocol assignments), 192.0.2.0/24,
//     198.51.100.0/24 and 203.0.113.0/24 (documentation), 198.18.0.0/15 (benchmarking, also what
//     fake-IP proxies hand out), 224.0.0.0/4 (multicast) and 240.0.0.0/4 (reserved, with
//     255.255.255.255): every range IANA's special-purpose registry marks not globally
//     reachable, and multicast.
//   - IPv6: everything outside 2000::/3, the global unicast space (so ::, ::1, the deprecated
//     IPv4-compatible ::/96, 100::/64 discard, fc00::/7 unique-local, fe80::/10 link-local,
//     fec0::/10 site-local, ff00::/8 multicast, 64:ff9b:1::/48 local NAT64), and inside it
//     2001::/23 (IETF protocol assignments, Teredo among them), 2001:db8::/32 and 3fff::/20
//     (documentation).
//   - 64:ff9b::/96 (NAT64) and 2002::/16 (6to4) are judged by the IPv4 address they embed: a
//     NAT64 gateway would carry 64:ff9b::a00:1 to 10.0.0.1, while on an IPv6-only network with
//     DNS64 every public host has such an address.
package fetch
