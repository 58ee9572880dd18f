// Package failpoint is taxagg's one test-only crash switch. With
// TAXAGG_FAILPOINT=NAME in its environment, the process kills itself
// (SIGKILL: no deferred function, no flush) when it reaches the point of
// that name, so that tests can prove a crash there loses nothing. It is
// not for production use.
//
// The points:
//
//	state-after-output   a --state run: the output is written, the state not yet committed
//	state-in-commit      a --state run: inside the state's commit, before it is durable
//	state-after-commit   a --state run: committed, the output not yet renamed into place
//	deliver-after-send   deliver: an answer read, its outcome not yet recorded
package failpoint

import (
	"fmt"
	"os"
	"strings"
)

// Env is the environment variable that names the point.
const Env = "TAXAGG_FAILPOINT"

// names are the points, in the order of the package comment.
func names() []string {
	return []string{"state-after-output", "state-in-commit", "state-after-commit", "deliver-after-send"}
}

// Point is the failpoint set for this process ("" for none).
type Point struct{ name string }

// FromEnv reads Env with getenv (nil reads nothing). An unknown name is an
// error naming the known ones.
func FromEnv(getenv func(string) string) (Point, error) {
	if getenv == nil {
		return Point{}, nil
	}
	v := getenv(Env)
	if v == "" {
		return Point{}, nil
	}
	for _, n := range names() {
		if v == n {
			return Point{name: v}, nil
		}
	}
	return Point{}, fmt.Errorf("%s=%q: want one of %s (for tests only)", Env, v, strings.Join(names(), ", "))
}

// Set reports whether a failpoint is set.
func (p Point) Set() bool { return p.name != "" }

// Hit kills the process when name is the point set; otherwise it does
// nothing.
func (p Point) Hit(name string) {
	if p.name == "" || p.name != name {
		return
	}
	if self, err := os.FindProcess(os.Getpid()); err == nil {
		self.Kill()
	}
	select {} // the kill is asynchronous: wait for it
}
