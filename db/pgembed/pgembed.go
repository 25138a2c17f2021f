// Package pgembed runs a private PostgreSQL cluster from the server binaries
// installed on the machine: the cluster lives in a folder of the application,
// listens only on a unix socket, and trusts local connections.
//
// It is what `guildhall serve` uses when DATABASE_URL is unset, and what
// package dbtest uses for tests.
//
// PostgreSQL refuses to run as root. When the program runs as root, initdb and
// postgres run as the OS user "postgres", which must exist, and every folder
// above the cluster must be enterable by that user.
package pgembed

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
)

// Options configure a cluster.
type Options struct {
	// Dir is the data folder root, such as ./.guildhall. The cluster lives in
	// Dir/pg.
	Dir string

	// Logf receives progress messages (initdb, start, stop). Nil discards them.
	Logf func(format string, a ...any)

	// Fast turns off durability (fsync, synchronous_commit, full_page_writes)
	// and makes initdb skip its fsync. Only for tests and throwaway data.
	Fast bool

	// Settings are extra server settings, passed as -c name=value.
	Settings map[string]string

	// InitCache, if set, is a folder where a pristine initdb result is kept
	// (one per PostgreSQL installation). A new cluster is then a copy of it
	// instead of a fresh initdb, which takes seconds. For tests.
	InitCache string
}

// Cluster is a running PostgreSQL server.
type Cluster struct {
	dataDir string
	sockDir string
	logPath string
	binDir  string
	logf    func(string, ...any)

	cmd     *exec.Cmd
	done    chan struct{} // closed when the postmaster has exited
	waitErr error         // valid after done is closed

	stopOnce sync.Once
	stopErr  error
}

const (
	port = 5432
	// socketName is the name of the socket file postgres creates in the
	// socket folder.
	socketName = ".s.PGSQL.5432"
	// maxSocketPath is the longest unix socket path Linux accepts (108 bytes
	// of sun_path, with the terminating NUL).
	maxSocketPath = 107

	startTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
)

// ErrNoBinaries is returned (wrapped) by Start when no PostgreSQL server
// binaries are installed.
var ErrNoBinaries = errors.New("pgembed: PostgreSQL server binaries (initdb, postgres) not found: install PostgreSQL server binaries (`apt-get install postgresql`) or set DATABASE_URL to use an existing server")

// Start starts the cluster in o.Dir/pg, creating it with initdb the first
// time, and returns once it accepts connections.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if o.Dir == "" {
		return nil, errors.New("pgembed: Options.Dir is empty")
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	root, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		if cred, err = postgresCredential(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	// As root, postgres runs as the postgres user, who must be able to
	// reach the cluster. A clone under /root (mode 0700) is not reachable,
	// so the cluster then lives in a folder of its own, named after the data
	// folder, and the data folder records where (pg.location).
	home := root
	if cred != nil {
		if err := checkTraversable(root, cred); err != nil {
			if home, err = fallbackHome(root, cred, err); err != nil {
				return nil, err
			}
			logf("pgembed: %s is not reachable by the postgres user; the cluster lives in %s", root, home)
		} else {
			_ = os.Remove(filepath.Join(root, "pg.location"))
		}
	}
	c := &Cluster{
		dataDir: filepath.Join(home, "pg"),
		logPath: filepath.Join(home, "pg.log"),
		logf:    logf,
	}

	existingVersion := ""
	if b, err := os.ReadFile(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		existingVersion = strings.TrimSpace(string(b))
	}
	if c.binDir, err = findBinDir(existingVersion); err != nil {
		return nil, err
	}
	root = home

	if existingVersion == "" {
		if err := c.initdb(ctx, o, cred); err != nil {
			return nil, err
		}
	} else if cred != nil {
		if err := chownTree(c.dataDir, cred); err != nil {
			return nil, err
		}
	}

	if c.sockDir, err = socketDir(root, c.dataDir, cred); err != nil {
		return nil, err
	}
	if err := c.clearStaleLocks(); err != nil {
		return nil, err
	}
	if err := c.start(ctx, o, cred); err != nil {
		return nil, err
	}
	return c, nil
}

