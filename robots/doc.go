// Package robots is the fleet: the robot agent protocol over NATS, the
// registry of robots and their credentials, and episode logs. Simulated
// robots that behave as fleet members live under robots/sim.
package robots
