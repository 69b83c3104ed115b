/*-------------------------------------------------------------------------
 *
 * netcheck.c
 *		  Which addresses a server owned by a non-superuser may connect to.
 *
 * One implementation serves both places that decide it (issue 10 section
 * 2, issue 11): the option validator, on the host of a url, and the
 * transport, on every address a name resolved to, before connecting
 * (CURLOPT_OPENSOCKETFUNCTION) and before a request goes out on a reused
 * connection (CURLOPT_PREREQFUNCTION).  It follows IANA's special-purpose
 * address registries (RFC 6890 and its updates).  Refused:
 *
 *	- this machine: 127.0.0.0/8, ::1, 0.0.0.0/8 and :: (Linux connects
 *	  those to the local host), and every address of the machine's own
 *	  interfaces (getifaddrs);
 *	- link-local: 169.254.0.0/16 (cloud metadata services), fe80::/10;
 *	- cloud metadata services at other addresses, also when private
 *	  networks are allowed: fd00:ec2::254 (AWS), fd20:ce::254 (Google),
 *	  100.100.100.200 (Alibaba), 168.63.129.16 (Azure's host agent);
 *	- multicast, broadcast, reserved, documentation and benchmarking
 *	  ranges (never an API): 192.0.0.0/24, 192.0.2.0/24, 192.88.99.0/24,
 *	  198.18.0.0/15, 198.51.100.0/24, 203.0.113.0/24, 224.0.0.0/3; in IPv6
 *	  everything outside global unicast 2000::/3 and the classes below
 *	  (100::/64, 5f00::/16, ...), and inside it 2001::/23 (IETF protocol
 *	  assignments: Teredo, ORCHID, benchmarking), 2001:db8::/32 and
 *	  3fff::/20 (documentation);
 *	- unless a superuser allows them (callogs_fdw.allow_private_addresses):
 *	  private networks 10/8, 172.16/12, 192.168/16, 100.64/10, IPv6
 *	  unique-local fc00::/7 and site-local fec0::/10;
 *	- addresses that carry an IPv4 address are judged by it: IPv4-mapped
 *	  ::ffff:a.b.c.d, SIIT ::ffff:0:a.b.c.d, IPv4-compatible ::a.b.c.d,
 *	  NAT64 64:ff9b::a.b.c.d and 6to4 2002:AABB:CCDD::/48; local-use NAT64
 *	  64:ff9b:1::/48 (RFC 8215), whose prefix length and so the place of
 *	  the IPv4 address only its network knows, is refused.
 *
 * Host names are checked by what they resolve to at connect time; the
 * validator refuses only what needs no DNS: IP literals in every form curl
 * accepts (curl normalizes 127.1, 0x7f000001, 017700000001 ...), and the
 * names localhost and *.localhost (RFC 6761), also with a trailing dot.
 *
 * Everything here is safe inside a libcurl callback: no palloc, no
 * ereport; results are static strings.
 *
 * IDENTIFICATION
 *		  src/netcheck.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "callogs_fdw.h"

/* callogs_fdw.allow_private_addresses */
bool		callogs_allow_private_addresses = false;

#define CALLOGS_REFUSED_PRIVATE "a private network address"

/*
 * is_own_address
 *		Whether an address (4 bytes of IPv4, or 16 of IPv6) belongs to one of
 *		this machine's interfaces.  getifaddrs mallocs: fine in a callback.
 *		If the interfaces cannot be listed, say yes (refuse): the caller only
 *		asks about addresses that are otherwise allowed.
 */
