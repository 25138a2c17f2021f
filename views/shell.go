// Package views holds the templ components of every page. Components take
// plain view structs built by handlers; views never touch the database.
package views

// Shell is what the shared layout needs: who is signed in, the workspaces for
// the switcher, flashes, the invitation banner and the CSRF token.
type Shell struct {
	Title      string
	Nav        string // key of the active navigation item
	CSRF       string
	Account    *AccountView
	Workspaces []WorkspaceItem
	Active     WorkspaceItem
	Flashes    []FlashView
	Banner     []BannerItem
	NavItems   []NavItem
	Dev        bool
	// Refresh, when set, moves the page on to this URL at once (a meta
	// refresh): how a form post hands the browser to an identity provider
	// without a cross-origin redirect, which CSP form-action refuses.
	Refresh string
}

// AccountView is the signed-in person.
type AccountView struct {
	ID       int64
	Name     string
	Email    string
	Verified bool
}

// WorkspaceItem is one entry of the switcher.
type WorkspaceItem struct {
	ID        int64
	Name      string
	Slug      string
	RoleLabel string
	Personal  bool
	Active    bool
}

// FlashView is one message at the top of the page.
type FlashView struct {
	Kind string // success, error, info
	Text string
}

// BannerItem is one pending thing waiting for the account (an invitation, an
// agent transfer), with accept and decline actions posted by htmx.
type BannerItem struct {
	ID         string // DOM id, unique per item
	Text       string
	Detail     string
	AcceptURL  string
	DeclineURL string
}

// NavItem is one link of the left navigation.
type NavItem struct {
	Key   string
	Label string
	Href  string
	Icon  string
}

// HasSwitcher reports whether the switcher shows: once the account belongs to
// at least one team org (SPEC 4).
func (s Shell) HasSwitcher() bool {
	for _, w := range s.Workspaces {
		if !w.Personal {
			return true
		}
	}
	return false
}
