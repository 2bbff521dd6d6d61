// Command two is a fixture Lambda that calls nothing.
package main

func main() {}
