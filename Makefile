# The two commands of the README: `make dev` runs the product locally, `make test` runs every test.
.PHONY: test dev bench load
dev:
	./scripts/dev.sh
test:
	./scripts/test.sh
bench:
	./scripts/bench.sh
load:
	./scripts/load.sh