static bool
is_own_address(int family, const unsigned char *addr)
{
	struct ifaddrs *ifs;
	bool		own = false;

	if (getifaddrs(&ifs) != 0)
		return true;
	for (struct ifaddrs *i = ifs; i != NULL && !own; i = i->ifa_next)
	{
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET)
			own = memcmp(&((struct sockaddr_in *) i->ifa_addr)->sin_addr, addr, 4) == 0;
		else
			own = memcmp(&((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr, addr, 16) == 0;
	}
	freeifaddrs(ifs);
	return own;
}

/* A /bits prefix of an IPv4 address (in network order) equals net. */
static bool
v4_in(const unsigned char *a, unsigned char n0, unsigned char n1,
	  unsigned char n2, int bits)
{
	uint32		addr = ((uint32) a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3];
	uint32		net = ((uint32) n0 << 24) | (n1 << 16) | (n2 << 8);
	uint32		mask = bits == 0 ? 0 : ~(uint32) 0 << (32 - bits);

	return (addr & mask) == (net & mask);
}

/*
 * ipv4_refused
 *		The reason an IPv4 address is refused, or NULL.
 */
static const char *
ipv4_refused(const unsigned char *a, bool allow_private)
{
	if (a[0] == 127)
		return "a loopback address";
	if (a[0] == 0)
		return "this machine (0.0.0.0/8)";
	if (is_own_address(AF_INET, a))
		return "an address of this machine";
	if (a[0] == 169 && a[1] == 254)
		return "a link-local address";
	if (a[0] >= 224)
		return "a multicast, broadcast or reserved address";
	if ((a[0] == 100 && a[1] == 100 && a[2] == 100 && a[3] == 200) ||
		(a[0] == 168 && a[1] == 63 && a[2] == 129 && a[3] == 16))
		return "a cloud metadata service";
	if (v4_in(a, 192, 0, 0, 24) || v4_in(a, 192, 88, 99, 24))
		return "a reserved address (IETF protocol assignments, 6to4 relays)";
	if (v4_in(a, 192, 0, 2, 24) || v4_in(a, 198, 51, 100, 24) ||
		v4_in(a, 203, 0, 113, 24) || v4_in(a, 198, 18, 0, 15))
		return "a documentation or benchmarking address";
	if (!allow_private &&
		(a[0] == 10 ||
		 (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		 (a[0] == 192 && a[1] == 168) ||
		 (a[0] == 100 && (a[1] & 0xc0) == 64)))
		return CALLOGS_REFUSED_PRIVATE;
	return NULL;
}

/* The first n bytes of an IPv6 address equal p. */
#define V6_PREFIX(a, ...) \
	(memcmp((a), (const unsigned char[]) {__VA_ARGS__}, \
			sizeof((const unsigned char[]) {__VA_ARGS__})) == 0)

/*
 * ipv6_refused
 *		The reason an IPv6 address is refused, or NULL.  Addresses that
 *		carry an IPv4 address are judged by it.
 */
static const char *
ipv6_refused(const unsigned char *a, bool allow_private)
{
	static const unsigned char zero12[12] = {0};
	static const unsigned char aws_metadata[16] =
	{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
	static const unsigned char google_metadata[16] =
	{0xfd, 0x20, 0x00, 0xce, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};

	if (memcmp(a, zero12, 12) == 0)
	{
		bool		high_zero = a[12] == 0 && a[13] == 0 && a[14] == 0;

		if (high_zero && a[15] == 1)
			return "a loopback address";
		if (high_zero && a[15] == 0)
			return "this machine (::)";
		return ipv4_refused(a + 12, allow_private);	/* ::a.b.c.d */
	}
	/* IPv4-mapped ::ffff:a.b.c.d, SIIT ::ffff:0:a.b.c.d, NAT64 64:ff9b::/96 */
	if (V6_PREFIX(a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff) ||
		V6_PREFIX(a, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0) ||
		V6_PREFIX(a, 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0))
		return ipv4_refused(a + 12, allow_private);
	if (V6_PREFIX(a, 0, 0x64, 0xff, 0x9b, 0, 0x01))
		return "a local-use NAT64 address (64:ff9b:1::/48)";
	if (V6_PREFIX(a, 0x20, 0x02))
		return ipv4_refused(a + 2, allow_private);	/* 6to4 2002:AABB:CCDD:: */
	if (is_own_address(AF_INET6, a))
		return "an address of this machine";
	if (memcmp(a, aws_metadata, 16) == 0 || memcmp(a, google_metadata, 16) == 0)
		return "a cloud metadata service";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "a link-local address";
	if (a[0] == 0xff)
		return "a multicast address";
	if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0))
		return allow_private ? NULL :
			(a[0] & 0xfe) == 0xfc ? CALLOGS_REFUSED_PRIVATE " (unique-local)" :
			CALLOGS_REFUSED_PRIVATE " (site-local)";
	if ((a[0] & 0xe0) != 0x20)
		return "a reserved address (outside IPv6 global unicast 2000::/3)";
	if (V6_PREFIX(a, 0x20, 0x01) && a[2] < 0x02)
		return "a reserved address (IETF protocol assignments 2001::/23: Teredo, ORCHID, benchmarking)";
	if (V6_PREFIX(a, 0x20, 0x01, 0x0d, 0xb8) || (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0))
		return "a documentation address";
	return NULL;
}

/*
 * callogs_address_refused
 *		Why a server owned by a non-superuser may not connect to sa, or NULL
 *		when it may.  Unknown address families are refused.
 */
const char *
callogs_address_refused(const struct sockaddr *sa, bool allow_private)
{
	if (sa->sa_family == AF_INET)
		return ipv4_refused((const unsigned char *)
							&((const struct sockaddr_in *) sa)->sin_addr,
							allow_private);
	if (sa->sa_family == AF_INET6)
		return ipv6_refused(((const struct sockaddr_in6 *) sa)->sin6_addr.s6_addr,
							allow_private);
	return "an address of an unknown family";
}

/*
 * callogs_ip_text_refused
 *		As callogs_address_refused, for an address in text form (as libcurl
 *		reports a connection's peer); NULL when it may connect.  Text that is
 *		no address is refused.
 */
const char *
callogs_ip_text_refused(const char *text, bool allow_private)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, text, a) == 1)
		return ipv4_refused(a, allow_private);
	if (inet_pton(AF_INET6, text, a) == 1)
		return ipv6_refused(a, allow_private);
	return "not an IP address";
}