// DSN returns a lib/pq connection string for database dbname.
func (c *Cluster) DSN(dbname string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable",
		quoteDSN(c.sockDir), port, quoteDSN(dbname))
}

// DataDir is the cluster's data folder (Dir/pg).
func (c *Cluster) DataDir() string { return c.dataDir }

// SocketDir is the folder holding the server's unix socket.
func (c *Cluster) SocketDir() string { return c.sockDir }

// LogPath is the file receiving the server's log.
func (c *Cluster) LogPath() string { return c.logPath }

// CreateDatabase creates database name if it does not exist yet.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	db, err := sql.Open("postgres", c.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "42P04" { // duplicate_database
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgembed: create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown: open transactions are rolled
// back), waiting up to 30 seconds before killing it. It is safe to call more
// than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		select {
		case <-c.done:
		default:
			t0 := time.Now()
			_ = c.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-c.done:
				c.logf("pgembed: stopped PostgreSQL in %v", time.Since(t0).Round(time.Millisecond))
			case <-time.After(stopTimeout):
				_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
				<-c.done
				c.stopErr = fmt.Errorf("pgembed: PostgreSQL did not stop within %v; killed it", stopTimeout)
			}
		}
	})
	return c.stopErr
}

// Done is closed when the server process has exited, for whatever reason.
func (c *Cluster) Done() <-chan struct{} { return c.done }

func (c *Cluster) initdb(ctx context.Context, o Options, cred *syscall.Credential) error {
	t0 := time.Now()
	// initdb into a side folder, renamed into place once complete, so that a
	// failed or interrupted initdb never leaves a half-made cluster behind.
	tmp := c.dataDir + ".init"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if cred != nil {
		if err := os.Chown(tmp, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
	}
	var cache string
	if o.InitCache != "" {
		cache = c.initCacheDir(o.InitCache)
		if err := copyTree(cache, tmp, cred); err == nil {
			if err := os.Rename(tmp, c.dataDir); err != nil {
				return fmt.Errorf("pgembed: %w", err)
			}
			c.logf("pgembed: created a PostgreSQL cluster in %s from %s (%v)", c.dataDir, cache, time.Since(t0).Round(time.Millisecond))
			return nil
		}
		// No usable cache yet: initdb, then fill the cache.
		if err := os.RemoveAll(tmp); err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
		if err := os.Mkdir(tmp, 0o700); err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
		if cred != nil {
			if err := os.Chown(tmp, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("pgembed: %w", err)
			}
		}
	}
	args := []string{"-D", tmp, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"}
	if o.Fast {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, "initdb"), args...)
	cmd.Env = childEnv()
	cmd.Dir = tmp
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("pgembed: initdb failed: %w\n%s", err, tail(out, 20))
	}
	if cache != "" {
		c.fillInitCache(tmp, cache)
	}
	if err := os.Rename(tmp, c.dataDir); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	c.logf("pgembed: created a PostgreSQL cluster in %s (%v)", c.dataDir, time.Since(t0).Round(time.Millisecond))
	return nil
}

