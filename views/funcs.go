package views

import (
	"strings"
	"time"
	"unicode/utf8"

	"guildhall/views/components"
)

func initial(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return "?"
	}
	r, _ := utf8.DecodeRuneInString(name)
	return strings.ToUpper(string(r))
}

func workspaceLabel(w WorkspaceItem) string {
	if w.Personal {
		return "Personal"
	}
	return w.Name
}

func flashRole(kind string) string {
	if kind == "error" {
		return "alert"
	}
	return "status"
}

// FormatTime shows a time in UTC for tables.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("Jan 2, 2006 15:04")
}

// FormatTimePtr shows an optional time, "Never" when unset.
func FormatTimePtr(t *time.Time) string {
	if t == nil {
		return "Never"
	}
	return FormatTime(*t)
}

// Ago is a short relative time for activity lists.
func Ago(t time.Time, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d.Hours()), "hour") + " ago"
	case d < 30*24*time.Hour:
		return plural(int(d.Hours()/24), "day") + " ago"
	}
	return t.UTC().Format("Jan 2, 2006")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return itoa(n) + " " + word + "s"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// workspaceAvatar gives each org its own avatar colour (from its slug), and
// Personal its fixed one.
func workspaceAvatar(w WorkspaceItem) string {
	if w.Personal {
		return "avatar-personal"
	}
	return components.AvatarClass(w.Slug)
}
