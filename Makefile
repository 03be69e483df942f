# `make test` is the one command that checks everything (the README says so,
# and .ci/run calls it). `make bench` is separate: it takes ~15 minutes.
.PHONY: run test deps vet fuzz bench

run: deps
	go run .

deps:
	bash scripts/deps.sh

vet:
	@test -z "$$(gofmt -l . | grep -v node_modules)" || (echo "gofmt needed:"; gofmt -l . | grep -v node_modules; exit 1)
	go vet ./...

test: deps vet
	go test -race -count=1 -timeout 12m ./...
	$(MAKE) fuzz

# A short, bounded fuzz of the raw-frame → relay-decision path.
fuzz:
	go test -run '^$$' -fuzz '^FuzzFrames$$' -fuzztime 20s ./draw

bench:
	bash bench/run.sh
