package mesh

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultURL is the NATS server a node connects to when given none: a base
// on this machine, on NATS's usual client port.
const DefaultURL = "nats://127.0.0.1:4222"

// The NATS client settings Stoa uses by default, chosen so that a node
// survives a lost server and a network partition without the user's help
// (RATIONALE.md, "Connection defaults").
const (
	// PingInterval is how often the client checks that its server still
	// answers; with MaxPingsOut unanswered it gives up on the server and
	// reconnects elsewhere, so a dead link is noticed within seconds.
	PingInterval = 2 * time.Second
	// MaxPingsOut is how many pings may go unanswered.
	MaxPingsOut = 2
	// ReconnectWait is the pause before trying a server again; each try
	// adds up to ReconnectJitter at random, so that clients spread out.
	ReconnectWait   = 250 * time.Millisecond
	ReconnectJitter = 250 * time.Millisecond
)

// Option configures Join and List. An option given a bad value makes them
// return an error naming it.
type Option func(*config) error

type config struct {
	urls        []string
	auth        Auth
	name        string
	pins        []pinSpec
	natsOpts    []nats.Option
	conn        *nats.Conn
	log         *slog.Logger
	reg         prometheus.Registerer
	retryAfter  time.Duration
	quiet       time.Duration
	maxInFlight int
}

type pinSpec struct {
	pattern    string
	idempotent bool
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		name:        "stoa",
		log:         slog.New(slog.DiscardHandler),
		retryAfter:  250 * time.Millisecond,
		quiet:       100 * time.Millisecond,
		maxInFlight: 4096,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if len(c.urls) == 0 {
		c.urls = []string{DefaultURL}
	}
	return c, nil
}

// WithURLs sets the NATS servers to connect to: every seed URL of the
// cluster, so that the client can reach any of them. Each argument may hold
// several URLs separated by commas. The default is DefaultURL.
func WithURLs(urls ...string) Option {
	return func(c *config) error {
		for _, u := range urls {
			for _, one := range strings.Split(u, ",") {
				if one = strings.TrimSpace(one); one != "" {
					c.urls = append(c.urls, one)
				}
			}
		}
		return nil
	}
}

// WithPins names the patterns the node serves: acts matching them, sent
// by any node, reach this node's engine. A pin need not be a pattern the
// engine has: "role:calculator" serves every act with that role, which the
// engine then routes as usual.
func WithPins(patterns ...string) Option {
	return func(c *config) error {
		for _, p := range patterns {
			c.pins = append(c.pins, pinSpec{pattern: p})
		}
		return nil
	}
}

// WithIdempotentPins is WithPins for patterns whose handlers may safely run
// twice for one act. A caller retries such an act on another provider when
// no reply comes in time (a provider died or a server was lost with the act
// in flight); other acts are sent once.
func WithIdempotentPins(patterns ...string) Option {
	return func(c *config) error {
		for _, p := range patterns {
			c.pins = append(c.pins, pinSpec{pattern: p, idempotent: true})
		}
		return nil
	}
}

// WithName sets the node's name, under which the NATS service API lists it
// (nats micro list); the default is "stoa". Nodes running the same program
// usually share a name. Letters, digits, '-' and '_' only.
func WithName(name string) Option {
	return func(c *config) error {
		if !validName(name) {
			return fmt.Errorf("mesh: node name %q: use letters, digits, '-' and '_'", name)
		}
		c.name = name
		return nil
	}
}

// WithAuth sets the credentials and TLS settings of the connection.
func WithAuth(a Auth) Option {
	return func(c *config) error {
		c.auth = a
		return nil
	}
}

// WithNATSOptions adds nats.go options, applied after Stoa's defaults and
// WithAuth, so they can change anything. Most nodes need none.
func WithNATSOptions(opts ...nats.Option) Option {
	return func(c *config) error {
		c.natsOpts = append(c.natsOpts, opts...)
		return nil
	}
}

// WithConn makes the node use nc instead of connecting. The node then
// neither sets nc's options nor closes it; nc should still use Stoa's
// connection defaults (see Options). Join wraps nc's reconnect, closed and
// error handlers, so set them before it.
func WithConn(nc *nats.Conn) Option {
	return func(c *config) error {
		if nc == nil {
			return errors.New("mesh: WithConn(nil)")
		}
		c.conn = nc
		return nil
	}
}

// WithLogger sets the logger; by default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l != nil {
			c.log = l
		}
		return nil
	}
}

// WithRegisterer registers the node's Prometheus metrics (the mesh hop:
// acts sent and served per pin, their latency, retries, known providers)
// with r. By default the node keeps metrics but registers them nowhere.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(c *config) error {
		c.reg = r
		return nil
	}
}