/*
 * callogs_host_refused
 *		The validator's check of a url's host, as libcurl's URL API returns
 *		it (percent-decoded, IPv4 normalized, IPv6 in brackets): why a
 *		non-superuser's server may not use it, or NULL.  Names other than
 *		localhost are judged at connect time, by what they resolve to.
 */
const char *
callogs_host_refused(const char *host, bool allow_private)
{
	char		h[256];
	size_t		n = strlen(host);
	unsigned char a[16];

	if (n == 0 || n >= sizeof(h))
		return "an invalid host";
	memcpy(h, host, n + 1);
	if (h[0] == '[' && h[n - 1] == ']')
	{
		char	   *pct;

		h[n - 1] = '\0';
		if ((pct = strchr(h + 1, '%')) != NULL)
			*pct = '\0';		/* a zone id */
		if (inet_pton(AF_INET6, h + 1, a) != 1)
			return "an invalid IPv6 address";
		return ipv6_refused(a, allow_private);
	}
	if (inet_pton(AF_INET, h, a) == 1)
		return ipv4_refused(a, allow_private);

	/* a name: localhost and *.localhost, also written with trailing dots */
	while (n > 0 && h[n - 1] == '.')
		h[--n] = '\0';
	if (pg_strcasecmp(h, "localhost") == 0 ||
		(n > 10 && pg_strcasecmp(h + n - 10, ".localhost") == 0))
		return "a loopback address (localhost)";
	if (strspn(h, "0123456789.xX") == n)
		return "an invalid IPv4 address";
	return NULL;
}

/*
 * callogs_refusal_is_private
 *		Whether a reason from the functions above is a private network (which
 *		callogs_fdw.allow_private_addresses allows) rather than this machine.
 */
bool
callogs_refusal_is_private(const char *why)
{
	return why != NULL &&
		strncmp(why, CALLOGS_REFUSED_PRIVATE, strlen(CALLOGS_REFUSED_PRIVATE)) == 0;
}
