package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"dreamrank/foundation/certs"
	"dreamrank/ops/access"
)

func certsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "TLS certificates of a deployment: a development CA, the server's certificate, client certificates",
	}
	cmd.AddCommand(certsInitCmd(), certsClientCmd())
	return cmd
}

func certsInitCmd() *cobra.Command {
	var (
		dir     string
		hosts   []string
		clients []string
	)
	cmd := &cobra.Command{
		Use:   "init --dir DIR --hosts HOST[,HOST...]",
		Short: "Make a development CA, a server certificate for HOSTS (plus localhost, 127.0.0.1, ::1) and optional client certificates",
		Long: `Writes DIR/ca.pem and DIR/ca-key.pem (the CA; keep the key off the network),
DIR/server.pem and DIR/server-key.pem (for 'serve --tls-cert --tls-key'), and
DIR/client-NAME.pem and -key.pem per --clients name (for --tls-client-cert and
--tls-client-key when the server has --tls-client-ca). Every client verifies
the server with --tls-ca DIR/ca.pem. Existing files are never replaced. A real
CA's certificates work the same way: the server's must name the host clients
dial (docs/server.md).`,
		Example: `  dreamrank certs init --dir data/certs --hosts nats.lab.example.org,10.0.0.5 --clients worker-1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := certs.Init(dir, hosts, clients)
			if err != nil {
				return err
			}
			fmt.Printf("CA:     %s (key %s: keep it secret)\nserver: %s, %s for %s\n", f.CA, filepath.Join(dir, certs.CAKeyFile),
				f.ServerCert, f.ServerKey, strings.Join(append(hosts, certs.Loopback...), ", "))
			for _, n := range clients {
				fmt.Printf("client %s: %s, %s\n", n, f.Clients[n][0], f.Clients[n][1])
			}
			fmt.Printf("serve:   --tls-cert %s --tls-key %s [--tls-client-ca %s]\nclients: --tls-ca %s\n", f.ServerCert, f.ServerKey, f.CA, f.CA)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "data/certs", "directory to write the files to")
	cmd.Flags().StringSliceVar(&hosts, "hosts", nil, "host names and IP addresses clients dial the server by")
	cmd.Flags().StringSliceVar(&clients, "clients", nil, "names to make client certificates for")
	return cmd
}

func certsClientCmd() *cobra.Command {
	var dir, name string
	cmd := &cobra.Command{
		Use:   "client --dir DIR --name NAME",
		Short: "Issue one more client certificate from the CA in DIR",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, err := certs.LoadCA(dir)
			if err != nil {
				return err
			}
			cert, key, err := certs.IssueClient(ca, dir, name)
			if err != nil {
				return err
			}
			fmt.Printf("client %s: --tls-client-cert %s --tls-client-key %s\n", name, cert, key)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "data/certs", "directory of the CA (from certs init)")
	cmd.Flags().StringVar(&name, "name", "", "the client's name")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func credsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "creds",
		Short: "User logins with roles (submitter, worker, model, robot, admin), each allowed only its role's NATS subjects",
	}
	cmd.AddCommand(credsAddCmd(), credsListCmd())
	return cmd
}

func credsAddCmd() *cobra.Command {
	var (
		d          access.Dirs
		role, name string
	)
	cmd := &cobra.Command{
		Use:   "add --role ROLE --name NAME",
		Short: "Make a user's login: NAME.login.json (secret, for the user's machine) and NAME.user.json (for the server)",
		Long: `Roles: submitter (its own jobs: submit, status, list, cancel, results and
artifacts, through the job API), worker (the task queue, outcomes, the
artifacts it writes, model servers), model (serves world models, policies and
judges), robot (its own fleet subjects; written to --robots like 'robot add'),
admin (everything). The server loads --users at start; clients pass
--login NAME.login.json. Nothing is ever replaced. A user's own quota can be
added to NAME.user.json: "quota": {"max_queued_tasks": N, "max_rollouts_in_flight": M}.`,
		Example: `  dreamrank creds add --role submitter --name alice
  dreamrank creds add --role worker --name gpu-1
  bin/dreamrank submit examples/ranking.yaml --watch --nats tls://host:4222 --tls-ca data/certs/ca.pem --login data/users/alice.login.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := access.Add(d, role, name)
			if err != nil {
				return err
			}
			fmt.Printf("%s %s: login (secret, for the client) %s\n", role, name, path)
			if role != access.Robot {
				fmt.Printf("  public half (the server's --users): %s\n", filepath.Join(d.Users, name+access.PublicSuffix))
			}
			fmt.Println("  restart 'dreamrank serve' to load it")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "role: "+strings.Join(access.Roles(), ", "))
	f.StringVar(&name, "name", "", "the user's name (letters, digits, - and _)")
	f.StringVar(&d.Users, "users", "data/users", "users directory (serve's --users)")
	f.StringVar(&d.Robots, "robots", defaultRobotsDir, "robots directory (serve's --robots), for --role robot")
	_ = cmd.MarkFlagRequired("role")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func credsListCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the users the server loads from --users, with their roles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			users, err := access.Load(dir)
			if err != nil {
				return err
			}
			for _, u := range users {
				q := ""
				if u.Quota != nil {
					q = fmt.Sprintf(" quota: %d tasks, %d rollouts", u.Quota.MaxQueuedTasks, u.Quota.MaxRollouts)
				}
				fmt.Printf("%-24s %-10s %s%s\n", u.Name, u.Role, u.Nkey, q)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "users", "data/users", "users directory (serve's --users)")
	return cmd
}
