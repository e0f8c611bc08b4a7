# The two commands of the README: `make dev` runs the product locally, `make test` runs every test.
# `make deploy` builds and deploys the stack with SAM (guided the first time).
# `make fuzz` runs every fuzz target for FUZZ_SECONDS (default 60); `make load` the release load run.
.PHONY: test dev deploy bench load fuzz
dev:
	./scripts/dev.sh
test:
	./scripts/test.sh
deploy:
	./scripts/deploy.sh $(ARGS)
bench:
	./scripts/bench.sh
load:
	./scripts/load.sh
fuzz:
	./scripts/fuzz.sh
