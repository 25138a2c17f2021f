package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Config is what login stores: the server, the token and who it belongs to,
// and the active org ("" is the personal workspace). It never holds the
// password.
type Config struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	Email string `json:"email"`
	// Org is the active org's slug, as shown to the user.
	Org string `json:"org"`
	// OrgID is the active org's id, used in requests so that a re-slugged
	// org stays active.
	OrgID int64 `json:"org_id,omitempty"`
}

// orgRef is how requests name the active org.
func (c Config) orgRef() string {
	if c.OrgID > 0 {
		return fmt.Sprint(c.OrgID)
	}
	return c.Org
}

// ConfigPath is GUILDHALL_CONFIG, else <user config dir>/guildhall/cli.json.
func ConfigPath(getenv func(string) string) (string, error) {
	if p := getenv("GUILDHALL_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no place for the CLI config (set GUILDHALL_CONFIG): %w", err)
	}
	return filepath.Join(dir, "guildhall", "cli.json"), nil
}

// loadConfig reads the config; a missing file or token is errNotLoggedIn.
func loadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, errNotLoggedIn
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s is not a valid CLI config (%v): run \"guildhall login\" again", path, err)
	}
	if c.Token == "" || c.URL == "" {
		return c, errNotLoggedIn
	}
	return c, nil
}

// saveConfig writes the config atomically with mode 0600 (its folder 0700
// when created), replacing any earlier file whatever its mode was.
func saveConfig(path string, c Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".cli-*.json")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
