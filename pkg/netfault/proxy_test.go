package netfault

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
)

// echo serves lines back on loopback until the test ends.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return errors.New("echo answered " + line)
	}
	return nil
}

func TestProxy(t *testing.T) {
	p := New(t, echo(t))
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.FailNext(2)
	for i := 0; i < 2; i++ {
		if err := roundTrip(p.Addr()); err == nil {
			t.Errorf("connection %d after FailNext(2) went through", i+1)
		}
	}
	if err := roundTrip(p.Addr()); err != nil {
		t.Errorf("after the failed ones: %v", err)
	}

	// An open connection is cut by Down, and new ones are refused.
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	open.Write([]byte("x\n"))
	r := bufio.NewReader(open)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	p.Down()
	if _, err := r.ReadString('\n'); err == nil {
		t.Error("a connection open through the proxy survived Down")
	}
	if err := roundTrip(p.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("while down: %v, want connection refused", err)
	}
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(p.Addr()); err != nil {
		t.Errorf("up again: %v", err)
	}
	if got := p.Accepted(); got != 6 { // 1 + 2 failed + 1 + the one cut + 1
		t.Errorf("accepted %d connections, want 6", got)
	}
}
