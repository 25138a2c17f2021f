package main

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/jmoiron/sqlx"

	"guildhall/db"
	"guildhall/db/demo"
	"guildhall/web"
)

// runDemo loads the demo data: the small set (default), or with --size large
// issue 12's large org (10,000 members, 500 teams, 100,000 agents, 200,000
// grants, 1,000,000 audit events, 100,000 wallet entries) for load runs. Other flags go to withDB.
// Each set loads once. Only this command and `go tool task run` call it:
// serve never does, so a production database never starts with accounts
// anyone can sign in to.
func runDemo(ctx context.Context, args []string) error {
	size, rest, err := demoSize(args)
	if err != nil {
		return err
	}
	return withDB(ctx, rest, func(_ web.Config, d *sqlx.DB) error {
		store := db.New(d)
		if size == "large" {
			loaded, err := demo.LoadLarge(ctx, store, log.Printf)
			if err == nil && loaded {
				fmt.Printf("Large data set loaded. Sign in as %s (owner) or %s (sees 20 agents) with password %s.\n",
					demo.LargeOwner, demo.LargeReader, demo.Password)
			} else if err == nil {
				fmt.Println("The large data set is already there.")
			}
			return err
		}
		loaded, err := demo.Load(ctx, store)
		if err == nil && loaded {
			fmt.Println(demo.SignInHint)
		} else if err == nil {
			fmt.Println("Demo data is already there.")
		}
		return err
	})
}

// demoSize takes --size (small or large) out of args and returns the rest.
func demoSize(args []string) (string, []string, error) {
	size := "small"
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--size" || a == "-size":
			if i+1 >= len(args) {
				return "", nil, fmt.Errorf("--size needs a value: small or large")
			}
			size = args[i+1]
			i++
		case strings.HasPrefix(a, "--size=") || strings.HasPrefix(a, "-size="):
			_, size, _ = strings.Cut(a, "=")
		default:
			rest = append(rest, a)
		}
	}
	if size != "small" && size != "large" {
		return "", nil, fmt.Errorf("--size %q: use small or large", size)
	}
	return size, rest, nil
}
