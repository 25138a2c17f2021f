package sso

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// Resolver looks up TXT records, through a configured DNS server
// (GUILDHALL_DNS_RESOLVER, host:port) or the system resolver when Addr is "".
type Resolver struct {
	Addr string
}

// LookupTXT returns the TXT strings of domain; a name with no records is an
// empty list, not an error.
func (r Resolver) LookupTXT(ctx context.Context, domain string) ([]string, error) {
	if r.Addr == "" {
		txt, err := net.DefaultResolver.LookupTXT(ctx, domain)
		if dnsErr, ok := err.(*net.DNSError); ok && dnsErr.IsNotFound {
			return nil, nil
		}
		return txt, err
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(domain), dns.TypeTXT)
	m.RecursionDesired = true
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	in, _, err := c.ExchangeContext(ctx, m, r.Addr)
	if err != nil {
		return nil, fmt.Errorf("ask %s: %w", r.Addr, err)
	}
	switch in.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, fmt.Errorf("%s answered %s", r.Addr, dns.RcodeToString[in.Rcode])
	}
	var out []string
	for _, rr := range in.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			// A long TXT value is split into 255-byte strings; they form one value.
			s := ""
			for _, part := range t.Txt {
				s += part
			}
			out = append(out, s)
		}
	}
	return out, nil
}
