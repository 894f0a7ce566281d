package access_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/certs"
	"dreamrank/foundation/errcode"
	"dreamrank/ops/access"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/queue"
	"dreamrank/ops/server"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/worker"
	"dreamrank/robots/fleet"
)

// deployment is an embedded server with TLS and one login per role, and a
// job server on the serving process's own in-process admin connection.
type deployment struct {
	e     *bus.Embedded
	ca    string
	dirs  access.Dirs
	admin *nats.Conn
}

const (
	adminUser, adminPassword = "dreamrank", "s3cret"
)

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pki, err := certs.Init(t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &deployment{ca: pki.CA, dirs: access.Dirs{Users: t.TempDir(), Robots: t.TempDir()}}
	for _, u := range []struct{ role, name string }{
		{access.Submitter, "alice"}, {access.Submitter, "bob"}, {access.Worker, "w1"}, {access.Model, "m1"},
		{access.Admin, "ops"}, {access.Robot, "r1"}, {access.Robot, "r2"},
	} {
		if _, err := access.Add(d.dirs, u.role, u.name); err != nil {
			t.Fatal(err)
		}
	}
	users, err := access.Load(d.dirs.Users)
	if err != nil {
		t.Fatal(err)
	}
	su, err := access.ServerUsers(users)
	if err != nil {
		t.Fatal(err)
	}
	robots, err := fleet.LoadRobots(d.dirs.Robots)
	if err != nil {
		t.Fatal(err)
	}
	d.e, err = bus.StartEmbedded(ctx, bus.EmbeddedConfig{StoreDir: t.TempDir(), User: adminUser, Password: adminPassword,
		Users: append(fleet.Users(robots), su...), TLS: &bus.ServerTLS{Cert: pki.ServerCert, Key: pki.ServerKey}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.e.Shutdown)
	d.admin, err = bus.Connect(ctx, bus.Config{InProcess: d.e.Server, URL: d.e.URL(), User: adminUser, Password: adminPassword, Name: "job server"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.admin.Close)
	return d
}

// login connects over TLS with user's login (a robot's seed for robots).
func (d *deployment) login(t *testing.T, user string) *nats.Conn {
	t.Helper()
	c := bus.Config{URL: d.e.URL(), TLSCA: d.ca, Name: user, Login: access.LoginPath(d.dirs.Users, user)}
	if strings.HasPrefix(user, "r") {
		c.Login, c.Nkey, c.InboxPrefix = "", fleet.SeedPath(d.dirs.Robots, user), fleet.InboxPrefix(user)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, c)
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// denied says whether the server refused the last thing nc did on subject
// (a publish or a subscription): NATS answers a violation with an error
// that arrives before the flush's pong.
func denied(t *testing.T, nc *nats.Conn, subject string) bool {
	t.Helper()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	err := nc.LastError()
	return err != nil && errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`)
}

func mustDenyPub(t *testing.T, nc *nats.Conn, who, subject string) {
	t.Helper()
	if err := nc.Publish(subject, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if !denied(t, nc, subject) {
		t.Errorf("%s may publish to %s", who, subject)
	}
}

func mustDenySub(t *testing.T, nc *nats.Conn, who, subject string) {
	t.Helper()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if !denied(t, nc, subject) {
		t.Errorf("%s may subscribe to %s", who, subject)
	}
}

// mediaRunner is servertest's fake runner that also makes a video, so the
// worker writes an artifact.
type mediaRunner struct{ servertest.Runner }

func (r *mediaRunner) Run(ctx context.Context, t job.Task) (job.Outcome, error) {
	o, err := r.Runner.Run(ctx, t)
	o.Media = append(o.Media, job.Media{Name: fmt.Sprintf("videos/task-%d.gif", t.Index), Data: []byte("GIF89a fake")})
	return o, err
}

// startWorker runs one worker on nc, which opens only what a worker may.
func startWorker(t *testing.T, nc *nats.Conn) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	res, err := queue.OpenWorker(ctx, nc)
	if err != nil {
		cancel()
		t.Fatalf("a worker login opens the worker's resources: %v", err)
	}
	w := worker.New(res, &mediaRunner{}, worker.Config{Name: "w1", IdleWait: 50 * time.Millisecond, Backoff: 50 * time.Millisecond})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Every role does its job over TLS with its own login and nothing more:
// a submitter's jobs, results and artifacts are the submitter's alone; a
// worker runs tasks but cannot submit, purge or read what it did not
// write; a model server serves and answers; robots keep to their own
// subjects; an admin sees everything.
func TestRoles(t *testing.T) {
	d := newDeployment(t)
	servertest.Server(t, d.admin, server.Config{})
	alice, bob := d.login(t, "alice"), d.login(t, "bob")
	w1, m1, ops := d.login(t, "w1"), d.login(t, "m1"), d.login(t, "ops")
	r1 := d.login(t, "r1")
	aliceAPI, bobAPI := jobapi.Client{NC: alice, User: "alice"}, jobapi.Client{NC: bob, User: "bob"}

	// A submitter submits and watches its job; a worker runs it.
	startWorker(t, w1)
	rep, err := aliceAPI.Submit(ctxT(t), servertest.Spec("a", "b"), "")
	if err != nil {
		t.Fatal(err)
	}
	st := servertest.Wait(t, aliceAPI, rep.ID, 30*time.Second)
	if st.State != job.Succeeded || st.Result == nil || st.Owner != "alice" {
		t.Fatalf("alice's job: %+v", st)
	}
	video := job.ArtifactName(rep.ID, "videos/task-0.gif")
	var buf strings.Builder
	if _, err := aliceAPI.Artifact(ctxT(t), video, &buf); err != nil || buf.String() != "GIF89a fake" {
		t.Fatalf("alice reads her job's video the worker wrote: %q, %v", buf.String(), err)
	}

	t.Run("submitter", func(t *testing.T) {
		if _, err := bobAPI.Status(ctxT(t), rep.ID); !errors.Is(err, errcode.JobNotFound) {
			t.Errorf("bob reads alice's job: %v, want job_not_found", err)
		}
		if l, err := bobAPI.List(ctxT(t), jobapi.ListRequest{}); err != nil || len(l.Jobs) != 0 || l.Quota == nil || l.Quota.User != "bob" {
			t.Errorf("bob's list: %+v, %v", l, err)
		}
		if _, err := bobAPI.Artifact(ctxT(t), video, &strings.Builder{}); !errors.Is(err, errcode.NotFound) {
			t.Errorf("bob reads alice's video: %v, want not_found", err)
		}
		if _, err := bobAPI.Artifact(ctxT(t), "jobs/"+rep.ID+"/result.json", &strings.Builder{}); !errors.Is(err, errcode.NotFound) {
			t.Errorf("bob reads alice's result: %v, want not_found", err)
		}
		if _, err := bobAPI.Cancel(ctxT(t), rep.ID, "mine now"); !errors.Is(err, errcode.JobNotFound) {
			t.Errorf("bob cancels alice's job: %v", err)
		}
		asAlice := jobapi.Client{NC: bob, User: "alice"}
		if _, err := asAlice.Status(ctxT(t), rep.ID); !errors.Is(err, errcode.Unauthorized) {
			t.Errorf("bob on alice's subject: %v, want unauthorized", err)
		}
		operator := jobapi.Client{NC: bob}
		if _, err := operator.List(ctxT(t), jobapi.ListRequest{}); !errors.Is(err, errcode.Unauthorized) {
			t.Errorf("bob on the operator's subject: %v, want unauthorized", err)
		}
		mustDenySub(t, bob, "bob", access.Inbox("alice")+".>")
		mustDenySub(t, bob, "bob", jobapi.UserPrefix("alice")+".>")
		mustDenyPub(t, bob, "bob", "$JS.API.DIRECT.GET.KV_"+queue.JobBucket+".$KV."+queue.JobBucket+"."+rep.ID)
		mustDenyPub(t, bob, "bob", "$JS.API.CONSUMER.CREATE.OBJ_"+queue.ArtifactBucket)
		mustDenyPub(t, bob, "bob", "$JS.API.STREAM.INFO."+queue.OutcomeStream)
		mustDenySub(t, bob, "bob", queue.OutcomePrefix+".>")
		mustDenyPub(t, bob, "bob", queue.TaskSubject("high", rep.ID, 0))
	})

	t.Run("worker", func(t *testing.T) {
		asWorker := jobapi.Client{NC: w1, User: "w1"}
		start := time.Now()
		if _, err := asWorker.Submit(ctxT(t), servertest.Spec("a"), ""); !errors.Is(err, errcode.Unauthorized) {
			t.Errorf("a worker submits: %v, want unauthorized", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("the refusal took %v: it should not wait for a timeout", time.Since(start))
		}
		if _, err := (jobapi.Client{NC: w1}).Submit(ctxT(t), servertest.Spec("a"), ""); !errors.Is(err, errcode.Unauthorized) {
			t.Errorf("a worker submits as the operator: %v, want unauthorized", err)
		}
		for _, s := range []string{
			"$JS.API.STREAM.PURGE." + queue.TaskStream, "$JS.API.STREAM.DELETE." + queue.TaskStream,
			"$JS.API.STREAM.UPDATE." + queue.TaskStream, "$JS.API.CONSUMER.DELETE." + queue.TaskStream + ".workers-high",
			"$JS.API.STREAM.PURGE.OBJ_" + queue.ArtifactBucket, "$JS.API.STREAM.PURGE.KV_" + queue.JobBucket,
			"$JS.KV." + queue.JobBucket + "." + rep.ID, "$JS.API.CONSUMER.CREATE." + queue.OutcomeStream,
			"$JS.API.DIRECT.GET.KV_" + queue.PlanBucket + ".$KV." + queue.PlanBucket + "." + rep.ID,
			"$JS.API.CONSUMER.CREATE.OBJ_" + queue.ArtifactBucket, queue.TaskSubject("high", rep.ID, 99),
			fleet.RobotSubject("r1", fleet.VerbAssign),
		} {
			mustDenyPub(t, w1, "a worker", s)
		}
		mustDenySub(t, w1, "a worker", queue.OutcomePrefix+".>")
		mustDenySub(t, w1, "a worker", access.Inbox("alice")+".>")
	})

	t.Run("model server", func(t *testing.T) {
		svc, err := micro.AddService(m1, micro.Config{Name: "wm-test", Version: "1.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Stop()
		if err := svc.AddGroup("dreamrank.wm.test").AddEndpoint("step", micro.HandlerFunc(func(r micro.Request) { _ = r.Respond([]byte("stepped")) })); err != nil {
			t.Fatal(err)
		}
		if err := m1.Flush(); err != nil || denied(t, m1, "dreamrank.wm.test.step") {
			t.Fatalf("a model server may not serve: %v %v", err, m1.LastError())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		msg, err := w1.RequestWithContext(ctx, "dreamrank.wm.test.step", nil)
		if err != nil || string(msg.Data) != "stepped" {
			t.Fatalf("a worker calls the model server: %v", err)
		}
		// Replies in parts: a model server may answer one request with
		// several messages.
		parts, err := m1.Subscribe("dreamrank.policy.test.act", func(m *nats.Msg) {
			for i := range 3 {
				_ = m1.Publish(m.Reply, []byte{byte('0' + i)})
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer parts.Unsubscribe()
		if err := m1.Flush(); err != nil {
			t.Fatal(err)
		}
		inbox := w1.NewInbox()
		replies, err := w1.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := w1.PublishRequest("dreamrank.policy.test.act", inbox, nil); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if m, err := replies.NextMsgWithContext(ctx); err != nil || string(m.Data) != string(rune('0'+i)) {
				t.Fatalf("part %d: %v", i, err)
			}
		}
		mustDenyPub(t, m1, "a model server", access.Inbox("alice")+".forged")
		mustDenyPub(t, m1, "a model server", jobapi.SubjectSubmit)
		mustDenyPub(t, m1, "a model server", queue.OutcomeSubject(rep.ID, 0))
		mustDenySub(t, m1, "a model server", queue.TaskPrefix+".>")
		mustDenySub(t, m1, "a model server", fleet.Prefix+".>")
		mustDenyPub(t, m1, "a model server", "$JS.API.STREAM.INFO."+queue.TaskStream)
	})

	t.Run("robot", func(t *testing.T) {
		mustDenySub(t, r1, "robot r1", fleet.RobotSubject("r2", fleet.VerbAssign))
		mustDenySub(t, r1, "robot r1", fleet.UploadPrefix+".>")
		mustDenySub(t, r1, "robot r1", fleet.InboxPrefix("r2")+".>")
		mustDenyPub(t, r1, "robot r1", fleet.RobotSubject("r2", fleet.VerbUpload))
		mustDenyPub(t, r1, "robot r1", "$JS.API.STREAM.LIST")
		mustDenyPub(t, r1, "robot r1", jobapi.SubjectList)
	})

	t.Run("admin", func(t *testing.T) {
		l, err := (jobapi.Client{NC: ops}).List(ctxT(t), jobapi.ListRequest{})
		if err != nil || l.Total != 1 || l.Jobs[0].Owner != "alice" {
			t.Fatalf("the admin's list: %+v, %v", l, err)
		}
		if st, err := (jobapi.Client{NC: ops}).Status(ctxT(t), rep.ID); err != nil || st.Result == nil {
			t.Fatalf("the admin reads alice's result: %v", err)
		}
		sub, err := ops.SubscribeSync(fleet.Prefix + ".>")
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if denied(t, ops, fleet.Prefix+".>") {
			t.Fatal("the admin may not subscribe")
		}
	})
}

// The handshake refuses before any role applies: no login, a wrong CA,
// no CA, a submitter's login with a worker's file name mixed up (the
// wrong seed for the user).
func TestLoginRefused(t *testing.T) {
	d := newDeployment(t)
	other, err := certs.Init(t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  bus.Config
	}{
		{"anonymous", bus.Config{TLSCA: d.ca}},
		{"wrong password", bus.Config{TLSCA: d.ca, User: adminUser, Password: "guess"}},
		{"no CA", bus.Config{Login: access.LoginPath(d.dirs.Users, "alice")}},
		{"wrong CA", bus.Config{TLSCA: other.CA, Login: access.LoginPath(d.dirs.Users, "alice")}},
		{"a seed the server does not know", bus.Config{TLSCA: d.ca, Nkey: strangerSeed(t)}},
		{"a robot that cannot verify the server", bus.Config{TLSCA: other.CA, Nkey: fleet.SeedPath(d.dirs.Robots, "r1"), InboxPrefix: fleet.InboxPrefix("r1")}},
		{"a plain nats:// URL without the CA (TLS is still required)", bus.Config{URL: strings.Replace(d.e.URL(), "tls://", "nats://", 1), Login: access.LoginPath(d.dirs.Users, "alice")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			if c.URL == "" {
				c.URL = d.e.URL()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			nc, err := bus.Connect(ctx, c)
			if err == nil {
				nc.Close()
				t.Fatal("connected")
			}
			if !errors.Is(err, errcode.Unauthorized) {
				t.Fatalf("err %v, want unauthorized", err)
			}
		})
	}
}

// strangerSeed is a fresh robot seed file the server never heard of.
func strangerSeed(t *testing.T) string {
	dir := t.TempDir()
	if _, err := fleet.AddRobot(dir, "stranger"); err != nil {
		t.Fatal(err)
	}
	return fleet.SeedPath(dir, "stranger")
}

func TestAddAndLoad(t *testing.T) {
	d := access.Dirs{Users: t.TempDir(), Robots: t.TempDir()}
	tests := []struct {
		name, role, user string
		ok               bool
	}{
		{"a submitter", access.Submitter, "alice", true},
		{"a worker", access.Worker, "gpu-1", true},
		{"a robot", access.Robot, "arm-1", true},
		{"the same user again", access.Worker, "alice", false},
		{"an unknown role", "boss", "carol", false},
		{"a name with a dot", access.Submitter, "a.b", false},
		{"a wildcard name", access.Submitter, "*", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := access.Add(d, tt.role, tt.user)
			if (err == nil) != tt.ok {
				t.Fatalf("Add: %v", err)
			}
		})
	}
	users, err := access.Load(d.Users)
	if err != nil || len(users) != 2 || users[0].Name != "alice" || users[1].Role != access.Worker {
		t.Fatalf("Load: %+v, %v", users, err)
	}
	l, err := bus.ReadLogin(access.LoginPath(d.Users, "alice"))
	if pub, _ := l.PublicKey(); err != nil || pub != users[0].Nkey || l.Inbox != access.Inbox("alice") {
		t.Fatalf("login %+v, %v", l, err)
	}
	if access.APIUser(l) != "alice" || access.APIUser(bus.Login{User: "ops", Role: access.Admin}) != "" {
		t.Fatal("APIUser")
	}
}