// WithRetryAfter sets how long a caller waits for the reply to an act on
// an idempotent pin before sending it again (the default is 250 ms; each
// further try waits twice as long). Replies to earlier tries still count.
func WithRetryAfter(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("mesh: WithRetryAfter(%v): must be positive", d)
		}
		c.retryAfter = d
		return nil
	}
}

// WithDiscoveryWait sets how long Join waits, after the last node it heard
// from, before it takes discovery as complete (default 100 ms). Nodes that
// answer later are still learned, only after Join has returned.
func WithDiscoveryWait(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("mesh: WithDiscoveryWait(%v): must be positive", d)
		}
		c.quiet = d
		return nil
	}
}

// WithMaxInFlight caps the acts a node serves at once (default 4096);
// beyond it the node takes the next act only when one finishes, and NATS
// holds the rest.
func WithMaxInFlight(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("mesh: WithMaxInFlight(%d): must be positive", n)
		}
		c.maxInFlight = n
		return nil
	}
}

// Auth says how a node proves who it is to NATS, and how it checks the
// server. Every field is optional; an empty Auth connects without
// credentials and without TLS. Files are read when the node connects.
type Auth struct {
	User     string // user name, with Password
	Password string
	Token    string // an authentication token
	NkeyFile string // a file holding an nkey seed (SU…)
	Creds    string // a credentials file (JWT and nkey seed), for decentralized auth

	TLSCert string // client certificate (PEM), with TLSKey, when the server asks for one
	TLSKey  string
	TLSCA   string // CA certificate(s) to trust for the server's certificate
	// TLS, if set, is the TLS configuration to use as it is; the three
	// file fields above are then ignored.
	TLS *tls.Config
}

// AuthFromEnv reads credentials from the variables natscli uses:
// NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_NKEY, NATS_CREDS, NATS_CERT,
// NATS_KEY and NATS_CA. getenv is usually os.Getenv.
func AuthFromEnv(getenv func(string) string) Auth {
	return Auth{
		User:     getenv("NATS_USER"),
		Password: getenv("NATS_PASSWORD"),
		Token:    getenv("NATS_TOKEN"),
		NkeyFile: getenv("NATS_NKEY"),
		Creds:    getenv("NATS_CREDS"),
		TLSCert:  getenv("NATS_CERT"),
		TLSKey:   getenv("NATS_KEY"),
		TLSCA:    getenv("NATS_CA"),
	}
}

// FromEnv returns the options natscli's environment asks for: the servers
// of NATS_URL (if set) and the credentials of AuthFromEnv.
func FromEnv(getenv func(string) string) []Option {
	var opts []Option
	if u := getenv("NATS_URL"); u != "" {
		opts = append(opts, WithURLs(u))
	}
	return append(opts, WithAuth(AuthFromEnv(getenv)))
}

// natsOptions turns the auth settings into nats.go options.
func (a Auth) natsOptions() ([]nats.Option, error) {
	var opts []nats.Option
	if a.User != "" || a.Password != "" {
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.Token != "" {
		opts = append(opts, nats.Token(a.Token))
	}
	if a.NkeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(a.NkeyFile)
		if err != nil {
			return nil, fmt.Errorf("mesh: nkey seed file %s: %w", a.NkeyFile, err)
		}
		opts = append(opts, o)
	}
	if a.Creds != "" {
		opts = append(opts, nats.UserCredentials(a.Creds))
	}
	switch {
	case a.TLS != nil:
		opts = append(opts, nats.Secure(a.TLS))
	default:
		if a.TLSCA != "" {
			opts = append(opts, nats.RootCAs(a.TLSCA))
		}
		if a.TLSCert != "" || a.TLSKey != "" {
			if a.TLSCert == "" || a.TLSKey == "" {
				return nil, errors.New("mesh: a TLS client certificate needs both TLSCert and TLSKey")
			}
			opts = append(opts, nats.ClientCert(a.TLSCert, a.TLSKey))
		}
	}
	return opts, nil
}

// Options returns the nats.go options a node connects with: Stoa's
// defaults (unlimited reconnects with a short jittered wait, retry when the
// first connection fails, a ping every PingInterval, and a dialer whose
// connections gather the writes of concurrent requests into one, see
// RATIONALE.md, "Writes"), then auth. Use it to make a connection for
// WithConn or for your own NATS clients.
func Options(name string, a Auth) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(ReconnectWait),
		nats.ReconnectJitter(ReconnectJitter, ReconnectJitter),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(PingInterval),
		nats.MaxPingsOutstanding(MaxPingsOut),
		nats.Timeout(2 * time.Second),
		nats.SetCustomDialer(&batchDialer{d: net.Dialer{Timeout: 2 * time.Second}}),
	}
	ao, err := a.natsOptions()
	if err != nil {
		return nil, err
	}
	return append(opts, ao...), nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
