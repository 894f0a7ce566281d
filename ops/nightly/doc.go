// Package nightly is the nightly re-ranking: every arm of the policy zoo
// submitted as one job to the evaluation server, a few paired real
// episodes per arm for the "can we trust the world model" section, the
// report built from both (ops/report), stored in the JetStream object
// store and announced on the bus. The scheduler (ops/schedule) calls Run
// every night; `dreamrank report nightly --now` calls it by hand.
package nightly
