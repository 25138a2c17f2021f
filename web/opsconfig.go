package web

import "flag"

// OpsConfig is what operators set for logs and metrics.
type OpsConfig struct {
	// LogFormat is "text" (default) or "json".
	LogFormat string
	// MetricsAddr serves /metrics on its own listener (unset: off).
	MetricsAddr string
	// MetricsToken serves /metrics on the main address to bearers of it.
	MetricsToken string
}

// loadOps reads the environment and registers the flags that override it.
func loadOps(getenv func(string) string, fs *flag.FlagSet) OpsConfig {
	o := OpsConfig{
		LogFormat:    getenv("GUILDHALL_LOG_FORMAT"),
		MetricsAddr:  getenv("GUILDHALL_METRICS_ADDR"),
		MetricsToken: getenv("GUILDHALL_METRICS_TOKEN"),
	}
	fs.StringVar(&o.LogFormat, "log-format", o.LogFormat, "log format: text or json (GUILDHALL_LOG_FORMAT)")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", o.MetricsAddr, "serve /metrics on this address; unset: off (GUILDHALL_METRICS_ADDR)")
	return o
}
