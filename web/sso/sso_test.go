package sso_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"guildhall/web/sso"
	"guildhall/web/sso/ssotest"
)

func TestBoxSealsAndRefusesTampering(t *testing.T) {
	box := sso.NewBox("server-secret-one")
	sealed, err := box.Seal("client-secret-value")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("client-secret-value")) {
		t.Fatal("sealed bytes contain the secret")
	}
	again, _ := box.Seal("client-secret-value")
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one secret must differ (random nonce)")
	}
	if got, err := box.Open(sealed); err != nil || got != "client-secret-value" {
		t.Fatalf("open: %q %v", got, err)
	}
	tampered := append([]byte{}, sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := box.Open(tampered); err == nil {
		t.Fatal("a tampered secret opened")
	}
	if _, err := sso.NewBox("another-server-secret").Open(sealed); err == nil {
		t.Fatal("another server secret opened it")
	}
	if _, err := box.Open([]byte{1, 2}); err == nil {
		t.Fatal("a short value opened")
	}
}

func TestResolverLooksUpTXTThroughTheConfiguredServer(t *testing.T) {
	d := ssotest.StartDNS(t)
	long := "guildhall-verification=" + strings.Repeat("a", 300) // longer than one 255-byte TXT string
	d.SetTXT("acme.test", "v=spf1 -all", long)
	r := sso.Resolver{Addr: d.Addr}
	got, err := r.LookupTXT(context.Background(), "acme.test")
	if err != nil || len(got) != 2 || got[0] != "v=spf1 -all" || got[1] != long {
		t.Fatalf("TXT = %q, %v", got, err)
	}
	got, err = r.LookupTXT(context.Background(), "nothing.test")
	if err != nil || len(got) != 0 {
		t.Fatalf("unknown name: %q, %v (want no records, no error)", got, err)
	}
	if _, err := (sso.Resolver{Addr: "127.0.0.1:1"}).LookupTXT(context.Background(), "acme.test"); err == nil {
		t.Fatal("an unreachable resolver must be an error")
	}
}
