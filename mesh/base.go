package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultMaxPayload is the message size cap of a Base that sets none:
// room for Lambda's 6 MB payloads and the act around them.
const DefaultMaxPayload = 8 << 20

// Base is a base node: a NATS server running in this process, which the
// other nodes of the mesh connect to. One base serves one machine; bases
// given each other as Routes form a NATS cluster, and nodes given all of
// their URLs survive the loss of any one.
//
// Set the fields, then call Start; they may not change after that. The zero
// Base listens on 127.0.0.1:4222 with no cluster, no JetStream and no
// authentication.
type Base struct {
	// Name names the server in a cluster; "" lets NATS make one up.
	Name string

	// Listen is the host:port clients connect to; "" means
	// 127.0.0.1:4222. Use ":4222" (or "0.0.0.0:4222") to accept other
	// machines; port 0 picks a free port (see ClientURL).
	Listen string

	// Cluster is the host:port on which the base accepts routes from the
	// other bases of its cluster; "" means none, unless Routes is set, when
	// it is ":6222".
	Cluster string
	// ClusterName must be the same on every base of a cluster; "" means
	// "stoa".
	ClusterName string
	// Routes are the cluster URLs (nats://host:6222) of the other bases.
	// The list may name this base too; NATS ignores a route to itself.
	Routes []string

	// JetStream enables NATS's persistence layer, storing under DataDir,
	// which it then requires.
	JetStream bool
	DataDir   string

	// ConfigFile, if set, is a nats-server configuration file read first
	// (accounts, operator JWTs, anything else); the fields set here
	// override it.
	ConfigFile string

	// Credentials clients must present; all empty means none. User and
	// Password, or Token, or one of the public nkeys (U…) in NkeyUsers.
	User      string
	Password  string
	Token     string
	NkeyUsers []string

	// TLS: the server's certificate and key (PEM files). With TLSCA set,
	// clients must present a certificate signed by it.
	TLSCert string
	TLSKey  string
	TLSCA   string

	// PingInterval is how often the server pings each client; a client
	// that misses two pings is dropped, and with it its subscriptions, so
	// that a node cut off by a partition stops being sent acts within
	// seconds. 0 means the mesh's PingInterval.
	PingInterval time.Duration

	// MaxPayload caps the size of one message, in bytes. 0 means the
	// configuration file's max_payload if it sets one, else
	// DefaultMaxPayload (8 MB), so that Lambda's 6 MB request and response
	// payloads cross the mesh (NATS's own default is 1 MB). Clients learn
	// the cap when they connect.
	MaxPayload int32

	// LameDuck is how long Shutdown spends telling clients to move to
	// other servers of the cluster before it stops; 0 means 2 s.
	LameDuck time.Duration

	// Logger receives the server's log; nil means no log.
	Logger *slog.Logger

	mu sync.Mutex
	s  *server.Server
}

// Start starts the server and waits until it accepts connections.
func (b *Base) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.s != nil {
		return errors.New("mesh: base already started")
	}
	o, err := b.options()
	if err != nil {
		return err
	}
	s, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("mesh: base: %w", err)
	}
	if b.Logger != nil {
		s.SetLoggerV2(slogAdapter{b.Logger}, false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return fmt.Errorf("mesh: base: the NATS server did not start listening on %s", o.Host+":"+strconv.Itoa(o.Port))
	}
	b.s = s
	return nil
}

