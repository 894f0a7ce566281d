// Package robots is the fleet. The robot agent protocol over NATS is
// specified in PROTOCOL.md; robots/fleet holds its messages, per-robot
// credentials and the coordinator that schedules requested episodes;
// robots/agent is the robot side for any robot; simulated robots that
// behave as fleet members live under robots/sim (robots/sim/simbot over the
// PushT simulator foundation/pusht).
package robots
