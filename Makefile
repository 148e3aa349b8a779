# One command each; bin/ does the work.
.PHONY: bench bench-quick

bench:
	bin/bench

# Smaller sizes and shorter runs: a few minutes.
bench-quick:
	bin/bench --quick