func (c *Cluster) start(ctx context.Context, o Options, cred *syscall.Credential) error {
	t0 := time.Now()
	// Keep the previous log for post-mortems; start a fresh one.
	_ = os.Rename(c.logPath, c.logPath+".1")
	logFile, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	args := []string{
		"-D", c.dataDir,
		"-k", c.sockDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=",
		// Only the server's user (and root) may connect: trust auth is
		// then no wider than the file permissions.
		"-c", "unix_socket_permissions=0700",
	}
	if o.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	keys := make([]string, 0, len(o.Settings))
	for k := range o.Settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+o.Settings[k])
	}

	cmd := exec.Command(filepath.Join(c.binDir, "postgres"), args...)
	cmd.Env = childEnv()
	cmd.Dir = c.dataDir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: a Ctrl-C in the terminal reaches only us,
		// and we shut the server down cleanly.
		Setpgid:    true,
		Credential: cred,
		// If this process dies without stopping the server, the server
		// shuts itself down (fast shutdown) instead of lingering.
		Pdeathsig: syscall.SIGINT,
	}
	c.cmd = cmd
	c.done = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the OS thread that started the child exits,
		// not the process (go.dev/issue/27505): start and wait for the server
		// from one goroutine locked to its thread for the server's lifetime.
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			c.waitErr = cmd.Wait()
		}
		logFile.Close()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgembed: start postgres: %w", err)
	}

	if err := c.waitReady(ctx); err != nil {
		_ = c.Stop()
		return err
	}
	version, _ := os.ReadFile(filepath.Join(c.dataDir, "PG_VERSION"))
	c.logf("pgembed: PostgreSQL %s (%s) ready on %s in %v", strings.TrimSpace(string(version)), c.binDir, c.sockDir, time.Since(t0).Round(time.Millisecond))
	return nil
}

// waitReady polls until the server accepts connections, it dies, or the
// timeout passes.
func (c *Cluster) waitReady(ctx context.Context) error {
	db, err := sql.Open("postgres", c.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	defer db.Close()
	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		lastErr = db.PingContext(pctx)
		cancel()
		if lastErr == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("pgembed: postgres exited during start-up (%v); log %s:\n%s", c.waitErr, c.logPath, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("pgembed: waiting for postgres: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgembed: postgres did not accept connections within %v (last error: %v); log %s:\n%s", startTimeout, lastErr, c.logPath, c.logTail())
		}
	}
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	return tail(b, 30)
}

// clearStaleLocks removes postmaster.pid (and the socket lock file) left by a
// server that crashed, and refuses to go on if a live server uses the folder.
func (c *Cluster) clearStaleLocks() error {
	realDir, err := filepath.EvalSymlinks(c.dataDir)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	pidFile := filepath.Join(c.dataDir, "postmaster.pid")
	pid, ok := readLockPID(pidFile)
	if ok {
		if postgresAlive(pid, realDir) {
			return fmt.Errorf("pgembed: a PostgreSQL server (pid %d) is already running on %s; stop it first (kill -INT %d) or use another data folder", pid, c.dataDir, pid)
		}
		// The postmaster is gone, but its children may be a few
		// milliseconds behind it; they still hold the shared memory.
		if err := waitOrphans(realDir, 10*time.Second); err != nil {
			return err
		}
		c.logf("pgembed: removing stale %s (pid %d is not a running server)", pidFile, pid)
		if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pgembed: %w", err)
		}
	}
	sockLock := filepath.Join(c.sockDir, socketName+".lock")
	if pid, ok := readLockPID(sockLock); ok && !postgresAlive(pid, realDir) {
		_ = os.Remove(sockLock)
		_ = os.Remove(filepath.Join(c.sockDir, socketName))
	}
	return nil
}

// initCacheDir names the cache entry for this installation's binaries.
func (c *Cluster) initCacheDir(root string) string {
	key := c.binDir
	if fi, err := os.Stat(filepath.Join(c.binDir, "postgres")); err == nil {
		key += fmt.Sprintf("|%d|%d", fi.Size(), fi.ModTime().UnixNano())
	}
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(root, "initdb-"+hex.EncodeToString(sum[:])[:16])
}

