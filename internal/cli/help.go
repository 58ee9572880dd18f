package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// commandExitStatus is each command's own exit codes, by command path; they end
// the command's help (and its man page). A command not listed gets
// exitStatusDefault.
var commandExitStatus = map[string]string{
	"taxagg": `  0    done
  1    done, with findings (see each command's help)
  2    usage error, bad rules, bad input, or I/O failure
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)`,
	"taxagg aggregate": exitStatusTx,
	"taxagg calc":      exitStatusTx,
	"taxagg nexus":     exitStatusTx,
	"taxagg explain": `  0    done (bad records are explained, not fatal)
  1    an --id was not found
  2    usage error, bad rules, or I/O failure
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)`,
	"taxagg reconcile": `  0    every ledger record is match
  1    some ledger record is not match (the ledger, review and report are written)
  2    usage error, bad input, bad mapping file, a key empty on a whole side,
       --duplicates error, or I/O failure; no output file is left behind
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)`,
	"taxagg fetch": `  0    every page was fetched and written
  2    usage error, API error, retries exhausted, or I/O failure; nothing on stdout
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)`,
	"taxagg rules": exitStatusRules,
	"taxagg rules check": `  0    the rule files are valid
  2    problems in the rule files (all listed), usage error, or I/O failure`,
	"taxagg rules show":  exitStatusRules,
	"taxagg rules graph": exitStatusRules,
	"taxagg rules import": `  0    the rule file was written
  2    usage error, a source file taxagg cannot read, or I/O failure`,
	"taxagg version": `  0    done
  2    usage error`,
	"taxagg completion": exitStatusCompletion,
	"taxagg docs":       exitStatusDocs,
}

const (
	exitStatusTx = `  0    done
  1    done, with records quarantined with --rejects
  2    usage error, bad rules, bad input without --rejects, more than
       --max-rejects rejects, or I/O failure; no --out file is written
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)`
	exitStatusRules = `  0    done
  2    bad rules (every problem listed), usage error, or I/O failure`
	exitStatusCompletion = `  0    the script was written
  2    usage error (an unknown shell)`
	exitStatusDocs = `  0    the pages were written
  2    usage error or I/O failure`
	exitStatusDefault = `  0    done
  1    done, with findings
  2    usage error, bad input, or I/O failure
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)`
)

// exitStatusKey is the annotation that holds a command's exit codes.
const exitStatusKey = "exit-status"

// helpTemplate is cobra's, with the command's EXIT STATUS at the end.
const helpTemplate = `{{with (or .Long .Short)}}{{. | trimTrailingWhitespaces}}

{{end}}{{if or .Runnable .HasSubCommands}}{{.UsageString}}{{end}}{{with index .Annotations "exit-status"}}
EXIT STATUS
{{.}}
{{end}}`

// finishTree completes the command tree once every command is added: the
// completion command and its flag-value completions, each command's exit
// codes and help template, and unknown-subcommand errors for the commands
// that only group others.
func finishTree(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	registerCompletions(root)
	walk(root, func(c *cobra.Command) {
		if c.Name() == "help" {
			return
		}
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Long = strings.TrimSuffix(c.Long, exitStatusHelp)
		own := ""
		c.Long, own = cutExitStatus(c.Long)
		status, ok := commandExitStatus[c.CommandPath()]
		if !ok && own != "" {
			status, ok = own, true
		}
		if !ok {
			status = commandExitStatus[parentPath(c)]
			if status == "" || c.Parent() == root {
				status = exitStatusDefault
			}
		}
		c.Annotations[exitStatusKey] = status
		c.SetHelpTemplate(helpTemplate)
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = groupArgs
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
	})
}

// cutExitStatus takes an EXIT STATUS block a command wrote into its Long
// out of it, so that it ends the help instead.
func cutExitStatus(long string) (rest, status string) {
	const head = "\n\nEXIT STATUS\n"
	i := strings.Index(long, head)
	if i < 0 {
		return long, ""
	}
	block := long[i+len(head):]
	after := ""
	if j := strings.Index(block, "\n\n"); j >= 0 {
		block, after = block[:j], block[j:]
	}
	return long[:i] + after, strings.TrimRight(block, "\n")
}

func parentPath(c *cobra.Command) string {
	if c.Parent() == nil {
		return ""
	}
	return c.Parent().CommandPath()
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// groupArgs refuses an argument to a command that only groups others (a
// mistyped subcommand: `taxagg rules cat`), with suggestions, as cobra does
// for the root.
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which it sets only on the root
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	if len(names) > 0 {
		msg += "\n\nIts commands: " + strings.Join(names, ", ")
	}
	return &UsageError{Err: fmt.Errorf("%s", msg)}
}
