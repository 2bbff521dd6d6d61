// Package part2 holds the end-to-end scenarios of the CANARY and BLUE_GREEN
// strategies on the local stack (internal/localstack): the REST API, the
// real state machines on sfnlocal, the step handlers and the AWS emulator
// over HTTP, with the real SDK clients. Only tests live here.
package part2