// fillInitCache copies a fresh initdb result into the cache, atomically, so
// that concurrent test processes never see half an entry.
func (c *Cluster) fillInitCache(src, cache string) {
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		c.logf("pgembed: init cache: %v", err)
		return
	}
	tmp, err := os.MkdirTemp(filepath.Dir(cache), ".tmp-")
	if err != nil {
		c.logf("pgembed: init cache: %v", err)
		return
	}
	os.Remove(tmp) // copyTree makes it
	if err := copyTree(src, tmp, nil); err != nil {
		c.logf("pgembed: init cache: %v", err)
		os.RemoveAll(tmp)
		return
	}
	if err := os.Rename(tmp, cache); err != nil {
		os.RemoveAll(tmp) // someone else filled it first
	}
}

// copyTree copies folder src to dst (which must not exist, or be empty),
// keeping modes; with cred, dst belongs to that user.
func copyTree(src, dst string, cred *syscall.Credential) error {
	if _, err := os.Stat(filepath.Join(src, "PG_VERSION")); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(to, info.Mode().Perm()); err != nil && !(rel == "." && errors.Is(err, fs.ErrExist)) {
				return err
			}
			if err := os.Chmod(to, info.Mode().Perm()); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if err := copyFile(path, to, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected file %s", path)
		}
		if cred != nil {
			return os.Lchown(to, int(cred.Uid), int(cred.Gid))
		}
		return nil
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// readLockPID reads the pid on the first line of a postgres lock file.
func readLockPID(path string) (int, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		// An unreadable lock file: treat it as stale (pid 0 is never alive).
		return 0, true
	}
	if pid < 0 { // a standalone backend writes -pid
		pid = -pid
	}
	return pid, true
}

// postgresAlive reports whether pid is a running postgres process. When it
// can tell, it also checks that the process works in dataDir (a postmaster's
// working folder is its data folder), so that a recycled pid is not mistaken
// for a server.
func postgresAlive(pid int, dataDir string) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil {
		return cwd == dataDir
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return true // alive, and we cannot tell more: be careful
	}
	return strings.HasPrefix(strings.TrimSpace(string(comm)), "postgres")
}

// waitOrphans waits until no process works in dataDir any more (the children
// of a postmaster that died). It only sees processes whose cwd it may read.
func waitOrphans(dataDir string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids := processesIn(dataDir)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgembed: processes %v still use %s although their postmaster is gone; stop them first", pids, dataDir)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func processesIn(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && cwd == dir {
			pids = append(pids, pid)
		}
	}
	return pids
}