func (b *Base) options() (*server.Options, error) {
	o := &server.Options{}
	if b.ConfigFile != "" {
		fo, err := server.ProcessConfigFile(b.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("mesh: base: config file: %w", err)
		}
		o = fo
	}
	o.NoSigs = true
	o.NoLog = b.Logger == nil
	o.ServerName = b.Name
	listen := b.Listen
	if listen == "" {
		listen = "127.0.0.1:4222"
	}
	host, port, err := splitHostPort("Listen", listen)
	if err != nil {
		return nil, err
	}
	o.Host, o.Port = host, port
	if o.Port == 0 {
		o.Port = server.RANDOM_PORT
	}
	if b.Cluster != "" || len(b.Routes) > 0 {
		cl := b.Cluster
		if cl == "" {
			cl = ":6222"
		}
		h, p, err := splitHostPort("Cluster", cl)
		if err != nil {
			return nil, err
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		o.Cluster.Host, o.Cluster.Port = h, p
		o.Cluster.Name = b.ClusterName
		if o.Cluster.Name == "" {
			o.Cluster.Name = "stoa"
		}
		for _, r := range b.Routes {
			for _, one := range strings.Split(r, ",") {
				if one = strings.TrimSpace(one); one == "" {
					continue
				}
				u, err := url.Parse(one)
				if err != nil || u.Host == "" {
					return nil, fmt.Errorf("mesh: base: Routes: %q is not a URL like nats://host:6222", one)
				}
				o.Routes = append(o.Routes, u)
			}
		}
	}
	if b.JetStream {
		if b.DataDir == "" {
			return nil, errors.New("mesh: base: JetStream needs DataDir")
		}
		o.JetStream, o.StoreDir = true, b.DataDir
	}
	switch {
	case b.User != "" || b.Password != "":
		o.Username, o.Password = b.User, b.Password
	case b.Token != "":
		o.Authorization = b.Token
	}
	for _, k := range b.NkeyUsers {
		o.Nkeys = append(o.Nkeys, &server.NkeyUser{Nkey: k})
	}
	if b.TLSCert != "" || b.TLSKey != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: b.TLSCert, KeyFile: b.TLSKey, CaFile: b.TLSCA, Verify: b.TLSCA != ""})
		if err != nil {
			return nil, fmt.Errorf("mesh: base: TLS: %w", err)
		}
		o.TLSConfig, o.TLSVerify = tc, b.TLSCA != ""
		o.TLSTimeout = 2
	}
	switch {
	case b.MaxPayload < 0:
		return nil, fmt.Errorf("mesh: base: MaxPayload %d is negative", b.MaxPayload)
	case b.MaxPayload > 0:
		o.MaxPayload = b.MaxPayload
	case o.MaxPayload == 0:
		o.MaxPayload = DefaultMaxPayload
	}
	o.PingInterval = b.PingInterval
	if o.PingInterval <= 0 {
		o.PingInterval = PingInterval
	}
	o.MaxPingsOut = MaxPingsOut
	o.LameDuckDuration = b.LameDuck
	if o.LameDuckDuration <= 0 {
		o.LameDuckDuration = 2 * time.Second
	}
	o.LameDuckGracePeriod = o.LameDuckDuration / 4
	return o, nil
}

func splitHostPort(field, hp string) (string, int, error) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("mesh: base: %s %q: %w", field, hp, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("mesh: base: %s %q: bad port", field, hp)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, p, nil
}

// ClientURL returns the URL nodes connect to (nats://127.0.0.1:4222), or ""
// before Start.
func (b *Base) ClientURL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.s == nil {
		return ""
	}
	return b.s.ClientURL()
}

// ClusterURL returns the URL other bases route to, or "" if the base is
// not in a cluster.
func (b *Base) ClusterURL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.s == nil {
		return ""
	}
	if a := b.s.ClusterAddr(); a != nil {
		return "nats://" + a.String()
	}
	return ""
}

// Server returns the NATS server, or nil before Start. Use it for what the
// Base does not offer (in-process connections, monitoring).
func (b *Base) Server() *server.Server {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s
}

// Ready reports whether the server accepts connections and, with
// JetStream, whether JetStream is up: what /readyz answers.
func (b *Base) Ready() error {
	s := b.Server()
	if s == nil {
		return errors.New("mesh: base not started")
	}
	if !s.Running() {
		return errors.New("mesh: base stopped")
	}
	if h := s.Healthz(nil); h.Status != "ok" {
		return fmt.Errorf("mesh: base: %s", h.Error)
	}
	return nil
}

// Shutdown stops the base gracefully: in lame duck mode it stops taking
// clients and asks those it has to move to the other bases of its cluster
// over LameDuck, then stops. If ctx ends first, it stops at once.
func (b *Base) Shutdown(ctx context.Context) error {
	s := b.Server()
	if s == nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		s.LameDuckShutdown()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Shutdown()
		<-done
		return ctx.Err()
	}
}

// Close stops the base at once; its clients reconnect elsewhere.
func (b *Base) Close() {
	if s := b.Server(); s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// slogAdapter writes the NATS server's log to a slog.Logger.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(f string, v ...any) { a.l.Info(fmt.Sprintf(f, v...), "component", "nats") }
func (a slogAdapter) Warnf(f string, v ...any)   { a.l.Warn(fmt.Sprintf(f, v...), "component", "nats") }
func (a slogAdapter) Fatalf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...), "component", "nats") }
func (a slogAdapter) Errorf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...), "component", "nats") }
func (a slogAdapter) Debugf(f string, v ...any)  { a.l.Debug(fmt.Sprintf(f, v...), "component", "nats") }
func (a slogAdapter) Tracef(f string, v ...any)  { a.l.Debug(fmt.Sprintf(f, v...), "component", "nats") }
