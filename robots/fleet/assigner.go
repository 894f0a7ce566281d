package fleet

import (
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

type robot struct {
	info       Register
	state      string
	lastSeen   time.Time
	idleSince  time.Time
	assignment *assignment
	progress   Progress
	done       int
}

type pending struct {
	req      EpisodeRequest
	msg      jetstream.Msg
	attempts int
	lastErr  error
	current  *assignment
}

type assignment struct {
	a       Assignment
	p       *pending
	robot   string
	started time.Time
	log     *LogRef
}

// enqueue puts p in its group's queue (at the front for a retry). Callers
// hold mu.
func (c *Coordinator) enqueue(p *pending, front bool) {
	g := p.req.Group
	if _, ok := c.queue[g]; !ok {
		c.groups = append(c.groups, g)
	}
	if front {
		c.queue[g] = append([]*pending{p}, c.queue[g]...)
	} else {
		c.queue[g] = append(c.queue[g], p)
	}
}

func capable(r *robot, req EpisodeRequest) bool {
	return slices.Contains(r.info.Scenes, req.Scenario) && slices.Contains(r.info.PolicyBackends, req.Policy().Backend())
}

// take removes and returns the next request robot r can run, groups taking
// turns. Callers hold mu.
func (c *Coordinator) take(r *robot) *pending {
	for k := range len(c.groups) {
		gi := (c.rr + k) % len(c.groups)
		g := c.groups[gi]
		q := c.queue[g]
		for i, p := range q {
			if !capable(r, p.req) {
				continue
			}
			c.queue[g] = slices.Delete(q, i, i+1)
			c.rr = gi + 1
			if len(c.queue[g]) == 0 {
				delete(c.queue, g)
				c.groups = slices.Delete(c.groups, gi, gi+1)
				c.rr = gi
			}
			if len(c.groups) > 0 {
				c.rr %= len(c.groups)
			} else {
				c.rr = 0
			}
			return p
		}
	}
	return nil
}

// held returns assignment a if robot id holds it now. Callers hold mu.
func (c *Coordinator) held(id, a string) *assignment {
	as := c.assignments[a]
	if as == nil || as.robot != id || as.p.current != as {
		return nil
	}
	return as
}
