package lambda

import (
	"encoding/binary"
	"errors"
	"net"
	"syscall"
)

// peerListener accepts only connections whose client socket belongs to uid:
// another function, running as another uid, cannot find an environment's
// loopback port and take its invocations or answer them.
type peerListener struct {
	net.Listener
	uid uint32
}

// Accept returns the next connection from the environment's uid, closing others.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && uid == l.uid {
			return c, nil
		}
		c.Close()
	}
}

// peerUID asks the kernel (NETLINK_SOCK_DIAG, an exact inet_diag lookup)
// which uid owns the other end of a loopback TCP connection.
func peerUID(c net.Conn) (uint32, error) {
	local, ok1 := c.LocalAddr().(*net.TCPAddr)
	remote, ok2 := c.RemoteAddr().(*net.TCPAddr)
	if !ok1 || !ok2 || remote.IP.To4() == nil || local.IP.To4() == nil {
		return 0, errors.New("not a TCP/IPv4 connection")
	}
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, netlinkSockDiag)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(fd)

	const hdr, reqLen = 16, 56
	var msg [hdr + reqLen]byte
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], sockDiagByFamily)
	ne.PutUint16(msg[6:], syscall.NLM_F_REQUEST)
	ne.PutUint32(msg[8:], 1) // seq
	r := msg[hdr:]
	r[0] = syscall.AF_INET
	r[1] = syscall.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff) // every state
	// The socket looked up is the client's: its source is the remote end.
	binary.BigEndian.PutUint16(r[8:], uint16(remote.Port))
	binary.BigEndian.PutUint16(r[10:], uint16(local.Port))
	copy(r[12:16], remote.IP.To4())
	copy(r[28:32], local.IP.To4())
	ne.PutUint32(r[48:], 0xffffffff) // no cookie
	ne.PutUint32(r[52:], 0xffffffff)
	if err := syscall.Sendto(fd, msg[:], 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, err
	}
	var buf [1024]byte
	n, _, err := syscall.Recvfrom(fd, buf[:], 0)
	if err != nil {
		return 0, err
	}
	if n < hdr {
		return 0, errors.New("short netlink reply")
	}
	switch ne.Uint16(buf[4:]) {
	case syscall.NLMSG_ERROR:
		if n >= hdr+4 {
			if e := int32(ne.Uint32(buf[hdr:])); e != 0 {
				return 0, syscall.Errno(-e)
			}
		}
		return 0, errors.New("netlink error")
	case sockDiagByFamily:
		const uidOff = hdr + 4 + 48 + 12 // inet_diag_msg: family..retrans, sockid, expires, rqueue, wqueue
		if n < uidOff+4 {
			return 0, errors.New("short inet_diag reply")
		}
		return ne.Uint32(buf[uidOff:]), nil
	}
	return 0, errors.New("unexpected netlink reply")
}

const (
	netlinkSockDiag  = 4
	sockDiagByFamily = 20
)
