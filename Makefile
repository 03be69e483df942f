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

# A short, bounded fuzz of the raw-frame → relay-decision path. Minimizing a
# new input may take 60 s by default, the whole budget, with nothing run
# meanwhile ("0/sec"): 5 s lets the 20 s run try ~10x as many inputs.
fuzz:
	go test -run '^$$' -fuzz '^FuzzFrames$$' -fuzztime 20s -fuzzminimizetime 5s ./draw

bench:
	bash bench/run.sh