// socketDir picks the folder for the unix socket: the data folder, unless
// that path is too long for a socket, then a short folder under /tmp named
// by a hash of the data folder (recorded in root/pg.socketdir).
func socketDir(root, dataDir string, cred *syscall.Credential) (string, error) {
	record := filepath.Join(root, "pg.socketdir")
	if len(dataDir)+1+len(socketName) <= maxSocketPath {
		_ = os.Remove(record)
		return dataDir, nil
	}
	sum := sha256.Sum256([]byte(dataDir))
	dir := filepath.Join(os.TempDir(), "guildhall-pg-"+hex.EncodeToString(sum[:])[:16])
	if len(dir)+1+len(socketName) > maxSocketPath {
		dir = filepath.Join("/tmp", filepath.Base(dir))
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("pgembed: socket folder: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("pgembed: socket folder: %w", err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	wantUID := uint32(os.Geteuid())
	if cred != nil {
		if st != nil && st.Uid == 0 {
			if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
				return "", fmt.Errorf("pgembed: %w", err)
			}
			st.Uid = cred.Uid
		}
		wantUID = cred.Uid
	}
	if !fi.IsDir() || st == nil || st.Uid != wantUID {
		return "", fmt.Errorf("pgembed: socket folder %s is not a folder owned by uid %d", dir, wantUID)
	}
	if err := os.WriteFile(record, []byte(dir+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("pgembed: %w", err)
	}
	return dir, nil
}

// fallbackHome is where the cluster of data folder root lives when the
// postgres user cannot reach root: /var/lib/guildhall/<hash of root>, made
// reachable, and recorded in root/pg.location.
func fallbackHome(root string, cred *syscall.Credential, cause error) (string, error) {
	sum := sha256.Sum256([]byte(root))
	base := "/var/lib/guildhall"
	home := filepath.Join(base, hex.EncodeToString(sum[:])[:16])
	if err := os.MkdirAll(home, 0o755); err != nil {
		return "", fmt.Errorf("%w (and the fallback %s: %v)", cause, home, err)
	}
	for _, d := range []string{base, home} {
		if err := os.Chmod(d, 0o755); err != nil {
			return "", fmt.Errorf("pgembed: %w", err)
		}
	}
	if err := checkTraversable(home, cred); err != nil {
		return "", fmt.Errorf("%w (and the fallback: %v)", cause, err)
	}
	if err := os.WriteFile(filepath.Join(root, "pg.location"), []byte(home+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("pgembed: %w", err)
	}
	return home, nil
}

// findBinDir finds the folder holding initdb and postgres: PATH first, then
// /usr/lib/postgresql/*/bin, highest version first. If the cluster already
// exists (version is its PG_VERSION), binaries of that major version win.
func findBinDir(version string) (string, error) {
	if version != "" {
		dir := filepath.Join("/usr/lib/postgresql", version, "bin")
		if isExec(filepath.Join(dir, "initdb")) && isExec(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			// initdb finds postgres next to its real path; so do we.
			if real, err := filepath.EvalSymlinks(initdb); err == nil {
				initdb = real
			}
			dir := filepath.Dir(initdb)
			if isExec(filepath.Join(dir, "postgres")) {
				if abs, err := filepath.Abs(dir); err == nil {
					return abs, nil
				}
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(a)), 64)
		vb, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(b)), 64)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	for _, dir := range dirs {
		if isExec(filepath.Join(dir, "initdb")) && isExec(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// postgresCredential returns the credential of the OS user "postgres".
func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgembed: running as root, and PostgreSQL refuses to run as root: it needs an OS user named postgres (%w); create one (apt-get install postgresql does) or run as another user", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgembed: user postgres: %w", err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	return cred, nil
}

// checkTraversable makes sure the user of cred may enter dir and every folder
// above it. It opens dir itself (our data folder) to others when root owns it.
func checkTraversable(dir string, cred *syscall.Credential) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
		if !canSearch(fi, cred) {
			st := fi.Sys().(*syscall.Stat_t)
			if d == dir && st.Uid == 0 {
				if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
					return fmt.Errorf("pgembed: %w", err)
				}
			} else {
				return fmt.Errorf("pgembed: the OS user postgres (PostgreSQL refuses to run as root) cannot enter %s (mode %v), so it cannot reach the cluster under %s; choose a data folder elsewhere (e.g. under /dev/shm or /var/tmp) or run `chmod o+x %s`", d, fi.Mode().Perm(), dir, d)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func canSearch(fi fs.FileInfo, cred *syscall.Credential) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := uint32(fi.Mode().Perm())
	switch {
	case st.Uid == cred.Uid:
		return perm&0o100 != 0
	case st.Gid == cred.Gid || slices.Contains(cred.Groups, st.Gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// chownTree gives the cluster folder to the postgres user if it is not
// theirs yet (e.g. it was copied or created by root).
func chownTree(dir string, cred *syscall.Credential) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == cred.Uid {
		return nil
	}
	err = filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(cred.Uid), int(cred.Gid))
	})
	if err != nil {
		return fmt.Errorf("pgembed: chown %s: %w", dir, err)
	}
	return os.Chmod(dir, 0o700)
}

// childEnv is our environment without PG* variables, which would change how
// initdb and postgres behave.
func childEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=")
	})
	return append(env, "LC_ALL=C")
}

// quoteDSN quotes a value for a key=value connection string if needed.
func quoteDSN(v string) string {
	if v != "" && !strings.ContainsAny(v, ` '\`) {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
