// Command taxagg computes sales tax owed per jurisdiction from a stream of
// transactions, and reconciles billing exports. See the README.
package main

import (
	"os"

	"github.com/taxagg/taxagg/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.SystemIOStreams()))
}
