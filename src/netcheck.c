/*-------------------------------------------------------------------------
 *
 * netcheck.c
 *		  Which addresses a server owned by a non-superuser may connect to.
 *
 * One implementation serves both places that decide it (issue 10 section
 * 2, issue 11): the option validator, on the host of a url, and the
 * transport, on every address a name resolved to, before connecting
 * (CURLOPT_OPENSOCKETFUNCTION) and before a request goes out on a reused
 * connection (CURLOPT_PREREQFUNCTION).  Refused:
 *
 *	- this machine: 127.0.0.0/8, ::1, 0.0.0.0/8 and :: (Linux connects
 *	  those to the local host), and every address of the machine's own
 *	  interfaces (getifaddrs);
 *	- link-local: 169.254.0.0/16 (cloud metadata services), fe80::/10;
 *	- multicast, broadcast and reserved ranges (never an API);
 *	- unless a superuser allows them (callogs_fdw.allow_private_addresses):
 *	  private networks 10/8, 172.16/12, 192.168/16, 100.64/10 and IPv6
 *	  unique-local fc00::/7;
 *	- the same IPv4 addresses in IPv6 form: IPv4-mapped ::ffff:a.b.c.d,
 *	  IPv4-compatible ::a.b.c.d and NAT64 64:ff9b::a.b.c.d.
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
	if (a[0] == 169 && a[1] == 254)
		return "a link-local address";
	if (a[0] >= 224)
		return "a multicast, broadcast or reserved address";
	if (is_own_address(AF_INET, a))
		return "an address of this machine";
	if (!allow_private &&
		(a[0] == 10 ||
		 (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		 (a[0] == 192 && a[1] == 168) ||
		 (a[0] == 100 && (a[1] & 0xc0) == 64)))
		return CALLOGS_REFUSED_PRIVATE;
	return NULL;
}

/*
 * ipv6_refused
 *		The reason an IPv6 address is refused, or NULL.  Addresses that
 *		carry an IPv4 address are judged by it.
 */
static const char *
ipv6_refused(const unsigned char *a, bool allow_private)
{
	static const unsigned char zero12[12] = {0};
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

	if (memcmp(a, zero12, 12) == 0)
	{
		bool		high_zero = a[12] == 0 && a[13] == 0 && a[14] == 0;

		if (high_zero && a[15] == 1)
			return "a loopback address";
		if (high_zero && a[15] == 0)
			return "this machine (::)";
		return ipv4_refused(a + 12, allow_private);	/* ::a.b.c.d */
	}
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return ipv4_refused(a + 12, allow_private);
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "a link-local address";
	if (a[0] == 0xff)
		return "a multicast address";
	if (is_own_address(AF_INET6, a))
		return "an address of this machine";
	if (!allow_private && (a[0] & 0xfe) == 0xfc)
		return CALLOGS_REFUSED_PRIVATE " (unique-local)";
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
