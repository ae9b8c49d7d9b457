package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/xmodal/xmodal/workspace"
)

// runDB manages the PostgreSQL side of database workspaces.
func runDB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "migrate" {
		return usagef("want a subcommand: migrate")
	}
	fs := newFlags("db migrate", "--workspace postgres://… [--json]", stderr)
	wsURL := fs.String("workspace", "", "the database's postgres:// URL")
	asJSON := fs.Bool("json", false, "print the versions as JSON")
	if err := parse(fs, args[1:], false); err != nil {
		return err
	}
	if !workspace.IsDatabase(*wsURL) {
		return usagef("--workspace must be a postgres:// URL")
	}
	from, to, err := workspace.Migrate(ctx, *wsURL)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			From int `json:"from"`
			To   int `json:"to"`
		}{from, to})
	}
	if from == to {
		fmt.Fprintf(stdout, "schema is at version %d: nothing to do\n", to)
	} else {
		fmt.Fprintf(stdout, "schema migrated from version %d to %d\n", from, to)
	}
	return nil
}
