# The two commands of README.md. Everything else is in scripts/.
.PHONY: run test bench

run:  ## install, create the database, load demo data, serve on http://127.0.0.1:5000
	scripts/run

test:  ## lint, type-check and run every test, OpenSearch included
	scripts/test

bench:  ## benchmarks; figures go to BENCHMARKS.md by hand
	scripts/bootstrap && .venv/bin/python -m bench.demo_generate
