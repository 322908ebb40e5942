"""What tests and benchmarks share: a small trained platform and real servers on loopback."""
