package cli

import (
	"os"
	"strings"
	"testing"
)

func TestZZProf(t *testing.T) {
	args := os.Getenv("ZZ_ARGS")
	if args == "" {
		t.Skip()
	}
	out, _ := os.Create(os.DevNull)
	Main(strings.Fields(args), &IOStreams{In: os.Stdin, Out: out, ErrOut: os.Stderr})
}
