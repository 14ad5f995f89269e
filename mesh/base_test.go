package mesh_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/mesh"
)

func startBase(t *testing.T, b *mesh.Base) *mesh.Base {
	t.Helper()
	if b.Listen == "" {
		b.Listen = "127.0.0.1:0"
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if err := b.Ready(); err != nil {
		t.Fatal(err)
	}
	return b
}

func joinURL(t *testing.T, url string, e *stoa.Engine, opts ...mesh.Option) (*mesh.Node, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	n, err := mesh.Join(ctx, e, append([]mesh.Option{mesh.WithURLs(url), mesh.WithDiscoveryWait(20 * time.Millisecond)}, opts...)...)
	if err == nil {
		t.Cleanup(func() { n.Close(context.Background()) })
	}
	return n, err
}

// TestBaseCluster: three bases routed to each other are one mesh: a pin
// served on the first is acted on from the third.
func TestBaseCluster(t *testing.T) {
	first := startBase(t, &mesh.Base{Name: "b1", Cluster: "127.0.0.1:0"})
	var bases []*mesh.Base
	bases = append(bases, first)
	for _, name := range []string{"b2", "b3"} {
		bases = append(bases, startBase(t, &mesh.Base{Name: name, Cluster: "127.0.0.1:0", Routes: []string{first.ClusterURL()}}))
	}
	p := newEngine(t)
	p.Add("role:calc,cmd:add", func(ctx context.Context, m stoa.Msg) (any, error) { return map[string]any{"by": "b1"}, nil })
	if _, err := joinURL(t, bases[0].ClientURL(), p, mesh.WithPins("role:calc,cmd:add")); err != nil {
		t.Fatal(err)
	}
	caller := newEngine(t)
	cn, err := joinURL(t, bases[2].ClientURL(), caller)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, cn, "role:calc,cmd:add", 1) // the routes may still be forming when it joins
	out, err := caller.Act(t.Context(), "role:calc,cmd:add")
	if err != nil {
		t.Fatal(err)
	}
	if got := by(t, out); got != "b1" {
		t.Errorf("answered by %q", got)
	}
}

// TestBaseSecurity: for each way NATS authenticates, a base that requires
// it refuses a node that does not present it, and admits one that does;
// the settings pass through Base and Auth unchanged.
func TestBaseSecurity(t *testing.T) {
	dir := t.TempDir()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	ca, cert, key := makeCerts(t, dir)
	conf, creds := makeOperator(t, dir)

	for _, c := range []struct {
		name string
		base *mesh.Base
		auth mesh.Auth
	}{
		{"user and password", &mesh.Base{User: "stoa", Password: "s3cret"}, mesh.Auth{User: "stoa", Password: "s3cret"}},
		{"token", &mesh.Base{Token: "t0ken"}, mesh.Auth{Token: "t0ken"}},
		{"nkey", &mesh.Base{NkeyUsers: []string{pub}}, mesh.Auth{NkeyFile: seedFile}},
		{"creds (operator JWT, from a config file)", &mesh.Base{ConfigFile: conf}, mesh.Auth{Creds: creds}},
		{"tls with client certificates", &mesh.Base{TLSCert: cert, TLSKey: key, TLSCA: ca}, mesh.Auth{TLSCA: ca, TLSCert: cert, TLSKey: key}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := startBase(t, c.base)
			start := time.Now()
			if _, err := joinURL(t, b.ClientURL(), newEngine(t)); err == nil {
				t.Fatal("a node without credentials joined")
			} else if d := time.Since(start); d > 3*time.Second {
				t.Errorf("refused after %v: %v", d, err)
			} else {
				t.Logf("refused after %v: %v", d.Round(time.Millisecond), err)
			}
			if _, err := joinURL(t, b.ClientURL(), newEngine(t), mesh.WithAuth(c.auth)); err != nil {
				t.Fatalf("a node with credentials: %v", err)
			}
		})
	}
}

// TestAuthFromEnv: natscli's variables reach Auth.
func TestAuthFromEnv(t *testing.T) {
	env := map[string]string{"NATS_USER": "u", "NATS_PASSWORD": "p", "NATS_TOKEN": "t", "NATS_NKEY": "n",
		"NATS_CREDS": "c", "NATS_CERT": "cert", "NATS_KEY": "key", "NATS_CA": "ca"}
	got := mesh.AuthFromEnv(func(k string) string { return env[k] })
	want := mesh.Auth{User: "u", Password: "p", Token: "t", NkeyFile: "n", Creds: "c", TLSCert: "cert", TLSKey: "key", TLSCA: "ca"}
	if got != want {
		t.Errorf("AuthFromEnv = %+v, want %+v", got, want)
	}
}

// makeCerts writes a CA and a certificate for 127.0.0.1 signed by it, used
// by both the server and the client.
func makeCerts(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stoa test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "EC PRIVATE KEY", keyDER)
}

// makeOperator writes a nats-server config for decentralized auth (an
// operator, one account in a memory resolver) and a creds file for a user
// of that account.
func makeOperator(t *testing.T, dir string) (conf, creds string) {
	t.Helper()
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	opJWT, err := jwt.NewOperatorClaims(opPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	accJWT, err := jwt.NewAccountClaims(accPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	userSeed, _ := user.Seed()
	userJWT, err := jwt.NewUserClaims(userPub).Encode(acc)
	if err != nil {
		t.Fatal(err)
	}
	credsText, err := jwt.FormatUserConfig(userJWT, userSeed)
	if err != nil {
		t.Fatal(err)
	}
	creds = filepath.Join(dir, "user.creds")
	conf = filepath.Join(dir, "operator.conf")
	text := "operator: " + opJWT + "\nresolver: MEMORY\nresolver_preload: {\n  " + accPub + ": " + accJWT + "\n}\n"
	if err := os.WriteFile(creds, credsText, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf, creds
}
